/**
 * The node's REST API (Hono + zod-openapi): node, peers, auth, local miners, profiles, history,
 * `/remote/*` fleet operations, live events over SSE and Prometheus metrics. It serves what it is
 * given through interfaces (`FleetOps`, `NodeOps`, the miner manager), so it never imports the
 * node; the daemon wires them.
 *
 * @example
 * ```ts
 * import { createApiApp } from "./mod.ts";
 * const { app } = createApiApp({
 *   node: () => ({ id: "0".repeat(32), name: "n", publicKey: "A".repeat(43) + "=", role: "worker", createdAt: "" }),
 *   miners: null,
 *   history: null,
 *   token: "t".repeat(64),
 *   startedAt: new Date(),
 * });
 * const health = await app.request("http://127.0.0.1/health");
 * const refused = await app.request("http://127.0.0.1/api/v1/mining/node/info");
 * if (health.status !== 200 || refused.status !== 401) throw new Error("unexpected status");
 * ```
 * @module
 */
export { API_BASE, type ApiApp, type ApiContext, createApiApp, hostAllowed } from "./app.ts";
export { ApiError, errorResponse } from "./errors.ts";
export { ApiConfigError, type ApiServer, type ApiServerOptions, startApiServer } from "./server.ts";
export { fleetStatusJson, type RemoteRoutesContext } from "./remote_routes.ts";
export type { HealthRoutesContext } from "./health_routes.ts";
export type { StratumRoutesContext } from "./stratum_routes.ts";
export type { AssignmentOps } from "./assignment_routes.ts";
export { type MetricsSnapshot, renderMetrics } from "./metrics.ts";
export { AddPeerBodySchema, type NodeOps } from "./node_routes.ts";
