/**
 * Miner runtime: profiles, adapters (XMRig, TT-Miner, custom), supervision with a watchdog,
 * console buffers that redact secrets, hashrate history, and a miner emulator.
 *
 * @example
 * ```ts
 * import { join } from "node:path";
 * import { ProfileStore } from "./mod.ts";
 * const store = new ProfileStore(join(await Deno.makeTempDir(), "mining_profiles.json"));
 * const cpu = await store.add({
 *   name: "cpu",
 *   minerType: "xmrig",
 *   config: { pools: [{ url: "pool.example.org:3333", user: "44AFFq5kSiGBoZ", pass: "s3cret" }] },
 * });
 * // validated for XMRig, stored 0600; a bad pool URL or a shell metacharacter is refused
 * if ((await store.list())[0].id !== cpu.id) throw new Error("not stored");
 * ```
 * @module
 */
export {
  findVersion,
  type LaunchContext,
  type LineParser,
  type MinerAdapter,
  MinerApiError,
} from "./adapter.ts";
export {
  adapterFor,
  autoThreads,
  customLineParser,
  FarmPoolError,
  LIGHT_MODE_BELOW_BYTES,
  parseGetStat1,
  parseXmrigBackends,
  parseXmrigSummary,
  randomxMode,
  xmrigConfig,
} from "./adapters/mod.ts";
export {
  compareVersionsDesc,
  CURRENT_DIR,
  findMinerBinaries,
  type InstalledMiner,
  installedMiners,
  type MinerBinary,
  MinerBinaryNotFoundError,
  MinerNotPermittedError,
  minersDir,
  probeVersionOutput,
  readInstalledVersion,
  resolveMinerBinary,
  VERSION_FILE,
} from "./binaries.ts";
export {
  type DeviceSeries,
  type HistoryOptions,
  type HistoryPoint,
  HistoryStore,
  MIGRATIONS,
  type QueryOptions,
  type Resolution,
} from "./history.ts";
export {
  LogBuffer,
  type LogLine,
  MAX_LINE_CHARS,
  readLines,
  type ReadOptions,
  type ReadResult,
} from "./log_buffer.ts";
export {
  freePort,
  IntentWriteError,
  MinerAlreadyRunningError,
  MinerManager,
  type MinerManagerOptions,
  MinerNotFoundError,
  type StartOutcome,
  type StopOutcome,
  type Survivor,
} from "./manager.ts";
export { PROCESS_TOOLS } from "./processes.ts";
export { type RunRecord, RunRecords } from "./run_records.ts";
export {
  AlgoSchema,
  type CustomConfig,
  CustomConfigSchema,
  FARM_POOL,
  MinerArgSchema,
  MinerArgsSchema,
  PoolUrlSchema,
  type Profile,
  type ProfileInput,
  ProfileInputSchema,
  ProfileNotFoundError,
  ProfileSchema,
  ProfileStore,
  ProfileValidationError,
  resolveProfile,
  ThreadsSchema,
  type TtMinerConfig,
  TtMinerConfigSchema,
  validateProfile,
  WalletSchema,
  type XmrigConfig,
  XmrigConfigSchema,
} from "./profiles.ts";
export { type AdapterStats, emptyStats, formatHashrate } from "./stats.ts";
export {
  killAllMinerProcesses,
  MinerProcess,
  MinerStoppedError,
  type SupervisorOptions,
} from "./supervisor.ts";
export { type EmulatedKind, runEmulator } from "./emulator/emulator.ts";
export {
  type EmulatedJob,
  EmulatedStratumClient,
  type EmulatedStratumOptions,
} from "./emulator/stratum_client.ts";
export {
  emulatorCommand,
  installEmulatedMiner,
  type InstallEmulatorOptions,
} from "./emulator/install.ts";
export {
  maskProfile,
  MIN_SECRET_LENGTH,
  profileSecrets,
  REDACTED,
  Redactor,
  SECRET_MASK,
  unmaskConfig,
} from "./secrets.ts";
