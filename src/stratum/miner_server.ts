/**
 * The stratum endpoint a rig's miners connect to (`node serve --stratum-listen`, default
 * `127.0.0.1:3333`): Monero stratum JSON-RPC as XMRig speaks it — `login` (with the `algo` and
 * `nicehash` extensions), `job` notifications, `submit`, `keepalived` — with errors as XMRig
 * expects them (`{code: -1, message}`). What a miner is given and what becomes of its shares is
 * the handler's business (on a worker: the controller's proxy, over the mesh).
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { StratumJob } from "../protocol/mod.ts";
import { JsonLines } from "./lines.ts";

/** A refusal a miner sees as its error message. */
export class StratumRefusal extends Error {
  /** Creates the refusal. */
  constructor(message: string) {
    super(message);
    this.name = "StratumRefusal";
  }
}

/** One miner connected to the endpoint. */
export interface MinerConnection {
  /** Unique on this endpoint (`m<n>`). */
  readonly key: string;
  /** The miner's login (its worker name), cut to a safe charset. */
  readonly login: string;
  /** The miner's user agent, cut to a safe charset. */
  readonly agent: string;
  /** Algorithms the miner offered. */
  readonly algos: readonly string[];
  /** Remote address. */
  readonly remoteAddress: string;
  /** Sends a new job (a `job` notification). */
  sendJob(job: StratumJob): void;
  /** Disconnects the miner. */
  close(reason: string): void;
}

/** What the endpoint asks of its owner. */
export interface MinerHandler {
  /** The miner logged in: resolves with its first job, or rejects with a {@link StratumRefusal}. */
  login(conn: MinerConnection): Promise<StratumJob>;
  /** A share: resolves when accepted, rejects with a {@link StratumRefusal} saying why not. */
  submit(
    conn: MinerConnection,
    share: { jobId: string; nonce: string; result: string },
  ): Promise<void>;
  /** The miner disconnected (after a successful login). */
  closed(conn: MinerConnection): void;
}

/** Options for {@link startMinerServer}. */
export interface MinerServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 3333; 0 picks a free one). */
  port?: number;
  /** PEM certificate and key: miners connect with TLS (`stratum+ssl://`). */
  tls?: { cert: string; key: string };
  /** Most miners at once (default 256). */
  maxMiners?: number;
  /** A connection that has not logged in within this long is closed (default 30 s). */
  loginTimeoutMs?: number;
  /** The handler. */
  handler: MinerHandler;
}

/** A listening endpoint. */
export interface MinerServer {
  /** Bound address. */
  readonly hostname: string;
  /** Bound port. */
  readonly port: number;
  /** `stratum+tcp://host:port` (or `stratum+ssl://`). */
  readonly url: string;
  /** Connected miners that logged in. */
  readonly miners: readonly MinerConnection[];
  /** Stops listening and disconnects every miner. */
  close(): Promise<void>;
}

const SAFE = /[^A-Za-z0-9._+@\/:=%-]/g;
const clip = (
  v: unknown,
  n: number,
) => (typeof v === "string" ? v.replace(SAFE, "").slice(0, n) : "");

/** The job as XMRig reads it. */
function jobParams(job: StratumJob, clientId: string): Record<string, unknown> {
  return {
    blob: job.blob,
    job_id: job.jobId,
    target: job.target,
    algo: job.algo,
    height: job.height,
    ...(job.seedHash ? { seed_hash: job.seedHash } : {}),
    id: clientId,
  };
}

/**
 * Listens for miners.
 *
 * @example
 * ```ts ignore
 * const server = await startMinerServer({ port: 3333, handler });
 * console.log(server.url); // stratum+tcp://127.0.0.1:3333
 * ```
 */
