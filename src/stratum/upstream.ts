/**
 * Where the farm's work comes from: a pool over stratum (`stratum+tcp://`, `stratum+ssl://` with
 * the certificate checked) or a Monero daemon for solo mining (`daemon+http://host:18081`:
 * `get_block_template`, `submit_block`). An upstream hands out jobs and takes the shares that meet
 * its target; it reconnects by itself with backoff, and says when it is up or down so the proxy
 * can fail over.
 * @module
 */
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { UpstreamView } from "../protocol/mod.ts";
import { JsonLines } from "./lines.ts";
import { targetDifficulty, withNonce } from "./target.ts";
import { type ParsedTemplate, parseTemplate } from "./template.ts";

/** One job from an upstream. */
export interface UpstreamJob {
  /** The upstream's job ID (a pool's `job_id`; a template's sequence for a daemon). */
  id: string;
  /** Hashing blob (hex). */
  blob: string;
  /** The upstream's difficulty for this job (a share meeting it goes upstream). */
  difficulty: bigint;
  height: number;
  seedHash?: string;
  algo: string;
  /** Daemon: the block template blob (the nonce is written into it to submit a block). */
  templateBlob?: string;
  /** Daemon: the parsed template, for blobs with other extra nonces (more than 256 miners). */
  template?: ParsedTemplate;
  /** Daemon: the previous block's hash (a new one means the old jobs are stale). */
  prevHash?: string;
  /** Pool: which login session it came from (a share goes only to the session it was for). */
  epoch?: number;
}

/** What an upstream said about a share. */
export type UpstreamVerdict = { ok: true } | { ok: false; error: string };

/** An upstream's configuration. */
export interface UpstreamConfig {
  /** `stratum+tcp://host:port`, `stratum+ssl://host:port` or `daemon+http(s)://host:port`. */
  url: string;
  /** Pool login (wallet) or, for a daemon, the wallet the block reward goes to. */
  user: string;
  /** Pool password. */
  pass?: string;
}

/** One upstream. */
export interface Upstream {
  /** Configuration. */
  readonly config: UpstreamConfig;
  /** `pool` or `daemon`. */
  readonly kind: "pool" | "daemon";
  /** Current job (null before the first). */
  readonly job: UpstreamJob | null;
  /** Whether it is up (has a job and answered lately). */
  readonly up: boolean;
  /** Starts connecting / polling. */
  start(): void;
  /** Stops and disconnects. */
  stop(): void;
  /**
   * Submits a share meeting this upstream's target (`templateBlob`: the daemon template with the
   * miner's extra nonce, when it is not the job's own).
   */
  submit(
    job: UpstreamJob,
    share: { nonce: string; result: string; templateBlob?: string },
  ): Promise<UpstreamVerdict>;
  /** The view (counters and state). */
  view(index: number, active: boolean): UpstreamView;
}

/** Options shared by upstreams. */
export interface UpstreamOptions {
  /** A new job (or the same job refreshed). */
  onJob(upstream: Upstream, job: UpstreamJob): void;
  /** It went up or down. */
  onState(upstream: Upstream): void;
  /** Daemon poll interval (default 1 s). */
  pollMs?: number;
  /** Request timeout (default 3 s). */
  timeoutMs?: number;
  /** Agent string sent to pools. */
  agent?: string;
  /**
   * PEM certificates a `stratum+ssl://` pool's certificate must chain to, instead of the system's
   * roots (a farm's own CA; `MINER_CLI_TLS_CA`). The certificate and its name are always checked.
   */
  ca?: string;
}

/** An upstream URL is not one of the supported forms. */
export class UpstreamUrlError extends Error {
  /** Creates the error. */
  constructor(url: string) {
    super(
      `unsupported upstream ${url}: use stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT or daemon+http://HOST:PORT`,
    );
    this.name = "UpstreamUrlError";
  }
}

const UPSTREAM_URL =
  /^(stratum\+tcp|stratum\+ssl|daemon\+http|daemon\+https):\/\/([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\]):([1-9]\d{0,4})\/?$/;

