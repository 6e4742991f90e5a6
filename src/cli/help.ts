/**
 * Help text, rendered from the command table: the list of every command, a group's commands
 * (`help node`, `node --help`, `node`), and one command's usage with its options and defaults.
 * @module
 */
import { type Command, COMMANDS, GROUPS } from "./commands.ts";
import { allOptions, optionLabel, usageLine } from "./spec.ts";

const shown = (): Command[] => COMMANDS.filter((c) => !c.hidden);

function rows(list: readonly [string, string][]): string[] {
  const w = Math.max(...list.map(([a]) => a.length));
  return list.map(([a, d]) => `  ${a.padEnd(w)}  ${d}`);
}

/** The whole list. */
export function globalHelp(): string {
  const lines = [
    "miner-cli — fleet manager for crypto-mining rigs",
    "",
    "usage: miner-cli [--home DIR] <command> [options]",
    "",
    "global options (anywhere before `--`):",
    ...rows([
      ["--home DIR", "keep all config and data under DIR (also MINER_CLI_HOME)"],
      ["--version", "print the version"],
      ["--help", "show help"],
    ]),
  ];
  const grouped = new Set<string>();
  for (const [group, what] of Object.entries(GROUPS)) {
    const cmds = shown().filter((c) => c.name.startsWith(`${group} `));
    cmds.forEach((c) => grouped.add(c.name));
    lines.push("", `${group}: ${what}`, ...rows(cmds.map((c) => [c.name, c.summary])));
  }
  const rest = shown().filter((c) => !grouped.has(c.name));
  lines.push("", "on this node's miners, and the CLI itself:");
  lines.push(...rows(rest.map((c) => [c.name, c.summary])));
  lines.push("", "`miner-cli help <command>` shows a command's options; `help <group>` a group");
  return lines.join("\n");
}

/** The commands of a group, or undefined when `group` is none. */
export function groupHelp(group: string): string | undefined {
  if (!(group in GROUPS)) return undefined;
  const cmds = shown().filter((c) => c.name.startsWith(`${group} `));
  return [
    `miner-cli ${group}: ${GROUPS[group]}`,
    "",
    `usage: miner-cli ${group} <command> [options]`,
    "",
    "commands:",
    ...rows(cmds.map((c) => [c.name.slice(group.length + 1), c.summary])),
    "",
    `\`miner-cli help ${group} <command>\` shows a command's options`,
  ].join("\n");
}

/** One command's help, or undefined for an unknown one. */
export function commandHelp(name: string): string | undefined {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) return undefined;
  const lines = [`usage: ${usageLine(c)}`, "", c.summary, ...(c.details ?? [])];
  const opts = allOptions(c);
  lines.push(
    "",
    "options:",
    ...rows(opts.map((o) => [
      optionLabel(o),
      `${o.description}${o.default !== undefined ? ` (default ${o.default})` : ""}${
        o.multiple ? "; repeatable" : ""
      }`,
    ])),
  );
  return lines.join("\n");
}
