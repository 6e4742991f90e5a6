/**
 * Stats pushed by a worker on the links it keeps to its controllers (`node serve --connect`):
 * one `stats_push` when the link comes up, one every interval (jittered, so 10,000 rigs that
 * reconnected together do not push together; an answer to the controller's own `get_stats` starts
 * the interval again), and one at once, debounced, when a miner starts, stops or fails. The
 * controller keeps each rig's row from these (see `fleet_monitor.ts`) instead of asking every rig
 * every interval.
 * @module
 */
import type { StatsPayload } from "../protocol/mod.ts";
import type { MeshNode } from "./mesh.ts";
import type { PeerSession } from "./session.ts";

/** Options for {@link startStatsPush}. */
export interface StatsPushOptions {
  /** Push interval in ms (0: never push). */
  intervalMs: number;
  /** The stats (with capabilities when `true`: the first push of a link carries them). */
  payload: (withCapabilities: boolean) => StatsPayload;
  /** Whether the session's peer may read stats here (the one admission function). */
  mayRead: (session: PeerSession) => Promise<boolean>;
  /** How long after a change the push goes (default 100 ms: a burst is one push). */
  changeDelayMs?: number;
}

/** A running pusher. */
export interface StatsPusher {
  /** Something changed that a controller should see now. */
  changed(): void;
  /**
   * The session's peer just got this node's stats another way (an answer to its `get_stats`):
   * the next interval's push counts from now. A forced fresh read of 10,000 rigs then does not
   * also bring the pushes that fall due while it runs, each one more message and ack.
   */
  answered(session: PeerSession): void;
  /** Sessions being pushed to. */
  readonly sessions: number;
}

/**
 * Pushes stats on every outbound session to a peer that may read them.
 *
 * @example
 * ```ts ignore
 * const push = startStatsPush(mesh, { intervalMs: 10_000, payload, mayRead });
 * miners.onEvent(() => push.changed());
 * ```
 */
export function startStatsPush(mesh: MeshNode, options: StatsPushOptions): StatsPusher {
  const targets = new Map<PeerSession, { seq: number; timer?: ReturnType<typeof setTimeout> }>();
  let changeTimer: ReturnType<typeof setTimeout> | undefined;
  const interval = options.intervalMs;

  const send = (s: PeerSession, reason: "link" | "interval" | "change") => {
    const t = targets.get(s);
    if (!t || s.isClosed) return;
    try {
      s.send("stats_push", {
        ...options.payload(reason === "link"),
        seq: t.seq++,
        intervalMs: interval,
        reason,
      });
    } catch { /* the session is closing: its close handler cleans up */ }
    schedule(s);
  };
  const schedule = (s: PeerSession) => {
    const t = targets.get(s);
    if (!t) return;
    clearTimeout(t.timer);
    // ±10 %: pushes spread out instead of arriving in step.
    t.timer = setTimeout(() => send(s, "interval"), interval * (0.9 + Math.random() * 0.2));
  };

  if (interval > 0) {
    mesh.onSession(async (s) => {
      if (s.direction !== "outbound") return;
      if (!(await options.mayRead(s)) || s.isClosed) return;
      targets.set(s, { seq: 0 });
      // The controller acks each push: the pushes and acks keep the link alive (when they come
      // often enough: a longer interval keeps the usual pings).
      s.relaxPings(interval);
      s.onClose(() => {
        clearTimeout(targets.get(s)?.timer);
        targets.delete(s);
      });
      send(s, "link");
    });
  }

  return {
    changed() {
      if (changeTimer !== undefined || targets.size === 0) return;
      changeTimer = setTimeout(() => {
        changeTimer = undefined;
        for (const s of [...targets.keys()]) send(s, "change");
      }, options.changeDelayMs ?? 100);
    },
    answered(s) {
      if (targets.has(s)) schedule(s);
    },
    get sessions() {
      return targets.size;
    },
  };
}
