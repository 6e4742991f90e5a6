/**
 * The controller's view of its fleet, kept fresh in the background and never waited on. A rig
 * linked in with `--connect` pushes its stats (`stats_push`, see `stats_push.ts`): its row is
 * updated from each push, O(that rig), and it is not asked while its pushes keep coming. Every
 * other rig is refreshed on its own (a request per rig per interval, none while the previous one
 * is still out), and each answer updates that rig's row at once. A reader gets the rows as they
 * are, each with `updatedAt` and `stale` (older than the reader allows), so one dead rig costs
 * the others nothing: it only makes its own row stale, then offline when its request times out.
 * Online/offline transitions become events; a lost link (see `daemon.ts`) marks a rig offline at
 * once.
 * @module
 */
import type { PeerStateEvent } from "../events/mod.ts";
import type { Peer } from "../peers/mod.ts";
import type { AlgorithmTotal, FleetNodeStatus, FleetStatus, PayloadOf } from "../protocol/mod.ts";
import { type Fleet, fleetTotals, offlineRow, rowFromStats } from "./fleet.ts";
import { noAddressDetail, offlineMessage, REQUEST_TIMEOUTS } from "./requests.ts";
import { probePeer } from "./peer_ops.ts";

/** A peer's reachability as last seen. */
export interface PeerLiveState {
  /** Whether it answered. */
  online: boolean;
  /** When the state last changed (ISO time). */
  since: string;
  /** Why it is offline. */
  reason?: string;
}

/** The rows that changed since the last such event, with the fleet's counts and totals. */
export interface FleetRowsChange {
  /** Event type. */
  type: "fleet_rows";
  /** When (ISO time). */
  at: string;
  /** The changed rows (as a reader would get them). */
  rows: FleetNodeStatus[];
  /** IDs of rigs no longer in the fleet. */
  removed: string[];
  /** Rigs in the fleet. */
  nodes: number;
  /** Rigs online. */
  online: number;
  /** Rigs offline. */
  offline: number;
  /** Hashrate per algorithm, from the rows that are online. */
  totals: AlgorithmTotal[];
}

/** A transition, or some of the fleet's rows changed. */
export type MonitorEvent = PeerStateEvent | FleetRowsChange;

/** Options for {@link FleetMonitor}. */
export interface FleetMonitorOptions {
  /** How often each rig is refreshed (default 10 s; 0 disables the timer, refreshes on demand). */
  intervalMs?: number;
  /** Per-rig request timeout (default: the stats request timeout, 10 s). */
  timeoutMs?: number;
  /** Most rig requests in flight at once (default 64). */
  concurrency?: number;
  /**
   * Ask rigs for stats (default true). A worker node asks nobody for stats: it only pings the
   * peers it can reach (its controllers), to know whether they are there.
   */
  stats?: boolean;
  /** Receives transitions and the rows that changed (at most every 250 ms). */
  onEvent?: (e: MonitorEvent) => void;
  /**
   * Whether anyone takes the rows' events now (default: always). While nobody does, the changed
   * rows are not gathered into `fleet_rows` events: at 10,000 rigs pushing, that was a view of
   * every rig every 10 s, built for no one. A reader that comes later starts from a snapshot of
   * the rows (the API's event stream does), then takes the events.
   */
  wanted?: () => boolean;
  /** How often the events' summary is counted again from the rows (default 60 s). */
  recountMs?: number;
  /**
   * For this long after the monitor is made (the node's start; default 60 s), a rig first seen
   * offline is not announced (no `peer` event, so no log line or audit record) until the time is
   * up: it did not go offline, the node started without it. It is offline in the rows, counts
   * and peer list at once; if it links in time, its `online` event is the only one. After a
   * controller restart, 10,000 rigs linking back are not first logged as 10,000 going offline.
   */
  startGraceMs?: number;
}

/** A fleet status with its newest row's time. */
export interface CachedFleetStatus extends FleetStatus {
  /** When the newest row was taken (ISO time; the time of the call before any). */
  cachedAt: string;
}

/** How long a reader waits for rigs that never answered yet (right after the node started). */
const FIRST_ANSWER_WAIT_MS = 1000;

