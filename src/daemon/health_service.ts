/**
 * The node's health loop: every interval it reads what the node knows (its own miners, the fleet
 * monitor's rows), evaluates the health model with the thresholds of `health.json` and the
 * expected hashrates (profile's, else learned from history), hands the result to the alert
 * engine, and publishes `health` and `alert` events. It also keeps the dead man's switch.
 * @module
 */
import {
  AlertControls,
  AlertEngine,
  alertFiles,
  ChannelStore,
  Dispatcher,
  type Heartbeat,
  RulesStore,
  startHeartbeat,
} from "../alerts/mod.ts";
import type { EventHub } from "../events/mod.ts";
import {
  emptyHealthCounts,
  type Expected,
  fleetStateOf,
  HealthConfigStore,
  HealthTracker,
  resolveThresholds,
  type RigInput,
} from "../health/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HistoryStore, MinerManager, Profile, ProfileStore } from "../miners/mod.ts";
import type { FleetMonitor, MeshNode } from "../node/mod.ts";
import type { FleetHealth, FleetStatus, HealthConfig, MinerStats } from "../protocol/mod.ts";

/** The fleet's worst state and rigs per state. */
export type FleetHealthSummary = NonNullable<FleetStatus["health"]>;
import type { NodePaths } from "../store/mod.ts";

/** Options for {@link startHealthService}. */
export interface HealthServiceOptions {
  /** Evaluation interval (default 5 s). */
  intervalMs?: number;
  /** Alert group wait (default 10 s). */
  groupWaitMs?: number;
  /** Repeat interval of firing alerts (default 4 h). */
  repeatMs?: number;
  /** Alertmanager re-send period (default 60 s). */
  resendMs?: number;
  /** First retry delay of a failed delivery (default 1 s). */
  retryBaseMs?: number;
  /** Dead man's switch URL (null: none). */
  heartbeatUrl?: string | null;
  /** Dead man's switch interval (default 60 s). */
  heartbeatMs?: number;
}

/** What the health loop needs from the node. */
export interface HealthServiceContext {
  paths: NodePaths;
  mesh: MeshNode;
  miners: MinerManager | null;
  monitor: FleetMonitor;
  profiles: ProfileStore;
  history: HistoryStore | null;
  events: EventHub;
  logger: Logger;
  /** The dashboard's address, for messages. */
  url: () => string | null;
}

/** The running health loop. */
export interface HealthService {
  /** The alert engine. */
  engine: AlertEngine;
  /** Thresholds store. */
  config: HealthConfigStore;
  /** The last evaluation (evaluates once when there is none yet). */
  current(): Promise<FleetHealth>;
  /** The last evaluation, as it is (null before the first). */
  last(): FleetHealth | null;
  /** Evaluates now. */
  evaluateNow(): Promise<FleetHealth>;
  /** A fleet status with each row's health and the fleet's state. */
  decorate(status: FleetStatus): FleetStatus;
  /**
   * The fleet's state and rigs per state (the registry's rigs; one the last evaluation has not
   * seen counts by its reachability), without rows: O(rigs registered since that evaluation).
   */
  fleetState(): FleetHealthSummary;
  /** The dead man's switch, when one runs. */
  heartbeat: Heartbeat | null;
  /** Stops the loop, the heartbeat and the deliveries; writes the alert state. */
  close(): Promise<void>;
}

const LEARN_WINDOW_MS = 86_400_000;
const LEARN_MIN_SAMPLES = 30;
const LEARN_REFRESH_MS = 10 * 60_000;

