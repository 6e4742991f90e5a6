/**
 * The composition root of `node serve`: it wires the node (mesh, worker handlers, fleet, monitor,
 * discovery), the miners, the event hub and the API together. The node and the API never import
 * each other; this module adapts one to the other (`createNodeOps`).
 *
 * @example
 * ```ts
 * import { initIdentity } from "../identity/mod.ts";
 * import { resolvePaths } from "../store/mod.ts";
 * import { startDaemon } from "./mod.ts";
 * const paths = resolvePaths({ home: await Deno.makeTempDir() });
 * await initIdentity(paths, { name: "rig-01", role: "worker" });
 * const daemon = await startDaemon(paths, {
 *   serve: { hostname: "127.0.0.1", port: 0 },
 *   api: null,
 * });
 * await daemon.close();
 * ```
 * @module
 */
export { type Daemon, type DaemonOptions, ListenError, startDaemon } from "./daemon.ts";
export { type LoopLagMonitor, startLoopLagMonitor } from "./samplers.ts";
export {
  StratumListenError,
  type StratumService,
  type StratumServiceOptions,
} from "./stratum_service.ts";
