/**
 * Where miner-cli keeps its state.
 *
 * Without `--home`, the layout follows the seed: public state in
 * `$XDG_CONFIG_HOME/lethean-desktop/` (default `~/.config/lethean-desktop/`) and private data in
 * `$XDG_DATA_HOME/lethean-desktop/` (default `~/.local/share/lethean-desktop/`). With `--home DIR`
 * (or `MINER_CLI_HOME`), everything lives under `DIR/config` and `DIR/data`, so several nodes can
 * run on one machine.
 * @module
 */
import { join, resolve } from "node:path";

/** The directory name the seed uses under the XDG homes. */
export const APP_DIR = "lethean-desktop";

/** Resolved locations of every file miner-cli reads or writes. */
export interface NodePaths {
  /** Directory for configuration (`node.json`, `registry.sqlite`, `policy.json`). */
  configDir: string;
  /** Directory for private data (keys, pairing secrets, history, miners). */
  dataDir: string;
  /** Public identity. */
  nodeJson: string;
  /** Raw 32-byte X25519 private key, mode 0600. */
  privateKey: string;
  /** Peer registry, allowlist and auth mode (SQLite, 0600). */
  registryDb: string;
  /** The peer registry of earlier versions (imported into `registryDb` once). */
  peersJson: string;
  /** Auth mode and allowlist of earlier versions (imported into `registryDb` once). */
  authJson: string;
  /** Worker policy (what controllers granted control may still not do). */
  policyJson: string;
  /** One file per outstanding pairing code. */
  pairingDir: string;
  /** Where a running node's API listens (`{url, pid, startedAt}`), for the CLI to find it. */
  apiJson: string;
}

/** Options for {@link resolvePaths}. */
export interface ResolvePathsOptions {
  /** Explicit home directory (`--home`). Overrides the environment. */
  home?: string;
  /** Environment lookup; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/** Computes the {@link NodePaths} from `--home`, `MINER_CLI_HOME` or the XDG defaults. */
export function resolvePaths(options: ResolvePathsOptions = {}): NodePaths {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const home = options.home ?? env("MINER_CLI_HOME");
  let configDir: string;
  let dataDir: string;
  if (home) {
    configDir = join(resolve(home), "config");
    dataDir = join(resolve(home), "data");
  } else {
    const userHome = env("HOME") ?? env("USERPROFILE");
    const xdgConfig = env("XDG_CONFIG_HOME") || (userHome ? join(userHome, ".config") : undefined);
    const xdgData = env("XDG_DATA_HOME") ||
      (userHome ? join(userHome, ".local", "share") : undefined);
    if (!xdgConfig || !xdgData) {
      throw new Error(
        "cannot locate a home directory: set HOME, XDG_CONFIG_HOME or pass --home DIR",
      );
    }
    configDir = join(xdgConfig, APP_DIR);
    dataDir = join(xdgData, APP_DIR);
  }
  return {
    configDir,
    dataDir,
    nodeJson: join(configDir, "node.json"),
    privateKey: join(dataDir, "node", "private.key"),
    registryDb: join(configDir, "registry.sqlite"),
    peersJson: join(configDir, "peers.json"),
    authJson: join(configDir, "auth.json"),
    policyJson: join(configDir, "policy.json"),
    pairingDir: join(dataDir, "pairing"),
    apiJson: join(dataDir, "api.json"),
  };
}
