/**
 * The connection limit a node can keep: its open-file limit minus what it needs besides peer
 * links (handshakes in progress, the API, miners' pipes, its databases and logs).
 * @module
 */

/** Descriptors kept for everything but established peer links. */
export const FD_RESERVE = 384;

/**
 * The process's soft open-file limit (`ulimit -n`), read through the shell (Deno has no
 * getrlimit; `/proc` needs `--allow-all`); null when it cannot be read.
 */
export async function openFileLimit(): Promise<number | null> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", "ulimit -n"],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (text === "unlimited") return 1_048_576;
    const n = Number(text);
    return out.success && Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * The default `--max-connections`: the open-file limit minus {@link FD_RESERVE} (at least 16,
 * at most 100,000), or 1,024 when the limit is unknown.
 *
 * @example
 * ```ts
 * import { connectionLimitFor } from "./fd_limit.ts";
 * if (connectionLimitFor(20_000) !== 19_616) throw new Error("20,000 descriptors");
 * if (connectionLimitFor(64) !== 16) throw new Error("never below 16");
 * ```
 */
export function connectionLimitFor(fdLimit: number | null): number {
  if (fdLimit === null) return 1024;
  return Math.max(16, Math.min(100_000, fdLimit - FD_RESERVE));
}
