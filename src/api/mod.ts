/**
 * The node's REST API.
 * @module
 */
export { API_BASE, type ApiApp, type ApiContext, createApiApp, hostAllowed } from "./app.ts";
export { ApiError, errorResponse } from "./errors.ts";
export { ApiConfigError, type ApiServer, type ApiServerOptions, startApiServer } from "./server.ts";
export type { RemoteRoutesContext } from "./remote_routes.ts";
export { type MetricsSnapshot, renderMetrics } from "./metrics.ts";
export { AddPeerBodySchema, type NodeOps } from "./node_routes.ts";
