/**
 * A stratum pool on loopback that speaks the documented Monero stratum protocol (login with a
 * job, `job` notifications, `submit`, `keepalived`), for the proxy's tests: it records every
 * share it receives and answers each `OK`.
 */
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** A share the stub pool received. */
export interface StubShare {
  jobId: string;
  nonce: string;
  result: string;
}

/** A running stub pool. */
export interface StubPool {
  /** `stratum+tcp://127.0.0.1:PORT`. */
  url: string;
  /** Shares received, in order. */
  shares: StubShare[];
  /** Logins received. */
  logins: Record<string, unknown>[];
  /** The current job's ID. */
  jobId(): string;
  /** The current job's hashing blob. */
  blob(): string;
  /** Sends a new job to every connected client. */
  newJob(): string;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) =>
    b.toString(16).padStart(2, "0")
  )
    .join("");
}

/** The 64-bit little-endian target for a difficulty. */
export function stubTarget(difficulty: bigint): string {
  let t = ((1n << 64n) - 1n) / difficulty;
  let out = "";
  for (let i = 0; i < 8; i++) {
    out += Number(t & 0xffn).toString(16).padStart(2, "0");
    t >>= 8n;
  }
  return out;
}

/** Starts a stub pool whose jobs have `difficulty` (over TLS with `tls`). */
export async function startStubPool(
  difficulty: bigint,
  options: { tls?: { cert: string; key: string } } = {},
): Promise<StubPool> {
  const sockets = new Set<Socket>();
  const shares: StubShare[] = [];
  const logins: Record<string, unknown>[] = [];
  let seq = 0;
  let job = { job_id: "", blob: "" };
  const next = () => {
    // A 76-byte hashing blob with a zero nonce at offset 39.
    const blob = randomHex(39) + "00000000" + randomHex(33);
    job = { job_id: `stub${++seq}`, blob };
    return job.job_id;
  };
  next();
  const jobParams = () => ({
    ...job,
    target: stubTarget(difficulty),
    algo: "rx/0",
    height: 100 + seq,
    seed_hash: "11".repeat(32),
  });
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.setEncoding("utf8");
    let buf = "";
    socket.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line);
        const reply = (result: unknown) =>
          socket.write(JSON.stringify({ id: m.id, jsonrpc: "2.0", error: null, result }) + "\n");
        if (m.method === "login") {
          logins.push(m.params);
          reply({ id: "client1", job: jobParams(), status: "OK" });
        } else if (m.method === "submit") {
          shares.push({ jobId: m.params.job_id, nonce: m.params.nonce, result: m.params.result });
          reply({ status: "OK" });
        } else if (m.method === "keepalived") reply({ status: "KEEPALIVED" });
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  };
  const server: Server = options.tls
    ? createTlsServer(options.tls, onSocket) as unknown as Server
    : createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `stratum+${options.tls ? "ssl" : "tcp"}://127.0.0.1:${port}`,
    shares,
    logins,
    jobId: () => job.job_id,
    blob: () => job.blob,
    newJob() {
      const id = next();
      for (const s of sockets) {
        s.write(JSON.stringify({ jsonrpc: "2.0", method: "job", params: jobParams() }) + "\n");
      }
      return id;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A scripted stratum miner (what XMRig sends), for shares a real miner would never send. */
export interface ScriptedMiner {
  /** The login answer's result (its first job). */
  login(login?: string): Promise<{ id: string; job: Record<string, string | number> }>;
  /** Submits a share; resolves with the answer (`error` null when accepted). */
  submit(
    share: { jobId: string; nonce: string; result: string },
  ): Promise<{ error: { code: number; message: string } | null; result?: unknown }>;
  /** Jobs received as notifications. */
  jobs: Record<string, string | number>[];
  /** Resolves with the next job notification (or rejects after `ms`). */
  nextJob(ms?: number): Promise<Record<string, string | number>>;
  close(): void;
}

/** Connects a scripted miner to a stratum endpoint at `port`. */
export async function scriptedMiner(port: number): Promise<ScriptedMiner> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  const jobs: Record<string, string | number>[] = [];
  const jobWaiters: ((j: Record<string, string | number>) => void)[] = [];
  let id = 0;
  let clientId = "";
  (async () => {
    let buf = "";
    try {
      for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const m = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (m.method === "job") {
            jobs.push(m.params);
            jobWaiters.shift()?.(m.params);
          } else pending.get(m.id)?.(m);
        }
      }
    } catch { /* closed */ }
  })();
  const call = async (method: string, params: unknown) => {
    const n = ++id;
    const answer = new Promise<Record<string, unknown>>((resolve) => pending.set(n, resolve));
    await conn.write(enc.encode(JSON.stringify({ id: n, jsonrpc: "2.0", method, params }) + "\n"));
    return await answer;
  };
  return {
    jobs,
    async login(login = "scripted") {
      const m = await call("login", { login, pass: "x", agent: "scripted/1.0", algo: ["rx/0"] });
      if (m.error) throw new Error(`login refused: ${JSON.stringify(m.error)}`);
      const r = m.result as { id: string; job: Record<string, string | number> };
      clientId = r.id;
      return r;
    },
    async submit(share) {
      const m = await call("submit", {
        id: clientId,
        job_id: share.jobId,
        nonce: share.nonce,
        result: share.result,
      });
      return m as { error: { code: number; message: string } | null };
    },
    nextJob(ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no job within ${ms} ms`)), ms);
        jobWaiters.push((j) => {
          clearTimeout(timer);
          resolve(j);
        });
      });
    },
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}

/** A result hash (64 hex, little-endian) that proves exactly about `difficulty`. */
export function resultFor(difficulty: bigint): string {
  let h = (1n << 256n) / difficulty - 1n;
  let out = "";
  for (let i = 0; i < 32; i++) {
    out += Number(h & 0xffn).toString(16).padStart(2, "0");
    h >>= 8n;
  }
  return out;
}

/** A running `monerod --regtest --offline`. */
export interface Monerod {
  /** `daemon+http://127.0.0.1:PORT`. */
  url: string;
  /** The chain's height now. */
  height(): Promise<number>;
  /** A JSON-RPC call; resolves with its result. */
  rpc(method: string, params: unknown): Promise<Record<string, unknown>>;
  /** SIGTERM by PID, then waits for the exit. */
  stop(): Promise<void>;
}

/** A wallet address for block rewards (Monero's general fund; regtest takes mainnet addresses). */
export const WALLET =
  "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

/** Starts a private regtest chain at `difficulty` in `dataDir` and waits for its RPC. */
export async function startMonerod(
  bin: string,
  dataDir: string,
  options: { difficulty: number; rpcPort: number; p2pPort: number },
): Promise<Monerod> {
  const proc = new Deno.Command(bin, {
    args: [
      "--regtest",
      "--offline",
      "--fixed-difficulty",
      String(options.difficulty),
      "--data-dir",
      dataDir,
      "--rpc-bind-ip",
      "127.0.0.1",
      "--rpc-bind-port",
      String(options.rpcPort),
      "--p2p-bind-ip",
      "127.0.0.1",
      "--p2p-bind-port",
      String(options.p2pPort),
      "--no-zmq",
      "--non-interactive",
      "--log-level",
      "0",
    ],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  // 5 s, as its RPC: a monerod taking a block while the parallel suite loads both cores can be
  // slower than 1 s to answer (a 1 s bound failed the farm test once in CI).
  const info = async () => {
    const r = await fetch(`http://127.0.0.1:${options.rpcPort}/get_info`, {
      signal: AbortSignal.timeout(5000),
    });
    return await r.json() as { height: number };
  };
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await info();
      break;
    } catch {
      if (Date.now() > until) {
        proc.kill("SIGKILL");
        throw new Error("monerod did not answer within 30 s");
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  let stopped: Promise<void> | null = null;
  return {
    url: `daemon+http://127.0.0.1:${options.rpcPort}`,
    height: async () => (await info()).height,
    rpc: async (method, params) => {
      const r = await fetch(`http://127.0.0.1:${options.rpcPort}/json_rpc`, {
        method: "POST",
        body: JSON.stringify({ jsonrpc: "2.0", id: "0", method, params }),
        signal: AbortSignal.timeout(5000),
      });
      const body = await r.json();
      if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
      return body.result;
    },
    stop: () =>
      stopped ??= (async () => {
        try {
          proc.kill("SIGTERM");
        } catch { /* gone */ }
        const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await proc.status;
        clearTimeout(t);
      })(),
  };
}