/** Parses an upstream URL into its scheme, host and port. */
export function parseUpstreamUrl(
  url: string,
): {
  scheme: "stratum+tcp" | "stratum+ssl" | "daemon+http" | "daemon+https";
  host: string;
  port: number;
} {
  const m = UPSTREAM_URL.exec(url);
  if (!m || Number(m[3]) > 65535) throw new UpstreamUrlError(url);
  return {
    scheme: m[1] as "stratum+tcp",
    host: m[2].replace(/^\[|\]$/g, ""),
    port: Number(m[3]),
  };
}

/** Creates the upstream for `config`. */
export function createUpstream(config: UpstreamConfig, options: UpstreamOptions): Upstream {
  const { scheme } = parseUpstreamUrl(config.url);
  return scheme.startsWith("daemon")
    ? new DaemonUpstream(config, options)
    : new PoolUpstream(config, options);
}

abstract class BaseUpstream {
  job: UpstreamJob | null = null;
  latencyMs: number | null = null;
  accepted = 0;
  rejected = 0;
  blocks = 0;
  jobs = 0;
  lastError: string | null = null;
  since: string | null = null;
  state: UpstreamView["state"] = "idle";
  constructor(readonly config: UpstreamConfig, readonly options: UpstreamOptions) {}

  get up(): boolean {
    return this.state === "up" && this.job !== null;
  }

  protected setState(state: UpstreamView["state"], error?: string): void {
    if (error !== undefined) this.lastError = error.slice(0, 500);
    if (state === this.state) return;
    this.state = state;
    this.since = new Date().toISOString();
    this.options.onState(this as unknown as Upstream);
  }

  protected newJob(job: UpstreamJob): void {
    this.job = job;
    this.jobs++;
    if (this.state !== "up") this.setState("up");
    this.options.onJob(this as unknown as Upstream, job);
  }

  view(index: number, active: boolean): UpstreamView {
    return {
      index,
      url: this.config.url,
      kind: this instanceof DaemonUpstream ? "daemon" : "pool",
      state: this.state,
      active,
      latencyMs: this.latencyMs,
      height: this.job?.height ?? null,
      difficulty: this.job ? Number(this.job.difficulty) : null,
      jobs: this.jobs,
      accepted: this.accepted,
      rejected: this.rejected,
      blocks: this.blocks,
      lastError: this.lastError,
      since: this.since,
    };
  }
}

/** Bytes reserved in a daemon's template for extra nonces. */
const RESERVE = 8;

/** Solo mining against monerod's JSON-RPC. */
class DaemonUpstream extends BaseUpstream implements Upstream {
  readonly kind = "daemon" as const;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #polling = false;
  #again = false;
  #failures = 0;
  #seq = 0;
  #refreshedAt = 0;
  readonly #endpoint: string;

  constructor(config: UpstreamConfig, options: UpstreamOptions) {
    super(config, options);
    const { scheme, host, port } = parseUpstreamUrl(config.url);
    const h = host.includes(":") ? `[${host}]` : host;
    this.#endpoint = `${scheme === "daemon+https" ? "https" : "http"}://${h}:${port}/json_rpc`;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.setState("connecting");
    void this.#poll();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.setState("idle");
  }

