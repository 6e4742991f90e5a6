/**
 * On-disk state: home directory layout and atomic file writes.
 * @module
 */
export { APP_DIR, type NodePaths, resolvePaths, type ResolvePathsOptions } from "./paths.ts";
export {
  type AtomicWriteOptions,
  CorruptFileError,
  readJsonFile,
  type ReadJsonOptions,
  syncDir,
  withFileLock,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic.ts";
