/**
 * The health model: from the stats a node has (its own miners, the fleet monitor's rows) to a
 * state with reasons for every device, miner, rig and the fleet. Conditions that need time
 * ("hashrate 0 for 60 s", "below expected for 5 min", rejects over 15 min, restarts over 10 min)
 * are tracked across evaluations; a one-shot evaluation (a CLI without a running node) reads the
 * miners' own averaging windows instead.
 * @module
 */
import {
  type AlgorithmTotal,
  type DeviceHealth,
  type FleetHealth,
  HEALTH_ORDER,
  type HealthReason,
  type HealthState,
  type MinerHealth,
  type MinerStats,
  type ReasonCode,
  type RigHealth,
  type Thresholds,
} from "../protocol/mod.ts";
import { formatHashrate } from "./format.ts";

/** One rig as the health model reads it. */
export interface RigInput {
  /** Node ID. */
  id: string;
  /** Name. */
  name: string;
  /** Its tags. */
  tags?: string[];
  /** Whether it answered (null: never asked yet). */
  online: boolean | null;
  /** Since when it is offline (ISO), when known. */
  offlineSince?: string | null;
  /** Why it is offline. */
  offlineReason?: string;
  /** When its data was taken (ms since epoch; null: now). */
  updatedAt: number | null;
  /** Its miners. */
  miners: readonly MinerStats[];
}

/** Expected hashrate of a miner and where it comes from. */
export interface Expected {
  /** H/s. */
  value: number;
  /** The profile's `expectedHashrate`, or learned from history. */
  source: "profile" | "learned";
}

/** Options for {@link HealthTracker}. */
export interface HealthTrackerOptions {
  /** Thresholds for a rig (and a miner's profile, when given). */
  thresholds: (rig: RigInput, miner: MinerStats | null) => Thresholds;
  /** Expected hashrate of a miner (null: unknown). */
  expected?: (rig: RigInput, miner: MinerStats) => Expected | null;
  /**
   * Judge each evaluation on its own (no memory): durations come from the miners' own averaging
   * windows and uptimes. For a CLI that asks the fleet once.
   */
  oneShot?: boolean;
}

interface MinerMemory {
  zeroSince: number | null;
  /** Hashing again since (a stall clears only after zeroForSeconds of hashing). */
  okSince: number | null;
  belowSince: number | null;
  /** [ts, accepted, rejected], oldest first, one per ≥ 20 s. */
  shares: [number, number, number][];
  seen: number;
}

const rank = (s: HealthState): number => HEALTH_ORDER.indexOf(s);

/** Plain code-unit order (names are ASCII; `localeCompare` is slower and locale-bound). */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The state that needs more attention. */
export function worse(a: HealthState, b: HealthState): HealthState {
  return rank(a) <= rank(b) ? a : b;
}

/** Rigs per state, none yet. */
export function emptyHealthCounts(): Record<HealthState, number> {
  return { ok: 0, degraded: 0, down: 0, idle: 0, unknown: 0 };
}

/**
 * The fleet's state from its rigs per state: the worst of them (an idle rig counts as ok), idle
 * when every rig is idle or there is none.
 *
 * @example
 * ```ts ignore
 * fleetStateOf({ ok: 3, degraded: 1, down: 0, idle: 2, unknown: 0 }); // "degraded"
 * ```
 */
export function fleetStateOf(counts: Readonly<Record<HealthState, number>>): HealthState {
  let total = 0;
  for (const s of HEALTH_ORDER) total += counts[s];
  if (total === 0 || counts.idle === total) return "idle";
  for (const s of HEALTH_ORDER) if (s !== "idle" && counts[s] > 0) return s;
  return "ok";
}

