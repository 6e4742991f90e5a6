/**
 * README's command reference, rendered from the command table: `deno task docs` writes it between
 * the {@link REFERENCE_MARKERS}, and a test checks README holds exactly this and that every option
 * of every command appears in its row.
 * @module
 */
import { COMMANDS, GROUPS } from "./commands.ts";
import { PROFILE_OPTIONS, SERVE_OPTIONS } from "./options.ts";
import { allOptions, type CommandSpec, type OptionDef, usageLine } from "./spec.ts";

const cell = (s: string) => s.replaceAll("|", "\\|");

/**
 * Option lists shared by several commands: the reference lists them at their owner and says
 * "every `<owner>` option" elsewhere (the test expands the phrase back).
 */
export const SHARED_OPTION_SETS: readonly { owner: string; options: readonly OptionDef[] }[] = [
  { owner: "node serve", options: SERVE_OPTIONS },
  { owner: "profile add", options: PROFILE_OPTIONS },
];

/** How the reference names a shared set in another command's row. */
export const sharedSetPhrase = (owner: string): string => `every \`${owner}\` option`;

function optionText(o: OptionDef): string {
  const name = `\`--${o.name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}\``;
  return `${name}${o.default !== undefined ? ` (${o.default})` : ""}`;
}

/** Commands with more options than this list them in a paragraph under their table. */
const LONG_OPTION_LIST = 10;

/** Wraps words (each kept whole) at `width` columns, as markdown prose. */
function wrap(words: readonly string[], width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}

/** A command's options as its row lists them (required ones are in the usage). */
function optionsCell(c: CommandSpec): string {
  let options = allOptions(c).filter((o) => !o.required && o.name !== "help");
  const parts: string[] = [];
  for (const set of SHARED_OPTION_SETS) {
    if (set.owner === c.name) continue;
    const names = new Set(set.options.map((o) => o.name));
    if (set.options.every((o) => options.some((x) => x.name === o.name))) {
      options = options.filter((o) => !names.has(o.name));
      parts.push(sharedSetPhrase(set.owner));
    }
  }
  return [...options.map(optionText), ...parts].join(", ") || "–";
}

/**
 * The markdown reference: one table per command group, then the other commands.
 *
 * @example
 * ```ts
 * import { commandReference } from "./reference.ts";
 * console.log(commandReference().split("\n")[0]); // "### node: this node: ..."
 * ```
 */
export function commandReference(): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
  const out: string[] = [];
  const table = (title: string, names: string[]) => {
    out.push(
      `### ${title}`,
      "",
      "| command | what it does | options (default) |",
      "| --- | --- | --- |",
    );
    const long: CommandSpec[] = [];
    for (const n of names) {
      const c = shown.find((x) => x.name === n)!;
      const usage = usageLine(c).replace(/^miner-cli /, "").replace(/ \[options\]$/, "");
      const options = optionsCell(c);
      const isLong = options.split("`, `").length > LONG_OPTION_LIST;
      if (isLong) long.push(c);
      out.push(
        `| \`${cell(usage)}\` | ${cell(c.summary)} | ${isLong ? "see below" : cell(options)} |`,
      );
    }
    out.push("");
    for (const c of long) {
      const items = optionsCell(c).split(", ");
      out.push(
        wrap([
          ..."**`__`** options (defaults in parentheses):".replace("__", c.name).split(" "),
          ...items.map((item, i) => item + (i === items.length - 1 ? "." : ",")),
        ]),
      );
      out.push("");
    }
  };
  const grouped = new Set<string>();
  for (const [group, what] of Object.entries(GROUPS)) {
    const names = shown.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name);
    names.forEach((n) => grouped.add(n));
    table(`${group}: ${what}`, names);
  }
  table(
    "this node's miners, and the CLI itself",
    shown.filter((c) => !grouped.has(c.name)).map((c) => c.name),
  );
  return out.join("\n").trimEnd();
}

/** The markers README's generated part sits between. */
export const REFERENCE_MARKERS = {
  begin: "<!-- commands:begin (generated from src/cli/commands.ts by `deno task docs`) -->",
  end: "<!-- commands:end -->",
} as const;

/** README with its generated part replaced by {@link commandReference}. */
export function withReference(readme: string): string {
  const a = readme.indexOf(REFERENCE_MARKERS.begin);
  const b = readme.indexOf(REFERENCE_MARKERS.end);
  if (a < 0 || b < a) throw new Error("README has no command reference markers");
  return readme.slice(0, a + REFERENCE_MARKERS.begin.length) + "\n\n" + commandReference() +
    "\n\n" + readme.slice(b);
}
