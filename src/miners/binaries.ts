/**
 * Where miner executables come from: the active install `<data>/miners/<type>/current/<binary>`
 * first (its version is in `current/.version`), then other kept versions
 * `<data>/miners/<type>/<version>/<binary>` (newest first), then `PATH`.
 *
 * The fixed `current` slot exists because Deno's `--allow-run` takes exact executable paths, not
 * directories: the worker binary's permission set names `miners/<type>/current/<binary>`, so
 * deploying a new version (which becomes `current`) never needs a new permission.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { basename, delimiter, isAbsolute, join } from "node:path";
import type { NodePaths } from "../store/mod.ts";
import type { MinerAdapter } from "./adapter.ts";
import type { Profile } from "./profiles.ts";
import { type MinerType } from "../protocol/mod.ts";

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
export class MinerBinaryNotFoundError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly binary: string, dir: string) {
    super(
      `miner binary ${binary} not found in ${dir}/current/ nor on PATH; install it there or deploy a miner bundle`,
      { status: 422, code: "miner_not_installed" },
    );
    this.name = "MinerBinaryNotFoundError";
  }
}

/** The miners directory of a node. */
export function minersDir(paths: NodePaths): string {
  return join(paths.dataDir, "miners");
}

/** Name of the active-install directory of each miner type (`miners/<type>/current`). */
export const CURRENT_DIR = "current";

/** File inside `current/` naming the version it holds. */
export const VERSION_FILE = ".version";

/** Reads the version an install directory holds (`.version`), or null. */
export function readInstalledVersion(dir: string): string | null {
  try {
    const v = Deno.readTextFileSync(join(dir, VERSION_FILE)).trim();
    return v || null;
  } catch {
    return null;
  }
}

/** A miner binary exists but this process's permission set may not run it. */
export class MinerNotPermittedError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly binary: string, readonly allowedPath: string) {
    super(
      `this node's permission set may not run ${binary}: a worker binary runs miners only from ${allowedPath}; deploy the miner (remote deploy --miner) or install it there`,
      { status: 403, code: "miner_not_permitted" },
    );
    this.name = "MinerNotPermittedError";
  }
}

/** Whether this process may spawn `path` (false under a permission set that does not name it). */
export function mayRun(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "run", command: path }).state === "granted";
  } catch {
    return false;
  }
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
  const current = join(typeDir, CURRENT_DIR, exe(binaryName));
  if (isExecutable(current)) {
    found.push({
      type,
      path: current,
      dirVersion: readInstalledVersion(join(typeDir, CURRENT_DIR)) ?? CURRENT_DIR,
      source: "miners-dir",
    });
  }
  const versions: string[] = [];
  try {
    for (const e of Deno.readDirSync(typeDir)) {
      // Dot directories are deploys in progress (staging) or versions being replaced.
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== CURRENT_DIR) {
        versions.push(e.name);
      }
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
  const slot = join(
    minersDir(paths),
    profile.minerType,
    CURRENT_DIR,
    exe(isAbsolute(name) ? basename(name) : name),
  );
  // A path this process may not run cannot even be looked at: say why instead of "not found".
  if (isAbsolute(name) && !mayRun(name)) throw new MinerNotPermittedError(name, slot);
  const found = findMinerBinaries(paths, profile.minerType, name);
  if (found.length === 0) {
    throw new MinerBinaryNotFoundError(name, join(minersDir(paths), profile.minerType));
  }
  // Under a narrow permission set (the worker binary) only the `current` slot is runnable.
  const runnable = found.find((b) => mayRun(b.path));
  if (!runnable) {
    throw new MinerNotPermittedError(found[0].path, slot);
  }
  return runnable;
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
