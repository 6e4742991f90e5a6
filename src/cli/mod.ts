/**
 * The `miner-cli` command line.
 * @module
 */
import { resolve } from "node:path";
import { IdentityError } from "../identity/mod.ts";
import { AmbiguousPeerError, PeerNotFoundError } from "../peers/mod.ts";
import { ProfileValidationError } from "../miners/mod.ts";
import { SOFTWARE_VERSION } from "../protocol/mod.ts";
import { BundleError } from "../bundles/mod.ts";
import { CorruptFileError, resolvePaths } from "../store/mod.ts";
import { UsageError } from "./args.ts";
import { assertHomesPermitted, PermissionSetError } from "./permissions.ts";
import type { CliContext, CommandFn } from "./context.ts";
import { type Output, stdio } from "./format.ts";
import { commandHelp, globalHelp } from "./help.ts";
import {
  emulateMiner,
  nodeInfo,
  nodeInit,
  nodePairCode,
  nodePolicy,
  nodeReset,
  nodeServe,
  nodeSet,
  simulate,
} from "./node_commands.ts";
import {
  remoteDeploy,
  remoteLogs,
  remoteStart,
  remoteStatus,
  remoteStop,
} from "./remote_commands.ts";
import { bundleCreate, bundleInspect } from "./bundle_commands.ts";
import {
  completions,
  serviceInstall,
  serviceStatus,
  serviceUninstall,
} from "./service_commands.ts";
import {
  minerLogs,
  minerPauseResume,
  minersList,
  minerStart,
  minerStatus,
  minerStdin,
  minerStop,
} from "./miner_commands.ts";
import {
  profileAdd,
  profileEdit,
  profileList,
  profileRemove,
  profileShow,
} from "./profile_commands.ts";
import {
  peerAdd,
  peerAllow,
  peerApprove,
  peerAuthMode,
  peerGrant,
  peerList,
  peerOptimal,
  peerPending,
  peerPing,
  peerReject,
  peerRemove,
  peerRevoke,
  peerSet,
} from "./peer_commands.ts";

export { UsageError } from "./args.ts";
export { DEV_PERMISSION_FLAGS, NODE_RUNTIME_FLAGS } from "./run_flags.ts";
export {
  assertHomesPermitted,
  ENV_VARS,
  type Flavour,
  FLAVOUR_BINARY,
  type FlavourPermissions,
  flavourPermissions,
  FLAVOURS,
  listenPermission,
  MINER_SLOTS,
  PERMISSION_TABLE,
  permissionFlags,
  type PermissionLayout,
  PermissionLayoutError,
  type PermissionRule,
  PermissionSetError,
  SYS_INFO,
  type TargetOs,
} from "./permissions.ts";
export type { Output } from "./format.ts";

const COMMANDS: Record<string, CommandFn> = {
  "node init": nodeInit,
  "node info": nodeInfo,
  "node set": nodeSet,
  "node reset": nodeReset,
  "node pair-code": nodePairCode,
  "node policy": nodePolicy,
  "node serve": nodeServe,
  "peer add": peerAdd,
  "peer list": peerList,
  "peer remove": peerRemove,
  "peer set": peerSet,
  "peer ping": peerPing,
  "peer allow": peerAllow,
  "peer revoke": peerRevoke,
  "peer grant": peerGrant(false),
  "peer ungrant": peerGrant(true),
  "peer auth-mode": peerAuthMode,
  "peer optimal": peerOptimal,
  "peer pending": peerPending,
  "peer approve": peerApprove,
  "peer reject": peerReject,
  start: minerStart,
  stop: minerStop,
  status: minerStatus,
  logs: minerLogs,
  pause: minerPauseResume("pause"),
  resume: minerPauseResume("resume"),
  stdin: minerStdin,
  "miners list": minersList,
  "profile add": profileAdd,
  "profile list": profileList,
  "profile show": profileShow,
  "profile edit": profileEdit,
  "profile remove": profileRemove,
  "remote status": remoteStatus,
  "remote start": remoteStart,
  "remote stop": remoteStop,
  "remote logs": remoteLogs,
  "remote deploy": remoteDeploy,
  "bundle create": bundleCreate,
  "bundle inspect": bundleInspect,
  "service install": serviceInstall,
  "service uninstall": serviceUninstall,
  "service status": serviceStatus,
  completions,
  simulate,
  "__emulate-miner": emulateMiner,
};