/** `45 s`, `6 min`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Per-algorithm totals of miners that are running (never one figure across algorithms). */
export function algorithmTotals(
  rigs: readonly {
    id: string;
    miners: readonly { algorithm: string; hashrate: number | null; expected?: number | null }[];
  }[],
): AlgorithmTotal[] {
  const by = new Map<string, AlgorithmTotal & { rigSet: Set<string> }>();
  for (const rig of rigs) {
    for (const m of rig.miners) {
      let t = by.get(m.algorithm);
      if (!t) {
        t = {
          algorithm: m.algorithm,
          hashrate: 0,
          expected: null,
          rigs: 0,
          miners: 0,
          rigSet: new Set(),
        };
        by.set(m.algorithm, t);
      }
      t.hashrate += m.hashrate ?? 0;
      if (m.expected !== undefined && m.expected !== null) {
        t.expected = (t.expected ?? 0) + m.expected;
      }
      t.miners++;
      t.rigSet.add(rig.id);
    }
  }
  return [...by.values()].map(({ rigSet, ...t }) => ({ ...t, rigs: rigSet.size }))
    .sort((a, b) => cmp(a.algorithm, b.algorithm));
}

/** The algorithm a miner reports, `unknown` before it says. */
export function algorithmOf(m: Pick<MinerStats, "algorithm">): string {
  return m.algorithm ?? "unknown";
}

const ACTIVE = new Set(["running", "paused", "restarting", "starting", "failed"]);
/** Shared by everything without reasons (never mutated). */
const NO_REASONS: HealthReason[] = [];

/** Evaluates health; keeps what durations need between evaluations. */
export class HealthTracker {
  readonly #opts: HealthTrackerOptions;
  readonly #miners = new Map<string, MinerMemory>();
  /** Since when each rig is in its state, with that time's ISO text (made once per start). */
  readonly #rigSince = new Map<string, { state: HealthState; since: number; iso: string }>();
  /** Each rig's last result: an evaluation that finds the same hands out the same object. */
  readonly #lastRig = new Map<string, RigHealth>();
  /** Each rig's last `updatedAt` as ISO text (it changes once per push, not per evaluation). */
  readonly #updatedIso = new Map<string, { ms: number; iso: string }>();
  #last: FleetHealth | null = null;
  #round = 0;

  /** A tracker with the given threshold and expectation sources. */
  constructor(options: HealthTrackerOptions) {
    this.#opts = options;
  }

