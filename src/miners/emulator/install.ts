/**
 * Installs emulated miners into a node's miners dir: a small executable wrapper named like the
 * real binary in the active-install slot (`miners/<type>/current/xmrig`, version in
 * `current/.version`) that runs the emulator, so the supervisor starts
 * it exactly as it would start the real miner.
 * @module
 */
import { join } from "node:path";
import type { NodePaths } from "../../store/mod.ts";
import { CURRENT_DIR, minersDir, VERSION_FILE } from "../binaries.ts";
import type { EmulatedKind } from "./emulator.ts";

/** Options for {@link installEmulatedMiner}. */
export interface InstallEmulatorOptions {
  /** Version written to `.version` (default `6.21.0-emu` / `2023.1.0-emu`). */
  version?: string;
  /** Install into `<type>/<version>/` instead of the active `current/` slot. */
  versionDir?: boolean;
  /** Extra environment for the emulator (`MINER_EMU_*`). */
  env?: Record<string, string>;
  /** Binary name (default: the real miner's). */
  binaryName?: string;
  /** Miner type directory (default: `kind`). */
  typeDir?: string;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/**
 * How to run the emulator from this process: from source under `deno run`, or through the
 * compiled binary itself (`miner-cli __emulate-miner ...`).
 */
export function emulatorCommand(): string[] {
  const self = Deno.execPath();
  const isDeno = /(^|[\/\\])deno(\.exe)?$/.test(self);
  if (isDeno) {
    return [
      self,
      "run",
      "--allow-net=127.0.0.1,0.0.0.0",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      new URL("./main.ts", import.meta.url).pathname,
      "--emulate",
    ];
  }
  return [self, "__emulate-miner"];
}

/** Writes an emulated miner executable and returns its path. */
export async function installEmulatedMiner(
  paths: NodePaths,
  kind: EmulatedKind,
  options: InstallEmulatorOptions = {},
): Promise<string> {
  const version = options.version ?? (kind === "xmrig" ? "6.21.0-emu" : "2023.1.0-emu");
  const dir = join(
    minersDir(paths),
    options.typeDir ?? kind,
    options.versionDir ? version : CURRENT_DIR,
  );
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await Deno.writeTextFile(join(dir, VERSION_FILE), `${version}\n`);
  const file = join(dir, options.binaryName ?? (kind === "xmrig" ? "xmrig" : "TT-Miner"));
  const envs = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
  const cmd = [...emulatorCommand(), kind].map(shellQuote).join(" ");
  await Deno.writeTextFile(
    file,
    `#!/bin/sh\n# miner-cli emulated ${kind}\n${envs ? `export ${envs}\n` : ""}exec ${cmd} "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.chmod(file, 0o755);
  return file;
}
