/**
 * The farm's stratum proxy (on the controller): it holds the few upstream connections, splits
 * each upstream job's nonce space among all miners of all rigs, checks every share and sends the
 * ones that meet the upstream's target upstream.
 *
 * - **Ranges**: each miner owns one value of the nonce's high byte (XMRig's nicehash mode keeps
 *   it), so up to 256 miners hash disjoint ranges of the same blob. With a daemon upstream, each
 *   further group of 256 gets a blob of its own: another extra nonce in the template's reserved
 *   space (see `template.ts`). A pool's job is one blob: 256 miners per pool upstream. A miner
 *   that leaves frees its range; one that joins gets a free one; nobody else is disturbed.
 * - **Jobs**: every upstream job becomes one proxy job (`j<n>`) sent to every miner with its own
 *   byte in the blob. Shares for the current job and the one before (as xmrig-proxy does) count;
 *   the one before counts as stale.
 * - **Shares**: known miner, known job, nonce in the miner's range, not seen before, and the
 *   result hash meets the miner's difficulty in a full 256-bit comparison; meeting the upstream's
 *   difficulty too, it goes upstream (for a daemon: a block). Every rejection has a reason.
 * - **Failover**: the active upstream is the first in order that is up; when it fails, every
 *   miner gets the next one's job at once.
 * @module
 */
import type {
  PayloadOf,
  ShareRecord,
  ShareRejectReason,
  StratumJob,
  StratumMinerView,
  StratumStatus,
} from "../protocol/mod.ts";
import { meetsDifficulty, nonceSlot, shareDifficulty, targetHex, withSlot } from "./target.ts";
import { withExtraNonce } from "./template.ts";
import {
  createUpstream,
  type Upstream,
  type UpstreamConfig,
  type UpstreamJob,
} from "./upstream.ts";

/** Nonce ranges per blob (the nonce's high byte). */
export const SLOTS = 256;
/** Most miners one controller's proxy takes (on a daemon upstream; 256 on a pool). */
export const MAX_MINERS = 65_536;

/** A share the proxy refused, with the reason the miner sees. */
export class ShareRejected extends Error {
  /** Creates the rejection. */
  constructor(readonly reason: ShareRejectReason, message: string) {
    super(message);
    this.name = "ShareRejected";
  }
}

/** Options for {@link StratumProxy}. */
export interface StratumProxyOptions {
  /** The difficulty miners are given (capped at the upstream's; default 5,000). */
  difficulty?: number;
  /** Nonce ranges per blob before the next extra nonce (1-256, default 256). */
  ranges?: number;
  /**
   * Most miners one rig may hold (default 1,024): a compromised rig cannot take every range and
   * leave the farm's other rigs without work.
   */
  maxPerRig?: number;
  /** Shares kept in the share log (default 10,000). */
  shareLogSize?: number;
  /** Called on what a watcher wants to know (upstream state, a block, a job). */
  onEvent?(event: StratumProxyEvent): void;
  /** Daemon poll interval (ms). */
  pollMs?: number;
  /** Agent string for pools. */
  agent?: string;
  /** PEM CA for `stratum+ssl://` pools (instead of the system's roots). */
  ca?: string;
}

/** What the proxy tells its watchers. */
export type StratumProxyEvent =
  | { kind: "upstream"; index: number; url: string; state: string; active: boolean }
  | {
    kind: "job";
    jobId: string;
    height: number;
    upstream: number;
    miners: number;
    /** When the proxy started sending it (epoch ms), and how long that took. */
    startedAt: number;
    ms: number;
  }
  | { kind: "block"; height: number; rig: string; miner: string }
  | { kind: "share"; record: ShareRecord };

/** New work for one rig's miners: blobs with the miners (and their high byte) that take each. */
export type RigJobs = PayloadOf<"stratum_jobs">["jobs"];

interface Variant {
  hashing: string;
  template?: string;
}

interface ProxyJob {
  id: string;
  upstream: Upstream;
  job: UpstreamJob;
  /** The miners' difficulty for it. */
  difficulty: bigint;
  /** Shares seen, as extra nonce · 2^32 + nonce (numbers: a farm sends millions per job). */
  seen: Set<number>;
  /** Blobs by extra nonce (0: the upstream's own). */
  variants: Map<number, Variant>;
}

