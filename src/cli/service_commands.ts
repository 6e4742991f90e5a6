/**
 * `miner-cli service install|uninstall|status` (a hardened systemd unit running `node serve`) and
 * `miner-cli completions bash|zsh|fish` (generated from the command reference).
 * @module
 */
import { basename, join } from "node:path";
import { type NodePaths, writeFileAtomic } from "../store/mod.ts";
import { DASHBOARD_DIR } from "../ui/mod.ts";
import { bool, type Parsed, str, UsageError } from "./args.ts";

import type { CliContext } from "./context.ts";
import { SERVE_OPTIONS } from "./options.ts";
import { parseCommandArgs } from "./spec.ts";
import { NODE_RUNTIME_FLAGS } from "./run_flags.ts";
import { type Flavour, listenPermission, permissionFlags } from "./permissions.ts";

const UNIT_NAME = "miner-cli.service";

/** What the unit runs. */
export interface UnitOptions {
  /** The command line that starts the program (binary, or deno + flags + main.ts). */
  exec: string[];
  /** `--home` for the node (absolute), or null for the default XDG homes. */
  home: string | null;
  /** Config and data directories the node writes. */
  writable: string[];
  /** Extra `node serve` arguments. */
  serveArgs: string[];
  /** User unit (`systemctl --user`) or system unit. */
  scope: "user" | "system";
  /** For system units: the account that runs the node. */
  user?: string;
  /** Description suffix (node name). */
  name: string;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** The systemd unit text. */
export function renderUnit(o: UnitOptions): string {
  const cmd = [...o.exec, ...(o.home ? ["--home", o.home] : []), "node", "serve", ...o.serveArgs];
  return `# Written by \`miner-cli service install\`; remove with \`miner-cli service uninstall\`.
[Unit]
Description=miner-cli node ${o.name}
Documentation=https://github.com/miner-cli/miner-cli#running-on-rigs
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${cmd.map(quote).join(" ")}
Restart=on-failure
RestartSec=5s
# miners are children of the node: stopping the unit stops them too
KillMode=control-group
TimeoutStopSec=30s
# one descriptor per linked rig: the connection limit follows this (minus a reserve of 384)
LimitNOFILE=65536
${o.scope === "system" && o.user ? `User=${o.user}\n` : ""}NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=${o.writable.map(quote).join(" ")}
PrivateTmp=${o.writable.some((w) => w.startsWith("/tmp/")) ? "no" : "yes"}
PrivateDevices=no
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=${o.scope === "user" ? "default.target" : "multi-user.target"}
`;
}

/**
 * How this program is started again: the compiled binary (its permissions are baked in), or
 * `deno run` with the permission set of the node's role, resolved for its homes and P2P address
 * (the same table `deno task compile` uses).
 */
/** Every value of `--name V` / `--name=V` in `args`, in order. */
function flagValues(args: string[], name: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === `--${name}` && i + 1 < args.length) out.push(args[i + 1]);
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  });
  return out;
}

function selfCommand(role: Flavour, paths: NodePaths, serveArgs: string[]): string[] {
  const exe = Deno.execPath();
  if (!/^deno(\.exe)?$/.test(basename(exe))) return [exe];
  const main = new URL("../../main.ts", import.meta.url);
  if (main.protocol !== "file:") return [exe];
  const listenArg = flagValues(serveArgs, "listen").at(-1);
  const listen = listenArg ? listenPermission(listenArg) : undefined;
  const portArg = flagValues(serveArgs, "discover-port").at(-1);
  if (portArg !== undefined && !/^\d{1,5}$/.test(portArg) || Number(portArg) > 65535) {
    throw new UsageError(
      `--discover-port must be a port number, got ${portArg}`,
      "service install",
    );
  }
  const discoverBroadcast = flagValues(serveArgs, "discover-broadcast");
  return [
    exe,
    "run",
    ...NODE_RUNTIME_FLAGS,
    ...permissionFlags(role, {
      configDir: paths.configDir,
      dataDir: paths.dataDir,
      listen,
      discoverPort: portArg === undefined ? undefined : Number(portArg),
      discoverBroadcast: discoverBroadcast.length ? discoverBroadcast : undefined,
      extraRead: [DASHBOARD_DIR.replace(/[\/\\]$/, "")],
    }),
    decodeURIComponent(main.pathname),
  ];
}

function unitDir(scope: "user" | "system"): string {
  if (scope === "system") return "/etc/systemd/system";
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  const home = Deno.env.get("HOME");
  if (!xdg && !home) throw new UsageError("cannot find the user unit directory: HOME is not set");
  return join(xdg ?? join(home!, ".config"), "systemd", "user");
}

