/**
 * Where miner executables come from: `<data>/miners/<type>/<version>/<binary>` first (newest
 * version wins), then `PATH`.
 * @module
 */
import { delimiter, isAbsolute, join } from "node:path";
import type { NodePaths } from "../store/mod.ts";
import type { MinerAdapter } from "./adapter.ts";
import type { MinerType, Profile } from "./profiles.ts";

/** A found miner binary. */
export interface MinerBinary {
  /** Miner type. */
  type: MinerType;
  /** Absolute path. */
  path: string;
  /** Version directory it lives in, or null for PATH / absolute paths. */
  dirVersion: string | null;
  /** Where it was found. */
  source: "miners-dir" | "path" | "absolute";
}

/** No executable for a miner. */
export class MinerBinaryNotFoundError extends Error {
  /** Creates the error. */
  constructor(readonly binary: string, dir: string) {
    super(
      `miner binary ${binary} not found in ${dir}/<version>/ nor on PATH; install it there or deploy a miner bundle`,
    );
    this.name = "MinerBinaryNotFoundError";
  }
}

/** The miners directory of a node. */
export function minersDir(paths: NodePaths): string {
  return join(paths.dataDir, "miners");
}

function exe(name: string): string {
  return Deno.build.os === "windows" && !name.endsWith(".exe") ? `${name}.exe` : name;
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && (Deno.build.os === "windows" || ((st.mode ?? 0) & 0o111) !== 0);
  } catch {
    return false;
  }
}

/** Compares version strings numerically, segment by segment (newest first when used in sort). */
export function compareVersionsDesc(a: string, b: string): number {
  const pa = a.split(/[.\-+]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.\-+]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1;
    const y = pb[i] ?? -1;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return y - x;
    return String(y).localeCompare(String(x));
  }
  return 0;
}

/** Every installed candidate for `binaryName` of `type`, best first. */
export function findMinerBinaries(
  paths: NodePaths,
  type: MinerType,
  binaryName: string,
): MinerBinary[] {
  const found: MinerBinary[] = [];
  if (isAbsolute(binaryName)) {
    return isExecutable(binaryName)
      ? [{ type, path: binaryName, dirVersion: null, source: "absolute" }]
      : [];
  }
  const typeDir = join(minersDir(paths), type);
  const versions: string[] = [];
  try {
    for (const e of Deno.readDirSync(typeDir)) {
      // Dot directories are deploys in progress (staging) or versions being replaced.
      if (e.isDirectory && !e.name.startsWith(".")) versions.push(e.name);
    }
  } catch { /* no miners dir yet */ }
  for (const v of versions.sort(compareVersionsDesc)) {
    const p = join(typeDir, v, exe(binaryName));
    if (isExecutable(p)) found.push({ type, path: p, dirVersion: v, source: "miners-dir" });
  }
  let pathVar: string | undefined;
  try {
    pathVar = Deno.env.get("PATH");
  } catch { /* env not permitted */ }
  for (const dir of (pathVar ?? "").split(delimiter).filter(Boolean)) {
    const p = join(dir, exe(binaryName));
    try {
      if (isExecutable(p)) found.push({ type, path: p, dirVersion: null, source: "path" });
    } catch { /* not readable under this permission set */ }
  }
  return found;
}

/** Resolves the executable a profile runs. */
export function resolveMinerBinary(
  paths: NodePaths,
  profile: Profile,
  adapter: MinerAdapter,
): MinerBinary {
  const name = adapter.binaryName(profile);
  const found = findMinerBinaries(paths, profile.minerType, name);
  if (found.length === 0) {
    throw new MinerBinaryNotFoundError(name, join(minersDir(paths), profile.minerType));
  }
  return found[0];
}

/** Runs `binary --version` (5 s timeout) and returns its output, or null. */
export async function probeVersionOutput(binary: string): Promise<string | null> {
  try {
    const child = new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 5000);
    const out = await child.output();
    clearTimeout(timer);
    const dec = new TextDecoder();
    return dec.decode(out.stdout) + dec.decode(out.stderr);
  } catch {
    return null;
  }
}

/** An installed miner binary with its probed version. */
export interface InstalledMiner {
  /** Miner type. */
  type: MinerType;
  /** Absolute path. */
  path: string;
  /** Where it was found. */
  source: MinerBinary["source"];
  /** Version from `--version`, or null when it could not be probed. */
  version: string | null;
}

/** Every installed XMRig / TT-Miner binary with its `--version`. */
export async function installedMiners(
  paths: NodePaths,
  adapters: (type: MinerType) => MinerAdapter,
): Promise<InstalledMiner[]> {
  const out: InstalledMiner[] = [];
  for (const type of ["xmrig", "tt-miner"] as const) {
    const adapter = adapters(type);
    if (!adapter.defaultBinary) continue;
    for (const b of findMinerBinaries(paths, type, adapter.defaultBinary)) {
      const output = await probeVersionOutput(b.path);
      out.push({
        type,
        path: b.path,
        source: b.source,
        version: output === null ? null : adapter.parseVersion(output),
      });
    }
  }
  return out;
}
