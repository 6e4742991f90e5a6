/**
 * The permission sets of the three binaries, defined once: `scripts/compile.ts` bakes them into
 * the executables and the permission tests run `main.ts` under exactly the same flags.
 *
 * Deno resolves permission values when the process starts; it does not expand `~` or
 * environment variables, and `--allow-run` takes exact executables, not directories. So the
 * table holds templates that {@link permissionFlags} resolves against a concrete
 * {@link PermissionLayout}: the node's two homes (config and data, from `--home DIR` or the XDG
 * defaults), its P2P listen address and the target OS. Miners run only from the fixed
 * active-install slot `miners/<type>/current/<binary>`, which a deploy replaces atomically, so a
 * new miner version never needs a new permission.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { posix, win32 } from "node:path";
import { PROCESS_TOOLS } from "../miners/mod.ts";
import { parseListen } from "./args.ts";

/** The three binaries. */
export type Flavour = "worker" | "controller" | "dual";

/** Every flavour, in build order. */
export const FLAVOURS: readonly Flavour[] = ["worker", "controller", "dual"];

/** The executable name of each flavour. */
export const FLAVOUR_BINARY: Readonly<Record<Flavour, string>> = {
  worker: "miner-cli-worker",
  controller: "miner-cli-controller",
  dual: "miner-cli",
};

/** Operating systems a binary can target. */
export type TargetOs = "linux" | "darwin" | "windows";

/** One permission of a flavour: `true` means unscoped, a list means exactly those values. */
export interface PermissionRule {
  /** Scoped values (templates, see {@link permissionFlags}), or `true` for unscoped. */
  allow: readonly string[] | true;
  /** Why the flavour needs it (printed by `compile --dry-run` and in the README). */
  why: string;
}

/** The permissions of one flavour; a missing kind is not granted at all. */
export type FlavourPermissions = Partial<
  Record<"read" | "write" | "net" | "env" | "sys" | "run", PermissionRule>
>;

/**
 * Environment variables miner-cli reads (and nothing else): the home resolution, the CLI's API
 * and TLS settings, logging, the account name for `service install --system`, and the two
 * switches npm:ws (the WebSocket client) reads when it loads.
 */
export const ENV_VARS: readonly string[] = [
  "HOME",
  "USERPROFILE",
  "XDG_CONFIG_HOME",
  "XDG_DATA_HOME",
  "MINER_CLI_HOME",
  "MINER_CLI_API",
  "MINER_CLI_TLS_CA",
  "MINER_CLI_DEBUG",
  "MINER_CLI_LOG_LEVEL",
  "MINER_CLI_LOG_FORMAT",
  "USER",
  "SUDO_USER",
  "WS_NO_BUFFER_UTIL",
  "WS_NO_UTF_8_VALIDATE",
];

/** System information capability probing reads (OS release, memory, host name). */
export const SYS_INFO: readonly string[] = ["osRelease", "systemMemoryInfo", "hostname", "cpus"];

/** The miner executables a worker may start: the active-install slot of each miner type. */
export const MINER_SLOTS: readonly string[] = [
  "{miners}/xmrig/current/xmrig{exe}",
  "{miners}/tt-miner/current/TT-Miner{exe}",
];

const HOMES = ["{config}", "{data}"] as const;

/** What each flavour may do. Dual is the union of the other two. */
export const PERMISSION_TABLE: Readonly<Record<"worker" | "controller", FlavourPermissions>> = {
  worker: {
    read: {
      allow: HOMES,
      why:
        "its config and data homes (identity, registry, miners dir); not /proc or /sys, which Deno grants only with --allow-all",
    },
    write: { allow: HOMES, why: "its config and data homes only" },
    net: {
      allow: ["{listen}", "127.0.0.1", "{discover}"],
      why:
        "listen on its P2P address; reach miner APIs and its own REST API on 127.0.0.1, where its miners' stratum endpoint listens too; LAN discovery (bind 0.0.0.0 and broadcast on the discovery port)",
    },
    env: { allow: ENV_VARS, why: "the variables miner-cli reads" },
    sys: { allow: SYS_INFO, why: "capability probing" },
    run: {
      allow: [...MINER_SLOTS, "{proctools}"],
      why:
        "the miners in its miners dir (active install of each type); setpriv (Linux: a miner dies with its node, and only a miner this set allows is ever handed to it), ps and kill (to find and stop a miner that outlived its node); nothing else",
    },
  },
  controller: {
    read: {
      allow: HOMES,
      why: "its config and data homes",
    },
    write: { allow: HOMES, why: "its config and data homes only" },
    net: {
      allow: true,
      why: "dial workers at whatever addresses the operator pairs; serve P2P and the REST API",
    },
    env: { allow: ENV_VARS, why: "the variables miner-cli reads" },
    sys: { allow: SYS_INFO, why: "capability probing" },
  },
};

/** The rules of a flavour (dual computed as the union of worker and controller). */
export function flavourPermissions(flavour: Flavour): FlavourPermissions {
  if (flavour !== "dual") return PERMISSION_TABLE[flavour];
  const out: FlavourPermissions = {};
  const kinds = ["read", "write", "net", "env", "sys", "run"] as const;
  for (const kind of kinds) {
    const a = PERMISSION_TABLE.worker[kind];
    const b = PERMISSION_TABLE.controller[kind];
    if (!a && !b) continue;
    if (a?.allow === true || b?.allow === true) {
      out[kind] = { allow: true, why: (a?.allow === true ? a : b)!.why };
      continue;
    }
    const allow = [...new Set([...(a?.allow ?? []), ...(b?.allow ?? [])])];
    out[kind] = { allow, why: a?.why ?? b!.why };
  }
  return out;
}