interface MinerRecord {
  rig: string;
  rigName: string;
  miner: string;
  login: string;
  agent: string;
  /** Its blob's extra nonce (0: the upstream's own blob). */
  extra: number;
  /** Its nonce high byte. */
  slot: number;
  since: string;
  accepted: number;
  rejected: number;
  stale: number;
  upstreamAccepted: number;
  upstreamRejected: number;
  bestDifficulty: number;
  lastShareAt: string | null;
  /** Accepted work per second (at most 600 buckets: ten minutes). */
  window: { at: number; difficulty: number }[];
}

/** A miner joining the proxy. */
export interface ProxyLogin {
  /** The rig's node ID. */
  rig: string;
  /** The rig's name. */
  rigName: string;
  /** The miner's key on its rig. */
  miner: string;
  /** The login the miner gave. */
  login: string;
  /** Its user agent. */
  agent: string;
  /** Where the rig's new work goes (one call per rig per job). */
  sink: (jobs: RigJobs) => void;
}

const HASHRATE_WINDOW_MS = 600_000;
/**
 * Shares waiting for the upstream's answer at most: a forged flood (a result of zeros meets any
 * target) must not turn into a flood of submits to the pool or the daemon.
 */
const MAX_UPSTREAM_IN_FLIGHT = 256;
const KEPT_JOBS = 8;

/**
 * The proxy.
 *
 * @example
 * ```ts ignore
 * const proxy = new StratumProxy({ difficulty: 1000 });
 * proxy.setUpstreams([{ url: "daemon+http://127.0.0.1:18081", user: WALLET }]);
 * const { job, slot } = await proxy.login({ rig, rigName, miner: "m1", login: "x", agent: "", sink });
 * ```
 */
export class StratumProxy {
  #upstreams: Upstream[] = [];
  #active: Upstream | null = null;
  readonly #jobs: ProxyJob[] = [];
  readonly #miners = new Map<string, MinerRecord>();
  /** Range → miner key. */
  /** `extra:slot` → miner key. */
  readonly #ranges = new Map<string, string>();
  readonly #sinks = new Map<string, (jobs: RigJobs) => void>();
  readonly #log: ShareRecord[] = [];
  readonly #reasons = new Map<string, number>();
  readonly #opts: StratumProxyOptions;
  readonly #waiting = new Set<() => void>();
  #difficulty: bigint;
  #perBlob: number;
  #jobSeq = 0;
  #inFlight = 0;
  /** Logins waiting for work, and miners logged in, by rig (its cap). */
  readonly #waitingByRig = new Map<string, number>();
  readonly #heldByRig = new Map<string, number>();
  /** Ranges freed during the current job: nobody else hashes them again before the next job. */
  readonly #quarantine = new Set<string>();
  /** Job IDs differ from a previous process's (a miner kept across a restart holds old ones). */
  readonly #jobPrefix = crypto.randomUUID().slice(0, 4) + "-";

  /** Creates a proxy with no upstreams (miners wait until one is set). */
  constructor(options: StratumProxyOptions = {}) {
    this.#opts = options;
    this.#difficulty = BigInt(Math.max(1, Math.round(options.difficulty ?? 5000)));
    this.#perBlob = clampRanges(options.ranges ?? SLOTS);
  }

  /** Whether upstreams are configured. */
  get enabled(): boolean {
    return this.#upstreams.length > 0;
  }

