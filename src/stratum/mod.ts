/**
 * Farm stratum: the endpoint a rig's miners connect to, the controller's proxy that splits each
 * upstream job's nonce space among the farm's miners and checks their shares, the upstreams (a
 * pool over stratum, or monerod for solo mining) with failover, and the pool set on disk.
 *
 * @example
 * ```ts
 * import { meetsDifficulty, targetHex } from "./mod.ts";
 * targetHex(1000n); // "efa7c64b37894100": 64-bit little-endian, as XMRig reads it
 * meetsDifficulty("00".repeat(32), 1_000_000n); // true
 * ```
 * @module
 */
export {
  type MinerConnection,
  type MinerHandler,
  type MinerServer,
  type MinerServerOptions,
  startMinerServer,
  StratumRefusal,
} from "./miner_server.ts";
export {
  MAX_MINERS,
  type ProxyLogin,
  type RigJobs,
  ShareRejected,
  SLOTS,
  StratumProxy,
  type StratumProxyEvent,
  type StratumProxyOptions,
} from "./proxy.ts";
export {
  createUpstream,
  parseUpstreamUrl,
  type Upstream,
  type UpstreamConfig,
  type UpstreamJob,
  UpstreamUrlError,
  type UpstreamVerdict,
} from "./upstream.ts";
export {
  poolSetView,
  type StratumConfig,
  StratumConfigError,
  StratumConfigSchema,
  StratumConfigStore,
  type UpstreamEntry,
} from "./config.ts";
export {
  type ParsedTemplate,
  parseTemplate,
  TemplateError,
  treeHash,
  withExtraNonce,
} from "./template.ts";
export {
  hashValue,
  meetsDifficulty,
  NONCE_OFFSET,
  nonceSlot,
  shareDifficulty,
  targetDifficulty,
  targetHex,
  withNonce,
  withSlot,
} from "./target.ts";