  async #rpc(method: string, params: unknown): Promise<Record<string, unknown>> {
    const started = performance.now();
    const res = await fetch(this.#endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: "0", method, params }),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 3000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${method}: HTTP ${res.status}`);
    }
    const text = await res.text();
    if (text.length > 4_000_000) throw new Error(`${method}: answer larger than 4 MB`);
    const body = JSON.parse(text) as {
      result?: Record<string, unknown>;
      error?: { message?: string };
    };
    this.latencyMs = Math.round((performance.now() - started) * 10) / 10;
    if (body.error) {
      throw new Error(`${method}: ${String(body.error.message ?? "error").slice(0, 300)}`);
    }
    if (!body.result || typeof body.result !== "object") throw new Error(`${method}: no result`);
    return body.result;
  }

  async #poll(): Promise<void> {
    // One poll at a time: a block's immediate poll must not start a second loop.
    if (!this.#running) return;
    if (this.#polling) {
      this.#again = true; // after the one in flight (a block was just submitted)
      return;
    }
    this.#polling = true;
    this.#again = false;
    clearTimeout(this.#timer);
    try {
      await this.#pollOnce();
    } finally {
      this.#polling = false;
    }
    if (!this.#running) return;
    const base = this.options.pollMs ?? 1000;
    const wait = this.#again
      ? 0
      : this.state === "up"
      ? base
      : Math.min(10_000, base * 2 ** Math.min(this.#failures, 4));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#poll(), wait);
  }

  async #pollOnce(): Promise<void> {
    try {
      const r = await this.#rpc("get_block_template", {
        wallet_address: this.config.user,
        reserve_size: RESERVE,
      });
      const blob = String(r.blockhashing_blob ?? "");
      const template = String(r.blocktemplate_blob ?? "");
      const prevHash = String(r.prev_hash ?? "");
      const height = Number(r.height);
      const difficulty = BigInt(
        typeof r.wide_difficulty === "string" ? r.wide_difficulty : Number(r.difficulty),
      );
      if (
        !/^[0-9a-f]{86,512}$/.test(blob) || !/^[0-9a-f]+$/.test(template) ||
        !Number.isSafeInteger(height)
      ) {
        throw new Error("get_block_template: malformed template");
      }
      // Parsed for other extra nonces; a template this code cannot read still serves 256 miners.
      let parsed: ParsedTemplate | undefined;
      try {
        parsed = parseTemplate(template, Number(r.reserved_offset), RESERVE);
      } catch { /* nicehash ranges only */ }
      this.#failures = 0;
      const now = Date.now();
      const changed = !this.job || this.job.prevHash !== prevHash || this.job.height !== height;
      // A new block: new work at once. The same block: refresh the template every 30 s (new txs).
      if (changed || now - this.#refreshedAt > 30_000) {
        this.#refreshedAt = now;
        this.newJob({
          id: `t${++this.#seq}`,
          blob,
          templateBlob: template,
          template: parsed,
          difficulty,
          height,
          prevHash,
          seedHash: typeof r.seed_hash === "string" && /^[0-9a-f]{64}$/.test(r.seed_hash)
            ? r.seed_hash
            : undefined,
          algo: "rx/0",
        });
      } else if (this.state !== "up") this.setState("up");
    } catch (err) {
      this.#failures++;
      if (this.#failures >= 2 || this.state !== "up") this.setState("down", (err as Error).message);
    }
  }

  async submit(
    job: UpstreamJob,
    share: { nonce: string; result: string; templateBlob?: string },
  ): Promise<UpstreamVerdict> {
    const template = share.templateBlob ?? job.templateBlob;
    if (!template) return { ok: false, error: "no block template" };
    const block = withNonce(template, share.nonce);
    try {
      const r = await this.#rpc("submit_block", [block]);
      if (r.status !== "OK") throw new Error(`submit_block: ${String(r.status).slice(0, 100)}`);
      this.accepted++;
      this.blocks++;
      // The chain moved: fetch the next template now.
      clearTimeout(this.#timer);
      void this.#poll();
      return { ok: true };
    } catch (err) {
      this.rejected++;
      this.lastError = (err as Error).message.slice(0, 500);
      return { ok: false, error: this.lastError };
    }
  }
}

/** A pool over stratum (TCP or TLS with the certificate checked). */
class PoolUpstream extends BaseUpstream implements Upstream {
  readonly kind = "pool" as const;
  #lines: JsonLines | null = null;
  #running = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #clientId = "";
  #epoch = 0;
  #seq = 0;
  readonly #pending = new Map<
    number,
    { resolve: (m: Record<string, unknown>) => void; sent: number }
  >();

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    clearInterval(this.#keepalive);
    this.#lines?.close("stopped");
    this.setState("idle");
  }

  #connect(): void {
    const { scheme, host, port } = parseUpstreamUrl(this.config.url);
    this.setState("connecting");
    const socket = scheme === "stratum+ssl"
      ? tlsConnect({
        host,
        port,
        servername: /^[\d.]+$|:/.test(host) ? undefined : host,
        rejectUnauthorized: true,
        ...(this.options.ca ? { ca: this.options.ca } : {}),
      })
      : tcpConnect({ host, port });
    const connectTimer = setTimeout(
      () => lines.close("connect timeout"),
      this.options.timeoutMs ?? 5000,
    );
    const lines: JsonLines = new JsonLines(socket, {
      maxLineBytes: 65_536,
      onMessage: (m) => this.#onMessage(m),
      onClose: (reason) => {
        clearTimeout(connectTimer);
        clearInterval(this.#keepalive);
        if (this.#lines === lines) this.#lines = null;
        for (const [, p] of this.#pending) {
          p.resolve({ error: { message: `pool connection lost: ${reason}` } });
        }
        this.#pending.clear();
        this.job = null;
        if (!this.#running) return;
        this.setState("down", reason);
        const wait = Math.min(30_000, 1000 * 2 ** Math.min(this.#attempt++, 5)) *
          (0.8 + Math.random() * 0.4);
        this.#timer = setTimeout(() => this.#connect(), wait);
      },
    });
    this.#lines = lines;
    socket.once(scheme === "stratum+ssl" ? "secureConnect" : "connect", () => {
      clearTimeout(connectTimer);
      void this.#request("login", {
        login: this.config.user,
        pass: this.config.pass ?? "x",
        agent: this.options.agent ?? "miner-cli",
        algo: ["rx/0"],
      }).then((r) => {
        const res = r.result as Record<string, unknown> | undefined;
        if (!res || r.error) {
          return lines.close(`login refused: ${errorText(r.error)}`);
        }
        this.#attempt = 0;
        this.#epoch++;
        this.#clientId = String(res.id ?? "");
        const job = this.#parseJob(res.job);
        if (!job) return lines.close("login answer without a valid job");
        this.#keepalive = setInterval(() => {
          void this.#request("keepalived", { id: this.#clientId });
        }, 60_000);
        this.newJob(job);
      });
    });
  }

  #parseJob(raw: unknown): UpstreamJob | null {
    if (typeof raw !== "object" || raw === null) return null;
    const j = raw as Record<string, unknown>;
    const blob = String(j.blob ?? "");
    const target = String(j.target ?? "");
    if (!/^[0-9a-f]{86,512}$/.test(blob) || typeof j.job_id !== "string" || j.job_id.length > 128) {
      return null;
    }
    let difficulty: bigint;
    try {
      difficulty = targetDifficulty(target);
    } catch {
      return null;
    }
    return {
      id: j.job_id,
      blob,
      difficulty,
      height: Number.isSafeInteger(j.height) ? Number(j.height) : 0,
      seedHash: typeof j.seed_hash === "string" && /^[0-9a-f]{64}$/.test(j.seed_hash)
        ? j.seed_hash
        : undefined,
      algo: typeof j.algo === "string" && /^[A-Za-z0-9._\/-]{1,32}$/.test(j.algo) ? j.algo : "rx/0",
      epoch: this.#epoch,
    };
  }

  #onMessage(m: Record<string, unknown>): void {
    if (m.method === "job") {
      const job = this.#parseJob(m.params);
      if (job) this.newJob(job);
      return;
    }
    if (typeof m.id === "number") {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      this.latencyMs = Math.round((performance.now() - p.sent) * 10) / 10;
      p.resolve(m);
    }
  }

  #request(method: string, params: unknown): Promise<Record<string, unknown>> {
    const lines = this.#lines;
    if (!lines || lines.isClosed) {
      return Promise.resolve({ error: { message: "not connected to the pool" } });
    }
    const id = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ error: { message: `the pool did not answer ${method} within 10 s` } });
      }, 10_000);
      this.#pending.set(id, {
        sent: performance.now(),
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      lines.send({ id, jsonrpc: "2.0", method, params });
    });
  }

  async submit(
    job: UpstreamJob,
    share: { nonce: string; result: string },
  ): Promise<UpstreamVerdict> {
    const r = await this.#request("submit", {
      id: this.#clientId,
      job_id: job.id,
      nonce: share.nonce,
      result: share.result,
    });
    if (r.error) {
      this.rejected++;
      this.lastError = errorText(r.error);
      return { ok: false, error: this.lastError };
    }
    this.accepted++;
    return { ok: true };
  }
}

function errorText(e: unknown): string {
  if (typeof e === "object" && e !== null && "message" in e) {
    return String((e as { message: unknown }).message).slice(0, 300);
  }
  return e === undefined ? "no answer" : String(e).slice(0, 300);
}
