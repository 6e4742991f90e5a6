/**
 * The `miner-cli` command line: the dispatcher over the command table (`commands.ts`), which
 * also gives help, completions and README's command reference.
 *
 * @example
 * ```ts
 * import { runCli } from "./mod.ts";
 * const lines: string[] = [];
 * const code = await runCli(["help", "node"], {
 *   io: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
 * });
 * // code === 0; lines[0] starts with "miner-cli node: this node"
 * ```
 * @module
 */
import { resolve } from "node:path";
import { MinerCliError } from "../errors/mod.ts";
import { SOFTWARE_VERSION } from "../protocol/mod.ts";
import { resolvePaths } from "../store/mod.ts";
import { type Command, COMMANDS, findCommand, GROUPS } from "./commands.ts";
import { completionScript } from "./completions.ts";
import type { CliContext } from "./context.ts";
import { type Output, stdio } from "./format.ts";
import { commandHelp, globalHelp, groupHelp } from "./help.ts";
import { assertHomesPermitted } from "./permissions.ts";
import { nearest, parseCommandArgs, type Parsed, UsageError, usageLine } from "./spec.ts";

export { UsageError } from "./spec.ts";
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
export { type Output, sanitizingOutput } from "./format.ts";
export { type Command, COMMANDS, GROUPS } from "./commands.ts";
export { allOptions, type CommandSpec, type OptionDef, optionLabel, usageLine } from "./spec.ts";
export { completionScript } from "./completions.ts";
export {
  commandReference,
  REFERENCE_MARKERS,
  SHARED_OPTION_SETS,
  sharedSetPhrase,
  withReference,
} from "./reference.ts";

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** Output streams (default: the process's). */
  io?: Output;
  /** Aborted when the process should stop (SIGINT/SIGTERM). */
  stopSignal?: AbortSignal;
}

/** Global options, taken from anywhere before `--`. */
interface Globals {
  home?: string;
  version: boolean;
  help: boolean;
  rest: string[];
}

function takeGlobals(argv: readonly string[]): Globals {
  const g: Globals = { version: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      g.rest.push(...argv.slice(i));
      break;
    }
    if (a === "--home") {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("-")) throw new UsageError("--home needs a directory");
      g.home = v;
      i++;
    } else if (a.startsWith("--home=")) g.home = a.slice(7);
    else if ((a === "--version" || a === "-V") && g.rest.length === 0) g.version = true;
    else if ((a === "--help" || a === "-h")) g.help = true;
    else g.rest.push(a);
  }
  return g;
}

/** The command `words` start with, and the words after it. */
function resolveCommand(words: readonly string[]): { command?: Command; rest: string[] } {
  // The longest match: `alerts channels add`, then `peer add`, then `status`.
  for (let n = 3; n >= 1; n--) {
    const head = words.slice(0, n);
    if (head.length < n || head.some((w) => w.startsWith("-"))) continue;
    const c = findCommand(head.join(" "));
    if (c) return { command: c, rest: words.slice(n) };
  }
  return { rest: words.slice(1) };
}

