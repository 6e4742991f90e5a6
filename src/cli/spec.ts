/**
 * The declarative shape of a command (name, summary, arguments, options with their defaults) and
 * what is derived from it: argument parsing (`node:util` parseArgs), usage lines and
 * did-you-mean suggestions. The table itself is `commands.ts`.
 * @module
 */
import { parseArgs } from "node:util";
import { MinerCliError } from "../errors/mod.ts";

/** Bad command-line usage. */
export class UsageError extends MinerCliError {
  /** Creates the error (`command`: whose usage line to print). */
  constructor(message: string, readonly command?: string) {
    super(message, { status: 400, code: "bad_request" });
    this.name = "UsageError";
  }
}

/** One option of a command. */
export interface OptionDef {
  /** Long name, without the dashes. */
  name: string;
  /** A flag (`boolean`) or an option with a value (`string`). */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** Repeatable (values collect in an array). */
  multiple?: boolean;
  /** How the value is written in help (`N`, `HOST:PORT`, `D`...). */
  value?: string;
  /** The default, as help shows it. */
  default?: string;
  /** What it does. */
  description: string;
  /** Its value may start with `-` (`--arg --randomx-mode=light`): the next word is taken as is. */
  dashValue?: boolean;
  /** The command needs it (shown in the usage line; the command checks it). */
  required?: boolean;
}

/** One command. */
export interface CommandSpec {
  /** Its words (`peer add`, `status`). */
  name: string;
  /** One line for lists. */
  summary: string;
  /** Positional arguments as usage shows them (`<peer> [miner]`). */
  args?: string;
  /** Its options (`--json` and `--help` are always accepted). */
  options: readonly OptionDef[];
  /** More lines of help under the summary. */
  details?: readonly string[];
  /** Not listed in help, completions or README (internal). */
  hidden?: boolean;
  /** Takes no `--json`. */
  noJson?: boolean;
}

/** Parsed flags and positionals. */
export interface Parsed {
  /** Flag values. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments. */
  positionals: string[];
}

const JSON_OPTION: OptionDef = {
  name: "json",
  type: "boolean",
  description: "print a machine-readable JSON document",
};
const HELP_OPTION: OptionDef = {
  name: "help",
  type: "boolean",
  short: "h",
  description: "show this command's help",
};

/** Every option a command accepts, `--json` and `--help` included. */
export function allOptions(spec: CommandSpec): OptionDef[] {
  return [...spec.options, ...(spec.noJson ? [] : [JSON_OPTION]), HELP_OPTION];
}

/** `--name VALUE`, `--flag`, with its short form. */
export function optionLabel(o: OptionDef): string {
  const long = `--${o.name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

/** The usage line of a command. */
export function usageLine(spec: CommandSpec): string {
  const required = spec.options.filter((o) => o.required).map((o) =>
    o.type === "string" ? `--${o.name} ${o.value ?? "VALUE"}` : `--${o.name}`
  );
  const rest = spec.options.some((o) => !o.required) ? ["[options]"] : [];
  return ["miner-cli", spec.name, ...(spec.args ? [spec.args] : []), ...required, ...rest].join(
    " ",
  );
}

/** Levenshtein distance (for suggestions). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The candidate closest to `word`, when it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length >= 3) {
    const prefixed = candidates.filter((c) => c.startsWith(word));
    if (prefixed.length === 1) return prefixed[0];
  }
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Parses `args` strictly against a command's options. Unknown options are refused with the
 * nearest known one suggested; an option marked `dashValue` takes the next word as its value even
 * when it starts with `-`.
 */
export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): Parsed {
  const options = allOptions(spec);
  const dashValued = new Set(options.filter((o) => o.dashValue).map((o) => `--${o.name}`));
  const prepared: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      prepared.push(...args.slice(i));
      break;
    }
    if (dashValued.has(a) && i + 1 < args.length) {
      prepared.push(`${a}=${args[++i]}`);
      continue;
    }
    prepared.push(a);
  }
  const config: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> =
    {};
  for (const o of options) {
    config[o.name] = {
      type: o.type,
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: prepared,
      options: config,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    throw new UsageError(explainParseError(spec, (err as Error).message), spec.name);
  }
}

/** Turns parseArgs' wording into a sentence, with a suggestion for an unknown option. */
function explainParseError(spec: CommandSpec, message: string): string {
  const names = allOptions(spec).map((o) => `--${o.name}`);
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message);
  if (unknown) {
    const flag = unknown[1].split("=")[0];
    const guess = nearest(flag, names);
    return `${spec.name} has no option ${flag}${
      guess ? `; did you mean ${guess}?` : ""
    } (see \`miner-cli help ${spec.name}\`)`;
  }
  const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
  if (missing) return `${missing[1]} needs a value`;
  const ambiguous = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous) {
    return `${ambiguous[1]} needs a value, and the next word starts with "-"; write ${
      ambiguous[1]
    }=VALUE if that is the value`;
  }
  const notTakingValue = /Option '(--[\w-]+)' does not take an argument/.exec(message);
  if (notTakingValue) return `${notTakingValue[1]} takes no value`;
  return message.replace(/\. To specify a positional.*$/s, "");
}