interface Row {
  row: FleetNodeStatus;
  at: number;
  /** `at` as ISO text, made once per update (not once per read of 10,000 rows). */
  iso?: string;
  /** Set while the rig pushes: its next push is due by then, so it is fresh until then. */
  pushedUntil?: number;
  /** The push interval the rig announced (its pushes and answers set `pushedUntil` from it). */
  pushMs?: number;
  /**
   * The last read's view of this row, reused while its name and freshness are the same: a read
   * of 10,000 rows then hands out the objects (and the API their JSON) the previous read built
   * for the rows that did not change. Cleared wherever the row's fields change in place.
   */
  view?: { name: string; stale: boolean; v: FleetNodeStatus };
}

/** When the next push of a rig pushing every `pushMs` is due, at the latest, from `now`. */
function nextPushDue(now: number, pushMs: number): number {
  return now + pushMs * 1.1 + PUSH_GRACE_MS;
}

/** Requests at once over live sessions (they need no dial and no descriptor). */
const LINKED_CONCURRENCY = 1024;

/** How late a push may be before the rig is asked again (beyond its interval and jitter). */
const PUSH_GRACE_MS = 2_000;
/**
 * A forced fresh read takes a rig's row as it is when it came in (an answer or a push) this
 * recently, instead of asking again: forced reads back to back (a script, several dashboards)
 * then ask one rig at most about four times a second, never at the rate that makes the rig close
 * its link for flooding (50 messages a second), and a rig's own stats are refreshed from its
 * miners only every poll interval anyway.
 */
export const FORCED_READ_REUSE_MS = 250;

/** Whether a row is fresh for a reader allowing `maxAgeMs` (a pushing rig's, until it is due). */
function rowFresh(r: Row, now: number, maxAgeMs: number): boolean {
  return now - r.at <= maxAgeMs || (r.pushedUntil ?? 0) >= now;
}

/** Refreshes the fleet rig by rig and serves the last known rows. */
export class FleetMonitor {
  readonly #fleet: Fleet;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #stats: boolean;
  readonly #onEvent: (e: MonitorEvent) => void;
  readonly #wanted: () => boolean;
  readonly #state = new Map<string, PeerLiveState>();
  readonly #rows = new Map<string, Row>();
  readonly #inflight = new Map<string, Promise<void>>();
  #running = 0;
  readonly #queue: (() => void)[] = [];
  #runningLinked = 0;
  readonly #queueLinked: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #eventTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #dirty = new Set<string>();
  readonly #removed = new Set<string>();
  #version = 0;
  /** Each online worker row's part of the summary, kept as rows change (see {@link #account}). */
  readonly #tally = new Map<string, readonly AlgorithmTotal[]>();
  readonly #tallyTotals = new Map<string, AlgorithmTotal & { known: number }>();
  #tallyAt = 0;
  #tallyRegistry = "";
  readonly #recountMs: number;
  readonly #graceUntil: number;
  /** Rigs first seen offline within the start grace, not announced yet (id → name). */
  readonly #unannounced = new Map<string, string>();
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Pushes taken (for benchmarks and tests). */
  pushes = 0;
  /** Online/offline transitions seen (a health evaluation older than the last one is stale). */
  transitions = 0;
  /** When the newest row came in (ms since epoch; 0: none yet). */
  #newestAt = 0;

  /** Watches `fleet`'s peers. */
  constructor(fleet: Fleet, options: FleetMonitorOptions = {}) {
    this.#fleet = fleet;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUTS.stats;
    this.#concurrency = options.concurrency ?? 64;
    this.#stats = options.stats ?? true;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#wanted = options.wanted ?? (() => true);
    this.#recountMs = options.recountMs ?? 60_000;
    this.#graceUntil = Date.now() + (options.startGraceMs ?? 60_000);
  }

