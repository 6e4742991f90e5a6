/**
 * The rig side of farm stratum: the local stratum endpoint's miners take their work from the
 * farm's controller over the mesh. The mesh carries stratum only to a controller this rig granted
 * control ({@link admitRequest}); the rig picks one (a link it dialed first), logs each miner in
 * there, relays jobs down and shares up (batched: a rig's logins, shares and logouts of 50 ms
 * travel as one message, so a rig with hundreds of miners stays far below the link's rate
 * limit). When that link drops, the miners stay connected here and
 * are logged in again as soon as a controller is linked (after a controller restart, say); a
 * share meanwhile is refused with the reason. A dual node whose own proxy has upstreams serves
 * its miners itself.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { PeerRegistry } from "../peers/mod.ts";
import type { PayloadOf, StratumJob } from "../protocol/mod.ts";
import {
  type MinerConnection,
  type MinerServer,
  type RigJobs,
  startMinerServer,
  type StratumProxy,
  StratumRefusal,
  withSlot,
} from "../stratum/mod.ts";
import { admitRequest } from "./authorize.ts";
import type { MeshNode } from "./mesh.ts";
import type { PolicyStore } from "./policy.ts";
import type { PeerSession } from "./session.ts";

/**
 * How long ops wait to travel together: at most 20 batches a second per link, far below the
 * link's 50 messages/s, whatever the number of miners (a full batch of 1,024 goes at once).
 */
const BATCH_MS = 50;
/** Ops waiting for a batch at most (about 8 batches): beyond it, shares are refused at once. */
const MAX_QUEUED = 8192;

type Op = PayloadOf<"stratum_ops">["ops"][number];
type OpResult = PayloadOf<"stratum_results">["results"][number];

/** Collects a session's ops for a few milliseconds and sends them as one `stratum_ops`. */
class OpBatcher {
  #queue: { op: Op; resolve: (r: OpResult) => void; reject: (e: Error) => void }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;
  constructor(readonly session: PeerSession, readonly timeoutMs: number) {}

