/**
 * On-disk state: the home layout (`--home DIR`, `MINER_CLI_HOME`, XDG defaults) and atomic
 * writes (temp file + fsync + rename + directory fsync), so an interrupted write never leaves a
 * torn file; reads are validated by a zod schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { readJsonFile, resolvePaths, writeJsonAtomic } from "./mod.ts";
 * const paths = resolvePaths({ home: await Deno.makeTempDir() });
 * await writeJsonAtomic(paths.policyJson, { version: 1 }, { mode: 0o600 });
 * const doc = await readJsonFile(paths.policyJson, z.object({ version: z.number() }));
 * if (doc?.version !== 1) throw new Error("not what was written");
 * ```
 * @module
 */
export { APP_DIR, type NodePaths, resolvePaths, type ResolvePathsOptions } from "./paths.ts";
export {
  type AtomicWriteOptions,
  CorruptFileError,
  MtimeCache,
  readJsonFile,
  type ReadJsonOptions,
  type SweepOptions,
  type SweepResult,
  sweepTempFiles,
  syncDir,
  withFileLock,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic.ts";