async function systemctl(scope: "user" | "system", args: string[]): Promise<{
  ok: boolean;
  out: string;
}> {
  try {
    const r = await new Deno.Command("systemctl", {
      args: [...(scope === "user" ? ["--user"] : []), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (err) {
    return { ok: false, out: `cannot run systemctl: ${(err as Error).message}` };
  }
}

function scopeOf(p: { values: Record<string, unknown> }, cmd: string): "user" | "system" {
  if (p.values.user && p.values.system) {
    throw new UsageError("give --user or --system, not both", cmd);
  }
  return p.values.system ? "system" : "user";
}

/** `service install`. */
export async function serviceInstall(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "service install";
  if (Deno.build.os !== "linux") {
    throw new UsageError(
      "service install writes a systemd unit (Linux); see the README for launchd (macOS) and Windows",
      cmd,
    );
  }
  const scope = scopeOf(p, cmd);
  // The serve flags are checked now (unknown or malformed flags), not when the unit first starts.
  parseCommandArgs(
    { name: "node serve", summary: "", options: SERVE_OPTIONS },
    p.positionals.filter((a, i) => !(i === 0 && a === "--")),
  );
  const home = ctx.home ?? null;
  const info = JSON.parse(
    await Deno.readTextFile(ctx.paths.nodeJson).catch(() => {
      throw new UsageError("no identity yet: run `miner-cli node init` first", cmd);
    }),
  ) as { name: string; role: Flavour };
  const unit = renderUnit({
    exec: selfCommand(info.role, ctx.paths, p.positionals),
    home,
    writable: [...new Set([ctx.paths.configDir, ctx.paths.dataDir])],
    serveArgs: p.positionals,
    scope,
    user: str(p, "run-as") ??
      (scope === "system" ? Deno.env.get("SUDO_USER") ?? Deno.env.get("USER") : undefined),
    name: info.name,
  });
  if (bool(p, "print")) {
    ctx.io.out(unit.trimEnd());
    return 0;
  }
  const dir = str(p, "unit-dir") ?? unitDir(scope);
  const file = join(dir, UNIT_NAME);
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeFileAtomic(file, new TextEncoder().encode(unit), { mode: 0o644 });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
    // A compiled worker/controller may write only its homes: let the operator place the unit.
    throw new UsageError(
      `this binary's permission set does not let it write ${file}; install the unit yourself: \`${
        basename(Deno.execPath())
      } service install --${scope} --print | ${
        scope === "system" ? "sudo " : ""
      }tee ${file}\` then \`systemctl ${
        scope === "user" ? "--user " : ""
      }daemon-reload && systemctl ${scope === "user" ? "--user " : ""}enable --now ${UNIT_NAME}\``,
      cmd,
    );
  }
  const result: Record<string, unknown> = { unit: file, scope, enabled: false };
  if (!bool(p, "no-enable")) {
    const reload = await systemctl(scope, ["daemon-reload"]);
    const enable = reload.ok ? await systemctl(scope, ["enable", "--now", UNIT_NAME]) : reload;
    if (!enable.ok) {
      throw new UsageError(
        `unit written to ${file}, but systemctl failed: ${
          enable.out || "unknown error"
        }; enable it with \`systemctl ${
          scope === "user" ? "--user " : ""
        }enable --now ${UNIT_NAME}\``,
        cmd,
      );
    }
    result.enabled = true;
  }
  if (bool(p, "json")) ctx.io.out(JSON.stringify(result));
  else {
    ctx.io.out(`wrote ${file}`);
    ctx.io.out(
      result.enabled
        ? `enabled and started ${UNIT_NAME} (${scope}); logs: journalctl ${
          scope === "user" ? "--user " : ""
        }-u ${UNIT_NAME} -f`
        : `not enabled (--no-enable): systemctl ${
          scope === "user" ? "--user " : ""
        }enable --now ${UNIT_NAME}`,
    );
  }
  return 0;
}

/** `service uninstall`. */
export async function serviceUninstall(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "service uninstall";
  const scope = scopeOf(p, cmd);
  const file = join(str(p, "unit-dir") ?? unitDir(scope), UNIT_NAME);
  if (!bool(p, "no-enable")) await systemctl(scope, ["disable", "--now", UNIT_NAME]);
  try {
    await Deno.remove(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UsageError(`no unit at ${file}`, cmd);
    throw err;
  }
  if (!bool(p, "no-enable")) await systemctl(scope, ["daemon-reload"]);
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ removed: file }));
  else ctx.io.out(`removed ${file}`);
  return 0;
}

/** `service status`. */
export async function serviceStatus(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "service status";
  const scope = scopeOf(p, cmd);
  const active = await systemctl(scope, ["is-active", UNIT_NAME]);
  const status = await systemctl(scope, ["status", "--no-pager", "--lines", "10", UNIT_NAME]);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ unit: UNIT_NAME, scope, active: active.out.split("\n")[0] }));
  } else ctx.io.out(status.out || active.out);
  return active.ok ? 0 : 1;
}