/** The concrete values the templates resolve against. */
export interface PermissionLayout {
  /** Config home (`{config}`). */
  configDir: string;
  /** Data home (`{data}`); the miners dir `{miners}` is `{data}/miners`. */
  dataDir: string;
  /** P2P listen address `HOST:PORT` (`{listen}`; default `0.0.0.0:9091`). */
  listen?: string;
  /** Target OS (default: this one): picks the path flavour and the `.exe` suffix. */
  os?: TargetOs;
  /** Extra custom-miner executables under `{miners}/custom/current/`. */
  customMiners?: readonly string[];
  /** Extra read-only paths (a source checkout's `dist/ui` when run with `deno run`). */
  extraRead?: readonly string[];
  /** Discovery UDP port (`{discover}`; default 10000). */
  discoverPort?: number;
  /** Discovery broadcast addresses (default 255.255.255.255). */
  discoverBroadcast?: readonly string[];
}

/**
 * The `--allow-net` value for a `node serve --listen` address (`:9091` → `0.0.0.0:9091`,
 * `[::]:9091` stays bracketed); throws a UsageError for a malformed address.
 */
export function listenPermission(listen: string): string {
  const { hostname, port } = parseListen(listen);
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** Thrown for a layout the table cannot be resolved against. */
export class PermissionLayoutError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_config" });
    this.name = "PermissionLayoutError";
  }
}

/**
 * Resolves a flavour's table into `deno run` / `deno compile` flags, in a fixed order:
 * `--allow-read`, `--allow-write`, `--allow-net`, `--allow-env`, `--allow-sys`, `--allow-run`,
 * then `--no-prompt` (a missing permission fails instead of asking).
 */
export function permissionFlags(flavour: Flavour, layout: PermissionLayout): string[] {
  const os = layout.os ??
    (Deno.build.os === "windows" ? "windows" : Deno.build.os === "darwin" ? "darwin" : "linux");
  const path = os === "windows" ? win32 : posix;
  for (const [name, dir] of [["config", layout.configDir], ["data", layout.dataDir]]) {
    if (!path.isAbsolute(dir)) {
      throw new PermissionLayoutError(`the ${name} home must be an absolute path, got ${dir}`);
    }
  }
  const vars: Record<string, string> = {
    config: path.normalize(layout.configDir),
    data: path.normalize(layout.dataDir),
    miners: path.join(layout.dataDir, "miners"),
    listen: layout.listen ?? "0.0.0.0:9091",
    exe: os === "windows" ? ".exe" : "",
  };
  const subst = (t: string): string =>
    t.replace(/\{(\w+)\}/g, (_, k: string) => {
      if (!(k in vars)) throw new PermissionLayoutError(`unknown placeholder {${k}}`);
      return vars[k];
    });
  const norm = (
    t: string,
  ): string => (t.startsWith("{miners}") ? path.normalize(subst(t)) : subst(t));
  // Discovery binds 0.0.0.0 and sends to each broadcast address, on the discovery port.
  const discoverTargets = ["0.0.0.0", ...(layout.discoverBroadcast ?? ["255.255.255.255"])].map((
    h,
  ) => (h.includes(":") ? h : `${h}:${layout.discoverPort ?? 10000}`));
  const rules = flavourPermissions(flavour);
  const flags: string[] = [];
  for (const kind of ["read", "write", "net", "env", "sys", "run"] as const) {
    const rule = rules[kind];
    if (!rule) continue;
    if (rule.allow === true) {
      flags.push(`--allow-${kind}`);
      continue;
    }
    // /proc and /sys exist only on Linux.
    const values = rule.allow.flatMap((v) =>
      v === "{discover}"
        ? discoverTargets
        : v === "{proctools}"
        ? [...PROCESS_TOOLS[os]]
        : [norm(v)]
    );
    if (kind === "read") values.push(...(layout.extraRead ?? []));
    if (kind === "run") {
      for (const name of layout.customMiners ?? []) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) {
          throw new PermissionLayoutError(
            `custom miner ${JSON.stringify(name)} is not a file name`,
          );
        }
        values.push(path.join(vars.miners, "custom", "current", name + vars.exe));
      }
    }
    for (const v of values) {
      if (v.includes(",")) {
        throw new PermissionLayoutError(`${v}: a path with a comma cannot be a permission value`);
      }
    }
    flags.push(`--allow-${kind}=${[...new Set(values)].join(",")}`);
  }
  flags.push("--no-prompt");
  return flags;
}

/** A node's home is outside the permission set this binary was built with. */
export class PermissionSetError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 403, code: "not_permitted" });
    this.name = "PermissionSetError";
  }
}

/**
 * Checks at start that this process may read and write both homes, so a binary built for other
 * homes fails with an explanation instead of a bare "Requires read access" mid-command.
 */
export function assertHomesPermitted(configDir: string, dataDir: string): void {
  const missing: string[] = [];
  for (const dir of [configDir, dataDir]) {
    for (const name of ["read", "write"] as const) {
      let state = "denied";
      try {
        state = Deno.permissions.querySync({ name, path: dir }).state;
      } catch { /* treat as denied */ }
      if (state !== "granted") missing.push(`${name} ${dir}`);
    }
  }
  if (missing.length) {
    throw new PermissionSetError(
      `this binary's permission set does not cover this node's homes (${
        missing.join(", ")
      }). Compiled binaries may use only the homes they were built for: run it as the user it was built for, with the --home it was built with, or rebuild with \`deno task compile --home DIR\` (see README, "Permission sets")`,
    );
  }
}