/** Starts the health loop. */
export async function startHealthService(
  ctx: HealthServiceContext,
  options: HealthServiceOptions = {},
): Promise<HealthService> {
  const files = alertFiles(ctx.paths);
  const config = new HealthConfigStore(files.health);
  let cfg: HealthConfig = await config.current();
  let profiles = new Map<string, Profile>();
  const loadProfiles = async () => {
    try {
      profiles = new Map((await ctx.profiles.list()).map((p) => [p.id, p]));
    } catch (err) {
      ctx.logger.warn("profiles_unreadable", { reason: (err as Error).message });
    }
  };
  await loadProfiles();
  const self = ctx.mesh.identity.info;
  const learned = new Map<string, { value: number | null; at: number }>();
  const historyName = (rig: RigInput, m: MinerStats) =>
    rig.id === self.id ? m.name : `${rig.name}/${m.name}`;
  const expected = (rig: RigInput, m: MinerStats): Expected | null => {
    const p = m.profileId ? profiles.get(m.profileId) : undefined;
    if (p?.expectedHashrate) return { value: p.expectedHashrate, source: "profile" };
    if (!ctx.history) return null;
    const key = historyName(rig, m);
    const now = Date.now();
    let l = learned.get(key);
    // Learned lazily, one refresh per miner per 10 minutes.
    if (!l || now - l.at > LEARN_REFRESH_MS) {
      try {
        const r = ctx.history.median(key, { from: now - LEARN_WINDOW_MS, to: now });
        l = { value: r.n >= LEARN_MIN_SAMPLES ? r.median : null, at: now };
      } catch {
        l = { value: null, at: now };
      }
      learned.set(key, l);
    }
    return l.value ? { value: l.value, source: "learned" } : null;
  };
  // Thresholds per (rig, profile), worked out once per configuration, not once per miner.
  let memo = new Map<string, ReturnType<typeof resolveThresholds>>();
  let memoOf: { cfg: HealthConfig; profiles: Map<string, Profile> } | null = null;
  const tracker = new HealthTracker({
    thresholds: (rig, m) => {
      if (memoOf?.cfg !== cfg || memoOf.profiles !== profiles) {
        memo = new Map();
        memoOf = { cfg, profiles };
      }
      const key = `${rig.id}|${rig.name}|${m?.profileId ?? ""}`;
      let t = memo.get(key);
      if (!t) {
        const p = m?.profileId ? profiles.get(m.profileId) : undefined;
        t = resolveThresholds(cfg, {
          rig: { id: rig.id, name: rig.name },
          ...(m ? { profile: { id: m.profileId, name: p?.name ?? null } } : {}),
        });
        memo.set(key, t);
      }
      return t;
    },
    expected,
  });
  const dispatcher = new Dispatcher({
    statusPath: files.deliveries,
    logger: ctx.logger,
    retryBaseMs: options.retryBaseMs,
    resendMs: options.resendMs,
  });
  await dispatcher.load();
  const engine = await AlertEngine.open({
    statePath: files.state,
    controls: new AlertControls(files.silences, files.acks),
    rules: new RulesStore(files.rules),
    channels: new ChannelStore(files.channels),
    dispatcher,
    thresholds: () => resolveThresholds(cfg),
    node: { id: self.id, name: self.name },
    url: ctx.url,
    groupWaitMs: options.groupWaitMs,
    repeatMs: options.repeatMs,
    resendMs: options.resendMs,
    logger: ctx.logger,
    onTransition: (t) => {
      if (t.kind === "firing" || t.kind === "resolved") {
        ctx.logger.info(`alert_${t.kind}`, {
          rule: t.alert.rule,
          rig: t.alert.rig,
          miner: t.alert.miner ?? undefined,
        });
      }
      ctx.events.publish({
        type: "alert",
        at: new Date().toISOString(),
        kind: t.kind,
        alert: t.alert,
      });
    },
  });

  // A restarted node goes on counting the stalls and slow miners it had alerts for.
  {
    const v = engine.view();
    for (const a of [...v.firing, ...v.pending]) {
      if (a.miner && (a.rule === "hashrate_zero" || a.rule === "below_expected")) {
        tracker.seed(a.rigId, a.miner, { code: a.rule, since: Date.parse(a.activeAt) });
      }
    }
  }

  const inputs = (now: number): RigInput[] => {
    const rigs: RigInput[] = [];
    if (ctx.miners) {
      rigs.push({
        id: self.id,
        name: self.name,
        tags: [],
        online: true,
        updatedAt: now,
        miners: ctx.miners.list(),
      });
    }
    // Every rig from the monitor's rows as kept (no snapshot of the fleet built for it); one
    // never heard from is unknown, so no alert of the last run resolves before it is.
    ctx.monitor.eachRow((p, row, at) => {
      if (!row) {
        rigs.push({
          id: p.id,
          name: p.name,
          tags: p.tags,
          online: null,
          updatedAt: null,
          miners: [],
        });
        return;
      }
      const live = ctx.monitor.state(p.id);
      rigs.push({
        id: p.id,
        name: p.name,
        tags: p.tags,
        online: row.online,
        offlineSince: !row.online && live && !live.online ? live.since : null,
        offlineReason: row.error ?? live?.reason,
        updatedAt: at,
        miners: row.online ? row.miners : [],
      });
    });
    return rigs;
  };

  let last: FleetHealth | null = null;
  // The last evaluation's rigs by ID, built once per evaluation (not once per read).
  let byIdOf: { of: FleetHealth; map: Map<string, FleetHealth["rigs"][number]> } | null = null;
  const rigsById = () => {
    const h = last;
    if (!h) return null;
    if (byIdOf?.of !== h) byIdOf = { of: h, map: new Map(h.rigs.map((r) => [r.id, r])) };
    return byIdOf.map;
  };
  /** The state of a rig the last evaluation has not seen: its reachability's. */
  const unseenState = (online: boolean): FleetHealth["state"] => online ? "unknown" : "down";
  const summarize = (
    rigs: readonly { id: string; online: boolean }[],
    byId: Map<string, FleetHealth["rigs"][number]>,
  ): FleetHealthSummary => {
    const counts = emptyHealthCounts();
    for (const p of rigs) counts[byId.get(p.id)?.state ?? unseenState(p.online)]++;
    return { state: fleetStateOf(counts), counts };
  };
  // The registry's rigs counted per state of the last evaluation, once per evaluation and change
  // of the registry's members (not of its `lastSeen`s, which change with every link); the rigs
  // it has not seen yet are listed, and only they are looked at again on a read (their state
  // follows their reachability). A summary read while 10,000 rigs reconnect is then O(rigs
  // registered since the evaluation), not O(fleet) per link that came.
  let base: {
    of: FleetHealth | null;
    members: number;
    counts: FleetHealthSummary["counts"];
    unseen: string[];
  } | null = null;
  const fleetState = (): FleetHealthSummary => {
    const members = ctx.mesh.registry.members;
    if (base?.of !== last || base.members !== members) {
      const byId = rigsById() ?? new Map<string, FleetHealth["rigs"][number]>();
      const counts = emptyHealthCounts();
      const unseen: string[] = [];
      ctx.monitor.eachRow((p) => {
        const s = byId.get(p.id)?.state;
        if (s) counts[s]++;
        else unseen.push(p.id);
      });
      base = { of: last, members, counts, unseen };
    }
    const counts = { ...base.counts };
    for (const id of base.unseen) counts[unseenState(ctx.monitor.online(id))]++;
    return { state: fleetStateOf(counts), counts };
  };
  /** Each rig's health as last published (state and reason codes, its miners' too). */
  let signatures = new Map<string, { of: FleetHealth["rigs"][number]; sig: string }>();
  let lastRun = 0;
  let running: Promise<FleetHealth> | null = null;
  const evaluateNow = (): Promise<FleetHealth> => {
    running ??= (async () => {
      try {
        cfg = await config.current().catch(() => cfg);
        const now = Date.now();
        const health = tracker.evaluate(inputs(now), now);
        last = health;
        lastRun = now;
        await engine.evaluate(health, now);
        // Only the rigs whose state or reasons changed go out (10,000 rigs' health is megabytes
        // of JSON per client), with the fleet's state, counts and totals.
        const changed: FleetHealth["rigs"] = [];
        const seen = new Map<string, { of: FleetHealth["rigs"][number]; sig: string }>();
        for (const r of health.rigs) {
          const was = signatures.get(r.id);
          // The tracker hands out the same object for a rig whose health did not change.
          const sig = was?.of === r
            ? was.sig
            : `${r.state}:${r.reasons.map((x) => x.code).join(",")}:${
              r.miners.map((m) => `${m.name}=${m.state}/${m.reasons.map((x) => x.code).join(",")}`)
                .join(";")
            }`;
          seen.set(r.id, { of: r, sig });
          if (was?.sig !== sig) changed.push(r);
        }
        const removed = [...signatures.keys()].filter((id) => !seen.has(id));
        signatures = seen;
        if (changed.length || removed.length) {
          ctx.events.publish({
            type: "health",
            at: health.at,
            health: { ...health, rigs: changed, removed },
          });
        }
        return health;
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const intervalMs = options.intervalMs ?? 5000;
  const timer = setInterval(() => {
    evaluateNow().catch((err) =>
      ctx.logger.warn("health_evaluation_failed", { reason: (err as Error).message })
    );
  }, intervalMs);
  const profileTimer = setInterval(loadProfiles, 30_000);
  const heartbeat = options.heartbeatUrl
    ? startHeartbeat(options.heartbeatUrl, {
      intervalMs: options.heartbeatMs,
      // Healthy: the evaluation loop ran lately (the node is not wedged).
      healthy: () => Date.now() - lastRun < 3 * intervalMs + 5000,
      logger: ctx.logger,
    })
    : null;
  const current = async () => last ?? await evaluateNow();
  await evaluateNow().catch(() => {});
  return {
    engine,
    config,
    heartbeat,
    current,
    last: () => last,
    evaluateNow,
    decorate(status) {
      const byId = rigsById();
      if (!byId) return status;
      // The rows are the monitor's views (a row that did not change is the object the last read
      // had): health is set on them, not copied into new ones (10,000 rows per read).
      const peers = status.peers;
      for (const p of peers) {
        const rh = byId.get(p.id);
        if (rh) p.health = rh;
        else delete p.health;
      }
      return { ...status, peers, health: summarize(peers, byId) };
    },
    fleetState,
    async close() {
      clearInterval(timer);
      clearInterval(profileTimer);
      heartbeat?.stop();
      await running?.catch(() => {});
      await engine.close();
      await dispatcher.close();
    },
  };
}