/** Commands that never touch the node's homes (no permission check at start). */
const HOMELESS = new Set(["completions", "__emulate-miner"]);

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** Output streams (default: the process's). */
  io?: Output;
  /** Aborted when the process should stop (SIGINT/SIGTERM). */
  stopSignal?: AbortSignal;
}

/** Runs one command line and returns the exit code (0 ok, 1 error). */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<number> {
  const io = options.io ?? stdio;
  const args = [...argv];
  let home: string | undefined;
  while (args.length && args[0].startsWith("-")) {
    const a = args.shift()!;
    if (a === "--home") {
      home = args.shift();
      if (!home || home.startsWith("-")) {
        return usage(io, new UsageError("--home needs a directory"));
      }
    } else if (a.startsWith("--home=")) home = a.slice(7);
    else if (a === "--version" || a === "-V") {
      io.out(`miner-cli ${SOFTWARE_VERSION}`);
      return 0;
    } else if (a === "--help" || a === "-h") {
      io.out(globalHelp());
      return 0;
    } else return usage(io, new UsageError(`unknown global option ${a}`));
  }
  if (args.length === 0) {
    io.out(globalHelp());
    return 1;
  }
  if (args[0] === "help") {
    const name = args.slice(1).join(" ");
    if (!name) {
      io.out(globalHelp());
      return 0;
    }
    const text = commandHelp(name);
    if (!text) return usage(io, new UsageError(`unknown command ${JSON.stringify(name)}`));
    io.out(text);
    return 0;
  }
  const single = COMMANDS[args[0]] ? args[0] : undefined;
  const name = single ?? `${args[0]} ${args[1] ?? ""}`.trim();
  const fn = COMMANDS[name];
  if (!fn) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(args[0] + " "));
    return usage(
      io,
      new UsageError(
        group.length
          ? `unknown ${args[0]} command ${JSON.stringify(args[1] ?? "")}; one of: ${
            group.map((g) => g.split(" ")[1]).join(", ")
          }`
          : `unknown command ${JSON.stringify(args[0])}`,
      ),
    );
  }
  const rest = args.slice(single ? 1 : 2);
  if (name !== "__emulate-miner" && (rest.includes("--help") || rest.includes("-h"))) {
    io.out(commandHelp(name)!);
    return 0;
  }
  let ctx: CliContext;
  try {
    ctx = {
      paths: resolvePaths({ home }),
      home: (home ?? Deno.env.get("MINER_CLI_HOME"))
        ? resolve(home ?? Deno.env.get("MINER_CLI_HOME")!)
        : undefined,
      io,
      stopSignal: options.stopSignal ?? new AbortController().signal,
    };
    if (!HOMELESS.has(name)) assertHomesPermitted(ctx.paths.configDir, ctx.paths.dataDir);
  } catch (err) {
    io.err(`error: ${explainPermission((err as Error).message)}`);
    return 1;
  }
  try {
    return await fn(ctx, rest);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err);
    if (err instanceof ProfileValidationError) return usage(io, new UsageError(err.message, name));
    io.err(`error: ${describeError(err)}`);
    if (Deno.env.get("MINER_CLI_DEBUG")) io.err(String((err as Error)?.stack));
    return 1;
  }
}

function usage(io: Output, err: UsageError): number {
  io.err(`error: ${explainPermission(err.message)}`);
  if (err.command && commandHelp(err.command)) {
    io.err(`usage: ${commandHelp(err.command)!.split("\n")[0].slice(7)}`);
  } else io.err("run `miner-cli help` for the list of commands");
  return 1;
}

function describeError(err: unknown): string {
  return explainPermission(errorText(err));
}

/** Deno's "run again with --allow-x" hint is wrong for a compiled binary: say what it means. */
function explainPermission(message: string): string {
  return message.replace(
    /, run again with the --allow-[\w-]+ flag/g,
    ` (not in this binary's permission set; see README, "Permission sets")`,
  );
}

function errorText(err: unknown): string {
  if (
    err instanceof IdentityError || err instanceof CorruptFileError ||
    err instanceof PeerNotFoundError ||
    err instanceof AmbiguousPeerError || err instanceof BundleError ||
    err instanceof PermissionSetError
  ) return err.message;
  if (err instanceof Deno.errors.PermissionDenied) return `permission denied: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
