/**
 * Atomic, durable file writes and validated JSON reads.
 *
 * Every piece of state miner-cli keeps on disk goes through {@link writeFileAtomic}: the
 * content goes to a temporary file in the same directory, is fsync'ed, then renamed over the
 * target and the directory is fsync'ed, so a crash leaves either the old or the new file,
 * never a half-written one.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { basename, dirname, join } from "node:path";
import type { z } from "zod";

/** Options for {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of the final file (default 0o644; use 0o600 for secrets). */
  mode?: number;
}

/** Raised when a state file exists but cannot be parsed or does not match its schema. */
export class CorruptFileError extends MinerCliError {
  /** Where the unreadable file was moved to, if it was moved aside. */
  readonly movedTo?: string;
  /** Creates the error for `path`. */
  constructor(readonly path: string, detail: string, movedTo?: string) {
    super(
      movedTo
        ? `${path} is corrupt (${detail}); it was kept aside as ${movedTo} — inspect or restore it`
        : `${path} is corrupt (${detail}); fix or remove it`,
      { status: 500, code: "corrupt_state" },
    );
    this.name = "CorruptFileError";
    this.movedTo = movedTo;
  }
}

/** Writes `data` to `path` atomically (temp file + fsync + rename + directory fsync). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.syncData();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  // createNew honours the umask; force the exact mode requested.
  if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

/** fsyncs a directory (after a rename into it); a no-op where the OS or filesystem refuses. */
export async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Options for {@link readJsonFile}. */
export interface ReadJsonOptions {
  /** Move an unparsable file aside (to `<path>.corrupt-<timestamp>`) instead of only failing. */
  moveAsideOnCorrupt?: boolean;
}

/**
 * Reads and validates a JSON file. Returns `undefined` when the file does not exist and throws
 * {@link CorruptFileError} when it cannot be parsed or validated.
 */
export async function readJsonFile<T extends z.ZodType>(
  path: string,
  schema: T,
  options: ReadJsonOptions = {},
): Promise<z.infer<T> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  let detail: string;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    detail = parsed.error.issues.slice(0, 3).map((i) =>
      `${i.path.join(".") || "(root)"}: ${i.message}`
    )
      .join("; ");
  } catch (err) {
    detail = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ");
  }
  if (options.moveAsideOnCorrupt) {
    const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(":", "-")}-${
      crypto.randomUUID().slice(0, 8)
    }`;
    await Deno.rename(path, aside);
    throw new CorruptFileError(path, detail, aside);
  }
  throw new CorruptFileError(path, detail);
}

/** Serializes `value` as pretty JSON and writes it with {@link writeFileAtomic}. */
export function writeJsonAtomic(
  path: string,
  value: unknown,
  options: AtomicWriteOptions = {},
): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", options);
}

/**
 * Runs `fn` holding an exclusive lock on `<path>.lock` (an OS file lock, so it serializes other
 * processes and other handles in this process). Used for read-modify-write of shared state files.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const lock = await Deno.open(`${path}.lock`, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    await lock.lock(true);
    return await fn();
  } finally {
    try {
      await lock.unlock();
    } finally {
      lock.close();
    }
  }
}

/** The temporary files this project writes and removes: atomic-write temps and deploy spools. */
const TEMP_FILE =
  /^(\..+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp|deploy-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tar)$/;

/** Options for {@link sweepTempFiles}. */
export interface SweepOptions {
  /** Only files last modified before this time (ms since epoch) go: older than the process. */
  before: number;
  /** How deep below each root to look (default 3). */
  maxDepth?: number;
  /** Directory names not to enter (default: `miners`, whose staging `recoverMinersDir` handles). */
  skip?: readonly string[];
}

/** What {@link sweepTempFiles} removed. */
export interface SweepResult {
  /** Paths removed. */
  removed: string[];
  /** Their total size. */
  bytes: number;
}

/**
 * Removes temporary files an interrupted process left behind (`.<name>.<uuid>.tmp` from atomic
 * writes, `deploy-<uuid>.tar` spools) under `roots`, when they are older than `before`: a node
 * calls it at start with its own start time, so files another live process is writing stay.
 */
export async function sweepTempFiles(
  roots: readonly string[],
  options: SweepOptions,
): Promise<SweepResult> {
  const skip = new Set(options.skip ?? ["miners"]);
  const out: SweepResult = { removed: [], bytes: 0 };
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory) {
        if (depth < (options.maxDepth ?? 3) && !skip.has(e.name)) await walk(path, depth + 1);
        continue;
      }
      if (!e.isFile || !TEMP_FILE.test(e.name)) continue;
      try {
        const st = await Deno.stat(path);
        if ((st.mtime?.getTime() ?? Infinity) >= options.before) continue;
        await Deno.remove(path);
        out.removed.push(path);
        out.bytes += st.size;
      } catch { /* gone meanwhile */ }
    }
  };
  for (const root of new Set(roots)) await walk(root, 0);
  return out;
}

/**
 * A file's parsed contents, re-read only when its modification time changed (a loop that reads
 * configuration another process may edit, without reading it every time). A missing file gives
 * `empty()`; `invalidate()` after this process wrote it.
 */
export class MtimeCache<T> {
  #stamp = "";
  #value: T | undefined;

  /** Reads `path` with `load`. */
  constructor(readonly path: string, readonly load: () => Promise<T>, readonly empty: () => T) {}

  /**
   * The contents, re-read when the file changed: its inode, size or times (two writes within
   * one millisecond by another process differ by inode or size, not always by mtime).
   */
  async get(): Promise<T> {
    let stamp = "absent";
    try {
      const st = await Deno.stat(this.path);
      stamp = `${st.ino}:${st.size}:${st.mtime?.getTime()}:${st.ctime?.getTime()}`;
    } catch { /* no file */ }
    if (stamp !== this.#stamp || this.#value === undefined) {
      this.#value = stamp === "absent" ? this.empty() : await this.load();
      this.#stamp = stamp;
    }
    return this.#value;
  }

  /** Forgets the contents (the next `get` reads the file). */
  invalidate(): void {
    this.#stamp = "";
  }
}
