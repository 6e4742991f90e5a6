/**
 * Miner adapters by type.
 * @module
 */
import type { MinerAdapter } from "../adapter.ts";
import { customAdapter } from "./custom.ts";
import { ttMinerAdapter } from "./ttminer.ts";
import { xmrigAdapter } from "./xmrig.ts";
import { type MinerType } from "../../protocol/mod.ts";

export { customAdapter, customLineParser } from "./custom.ts";
export { GetStat1Schema, parseGetStat1, tcpJsonRpc, ttMinerAdapter } from "./ttminer.ts";
export {
  autoThreads,
  FarmPoolError,
  LIGHT_MODE_BELOW_BYTES,
  parseXmrigBackends,
  parseXmrigSummary,
  randomxMode,
  xmrigAdapter,
  XmrigBackendsSchema,
  xmrigConfig,
  XmrigSummarySchema,
} from "./xmrig.ts";

const ADAPTERS: Record<MinerType, MinerAdapter> = {
  xmrig: xmrigAdapter,
  "tt-miner": ttMinerAdapter,
  custom: customAdapter,
};

/** The adapter of a miner type. */
export function adapterFor(type: MinerType): MinerAdapter {
  return ADAPTERS[type];
}