  /**
   * Restores what a duration condition had measured before this node restarted (from its
   * persisted alerts), so a stall that was firing is still one stall, not a new one after a
   * fresh count: `since` is when the miner's `hashrate_zero` or `below_expected` began.
   */
  seed(
    rigId: string,
    miner: string,
    what: { code: "hashrate_zero" | "below_expected"; since: number },
  ): void {
    const key = `${rigId}/${miner}`;
    let mem = this.#miners.get(key);
    if (!mem) {
      mem = { zeroSince: null, okSince: null, belowSince: null, shares: [], seen: this.#round };
      this.#miners.set(key, mem);
    }
    if (what.code === "hashrate_zero") mem.zeroSince = what.since;
    else mem.belowSince = what.since;
  }

  /** The last evaluation (null before the first). */
  get last(): FleetHealth | null {
    return this.#last;
  }

  /** Evaluates every rig at `now` (ms). */
  evaluate(rigs: readonly RigInput[], now: number = Date.now()): FleetHealth {
    this.#round++;
    const out: RigHealth[] = [];
    const counts = emptyHealthCounts();
    const totalsInput: {
      id: string;
      miners: { algorithm: string; hashrate: number | null; expected: number | null }[];
    }[] = [];
    for (const rig of rigs) {
      let h = this.#rig(rig, now);
      // The same health as last time is the same object: readers that keep something per result
      // (the API's JSON of a row, the health events' change check) redo it only for rigs that
      // changed, not for 10,000 every 5 s.
      const prev = this.#lastRig.get(rig.id);
      if (
        prev && prev.updatedAt === h.updatedAt && prev.state === h.state &&
        prev.miners.length === h.miners.length && sameJson(prev, h)
      ) h = prev;
      else this.#lastRig.set(rig.id, h);
      out.push(h);
      counts[h.state]++;
      // (a rig without miners adds nothing to the totals)
      if (rig.online && h.miners.length > 0) {
        totalsInput.push({
          id: rig.id,
          miners: h.miners.filter((m) => m.state !== "idle" && m.state !== "down").map((m) => ({
            algorithm: m.algorithm,
            hashrate: m.hashrate,
            expected: m.expected,
          })),
        });
      }
    }
    const fleetState = fleetStateOf(counts);
    out.sort((a, b) => rank(a.state) - rank(b.state) || cmp(a.name, b.name));
    // Forget what belongs to rigs and miners no longer reported (every 60 evaluations).
    if (this.#round % 60 === 0) {
      for (const [k, mem] of this.#miners) if (mem.seen < this.#round - 60) this.#miners.delete(k);
      const ids = new Set(rigs.map((r) => r.id));
      for (const k of this.#rigSince.keys()) if (!ids.has(k)) this.#rigSince.delete(k);
      for (const k of this.#lastRig.keys()) if (!ids.has(k)) this.#lastRig.delete(k);
      for (const k of this.#updatedIso.keys()) if (!ids.has(k)) this.#updatedIso.delete(k);
    }
    this.#last = {
      at: new Date(now).toISOString(),
      state: fleetState,
      counts,
      totals: algorithmTotals(totalsInput),
      rigs: out,
    };
    return this.#last;
  }

  #iso(rigId: string, ms: number): string {
    const c = this.#updatedIso.get(rigId);
    if (c?.ms === ms) return c.iso;
    const iso = new Date(ms).toISOString();
    this.#updatedIso.set(rigId, { ms, iso });
    return iso;
  }

  #rig(rig: RigInput, now: number): RigHealth {
    const reasons: HealthReason[] = [];
    let state: HealthState;
    let miners: MinerHealth[] = [];
    const updatedAt = rig.updatedAt === null ? null : this.#iso(rig.id, rig.updatedAt);
    if (rig.online === null) {
      state = "unknown";
    } else if (!rig.online) {
      state = "down";
      const since = rig.offlineSince ?? updatedAt;
      reasons.push({
        code: "rig_offline",
        message: `rig offline${since ? ` for ${formatDuration(now - Date.parse(since))}` : ""}${
          rig.offlineReason ? ` (${rig.offlineReason.slice(0, 200)})` : ""
        }`,
        since,
      });
    } else {
      const t = this.#opts.thresholds(rig, null);
      miners = rig.miners.map((m) => this.#miner(rig, m, now));
      const active = miners.filter((m) => m.state !== "idle");
      if (active.length === 0) state = "idle";
      else if (active.every((m) => m.state === "down")) state = "down";
      else {
        state = "ok";
        for (const m of active) state = worse(state, m.state === "down" ? "degraded" : m.state);
      }
      if (rig.updatedAt !== null && now - rig.updatedAt > t.staleSeconds * 1000) {
        reasons.push({
          code: "stale",
          message: `no fresh data for ${formatDuration(now - rig.updatedAt)}`,
          since: updatedAt,
          value: Math.round((now - rig.updatedAt) / 1000),
          threshold: t.staleSeconds,
        });
        state = worse(state, "degraded");
      }
      miners.sort((a, b) => rank(a.state) - rank(b.state) || cmp(a.name, b.name));
    }
    const prev = this.#rigSince.get(rig.id);
    let since: number | null;
    if (state === "down" && rig.offlineSince) since = Date.parse(rig.offlineSince);
    else if (prev && prev.state === state) since = prev.since;
    else since = this.#opts.oneShot ? null : now;
    let sinceText: string | null = null;
    if (since !== null) {
      sinceText = prev?.since === since ? prev.iso : new Date(since).toISOString();
      this.#rigSince.set(rig.id, { state, since, iso: sinceText });
    }
    let maxTemp: number | null = null;
    for (const m of miners) {
      for (const d of m.devices) {
        if (d.temp !== null) maxTemp = Math.max(maxTemp ?? -Infinity, d.temp);
      }
    }
    return {
      id: rig.id,
      name: rig.name,
      tags: rig.tags ?? [],
      state,
      since: sinceText,
      reasons,
      miners,
      totals: miners.length === 0 ? [] : algorithmTotals([{
        id: rig.id,
        miners: miners.filter((m) => m.state !== "idle" && m.state !== "down"),
      }]),
      maxTemp,
      updatedAt,
    };
  }

  #miner(rig: RigInput, m: MinerStats, now: number): MinerHealth {
    const t = this.#opts.thresholds(rig, m);
    const key = `${rig.id}/${m.name}`;
    let mem = this.#miners.get(key);
    if (!mem) {
      mem = { zeroSince: null, okSince: null, belowSince: null, shares: [], seen: this.#round };
      if (!this.#opts.oneShot) this.#miners.set(key, mem);
    }
    mem.seen = this.#round;
    const reasons: HealthReason[] = [];
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const add = (code: ReasonCode, message: string, extra: Partial<HealthReason> = {}) =>
      reasons.push({ code, message, since: null, ...extra });
    const algorithm = algorithmOf(m);
    const expected = this.#opts.expected?.(rig, m) ?? null;
    const hr = m.state === "paused" ? 0 : m.hashrate.now;
    // Restarts inside the crash-loop window (the restart log carries their times).
    const windowStart = now - t.crashLoopWindowSeconds * 1000;
    const recent = m.restartLog.length
      ? m.restartLog.filter((r) => Date.parse(r.at) >= windowStart)
      : m.restartLog;
    const restartNote = recent.length
      ? `restarted ${recent.length}× (${lastCause(recent[recent.length - 1].reason)})`
      : null;

    let state: HealthState;
    if (!ACTIVE.has(m.state)) {
      state = "idle";
      mem.zeroSince = mem.okSince = mem.belowSince = null;
      mem.shares.length = 0;
    } else if (m.state === "failed") {
      state = "down";
      add("miner_down", `miner failed${m.lastError ? `: ${m.lastError.slice(0, 200)}` : ""}`);
    } else if (m.state === "starting") {
      state = "unknown";
    } else {
      state = "ok";
      if (m.state === "restarting" && mem.zeroSince === null) {
        add("restarting", `restarting${restartNote ? `, ${restartNote}` : ""}`, {
          value: recent.length,
        });
      }
      // Hashrate 0 (a paused miner hashes nothing; no figure after the grace counts as 0). A
      // stall holds through the watchdog's restart and clears only after zeroForSeconds of
      // hashing, so a miner that stalls, restarts and stalls again is one stall, not many.
      const zeroNow = hr === 0 || (hr === null && m.uptime >= 30);
      const zeroMs = t.zeroForSeconds * 1000;
      if (this.#opts.oneShot) {
        const avg = m.state === "paused" ? 0 : (m.hashrate.avg60 ?? hr ?? 0);
        if (m.state !== "restarting" && zeroNow && avg === 0 && m.uptime >= t.zeroForSeconds) {
          add("hashrate_zero", zeroMessage(m, null, restartNote), { value: 0, threshold: 0 });
        }
      } else {
        if (m.state === "restarting" || (hr === null && !zeroNow)) {
          // No figure (restarting, or not measured yet after a start): keep what was. Only a
          // reported hashrate above 0 is evidence of recovery.
        } else if (zeroNow) {
          mem.zeroSince ??= now;
          mem.okSince = null;
        } else if (mem.zeroSince !== null) {
          mem.okSince ??= now;
          if (now - mem.okSince >= zeroMs) mem.zeroSince = mem.okSince = null;
        }
        const zeroFor = mem.zeroSince === null ? 0 : (mem.okSince ?? now) - mem.zeroSince;
        if (mem.zeroSince !== null && zeroFor >= zeroMs) {
          const recovering = mem.okSince !== null && hr !== null
            ? ` (recovering: ${formatHashrate(hr)} for ${formatDuration(now - mem.okSince)})`
            : m.state === "restarting"
            ? " (restarting)"
            : "";
          add("hashrate_zero", zeroMessage(m, zeroFor, restartNote, recovering), {
            since: iso(mem.zeroSince),
            value: 0,
            threshold: 0,
          });
        }
      }
      // Below expected (and not zero, which says more).
      if (expected && !reasons.some((r) => r.code === "hashrate_zero") && m.state === "running") {
        const limit = expected.value * t.expectedFraction;
        if (this.#opts.oneShot) {
          const avg = m.hashrate.avg15m ?? m.hashrate.avg60;
          if (avg !== null && avg < limit && m.uptime >= t.belowForSeconds) {
            add("below_expected", belowMessage(avg, expected, null), {
              value: avg,
              threshold: limit,
            });
          }
        } else {
          const below = hr !== null && hr < limit;
          mem.belowSince = below ? (mem.belowSince ?? now) : null;
          if (mem.belowSince !== null && now - mem.belowSince >= t.belowForSeconds * 1000) {
            add("below_expected", belowMessage(hr!, expected, now - mem.belowSince), {
              since: iso(mem.belowSince),
              value: hr,
              threshold: limit,
            });
          }
        }
      }
      if (recent.length >= t.crashLoopRestarts) {
        add(
          "crash_loop",
          `crash loop: ${recent.length} restarts in ${
            formatDuration(t.crashLoopWindowSeconds * 1000)
          } (last: ${lastCause(recent[recent.length - 1].reason)})`,
          { since: recent[0].at, value: recent.length, threshold: t.crashLoopRestarts },
        );
      } else if (
        restartNote && !reasons.some((r) => r.code === "hashrate_zero" || r.code === "restarting")
      ) {
        add("restarting", restartNote, { since: recent[0].at, value: recent.length });
      }
      if (
        m.state === "running" && m.type !== "custom" && m.pool === null &&
        m.uptime >= t.poolGraceSeconds
      ) {
        add("pool_disconnected", "no pool connection");
      }
      if (m.state === "running" && m.lastError && m.type !== "custom") {
        add("api_unresponsive", `miner API not answering: ${m.lastError.slice(0, 160)}`);
      }
    }
    const rejectRate = this.#rejects(mem, m, now, t);
    if (state === "ok" && rejectRate !== null && rejectRate > t.rejectRate) {
      add(
        "high_rejects",
        `rejects ${(rejectRate * 100).toFixed(1)} % over ${
          formatDuration(t.rejectWindowSeconds * 1000)
        } (limit ${(t.rejectRate * 100).toFixed(0)} %)`,
        { value: rejectRate, threshold: t.rejectRate },
      );
    }
    const watch = ACTIVE.has(m.state) && m.state !== "failed";
    const devState: HealthState = state === "idle"
      ? "idle"
      : state === "unknown"
      ? "unknown"
      : "ok";
    const devices = m.devices.map((d, index): DeviceHealth => {
      const kind = d.kind ?? "gpu";
      const tempLimit = kind === "cpu" ? t.cpuTempLimit : t.gpuTempLimit;
      let dr: HealthReason[] = NO_REASONS;
      const hot = watch && d.temp !== null && d.temp > tempLimit;
      const fanDead = watch && (d.fan === 0 || d.fanRpm === 0) && d.temp !== null &&
        d.temp >= t.fanHotTemp;
      if (hot || fanDead) {
        dr = [];
        const label = d.name ?? `${kind.toUpperCase()}${index}`;
        if (hot) {
          dr.push({
            code: "device_temperature",
            message: `${label} at ${d.temp} °C (limit ${tempLimit} °C)`,
            since: null,
            value: d.temp,
            threshold: tempLimit,
            device: index,
          });
        }
        if (fanDead) {
          dr.push({
            code: "fan_failure",
            message: `${label} fan at 0 while at ${d.temp} °C`,
            since: null,
            value: 0,
            threshold: t.fanHotTemp,
            device: index,
          });
        }
        reasons.push(...dr);
      }
      return {
        index,
        name: d.name,
        kind,
        state: dr.length ? "degraded" : devState,
        reasons: dr,
        hashrate: d.hashrate,
        temp: d.temp,
        fan: d.fan,
        fanRpm: d.fanRpm ?? null,
        power: d.power ?? null,
        tempLimit,
      };
    });
    if (state === "ok" && reasons.length) state = "degraded";
    return {
      name: m.name,
      state,
      reasons,
      algorithm,
      hashrate: ACTIVE.has(m.state) ? hr : null,
      expected: expected?.value ?? null,
      expectedSource: expected?.source ?? null,
      recentRestarts: recent.length,
      rejectRate,
      devices,
    };
  }

  /** Reject ratio over the window (null with too few shares). */
  #rejects(mem: MinerMemory, m: MinerStats, now: number, t: Thresholds): number | null {
    const { accepted, rejected } = m.shares;
    if (this.#opts.oneShot) {
      const n = accepted + rejected;
      return n >= t.rejectMinShares ? rejected / n : null;
    }
    const ring = mem.shares;
    const lastEntry = ring[ring.length - 1];
    // A restarted miner counts from zero again.
    if (lastEntry && (accepted < lastEntry[1] || rejected < lastEntry[2])) ring.length = 0;
    const tail = ring[ring.length - 1];
    if (!tail || now - tail[0] >= 20_000) ring.push([now, accepted, rejected]);
    else {
      tail[1] = accepted;
      tail[2] = rejected;
    }
    const from = now - t.rejectWindowSeconds * 1000;
    while (ring.length > 1 && ring[1][0] <= from) ring.shift();
    const base = ring[0];
    const a = accepted - base[1];
    const r = rejected - base[2];
    // Too little history yet: the miner's own totals, when it started inside the window.
    if (a + r < t.rejectMinShares) {
      if (
        m.uptime * 1000 <= t.rejectWindowSeconds * 1000 && accepted + rejected >= t.rejectMinShares
      ) {
        return rejected / (accepted + rejected);
      }
      return null;
    }
    return r / (a + r);
  }
}

/**
 * Whether two JSON-like values (plain objects, arrays, strings, numbers, booleans, null) hold
 * the same, key for key (in any order), without building their text or key lists.
 *
 * @example
 * ```ts ignore
 * sameJson({ a: [1, "x"] }, { a: [1, "x"] }); // true
 * ```
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let keys = 0;
  for (const k in ra) {
    keys++;
    if (!(k in rb) || !sameJson(ra[k], rb[k])) return false;
  }
  for (const _ in rb) keys--;
  return keys === 0;
}

/** The cause of a restart, short (`stall`, `exit code 1`, `hang`). */
function lastCause(reason: string): string {
  const cut = reason.indexOf(":");
  return (cut > 0 ? reason.slice(0, cut) : reason).slice(0, 60);
}

function zeroMessage(
  m: MinerStats,
  forMs: number | null,
  restartNote: string | null,
  note = "",
): string {
  return `hashrate 0 H/s${forMs !== null ? ` for ${formatDuration(forMs)}` : ""}${
    m.state === "paused" ? " (paused)" : ""
  }${note}${restartNote ? `, ${restartNote}` : ""}`;
}

function belowMessage(hr: number, expected: Expected, forMs: number | null): string {
  return `hashrate ${formatHashrate(hr)} is ${
    Math.round((hr / expected.value) * 100)
  } % of expected ${formatHashrate(expected.value)}${
    expected.source === "learned" ? " (learned)" : ""
  }${forMs !== null ? ` for ${formatDuration(forMs)}` : ""}`;
}
