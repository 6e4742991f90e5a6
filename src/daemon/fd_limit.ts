/**
 * The connection limit a node can keep: its open-file limit minus what it needs besides peer
 * links (handshakes in progress, the API, miners' pipes, its databases and logs).
 *
 * Deno has no getrlimit and gives `/proc` only to `--allow-all` processes, so the limit is read
 * with `sh -c "ulimit -n"` where the node may run `sh`, and otherwise counted: the node opens
 * one of its own files until the kernel refuses (EMFILE), then closes them all, at start, before
 * it listens.
 * @module
 */

/** Descriptors kept for everything but established peer links. */
export const FD_RESERVE = 384;

/** At most this many descriptors are opened to count the free ones. */
export const FD_PROBE_CAP = 65_536;

/**
 * Peer links a worker needs at most by default (the controllers that dial it, not a fleet):
 * counting further costs its start ~12 µs per descriptor (~250 ms at a 20,000 limit) for
 * connections it never gets.
 */
export const WORKER_CONNECTIONS = 1024;

/** What {@link openFileLimit} found. */
export interface FdLimit {
  /** Descriptors this process may have open (or may still open, when counted). */
  limit: number;
  /** `ulimit` (the soft limit, exact) or `counted` (free at start; at least, when capped). */
  method: "ulimit" | "counted";
}

/** Options for {@link openFileLimit}. */
export interface OpenFileLimitOptions {
  /** Count at most this many (default {@link FD_PROBE_CAP}): the limit is then "at least". */
  cap?: number;
}

/** The process's open-file limit; null when it can be found neither way. */
export async function openFileLimit(
  probePath: string,
  options: OpenFileLimitOptions = {},
): Promise<FdLimit | null> {
  const cap = Math.min(options.cap ?? FD_PROBE_CAP, FD_PROBE_CAP);
  if ((await Deno.permissions.query({ name: "run", command: "sh" })).state === "granted") {
    try {
      const out = await new Deno.Command("sh", {
        args: ["-c", "ulimit -n"],
        stdout: "piped",
        stderr: "null",
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      const n = text === "unlimited" ? FD_PROBE_CAP * 16 : Number(text);
      if (out.success && Number.isInteger(n) && n > 0) return { limit: n, method: "ulimit" };
    } catch { /* counted below */ }
  }
  const files: Deno.FsFile[] = [];
  try {
    while (files.length < cap) files.push(Deno.openSync(probePath, { read: true }));
  } catch (err) {
    if (files.length === 0 && !/too many open files|os error 24/i.test(String(err))) return null;
  } finally {
    for (const f of files) f.close();
  }
  return { limit: files.length, method: "counted" };
}

/**
 * The default `--max-connections`: the open-file limit minus {@link FD_RESERVE} (at least 16,
 * at most `max`, default 100,000), or 1,024 (at most `max`) when the limit is unknown.
 *
 * @example
 * ```ts
 * import { connectionLimitFor } from "./fd_limit.ts";
 * if (connectionLimitFor(20_000) !== 19_616) throw new Error("20,000 descriptors");
 * if (connectionLimitFor(64) !== 16) throw new Error("never below 16");
 * ```
 */
export function connectionLimitFor(
  fdLimit: number | null,
  options: { max?: number } = {},
): number {
  const max = Math.min(options.max ?? 100_000, 100_000);
  if (fdLimit === null) return Math.min(1024, max);
  return Math.max(16, Math.min(max, fdLimit - FD_RESERVE));
}