export async function startMinerServer(options: MinerServerOptions): Promise<MinerServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const max = options.maxMiners ?? 256;
  const loginTimeout = options.loginTimeoutMs ?? 30_000;
  const handler = options.handler;
  const open = new Set<JsonLines>();
  const miners = new Map<string, MinerConnection>();
  let seq = 0;

  const onSocket = (socket: Socket) => {
    if (open.size >= max) {
      socket.end(
        JSON.stringify({
          id: 1,
          jsonrpc: "2.0",
          error: { code: -1, message: `this rig's stratum endpoint is full (${max} miners)` },
        }) + "\n",
      );
      // end() flushes the answer; a peer that never closes its side is cut off soon after.
      setTimeout(() => socket.destroy(), 2000).unref?.();
      return;
    }
    const key = `m${++seq}`;
    let conn: MinerConnection | null = null;
    let loggingIn = false;
    const timer = setTimeout(() => lines.close("no login"), loginTimeout);
    const lines: JsonLines = new JsonLines(socket, {
      onMessage: (m) => {
        const id = typeof m.id === "number" || typeof m.id === "string" ? m.id : null;
        const reply = (result: unknown) => lines.send({ id, jsonrpc: "2.0", error: null, result });
        const fail = (message: string) =>
          lines.send({ id, jsonrpc: "2.0", error: { code: -1, message } });
        const params =
          (typeof m.params === "object" && m.params !== null ? m.params : {}) as Record<
            string,
            unknown
          >;
        switch (m.method) {
          case "login": {
            if (conn || loggingIn) return fail("already logged in");
            loggingIn = true;
            const algos = Array.isArray(params.algo)
              ? params.algo.slice(0, 32).map((a) => clip(a, 32)).filter(Boolean)
              : [];
            const c: MinerConnection = {
              key,
              login: clip(params.login, 128),
              agent: clip(params.agent, 256),
              algos,
              remoteAddress: lines.remoteAddress,
              sendJob: (job) =>
                lines.send({ jsonrpc: "2.0", method: "job", params: jobParams(job, key) }),
              close: (reason) => lines.close(reason),
            };
            handler.login(c).then((job) => {
              loggingIn = false;
              if (lines.isClosed) return handler.closed(c);
              clearTimeout(timer);
              conn = c;
              miners.set(key, c);
              reply({
                id: key,
                job: jobParams(job, key),
                extensions: ["algo", "nicehash", "keepalive"],
                status: "OK",
              });
            }, (err: Error) => {
              loggingIn = false;
              fail(err instanceof StratumRefusal ? err.message : `login failed: ${err.message}`);
            });
            return;
          }
          case "submit": {
            if (!conn) return fail("Unauthenticated");
            if (params.id !== undefined && params.id !== key) return fail("Unauthenticated");
            const share = {
              jobId: typeof params.job_id === "string" ? params.job_id.slice(0, 64) : "",
              nonce: typeof params.nonce === "string" ? params.nonce.toLowerCase() : "",
              result: typeof params.result === "string" ? params.result.toLowerCase() : "",
            };
            handler.submit(conn, share).then(
              () => reply({ status: "OK" }),
              (err: Error) =>
                fail(err instanceof StratumRefusal ? err.message : `share failed: ${err.message}`),
            );
            return;
          }
          case "keepalived":
            if (!conn) return fail("Unauthenticated");
            return reply({ status: "KEEPALIVED" });
          default:
            return fail(`unknown method ${clip(m.method, 32) || "(none)"}`);
        }
      },
      onClose: () => {
        clearTimeout(timer);
        open.delete(lines);
        if (conn) {
          miners.delete(key);
          handler.closed(conn);
        }
      },
    });
    open.add(lines);
  };

  const server: Server = options.tls
    ? createTlsServer(
      { cert: options.tls.cert, key: options.tls.key },
      onSocket,
    ) as unknown as Server
    : createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3333, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 3333;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    hostname,
    port,
    url: `stratum+${options.tls ? "ssl" : "tcp"}://${host}:${port}`,
    get miners() {
      return [...miners.values()];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const l of open) l.close("endpoint closing");
        server.close(() => resolve());
      }),
  };
}
