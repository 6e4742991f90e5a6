/**
 * The emulator's stratum client mode: what XMRig does with a pool, minus the hashing. It logs
 * in (with the `algo` list), takes `job` notifications, and submits shares at a configurable mean
 * interval: a nonce in its range (it keeps the blob's nonce high byte, as XMRig does with
 * nicehash) and a result hash made up to meet the job's target (it cannot compute RandomX; a
 * proxy that checks hashes against targets accepts it, a daemon would reject the block). It
 * counts what the pool answers, and reconnects with backoff when the connection drops. One
 * emulated miner per client; a benchmark runs thousands in one process.
 * @module
 */
import { connect, type Socket } from "node:net";

/** A job as the client got it. */
export interface EmulatedJob {
  jobId: string;
  blob: string;
  target: string;
  height: number;
}

/** Options for {@link EmulatedStratumClient}. */
export interface EmulatedStratumOptions {
  /** `host:port` (or `stratum+tcp://host:port`). */
  url: string;
  /** Login (worker name). */
  login: string;
  /** Mean time between shares in ms (0: never submit). */
  shareMs: number;
  /** Called for every job (with when it arrived). */
  onJob?(job: EmulatedJob, at: number): void;
  /** Called for every share answer. */
  onResult?(ok: boolean, error: string | null): void;
  /** Called when the connection drops (it reconnects by itself). */
  onClose?(reason: string): void;
}

const MAX64 = (1n << 64n) - 1n;

/** The 64-bit target a stratum `target` stands for. */
function target64(t: string): bigint {
  const le = (hex: string) => {
    let v = 0n;
    for (let i = hex.length - 2; i >= 0; i -= 2) {
      v = (v << 8n) | BigInt(parseInt(hex.slice(i, i + 2), 16));
    }
    return v;
  };
  const v = le(t);
  if (t.length === 8) return v === 0n ? MAX64 : MAX64 / (0xffffffffn / v);
  return v;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** A result hash whose top 8 bytes (little-endian) are below `target`, as a real share's are. */
function fakeResult(target: bigint): string {
  const r = crypto.getRandomValues(new BigUint64Array(1))[0] % (target > 1n ? target : 1n);
  let top = "";
  let v = r;
  for (let i = 0; i < 8; i++) {
    top += Number(v & 0xffn).toString(16).padStart(2, "0");
    v >>= 8n;
  }
  return randomHex(24) + top;
}

/**
 * One emulated miner speaking stratum.
 *
 * @example
 * ```ts ignore
 * const c = new EmulatedStratumClient({ url: "127.0.0.1:3333", login: "rig-1", shareMs: 1000 });
 * c.start();
 * ```
 */
export class EmulatedStratumClient {
  /** Shares the pool accepted. */
  accepted = 0;
  /** Shares the pool rejected. */
  rejected = 0;
  /** Shares sent. */
  sent = 0;
  /** The current job. */
  job: EmulatedJob | null = null;
  /** Last rejection message. */
  lastError: string | null = null;
  readonly #opts: EmulatedStratumOptions;
  #socket: Socket | null = null;
  #id = "";
  #seq = 0;
  #nonce = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #attempt = 0;
  readonly #pending = new Map<number, "login" | "submit">();

  /** Creates the client (call {@link start}). */
  constructor(options: EmulatedStratumOptions) {
    this.#opts = options;
  }

  /** Connects, logs in and mines until {@link stop}. */
  start(): void {
    this.#stopped = false;
    const hostPort = this.#opts.url.replace(/^stratum\+tcp:\/\//, "");
    const at = hostPort.lastIndexOf(":");
    const socket = connect({ host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) });
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.setNoDelay(true);
    let buf = "";
    socket.on("connect", () => {
      this.#send("login", {
        login: this.#opts.login,
        pass: "x",
        agent: "XMRig/6.21.0 (emulated)",
        algo: ["rx/0"],
      });
    });
    socket.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.#onMessage(JSON.parse(line));
        } catch { /* not JSON: XMRig would drop the connection; the pool will */ }
      }
      if (buf.length > 65_536) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(this.#timer);
      this.#pending.clear();
      this.#socket = null;
      this.#opts.onClose?.("connection closed");
      if (this.#stopped) return;
      const wait = Math.min(5000, 500 * 2 ** Math.min(this.#attempt++, 4));
      setTimeout(() => !this.#stopped && this.start(), wait);
    });
  }

  /** Changes the mean time between shares (0: stop submitting). */
  setShareMs(ms: number): void {
    this.#opts.shareMs = ms;
    clearTimeout(this.#timer);
    if (this.job) this.#schedule();
  }

  /** Disconnects for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
  }

  #send(method: string, params: unknown): void {
    const id = ++this.#seq;
    if (method === "login" || method === "submit") this.#pending.set(id, method);
    this.#socket?.write(JSON.stringify({ id, jsonrpc: "2.0", method, params }) + "\n");
  }

  #onMessage(
    m: { id?: number; method?: string; params?: unknown; result?: unknown; error?: unknown },
  ): void {
    if (m.method === "job") return this.#takeJob(m.params);
    const kind = typeof m.id === "number" ? this.#pending.get(m.id) : undefined;
    if (!kind) return;
    this.#pending.delete(m.id!);
    const error = m.error ? String((m.error as { message?: unknown }).message ?? "error") : null;
    if (kind === "login") {
      if (error) {
        this.lastError = error;
        this.#socket?.destroy(); // XMRig waits and tries again
        return;
      }
      this.#attempt = 0;
      const r = m.result as { id?: string; job?: unknown };
      this.#id = String(r?.id ?? "");
      this.#takeJob(r?.job);
      this.#schedule();
      return;
    }
    if (error) {
      this.rejected++;
      this.lastError = error;
    } else this.accepted++;
    this.#opts.onResult?.(!error, error);
  }

  #takeJob(raw: unknown): void {
    const j = raw as { job_id?: string; blob?: string; target?: string; height?: number } | null;
    if (!j?.job_id || !j.blob || !j.target) return;
    this.job = { jobId: j.job_id, blob: j.blob, target: j.target, height: Number(j.height ?? 0) };
    this.#nonce = 0;
    this.#opts.onJob?.(this.job, Date.now());
  }

  #schedule(): void {
    const mean = this.#opts.shareMs;
    if (mean <= 0 || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#submit();
      this.#schedule();
    }, mean * (0.5 + Math.random()));
  }

  #submit(): void {
    const job = this.job;
    if (!job || !this.#socket) return;
    // The low three bytes count up; the high byte is the blob's (the range this miner owns).
    const n = ++this.#nonce & 0xffffff;
    const nonce = [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]
      .map((b) => b.toString(16).padStart(2, "0")).join("") + job.blob.slice(84, 86);
    this.sent++;
    this.#send("submit", {
      id: this.#id,
      job_id: job.jobId,
      nonce,
      result: fakeResult(target64(job.target)),
    });
  }
}