  /** The difficulty miners are given (before the upstream's cap). */
  get difficulty(): number {
    return Number(this.#difficulty);
  }

  /** Sets the miners' difficulty (new jobs carry it). */
  setDifficulty(difficulty: number): void {
    this.#difficulty = BigInt(Math.max(1, Math.round(difficulty)));
  }

  /** Sets the nonce ranges per blob (miners logged in keep theirs until they log in again). */
  setRanges(ranges: number): void {
    this.#perBlob = clampRanges(ranges);
  }

  /** Replaces the upstream list (in failover order); an unchanged list is left running. */
  setUpstreams(configs: readonly UpstreamConfig[]): void {
    const same = configs.length === this.#upstreams.length &&
      configs.every((c, i) => {
        const u = this.#upstreams[i].config;
        return u.url === c.url && u.user === c.user && (u.pass ?? "") === (c.pass ?? "");
      });
    if (same) return;
    for (const u of this.#upstreams) u.stop();
    this.#upstreams = configs.map((c) =>
      createUpstream(c, {
        pollMs: this.#opts.pollMs,
        agent: this.#opts.agent,
        ca: this.#opts.ca,
        onJob: (u, job) => this.#onJob(u, job),
        onState: (u) => this.#onState(u),
      })
    );
    this.#active = null;
    for (const u of this.#upstreams) u.start();
    this.#choose();
  }

  /** Stops every upstream. */
  close(): void {
    for (const u of this.#upstreams) u.stop();
    for (const w of this.#waiting) w();
  }

  #onState(u: Upstream): void {
    const index = this.#upstreams.indexOf(u);
    if (index < 0) return;
    this.#choose();
    this.#opts.onEvent?.({
      kind: "upstream",
      index,
      url: u.config.url,
      state: u.view(index, false).state,
      active: this.#active === u,
    });
  }

  #onJob(u: Upstream, job: UpstreamJob): void {
    if (this.#upstreams.indexOf(u) < 0) return;
    if (this.#active !== u) return this.#choose();
    this.#issue(u, job);
  }

  /** The first upstream in order that is up becomes the active one. */
  #choose(): void {
    const next = this.#upstreams.find((u) => u.up) ?? null;
    if (next === this.#active) return;
    this.#active = next;
    if (next?.job) this.#issue(next, next.job);
  }

  /** How many miners an upstream job can take (one blob on a pool, many on a daemon). */
  #capacity(job: UpstreamJob | undefined): number {
    return job?.template ? MAX_MINERS : this.#perBlob;
  }

  #issue(u: Upstream, job: UpstreamJob): void {
    const prev = this.#jobs.at(-1);
    // An upstream coming up reports its job twice (up, then the job): issue it once.
    if (prev && prev.upstream === u && prev.job === job) return;
    const startedAt = Date.now();
    const started = performance.now();
    const difficulty = job.difficulty > 0n && job.difficulty < this.#difficulty
      ? job.difficulty
      : this.#difficulty;
    const pj: ProxyJob = {
      id: `j${this.#jobPrefix}${++this.#jobSeq}`,
      upstream: u,
      job,
      difficulty,
      // The same work sent again (a pool repeating a job) keeps its seen shares.
      seen: prev && prev.upstream === u && prev.job.id === job.id && prev.job.blob === job.blob
        ? prev.seen
        : new Set(),
      variants: new Map([[0, { hashing: job.blob, template: job.templateBlob }]]),
    };
    this.#quarantine.clear();
    this.#jobs.push(pj);
    if (this.#jobs.length > KEPT_JOBS) this.#jobs.shift();
    // Shares for jobs two behind are refused as stale before their duplicates are looked up:
    // their seen sets can go (memory stays bounded by two jobs' shares).
    const old = this.#jobs.at(-3);
    if (old && old.seen !== this.#jobs.at(-2)?.seen) old.seen.clear();
    // One message per rig: its miners grouped by blob.
    const byRig = new Map<string, Map<number, [string, number][]>>();
    for (const m of this.#miners.values()) {
      // A pool after a daemon has one blob: miners on other extra nonces wait (see status).
      if (m.extra > 0 && !job.template) continue;
      let blobs = byRig.get(m.rig);
      if (!blobs) byRig.set(m.rig, blobs = new Map());
      let list = blobs.get(m.extra);
      if (!list) blobs.set(m.extra, list = []);
      list.push([m.miner, m.slot]);
    }
    for (const [rig, blobs] of byRig) {
      const jobs = [...blobs].map(([extra, miners]) => ({
        job: this.#jobFor(pj, extra, 0),
        miners,
      }));
      try {
        this.#sinks.get(rig)?.(jobs);
      } catch { /* its link is closing; its logout frees it */ }
    }
    for (const w of [...this.#waiting]) w();
    this.#opts.onEvent?.({
      kind: "job",
      jobId: pj.id,
      height: job.height,
      upstream: this.#upstreams.indexOf(u),
      miners: this.#miners.size,
      startedAt,
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
  }

  #variant(pj: ProxyJob, extra: number): Variant {
    let v = pj.variants.get(extra);
    if (!v) {
      const t = withExtraNonce(pj.job.template!, extra);
      v = { hashing: t.hashing, template: t.template };
      pj.variants.set(extra, v);
    }
    return v;
  }

  #jobFor(pj: ProxyJob, extra: number, slot: number): StratumJob {
    return {
      jobId: pj.id,
      blob: withSlot(this.#variant(pj, extra).hashing, slot),
      target: targetHex(pj.difficulty),
      algo: pj.job.algo,
      height: pj.job.height,
      ...(pj.job.seedHash ? { seedHash: pj.job.seedHash } : {}),
    };
  }

  /** The current job, waiting up to `timeoutMs` for one. */
  #current(timeoutMs: number): Promise<ProxyJob | null> {
    const now = this.#currentJob();
    if (now || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        resolve(this.#currentJob());
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiting.add(done);
    });
  }

  #currentJob(): ProxyJob | null {
    const last = this.#jobs.at(-1);
    return last && last.upstream === this.#active && this.#active?.up ? last : null;
  }

  /**
   * A miner joins: it gets a free nonce range and the current job (waiting up to `waitMs` for
   * an upstream). Throws {@link ShareRejected} (`no_upstream`) when there is no work or no range.
   */
  async login(
    l: ProxyLogin,
    options: { waitMs?: number } = {},
  ): Promise<{ job: StratumJob; slot: number; extraNonce: number }> {
    const key = `${l.rig}/${l.miner}`;
    this.logout(l.rig, l.miner);
    if (!this.enabled) {
      throw new ShareRejected(
        "no_upstream",
        "the farm's controller has no upstream pool or daemon configured (on the controller: miner-cli stratum upstream add URL)",
      );
    }
    const perRig = this.#opts.maxPerRig ?? 1024;
    const count = () => (this.#heldByRig.get(l.rig) ?? 0) + (this.#waitingByRig.get(l.rig) ?? 0);
    if (count() >= perRig) {
      throw new ShareRejected(
        "no_upstream",
        `this rig already has ${perRig} miners at the farm's proxy (the most one rig may hold)`,
      );
    }
    // Logins waiting for work count against the rig's share too.
    bump(this.#waitingByRig, l.rig, 1);
    let pj: ProxyJob | null;
    try {
      pj = await this.#current(options.waitMs ?? 10_000);
    } finally {
      bump(this.#waitingByRig, l.rig, -1);
    }
    if (!pj) {
      throw new ShareRejected(
        "no_upstream",
        "no upstream pool or daemon is reachable from the farm's controller; retrying",
      );
    }
    if (this.#miners.has(key)) this.logout(l.rig, l.miner);
    if (count() >= perRig) {
      throw new ShareRejected(
        "no_upstream",
        `this rig already has ${perRig} miners at the farm's proxy (the most one rig may hold)`,
      );
    }
    const capacity = this.#capacity(pj.job);
    let extra = -1;
    let slot = -1;
    for (let r = 0; r < capacity && extra < 0; r++) {
      const e = Math.floor(r / this.#perBlob);
      const sl = r % this.#perBlob;
      const r2 = `${e}:${sl}`;
      if (!this.#ranges.has(r2) && !this.#quarantine.has(r2)) [extra, slot] = [e, sl];
    }
    if (extra < 0) {
      throw new ShareRejected(
        "no_upstream",
        pj.job.template
          ? `the farm's proxy is full: ${capacity} miners`
          : `the farm's proxy is full: a pool's job splits into ${capacity} nonce ranges (a daemon upstream takes more miners)`,
      );
    }
    this.#ranges.set(`${extra}:${slot}`, key);
    this.#sinks.set(l.rig, l.sink);
    bump(this.#heldByRig, l.rig, 1);
    this.#miners.set(key, {
      rig: l.rig,
      rigName: l.rigName,
      miner: l.miner,
      login: l.login,
      agent: l.agent,
      extra,
      slot,
      since: new Date().toISOString(),
      accepted: 0,
      rejected: 0,
      stale: 0,
      upstreamAccepted: 0,
      upstreamRejected: 0,
      bestDifficulty: 0,
      lastShareAt: null,
      window: [],
    });
    return { job: this.#jobFor(pj, extra, slot), slot, extraNonce: extra };
  }

  /** Where a rig's new work goes from now on (its link changed). */
  setSink(rig: string, sink: (jobs: RigJobs) => void): void {
    if (this.#sinks.has(rig)) this.#sinks.set(rig, sink);
  }

  /** A miner left: its range is free. */
  logout(rig: string, miner: string): void {
    const key = `${rig}/${miner}`;
    const m = this.#miners.get(key);
    if (!m) return;
    this.#miners.delete(key);
    bump(this.#heldByRig, rig, -1);
    const range = `${m.extra}:${m.slot}`;
    if (this.#ranges.get(range) === key) {
      this.#ranges.delete(range);
      this.#quarantine.add(range);
    }
  }

  /** Every miner of a rig left (its link closed). */
  dropRig(rig: string): void {
    for (const m of [...this.#miners.values()]) if (m.rig === rig) this.logout(rig, m.miner);
    this.#sinks.delete(rig);
  }

  /** Checks a share; returns when it counts, throws {@link ShareRejected} with why not. */
  submit(
    rig: string,
    miner: string,
    share: { jobId: string; nonce: string; result: string },
  ): void {
    const m = this.#miners.get(`${rig}/${miner}`);
    const at = new Date().toISOString();
    const record: ShareRecord = {
      at,
      rig,
      miner,
      jobId: share.jobId.slice(0, 64),
      nonce: share.nonce.slice(0, 8),
      slot: null,
      difficulty: 0,
      verdict: "rejected",
    };
    const reject = (reason: ShareRejectReason, message: string): never => {
      record.reason = reason;
      if (m) m.rejected++;
      this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
      this.#remember(record);
      throw new ShareRejected(reason, message);
    };
    if (!m) {
      return reject(
        "unauthenticated",
        "Unauthenticated: this miner is not logged in to the farm's proxy",
      );
    }
    if (!/^[0-9a-f]{8}$/.test(share.nonce) || !/^[0-9a-f]{64}$/.test(share.result)) {
      return reject(
        "malformed",
        "Malformed share: nonce must be 8 and result 64 lowercase hex digits",
      );
    }
    const { extra, slot } = m;
    record.slot = nonceSlot(share.nonce);
    record.extraNonce = extra;
    record.difficulty = shareDifficulty(share.result);
    const index = this.#jobs.findIndex((j) => j.id === share.jobId);
    if (index < 0) return reject("invalid_job", `Invalid job id ${record.jobId}`);
    const pj = this.#jobs[index];
    if (extra > 0 && !pj.job.template) {
      return reject(
        "no_upstream",
        "No work for this miner's range on this upstream (a pool's job has 256 ranges)",
      );
    }
    const current = this.#currentJob();
    const age = this.#jobs.length - 1 - index;
    if (age > 1 || (age === 1 && pj.upstream !== current?.upstream)) {
      return reject("stale_job", `Stale job ${pj.id}: a newer job replaced it`);
    }
    if (record.slot !== slot) {
      return reject(
        "nonce_out_of_range",
        `Nonce ${share.nonce} is outside this miner's range (high byte ${
          slot.toString(16).padStart(2, "0")
        })`,
      );
    }
    const seen = extra * 2 ** 32 + parseInt(share.nonce, 16);
    if (pj.seen.has(seen)) {
      return reject("duplicate", `Duplicate share: nonce ${share.nonce} was already submitted`);
    }
    if (!meetsDifficulty(share.result, pj.difficulty)) {
      return reject(
        "low_difficulty",
        `Low difficulty share: ${record.difficulty} < ${pj.difficulty}`,
      );
    }
    pj.seen.add(seen);
    const stale = age === 1;
    record.verdict = stale ? "stale" : "accepted";
    if (stale) m.stale++;
    else m.accepted++;
    m.lastShareAt = at;
    m.bestDifficulty = Math.max(m.bestDifficulty, record.difficulty);
    const now = Date.now();
    const second = Math.floor(now / 1000) * 1000;
    const last = m.window.at(-1);
    if (last && last.at === second) last.difficulty += Number(pj.difficulty);
    else m.window.push({ at: second, difficulty: Number(pj.difficulty) });
    while (m.window.length && now - m.window[0].at > HASHRATE_WINDOW_MS) m.window.shift();
    // A share for the job before goes upstream when that work is still valid there: a pool
    // takes shares for its recent jobs; a daemon only blocks on the same parent.
    const sameWork = pj.upstream.kind === "pool"
      // A pool takes shares for its session's recent jobs, not a previous connection's.
      ? (!stale || pj.upstream === current?.upstream) && pj.job.epoch === pj.upstream.job?.epoch
      : !stale || (pj.job.prevHash !== undefined && pj.job.prevHash === current?.job.prevHash);
    if (
      sameWork && meetsDifficulty(share.result, pj.job.difficulty) &&
      this.#inFlight < MAX_UPSTREAM_IN_FLIGHT
    ) {
      this.#inFlight++;
      record.upstream = "pending";
      const block = pj.upstream.kind === "daemon";
      if (block) record.block = true;
      const templateBlob = extra > 0 ? this.#variant(pj, extra).template : undefined;
      void pj.upstream.submit(pj.job, { nonce: share.nonce, result: share.result, templateBlob })
        .then((v) => {
          this.#inFlight--;
          record.upstream = v.ok ? "accepted" : "rejected";
          if (v.ok) m.upstreamAccepted++;
          else {
            m.upstreamRejected++;
            record.upstreamError = v.error.slice(0, 500);
          }
          if (v.ok && block) {
            this.#opts.onEvent?.({ kind: "block", height: pj.job.height, rig, miner });
          }
          this.#opts.onEvent?.({ kind: "share", record });
        });
    }
    this.#remember(record);
  }

  #remember(record: ShareRecord): void {
    this.#log.push(record);
    if (this.#log.length > (this.#opts.shareLogSize ?? 10_000)) this.#log.shift();
    if (!record.upstream) this.#opts.onEvent?.({ kind: "share", record });
  }

  /** The share log, newest last (filtered by rig, at most `limit`). */
  shares(options: { rig?: string; limit?: number } = {}): ShareRecord[] {
    const all = options.rig ? this.#log.filter((r) => r.rig === options.rig) : this.#log;
    return all.slice(-(options.limit ?? 1000));
  }

  /** Who holds which range (miner key by `extra nonce:high byte`). */
  ranges(): Map<string, string> {
    return new Map(this.#ranges);
  }

  /** The status view. */
  status(): StratumStatus {
    const now = Date.now();
    const difficulty = Number(this.#currentJob()?.difficulty ?? this.#difficulty);
    const miners: StratumMinerView[] = [...this.#miners.values()].map((m) => {
      while (m.window.length && now - m.window[0].at > HASHRATE_WINDOW_MS) m.window.shift();
      const span = Math.max(1, Math.min(HASHRATE_WINDOW_MS, now - Date.parse(m.since))) / 1000;
      const work = m.window.reduce((s, w) => s + w.difficulty, 0);
      return {
        rig: m.rig,
        rigName: m.rigName,
        miner: m.miner,
        login: m.login,
        agent: m.agent,
        slot: m.slot,
        extraNonce: m.extra,
        since: m.since,
        difficulty,
        accepted: m.accepted,
        rejected: m.rejected,
        stale: m.stale,
        upstreamAccepted: m.upstreamAccepted,
        upstreamRejected: m.upstreamRejected,
        bestDifficulty: m.bestDifficulty,
        hashrate: Math.round((work / span) * 100) / 100,
        lastShareAt: m.lastShareAt,
      };
    });
    const sum = (k: keyof StratumMinerView) => miners.reduce((s, m) => s + (m[k] as number), 0);
    const upstreams = this.#upstreams.map((u, i) => u.view(i, u === this.#active));
    const capacity = this.#capacity(this.#currentJob()?.job ?? this.#active?.job ?? undefined);
    let used = 0;
    for (const r of this.#ranges.keys()) {
      const [e, sl] = r.split(":").map(Number);
      if (e * this.#perBlob + sl < capacity) used++;
    }
    return {
      at: new Date().toISOString(),
      enabled: this.enabled,
      difficulty: this.difficulty,
      ranges: this.#perBlob,
      upstreams,
      miners,
      totals: {
        miners: miners.length,
        accepted: sum("accepted"),
        rejected: sum("rejected"),
        stale: sum("stale"),
        upstreamAccepted: sum("upstreamAccepted"),
        upstreamRejected: sum("upstreamRejected"),
        blocks: upstreams.reduce((s, u) => s + u.blocks, 0),
        hashrate: Math.round(sum("hashrate") * 100) / 100,
        freeSlots: capacity - used,
      },
      rejectReasons: Object.fromEntries(this.#reasons),
    };
  }
}

/** Adds `delta` to a count, dropping it at 0. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function clampRanges(n: number): number {
  return Math.min(SLOTS, Math.max(1, Math.round(n)));
}