  /** Starts the background refresh (first round right away). */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer !== undefined) return;
    this.#round(this.#timeoutMs);
    this.#timer = setInterval(() => this.#round(this.#timeoutMs), this.#intervalMs);
  }

  /** Stops the background refresh. */
  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#eventTimer);
    clearTimeout(this.#graceTimer);
    this.#timer = undefined;
  }

  /** Whether the background refresh runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** The rows as they are now (null before any rig was ever asked). */
  latest(): CachedFleetStatus | null {
    return this.#rows.size ? this.#snapshot(Infinity) : null;
  }

  /** A peer's last known state (undefined: never checked). */
  state(peerId: string): PeerLiveState | undefined {
    return this.#state.get(peerId);
  }

  /** Increases whenever a row changes: equal versions mean equal rows (ETags). */
  get version(): number {
    return this.#version;
  }

  /**
   * Takes a rig's pushed stats: its row is updated at once, and it is not asked until its
   * next push is overdue. O(that rig).
   */
  pushed(peer: Peer, stats: PayloadOf<"stats_push">, options: { now?: number } = {}): void {
    if (peer.role === "controller") return;
    const now = options.now ?? Date.now();
    this.pushes++;
    const prev = this.#rows.get(peer.id);
    const row = rowFromStats(peer, stats);
    // Capabilities travel on a link's first push only.
    if (!row.capabilities && prev?.row.capabilities) row.capabilities = prev.row.capabilities;
    this.#rows.set(peer.id, {
      row,
      at: now,
      pushedUntil: nextPushDue(now, stats.intervalMs),
      pushMs: stats.intervalMs,
    });
    this.#set(peer, true);
    this.#changed(peer.id);
  }

  /** Whether a rig's row comes from its pushes (and is not overdue). */
  isPushing(peerId: string, now: number = Date.now()): boolean {
    return (this.#rows.get(peerId)?.pushedUntil ?? 0) >= now;
  }

  /** Marks a peer online now (a session with it opened). */
  sawOnline(peer: Pick<Peer, "id" | "name">): void {
    this.#set(peer, true);
  }

  /** Marks a peer offline now (its link was lost or it went away). */
  sawOffline(peer: Pick<Peer, "id" | "name">, reason: string): void {
    this.#set(peer, false, reason);
    const r = this.#rows.get(peer.id);
    if (r) {
      r.pushedUntil = undefined;
      r.view = undefined;
    }
    if (r?.row.online) {
      r.row = { ...r.row, online: false, error: reason };
      r.at = Date.now();
      r.iso = undefined;
      this.#changed(peer.id);
    }
  }

  /**
   * Every rig's last known row, at once: rows older than `maxAgeMs` are marked `stale` (and a
   * refresh of them starts in the background). `maxAgeMs = 0` asks every rig now and waits at
   * most `timeoutMs` (default: the monitor's) for the answers; rigs that did not answer in time
   * keep their last row, marked stale.
   */
  async get(
    maxAgeMs: number,
    timeoutMs?: number,
    options: { wait?: boolean } = {},
  ): Promise<CachedFleetStatus> {
    if (maxAgeMs <= 0) return await this.poll(timeoutMs);
    const now = Date.now();
    const old = this.#fleet.workers().filter((p) => {
      const r = this.#rows.get(p.id);
      return !r || !rowFresh(r, now, maxAgeMs);
    });
    const asked = old.map((p) => ({ p, request: this.#refresh(p, timeoutMs ?? this.#timeoutMs) }));
    if (options.wait && asked.length) {
      // The reader waits for the rows it asked about (bounded by the timeout); rows kept fresh
      // by pushes are not asked, so a pushing fleet answers at once.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(asked.map((a) => a.request)),
        new Promise<void>((r) => timer = setTimeout(r, (timeoutMs ?? this.#timeoutMs) + 50)),
      ]);
      clearTimeout(timer);
      return this.#snapshot(Math.max(maxAgeMs, 1));
    }
    // A rig never heard from yet (the node just started) is waited for, briefly: at most
    // FIRST_ANSWER_WAIT_MS, once; a rig that has answered before is never waited for.
    const first = asked.filter((a) => !this.#rows.has(a.p.id)).map((a) => a.request);
    if (first.length) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(first),
        new Promise<void>((r) => timer = setTimeout(r, FIRST_ANSWER_WAIT_MS)),
      ]);
      clearTimeout(timer);
    }
    return this.#snapshot(maxAgeMs);
  }

  /** Asks every rig now; resolves when all answered or `timeoutMs` passed, with the rows. */
  async poll(timeoutMs: number = this.#timeoutMs): Promise<CachedFleetStatus> {
    const started = Date.now();
    const asked = this.#round(timeoutMs, { force: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(asked),
      new Promise<void>((r) => timer = setTimeout(r, timeoutMs + 50)),
    ]);
    clearTimeout(timer);
    return this.#snapshot(Math.max(1, Date.now() - started + FORCED_READ_REUSE_MS));
  }

  /** Forgets the rows (the registry changed) and refreshes at once when running. */
  invalidate(): void {
    const registry = this.#fleet.mesh.registry;
    for (const id of [...this.#rows.keys()]) {
      const p = registry.get(id);
      if (p && p.role !== "controller") continue;
      this.#rows.delete(id);
      this.#removed.add(id);
      this.#changed(id);
    }
    const known = { has: (id: string) => registry.get(id) !== undefined };
    for (const id of [...this.#state.keys()]) if (!known.has(id)) this.#state.delete(id);
    if (this.#timer !== undefined) this.#round(this.#timeoutMs);
  }

  /** One round: a request to every rig that has none out (all, with `force`), pings to the rest. */
  #round(timeoutMs: number, options: { force?: boolean } = {}): Promise<void>[] {
    const mesh = this.#fleet.mesh;
    const all = this.#stats ? this.#fleet.workers() : [];
    const now = Date.now();
    // A rig that pushes is not asked (unless forced): its next push is on its way.
    const rigs = options.force ? all : all.filter((p) => !this.isPushing(p.id, now));
    const asked = rigs.map((p) => this.#refresh(p, timeoutMs, options.force));
    // The rest are pinged, when they can be reached: a peer with no address and no session
    // (it only ever dials in) keeps the state its sessions gave it.
    const rigIds = new Set(all.map((p) => p.id));
    const others = mesh.registry.list().filter((p) =>
      !rigIds.has(p.id) && (p.address !== null || mesh.session(p.id) !== undefined)
    );
    for (const p of others) {
      if (this.#inflight.has(p.id)) continue;
      const probe = this.#limited(async () => {
        const r = await probePeer(this.#fleet.mesh, p, { timeoutMs });
        this.#set(p, r.online, r.error);
      }).finally(() => this.#inflight.delete(p.id));
      this.#inflight.set(p.id, probe);
    }
    return asked;
  }

  /**
   * Refreshes one rig's row. A request already out to the rig is joined (its answer is on its
   * way), forced or not; a forced refresh is also satisfied by a row that came in within
   * {@link FORCED_READ_REUSE_MS}.
   */
  #refresh(peer: Peer, timeoutMs: number, force = false): Promise<void> {
    const out = this.#inflight.get(peer.id);
    if (out) return out;
    if (force) {
      const r = this.#rows.get(peer.id);
      if (r && Date.now() - r.at <= FORCED_READ_REUSE_MS) return Promise.resolve();
    }
    // A rig with a live session is asked over it (no dial, no descriptor): those requests get a
    // wider bound than the dials, so a forced read of 10,000 linked rigs is not 64 at a time.
    const linked = this.#fleet.mesh.session(peer.id)?.isClosed === false;
    if (!linked && !peer.address) {
      // A rig that only dials in and is not linked cannot be asked: its row says what a request
      // would have said, without a request, an error and a failure record for each such rig on
      // every round (10,000 of them while they reconnect after a controller restart).
      this.#unreachable(peer);
      return Promise.resolve();
    }
    const request = (linked ? this.#limitedLinked.bind(this) : this.#limited.bind(this))(
      async () => {
        const row = await this.#fleet.row(peer, { timeoutMs });
        const prev = this.#rows.get(peer.id);
        // A push that came in while the request was out is newer than a failed answer.
        if (!row.online && prev && this.isPushing(peer.id)) return;
        // A pushing rig that answers starts its push interval again (stats_push.ts): its next
        // push is due an interval after this answer, not after its last push (else every forced
        // read would leave the fleet overdue, and the rounds would ask it instead of its pushes).
        const at = Date.now();
        this.#rows.set(peer.id, {
          row,
          at,
          ...(row.online && prev?.pushedUntil !== undefined && prev.pushMs !== undefined
            ? { pushedUntil: nextPushDue(at, prev.pushMs), pushMs: prev.pushMs }
            : {}),
        });
        this.#set(peer, row.online, row.error);
        this.#changed(peer.id);
      },
    ).catch(() => {}).finally(() => {
      if (this.#inflight.get(peer.id) === request) this.#inflight.delete(peer.id);
    });
    this.#inflight.set(peer.id, request);
    return request;
  }

  /** Records that `peer` (no session, no address) is offline now. */
  #unreachable(peer: Peer): void {
    const prev = this.#rows.get(peer.id);
    if (prev && this.isPushing(peer.id)) return;
    const error = offlineMessage(peer, noAddressDetail(peer));
    this.#set(peer, false, error);
    if (prev && !prev.row.online && prev.row.error === error) {
      prev.at = this.#newestAt = Date.now(); // checked now, unchanged: no event
      prev.iso = undefined;
      prev.view = undefined;
      return;
    }
    this.#rows.set(peer.id, { row: offlineRow(peer, error, { ms: 0 }), at: Date.now() });
    this.#changed(peer.id);
  }

  /** Runs `fn` over a live session, with at most {@link LINKED_CONCURRENCY} others. */
  async #limitedLinked<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#runningLinked >= LINKED_CONCURRENCY) {
      await new Promise<void>((r) => this.#queueLinked.push(r));
    }
    this.#runningLinked++;
    try {
      return await fn();
    } finally {
      this.#runningLinked--;
      this.#queueLinked.shift()?.();
    }
  }

  /** Runs `fn` with at most `concurrency` others. */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      await new Promise<void>((r) => this.#queue.push(r));
    }
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }

  #snapshot(maxAgeMs: number): CachedFleetStatus {
    const now = Date.now();
    let newest = 0;
    const peers: FleetNodeStatus[] = this.#fleet.workers().map((p) => {
      const r = this.#rows.get(p.id);
      if (!r) {
        return {
          id: p.id,
          name: p.name,
          address: p.address,
          online: false,
          error: "not asked yet",
          miners: [],
          ms: 0,
          stale: true,
        };
      }
      newest = Math.max(newest, r.at);
      const stale = !rowFresh(r, now, maxAgeMs);
      if (r.view?.name === p.name && r.view.stale === stale) return r.view.v;
      const v = this.#view(p, r, stale);
      r.view = { name: p.name, stale, v };
      return v;
    });
    const online = peers.filter((n) => n.online).length;
    return {
      totals: fleetTotals(peers),
      nodes: peers.length,
      online,
      offline: peers.length - online,
      peers,
      cachedAt: new Date(newest || now).toISOString(),
    };
  }

  #view(p: Pick<Peer, "name">, r: Row, stale: boolean): FleetNodeStatus {
    return {
      ...r.row,
      name: p.name,
      updatedAt: r.iso ??= new Date(r.at).toISOString(),
      source: r.pushedUntil !== undefined ? "push" : "poll",
      stale,
    };
  }

  /**
   * The fleet in a few numbers, O(algorithms): the counts and totals kept as rows change (those
   * the rows' events carry), and when the newest row came in.
   */
  summary(): Pick<FleetRowsChange, "nodes" | "online" | "offline" | "totals"> & {
    cachedAt: string;
  } {
    return {
      ...this.#tallied(),
      cachedAt: new Date(this.#newestAt || Date.now()).toISOString(),
    };
  }

  /**
   * Every rig (registry order) with its last row as kept, not copied, and when it came in (null:
   * never heard from): O(fleet), for the health evaluation.
   */
  eachRow(fn: (peer: Peer, row: FleetNodeStatus | null, at: number | null) => void): void {
    for (const p of this.#fleet.mesh.registry.values()) {
      if (p.role === "controller") continue;
      const r = this.#rows.get(p.id);
      fn(p, r?.row ?? null, r?.at ?? null);
    }
  }

  /** Whether a rig's last row says it is online (false: never heard from). O(1). */
  online(peerId: string): boolean {
    return this.#rows.get(peerId)?.row.online ?? false;
  }

  /**
   * Notes a changed row; a `fleet_rows` event with the rows changed meanwhile follows, at most
   * every 250 ms, while someone takes them (the work per change is O(that row); the event, O(rows
   * changed)).
   */
  #changed(id: string): void {
    this.#version++;
    const at = this.#rows.get(id)?.at ?? 0;
    if (at > this.#newestAt) this.#newestAt = at;
    this.#account(id);
    if (!this.#wanted()) {
      this.#removed.delete(id);
      return;
    }
    this.#dirty.add(id);
    if (this.#eventTimer !== undefined) return;
    this.#eventTimer = setTimeout(() => {
      this.#eventTimer = undefined;
      const now = Date.now();
      const rows: FleetNodeStatus[] = [];
      for (const id of this.#dirty) {
        const r = this.#rows.get(id);
        const p = this.#fleet.mesh.registry.get(id);
        if (r && p) rows.push(this.#view(p, r, false));
      }
      const removed = [...this.#removed];
      const summary = this.#tallied();
      this.#dirty.clear();
      this.#removed.clear();
      this.#onEvent({
        type: "fleet_rows",
        at: new Date(now).toISOString(),
        rows,
        removed,
        ...summary,
      });
    }, 250);
  }

  /** Moves a rig's part of the summary from its previous row to its current one: O(that rig). */
  #account(id: string): void {
    const before = this.#tally.get(id);
    if (before) this.#addTotals(before, -1);
    const r = this.#rows.get(id);
    const p = this.#fleet.mesh.registry.get(id);
    if (r?.row.online && p && p.role !== "controller") {
      const totals = r.row.totals ?? [];
      this.#tally.set(id, totals);
      this.#addTotals(totals, 1);
    } else this.#tally.delete(id);
  }

  #addTotals(totals: readonly AlgorithmTotal[], sign: 1 | -1): void {
    for (const t of totals) {
      let cur = this.#tallyTotals.get(t.algorithm);
      if (!cur) {
        cur = { algorithm: t.algorithm, hashrate: 0, expected: null, rigs: 0, miners: 0, known: 0 };
        this.#tallyTotals.set(t.algorithm, cur);
      }
      cur.hashrate += sign * t.hashrate;
      cur.miners += sign * t.miners;
      cur.rigs += sign * t.rigs;
      if (t.expected !== null) {
        cur.known += sign;
        cur.expected = cur.known > 0 ? (cur.expected ?? 0) + sign * t.expected : null;
      }
      if (cur.rigs <= 0) this.#tallyTotals.delete(t.algorithm);
    }
  }

  /**
   * The summary the rows' events carry, from the tally (O(algorithms), not O(fleet)). It is
   * counted again from the rows once a minute, so sums of floating-point changes cannot drift,
   * and when peers were added, removed or changed role in the registry (by another process, say),
   * so a rig that left is no longer counted.
   */
  #tallied(): Pick<FleetRowsChange, "nodes" | "online" | "offline" | "totals"> {
    const registry = this.#fleet.mesh.registry;
    const controllers = registry.countRole("controller");
    const shape = `${registry.size}/${controllers}`;
    const now = performance.now();
    if (now - this.#tallyAt > this.#recountMs || shape !== this.#tallyRegistry) {
      this.#tallyAt = now;
      this.#tallyRegistry = shape;
      this.#tally.clear();
      this.#tallyTotals.clear();
      for (const id of this.#rows.keys()) this.#account(id);
    }
    const nodes = registry.size - controllers;
    const online = Math.min(nodes, this.#tally.size);
    const totals = [...this.#tallyTotals.values()]
      .map(({ known: _known, ...t }) => ({ ...t, hashrate: Math.max(0, t.hashrate) }))
      .sort((a, b) => a.algorithm.localeCompare(b.algorithm));
    return { nodes, online, offline: nodes - online, totals };
  }

  #set(peer: Pick<Peer, "id" | "name">, online: boolean, reason?: string): void {
    const prev = this.#state.get(peer.id);
    if (prev && prev.online === online) {
      if (!online) prev.reason = reason;
      return;
    }
    const at = new Date().toISOString();
    this.#version++;
    this.transitions++;
    this.#state.set(peer.id, { online, since: at, ...(online ? {} : { reason }) });
    if (!prev && !online && Date.now() < this.#graceUntil) {
      this.#unannounced.set(peer.id, peer.name);
      if (this.#graceTimer === undefined) {
        this.#graceTimer = setTimeout(() => this.#announce(), this.#graceUntil - Date.now());
        // The timer must not keep a process alive (a CLI's one-off read).
        Deno.unrefTimer(this.#graceTimer as unknown as number);
      }
      return;
    }
    this.#unannounced.delete(peer.id);
    this.#onEvent({
      type: "peer",
      kind: online ? "online" : "offline",
      id: peer.id,
      name: peer.name,
      at,
      ...(online ? {} : { reason }),
    });
  }

  /** The start grace is over: the rigs first seen offline in it and still offline are announced. */
  #announce(): void {
    const due = [...this.#unannounced];
    this.#unannounced.clear();
    for (const [id, name] of due) {
      const s = this.#state.get(id);
      if (!s || s.online) continue;
      this.#onEvent({
        type: "peer",
        kind: "offline",
        id,
        name,
        at: s.since,
        ...(s.reason ? { reason: s.reason } : {}),
      });
    }
  }
}
