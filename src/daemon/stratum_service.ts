/**
 * Farm stratum in a running node: on a controller (or dual node) the proxy with its pool set
 * (`stratum.json`, re-read when it changes) serving rigs over the mesh; on a worker (or dual
 * node) the local endpoint its `pool: farm` miners connect to. Proxy changes become `stratum`
 * events (shares at most once a second).
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { EventHub } from "../events/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { MinerManager } from "../miners/mod.ts";
import {
  attachStratumFarm,
  type MeshNode,
  type PolicyStore,
  startStratumRig,
  type StratumRig,
} from "../node/mod.ts";
import type { StratumStatus } from "../protocol/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import {
  type StratumConfig,
  StratumConfigStore,
  StratumProxy,
  type StratumProxyEvent,
} from "../stratum/mod.ts";

/** The miners' endpoint could not listen where it was told. */
export class StratumListenError extends MinerCliError {
  /** Creates the error. */
  constructor(where: string, cause: Error) {
    super(
      `--stratum-listen ${where}: ${cause.message} (another stratum proxy there? pick another port, or --stratum-listen off)`,
      { status: 409, code: "stratum_listen", cause },
    );
    this.name = "StratumListenError";
  }
}

/** Options for {@link startStratumService}. */
export interface StratumServiceOptions {
  /** Where a worker's miners connect (`--stratum-listen`; null: no endpoint). */
  listen: { hostname: string; port: number } | null;
  /**
   * The address is the default, not asked for: when it is taken (another proxy on 3333), the
   * node runs without an endpoint and says so, instead of failing to start.
   */
  optional?: boolean;
  /** TLS for the miners' endpoint. */
  tls?: { cert: string; key: string };
  /** Most miners at once on the endpoint (`--stratum-max-miners`, default 256). */
  maxMiners?: number;
  /** How long a miner's login waits for work (ms). */
  loginWaitMs?: number;
  /** Daemon upstream poll interval (ms). */
  pollMs?: number;
  /** How often the pool set file is looked at (default 2 s). */
  reloadMs?: number;
}

/** Farm stratum in a node. */
export interface StratumService {
  /** The proxy (controllers and dual nodes). */
  readonly proxy: StratumProxy | null;
  /** The miners' endpoint (workers and dual nodes with `--stratum-listen`). */
  readonly rig: StratumRig | null;
  /** The pool set (controllers and dual nodes). */
  readonly store: StratumConfigStore | null;
  /** The proxy's status (null on a worker). */
  status(): StratumStatus | null;
  /** Re-reads the pool set now. */
  reload(): Promise<void>;
  /** Stops everything. */
  close(): Promise<void>;
}

/** Starts farm stratum for the node's role. */
export async function startStratumService(
  ctx: {
    paths: NodePaths;
    mesh: MeshNode;
    miners: MinerManager | null;
    events: EventHub;
    policy: PolicyStore;
    logger: Logger;
  },
  options: StratumServiceOptions,
): Promise<StratumService> {
  const { mesh, events, logger } = ctx;
  const role = mesh.identity.info.role;
  let proxy: StratumProxy | null = null;
  let store: StratumConfigStore | null = null;
  let sharesTimer: ReturnType<typeof setTimeout> | undefined;
  let reloadTimer: ReturnType<typeof setInterval> | undefined;
  const publish = (kind: "upstream" | "job" | "block" | "shares", e?: StratumProxyEvent) => {
    if (!proxy) return;
    const s = proxy.status();
    events.publish({
      type: "stratum",
      at: s.at,
      kind,
      totals: s.totals,
      upstreams: s.upstreams,
      ...(e?.kind === "block" ? { block: { height: e.height, rig: e.rig, miner: e.miner } } : {}),
      ...(e?.kind === "job"
        ? {
          job: {
            id: e.jobId,
            height: e.height,
            miners: e.miners,
            issuedAt: new Date(e.startedAt).toISOString(),
            ms: e.ms,
          },
        }
        : {}),
    });
  };
  if (role !== "worker") {
    store = StratumConfigStore.of(ctx.paths);
    // A farm's own CA for its pools' certificates (as for wss peers).
    const caFile = Deno.env.get("MINER_CLI_TLS_CA");
    const ca = caFile ? await Deno.readTextFile(caFile).catch(() => undefined) : undefined;
    if (caFile && !ca) logger.warn("stratum_ca_unreadable", { file: caFile });
    proxy = new StratumProxy({
      ca,
      pollMs: options.pollMs,
      agent: `miner-cli/${mesh.identity.info.name}`,
      onEvent: (e) => {
        if (e.kind === "upstream") {
          logger.info("stratum_upstream", { url: e.url, state: e.state, active: e.active });
          publish("upstream", e);
        } else if (e.kind === "block") {
          logger.info("stratum_block", { height: e.height, rig: e.rig, miner: e.miner });
          publish("block", e);
        } else if (e.kind === "job") publish("job", e);
        else if (sharesTimer === undefined) {
          sharesTimer = setTimeout(() => {
            sharesTimer = undefined;
            publish("shares");
          }, 1000);
        }
      },
    });
    attachStratumFarm(mesh, proxy);
  }
  let applied: StratumConfig | undefined;
  let lastError = "";
  const reload = async () => {
    if (!store || !proxy) return;
    try {
      const c = await store.current();
      if (c === applied) return;
      applied = c;
      lastError = "";
      proxy.setDifficulty(c.difficulty);
      proxy.setRanges(c.ranges);
      proxy.setUpstreams(c.upstreams);
      logger.info("stratum_pool_set", {
        upstreams: c.upstreams.map((u) => u.url).join(" "),
        difficulty: c.difficulty,
      });
    } catch (err) {
      // Said once per problem, not at every look.
      const reason = (err as Error).message;
      if (reason !== lastError) logger.warn("stratum_pool_set_invalid", { reason });
      lastError = reason;
    }
  };
  await reload();
  if (store) reloadTimer = setInterval(() => void reload(), options.reloadMs ?? 2000);

  let rig: StratumRig | null = null;
  if (role !== "controller" && options.listen) {
    try {
      rig = await startStratumRig(mesh, {
        hostname: options.listen.hostname,
        port: options.listen.port,
        tls: options.tls,
        maxMiners: options.maxMiners,
        policy: ctx.policy,
        localProxy: proxy,
        loginWaitMs: options.loginWaitMs,
        logger,
      });
    } catch (err) {
      const where = `${options.listen.hostname}:${options.listen.port}`;
      if (!options.optional) {
        clearInterval(reloadTimer);
        proxy?.close();
        throw new StratumListenError(where, err as Error);
      }
      logger.warn("stratum_listen_failed", {
        listen: where,
        reason: `${
          (err as Error).message
        }; pool farm miners cannot start here (use --stratum-listen HOST:PORT)`,
      });
    }
    const url = rig?.server.url;
    if (ctx.miners && url) ctx.miners.farmUrl = () => url;
  }
  return {
    proxy,
    rig,
    store,
    status: () => proxy?.status() ?? null,
    reload: reload,
    close: async () => {
      clearInterval(reloadTimer);
      clearTimeout(sharesTimer);
      proxy?.close();
      await rig?.close();
    },
  };
}