  push(op: Op): Promise<OpResult> {
    // Never more than one batch per BATCH_MS, whatever the miners send: the link's message rate
    // is the controller's to limit, and a flooding miner must not get the whole rig cut off.
    if (this.#queue.length >= MAX_QUEUED && op.op === "submit") {
      return Promise.reject(
        new Error("this rig is sending shares faster than the farm takes them"),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#timer ??= setTimeout(
        () => this.#flush(),
        Math.max(0, this.#last + BATCH_MS - Date.now(), this.#queue.length >= 1024 ? 0 : BATCH_MS),
      );
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#last = Date.now();
    const batch = this.#queue.splice(0, 1024);
    if (!batch.length) return;
    this.session.request("stratum_ops", { ops: batch.map((b) => b.op) }, {
      timeoutMs: this.timeoutMs,
    }).then((m) => {
      const results = m.payload.results;
      batch.forEach((b, i) =>
        results[i] ? b.resolve(results[i]) : b.reject(new Error("no result for this op"))
      );
    }, (err: Error) => {
      for (const b of batch) b.reject(err);
    });
    if (this.#queue.length) this.#timer = setTimeout(() => this.#flush(), BATCH_MS);
  }
}

/** Options for {@link startStratumRig}. */
export interface StratumRigOptions {
  /** Listen address (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 3333; 0 picks one). */
  port?: number;
  /** TLS for miners. */
  tls?: { cert: string; key: string };
  /** Most miners at once on the endpoint (default 256). */
  maxMiners?: number;
  /** The worker policy (for the one admission function). */
  policy: PolicyStore;
  /** This node's own proxy (dual nodes): used when it has upstreams. */
  localProxy?: StratumProxy | null;
  /** How long a miner's login waits for a controller and its work (default 15 s). */
  loginWaitMs?: number;
  /** Logger. */
  logger?: Logger;
}

/** The running rig side. */
export interface StratumRig {
  /** The local endpoint. */
  readonly server: MinerServer;
  /** Miners connected, and where each takes its work (`peer ID`, `local` or null: waiting). */
  miners(): { key: string; login: string; upstream: string | null }[];
  /** Stops the endpoint. */
  close(): Promise<void>;
}

interface Bound {
  conn: MinerConnection;
  /** Where it is logged in (null: nowhere yet). */
  session: PeerSession | "local" | null;
  /** Logging in now. */
  pending: Promise<StratumJob> | null;
}

/**
 * Starts the local endpoint and its bridge to the farm's controller.
 *
 * @example
 * ```ts ignore
 * const rig = await startStratumRig(mesh, { port: 3333, policy });
 * console.log(rig.server.url);
 * ```
 */
export async function startStratumRig(
  mesh: MeshNode,
  options: StratumRigOptions,
): Promise<StratumRig> {
  const miners = new Map<string, Bound>();
  const waitMs = options.loginWaitMs ?? 15_000;
  const registry: PeerRegistry = mesh.registry;
  const mayCarry = (s: PeerSession) =>
    !s.isClosed &&
    admitRequest({ peer: registry.get(s.peer.id), policy: options.policy.policy }, {
      kind: "stratum",
    })
      .ok;
  const controller = (): PeerSession | null => {
    const eligible = mesh.sessions().filter(mayCarry);
    return eligible.find((s) => s.direction === "outbound") ?? eligible[0] ?? null;
  };
  const waiters = new Set<() => void>();
  const awaitController = (ms: number): Promise<PeerSession | null> => {
    const now = controller();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(controller());
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  };
  const useLocal = () => options.localProxy?.enabled === true;
  // Ops to a controller go in batches: one message per session every few milliseconds.
  const batchers = new WeakMap<PeerSession, OpBatcher>();
  const batcher = (s: PeerSession) => {
    let b = batchers.get(s);
    if (!b) batchers.set(s, b = new OpBatcher(s, waitMs + 5000));
    return b;
  };
  // New work for this rig's miners: each blob with the miners that take it and their byte.
  const deliver = (jobs: RigJobs, from: PeerSession | "local") => {
    for (const { job, miners: list } of jobs) {
      for (const [key, slot] of list) {
        const b = miners.get(key);
        if (b && b.session === from) b.conn.sendJob({ ...job, blob: withSlot(job.blob, slot) });
      }
    }
  };

  const loginAt = async (b: Bound): Promise<StratumJob> => {
    const { conn } = b;
    if (useLocal()) {
      const proxy = options.localProxy!;
      try {
        const r = await proxy.login({
          rig: mesh.id,
          rigName: mesh.identity.info.name,
          miner: conn.key,
          login: conn.login,
          agent: conn.agent,
          sink: (jobs) => deliver(jobs, "local"),
        }, { waitMs });
        b.session = "local";
        return r.job;
      } catch (err) {
        throw new StratumRefusal((err as Error).message);
      }
    }
    const s = await awaitController(waitMs);
    if (!s) {
      throw new StratumRefusal(
        "this rig has no link to a controller it granted control: the farm's work comes from there (on this rig: miner-cli peer grant CONTROLLER control, and node serve --connect CONTROLLER)",
      );
    }
    const p = await batcher(s).push({
      op: "login",
      miner: conn.key,
      login: conn.login,
      agent: conn.agent,
      algos: [...conn.algos],
    }).catch((err: Error) => {
      throw new StratumRefusal(`the farm's controller did not take the login: ${err.message}`);
    });
    if (!p.ok || !p.job) throw new StratumRefusal(p.error ?? "the farm's controller gave no work");
    b.session = s;
    // The miner left while its login travelled: its range is freed at once.
    if (miners.get(conn.key) !== b) {
      batcher(s).push({ op: "logout", miner: conn.key }).catch(() => {});
    }
    return p.job;
  };

  const login = (b: Bound): Promise<StratumJob> => {
    if (b.pending) return b.pending;
    b.pending = loginAt(b).finally(() => {
      b.pending = null;
    });
    return b.pending;
  };

  // Miners that lost their controller are logged in again on the next eligible link.
  const rebind = () => {
    for (const b of miners.values()) {
      if (b.session !== null || b.pending) continue;
      login(b).then((job) => b.conn.sendJob(job), (err: Error) => {
        options.logger?.warn("stratum_relogin_failed", { miner: b.conn.key, reason: err.message });
        // No work for it: let it go, so XMRig reconnects and logs in again by itself.
        b.conn.close(`no work from the farm's controller: ${err.message}`);
      });
    }
  };

  mesh.onSession((s) => {
    s.on("stratum_jobs", (m, s) => {
      if (mayCarry(s)) deliver(m.payload.jobs, s);
    });
    s.onClose(() => {
      let lost = 0;
      for (const b of miners.values()) {
        if (b.session === s) {
          b.session = null;
          lost++;
        }
      }
      if (lost) {
        options.logger?.info("stratum_controller_lost", { peer: s.peer.id, miners: lost });
        // Another link may already carry it.
        queueMicrotask(rebind);
      }
    });
    // A session is admitted before its handshake settles: look again once it is in.
    queueMicrotask(() => {
      if (!mayCarry(s)) return;
      for (const w of [...waiters]) w();
      rebind();
    });
  });

  const server = await startMinerServer({
    hostname: options.hostname,
    port: options.port,
    tls: options.tls,
    maxMiners: options.maxMiners,
    handler: {
      login(conn) {
        const b: Bound = { conn, session: null, pending: null };
        miners.set(conn.key, b);
        return login(b).catch((err) => {
          miners.delete(conn.key);
          throw err;
        });
      },
      async submit(conn, share) {
        const b = miners.get(conn.key);
        if (!b || b.session === null) {
          throw new StratumRefusal(
            "the farm's controller is not linked right now: share not counted",
          );
        }
        if (b.session === "local") {
          try {
            options.localProxy!.submit(mesh.id, conn.key, share);
            return;
          } catch (err) {
            throw new StratumRefusal((err as Error).message);
          }
        }
        const p = await batcher(b.session).push({
          op: "submit",
          miner: conn.key,
          jobId: share.jobId || "-",
          nonce: share.nonce.slice(0, 8),
          result: share.result.slice(0, 64),
        }).catch((err: Error) => {
          throw new StratumRefusal(`the farm's controller did not answer: ${err.message}`);
        });
        if (!p.ok) throw new StratumRefusal(p.error ?? "rejected");
      },
      closed(conn) {
        const b = miners.get(conn.key);
        miners.delete(conn.key);
        if (!b) return;
        if (b.session === "local") options.localProxy?.logout(mesh.id, conn.key);
        else if (b.session && !b.session.isClosed) {
          batcher(b.session).push({ op: "logout", miner: conn.key }).catch(() => {});
        }
      },
    },
  });
  options.logger?.info("stratum_listening", { url: server.url });
  return {
    server,
    miners: () =>
      [...miners.values()].map((b) => ({
        key: b.conn.key,
        login: b.conn.login,
        upstream: b.session === null ? null : b.session === "local" ? "local" : b.session.peer.id,
      })),
    close: () => server.close(),
  };
}