/** Why `words` name no command, with the nearest one. */
function unknownCommand(words: readonly string[]): UsageError {
  const [first, second, third] = words;
  const names = COMMANDS.filter((c) => !c.hidden).map((c) => c.name);
  const prefix = `${first} ${second} `;
  if (first in GROUPS && second !== undefined && names.some((n) => n.startsWith(prefix))) {
    const subs = names.filter((n) => n.startsWith(prefix)).map((n) => n.split(" ")[2]);
    const guess = third === undefined ? undefined : nearest(third, subs);
    return new UsageError(
      `${first} ${second} ${
        third === undefined ? "needs a command" : `has no command ${JSON.stringify(third)}`
      }${guess ? `; did you mean \`${first} ${second} ${guess}\`?` : ""} (its commands: ${
        subs.join(", ")
      })`,
      `${first} ${second}`,
    );
  }
  if (first in GROUPS && second !== undefined) {
    const subs = [
      ...new Set(names.filter((n) => n.startsWith(`${first} `)).map((n) => n.split(" ")[1])),
    ];
    const guess = nearest(second, subs);
    return new UsageError(
      `${first} has no command ${JSON.stringify(second)}${
        guess ? `; did you mean \`${first} ${guess}\`?` : ""
      } (its commands: ${subs.join(", ")})`,
      first,
    );
  }
  const firstWords = [...new Set(names.map((n) => n.split(" ")[0]))];
  const guess = nearest(first, firstWords);
  return new UsageError(
    `unknown command ${JSON.stringify(first)}${guess ? `; did you mean \`${guess}\`?` : ""}`,
  );
}

/** Runs one command line and returns the exit code (0 ok, 1 error, 2 partial, per command). */
export async function runCli(argv: string[], options: RunCliOptions = {}): Promise<number> {
  const io = options.io ?? stdio;
  let g: Globals;
  try {
    g = takeGlobals(argv);
  } catch (err) {
    return usage(io, err as UsageError);
  }
  if (g.version) {
    io.out(`miner-cli ${SOFTWARE_VERSION}`);
    return 0;
  }
  const words = g.rest;
  if (words.length === 0) {
    io.out(globalHelp());
    return g.help ? 0 : 1;
  }
  if (words[0] === "help") {
    const topic = words.slice(1).join(" ");
    if (!topic) {
      io.out(globalHelp());
      return 0;
    }
    const text = commandHelp(topic) ?? groupHelp(topic);
    if (!text) return usage(io, unknownCommand(words.slice(1)));
    io.out(text);
    return 0;
  }
  if (words[0].startsWith("-")) {
    return usage(
      io,
      new UsageError(
        `unknown global option ${
          words[0]
        }: before the command come only --home DIR, --version and --help`,
      ),
    );
  }
  const { command, rest } = resolveCommand(words);
  if (!command) {
    // A group alone, or asking for its help: its commands.
    if (words[0] in GROUPS && (words.length === 1 || words[1].startsWith("-"))) {
      io.out(groupHelp(words[0])!);
      return g.help ? 0 : 1;
    }
    return usage(io, unknownCommand(words));
  }
  if (g.help && !command.raw) {
    io.out(commandHelp(command.name)!);
    return 0;
  }
  let ctx: CliContext;
  try {
    ctx = {
      paths: resolvePaths({ home: g.home }),
      home: (g.home ?? Deno.env.get("MINER_CLI_HOME"))
        ? resolve(g.home ?? Deno.env.get("MINER_CLI_HOME")!)
        : undefined,
      io,
      stopSignal: options.stopSignal ?? new AbortController().signal,
    };
    if (!command.homeless) assertHomesPermitted(ctx.paths.configDir, ctx.paths.dataDir);
  } catch (err) {
    io.err(`error: ${explainPermission((err as Error).message)}`);
    return 1;
  }
  try {
    const p: Parsed = command.raw
      ? { values: {}, positionals: rest }
      : parseCommandArgs(command, rest);
    if (command.arity) checkArity(command, p.positionals);
    if (command.name === "help") return 0; // handled above
    if (command.name === "completions") {
      const script = completionScript(p.positionals[0], COMMANDS);
      if (!script) {
        throw new UsageError(
          `completions knows bash, zsh and fish, not ${JSON.stringify(p.positionals[0])}`,
          command.name,
        );
      }
      io.out(script.trimEnd());
      return 0;
    }
    return await command.run!(ctx, p);
  } catch (err) {
    if (err instanceof UsageError) {
      return usage(io, err.command ? err : new UsageError(err.message, command.name));
    }
    io.err(`error: ${describeError(err)}`);
    if (Deno.env.get("MINER_CLI_DEBUG")) io.err(String((err as Error)?.stack));
    return 1;
  }
}

function checkArity(c: Command, positionals: readonly string[]): void {
  const n = positionals.length;
  const [min, max] = c.arity!;
  if (n >= min && n <= max) return;
  const want = min === max
    ? `${min === 0 ? "no" : min} argument${min === 1 ? "" : "s"}`
    : max >= 1_000_000
    ? `at least ${min} argument${min === 1 ? "" : "s"}`
    : `${min} to ${max} arguments`;
  throw new UsageError(
    n > max && max === 0
      ? `unexpected argument ${positionals[0]}: ${c.name} takes no arguments`
      : `${c.name} takes ${want}${c.args ? ` (${c.args})` : ""}, got ${n}`,
    c.name,
  );
}

/** Prints the error, then the command's usage line once. */
function usage(io: Output, err: UsageError): number {
  const message = err.message.replace(/^usage: miner-cli /, "usage: ");
  io.err(
    `error: ${
      explainPermission(message.startsWith("usage: ") ? `wrong arguments (${message})` : message)
    }`,
  );
  const spec = err.command ? findCommand(err.command) : undefined;
  if (spec) io.err(`usage: ${usageLine(spec)}   (miner-cli help ${spec.name})`);
  else if (err.command && err.command in GROUPS) {
    io.err(`run \`miner-cli help ${err.command}\` for its commands`);
  } else io.err("run `miner-cli help` for the list of commands");
  return 1;
}

function describeError(err: unknown): string {
  if (err instanceof Deno.errors.PermissionDenied) {
    return explainPermission(`permission denied: ${err.message}`);
  }
  if (err instanceof MinerCliError || err instanceof Error) return explainPermission(err.message);
  return String(err);
}

/** Deno's "run again with --allow-x" hint is wrong for a compiled binary: say what it means. */
function explainPermission(message: string): string {
  return message.replace(
    /, run again with the --allow-[\w-]+ flag/g,
    ` (not in this binary's permission set; see README, "Permission sets")`,
  );
}
