/**
 * The command table (`src/cli/commands.ts`) is the one source of the CLI's commands and options:
 * `help`, the shell completions and README's command reference must each list exactly its
 * options, and every flag a command handler reads must be declared in it. Each check is also run
 * against a copy with one flag removed, to show it would catch that.
 * @module
 */
import assert from "node:assert/strict";
import {
  allOptions,
  type Command,
  COMMANDS,
  completionScript,
  REFERENCE_MARKERS,
} from "../src/cli/mod.ts";
import { commandHelp } from "../src/cli/help.ts";
import { ROOT } from "./helpers.ts";

const SHOWN = COMMANDS.filter((c) => !c.hidden);
const FLAG = /--[a-z][a-z0-9-]*/g;

/** The flags a command declares, `--json` and `--help` included. */
function declared(c: Command): Set<string> {
  return new Set(allOptions(c).map((o) => `--${o.name}`));
}

/** What differs between what a place lists for each command and the table. */
function drift(
  where: string,
  listed: Map<string, Set<string>>,
  expect: (c: Command) => Set<string>,
): string[] {
  const problems: string[] = [];
  for (const c of SHOWN) {
    const have = listed.get(c.name);
    if (!have) {
      problems.push(`${where}: no entry for \`${c.name}\``);
      continue;
    }
    const want = expect(c);
    for (const f of want) if (!have.has(f)) problems.push(`${where}: \`${c.name}\` lacks ${f}`);
    for (const f of have) if (!want.has(f)) problems.push(`${where}: \`${c.name}\` lists ${f}`);
  }
  return problems;
}

/** The flags in the options section of each command's help text. */
function helpFlags(help: (name: string) => string | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of SHOWN) {
    const text = help(c.name);
    if (text === undefined) continue;
    const section = text.slice(text.indexOf("\noptions:\n"));
    const flags = new Set<string>();
    for (const line of section.split("\n")) {
      const m = /^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
      if (m) flags.add(m[1]);
    }
    out.set(c.name, flags);
  }
  return out;
}

/** The flags bash completes after each command (`"peer add") opts="...";;`). */
function bashFlags(script: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of script.matchAll(/^\s+"?([a-z-]+(?: [a-z-]+){0,2})"?\) opts="([^"]*)";;$/gm)) {
    out.set(m[1], new Set(m[2].split(" ").filter(Boolean)));
  }
  return out;
}

/** The flags fish completes for each command (`-n "... from peer; and ... from add" -l x`). */
function fishFlags(script: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const re =
    /^complete -c miner-cli -n "__fish_seen_subcommand_from ([a-z-]+)(?:; and __fish_seen_subcommand_from ([a-z-]+))?(?:; and __fish_seen_subcommand_from ([a-z-]+))?" -l ([a-z0-9-]+)$/gm;
  for (const m of script.matchAll(re)) {
    const name = [m[1], m[2], m[3]].filter(Boolean).join(" ");
    if (!out.has(name)) out.set(name, new Set());
    out.get(name)!.add(`--${m[4]}`);
  }
  return out;
}

/**
 * The flags README's generated reference gives each command: its usage (required options), its
 * row's options cell or, for "see below", the paragraph under the table; "every `X` option"
 * stands for X's flags.
 */
function readmeFlags(readme: string): Map<string, Set<string>> {
  const a = readme.indexOf(REFERENCE_MARKERS.begin);
  const b = readme.indexOf(REFERENCE_MARKERS.end);
  assert.ok(a >= 0 && b > a, "README has the command reference markers");
  const text = readme.slice(a, b);
  const names = SHOWN.map((c) => c.name).sort((x, y) => y.length - x.length);
  const commandOf = (usage: string) => names.find((n) => usage === n || usage.startsWith(`${n} `));
  const raw = new Map<string, { flags: Set<string>; every: string[] }>();
  const parse = (name: string, cells: string) => {
    const entry = raw.get(name) ?? { flags: new Set<string>(), every: [] };
    for (const f of cells.match(FLAG) ?? []) entry.flags.add(f);
    for (const m of cells.matchAll(/every `([a-z -]+)` option/g)) entry.every.push(m[1]);
    raw.set(name, entry);
  };
  for (const row of text.split("\n")) {
    const m = /^\| `(.+?)` +\| .* \| (.*) \|$/.exec(row.replaceAll("\\|", "¦"));
    if (!m) continue;
    const name = commandOf(m[1].replaceAll("¦", "|"));
    if (!name) continue;
    parse(name, m[1].slice(name.length) + " " + (m[2].trim() === "see below" ? "" : m[2]));
  }
  for (const m of text.matchAll(/\*\*`([a-z -]+)`\*\* options[^:]*:([\s\S]*?)\n\n/g)) {
    parse(m[1], m[2]);
  }
  const out = new Map<string, Set<string>>();
  for (const [name, { flags, every }] of raw) {
    const all = new Set(flags);
    for (const owner of every) for (const f of raw.get(owner)?.flags ?? []) all.add(f);
    out.set(name, all);
  }
  return out;
}

/** Flags a handler reads (`str(p, "x")`, `bool(p, "x")`, `p.values["x"]`, ...). */
function flagsRead(source: string): string[] {
  const re =
    /\b(?:str|bool|int|num|duration|requireStr)\(p, "([a-z0-9-]+)"|p\.values\["([a-z0-9-]+)"\]/g;
  return [...source.matchAll(re)].map((m) => `--${m[1] ?? m[2]}`);
}

/** The body of each exported command handler in a source file (up to its closing brace). */
function handlerBodies(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of source.matchAll(/^export async function (\w+)\(ctx: CliContext, p: Parsed\)/gm)) {
    const end = source.indexOf("\n}\n", m.index);
    out.set(m[1], source.slice(m.index, end < 0 ? source.length : end));
  }
  return out;
}

/** Reads of undeclared flags: by each handler itself, and anywhere in the CLI's sources. */
function undeclaredReads(sources: Record<string, string>): string[] {
  const problems: string[] = [];
  const everywhere = new Set(SHOWN.flatMap((c) => [...declared(c)]));
  for (const c of COMMANDS.filter((x) => x.hidden)) for (const f of declared(c)) everywhere.add(f);
  for (const [file, source] of Object.entries(sources)) {
    for (const f of flagsRead(source)) {
      if (!everywhere.has(f)) problems.push(`${file} reads ${f}, which no command declares`);
    }
    for (const [fn, body] of handlerBodies(source)) {
      const commands = COMMANDS.filter((c) => c.run?.name === fn);
      for (const c of commands) {
        for (const f of flagsRead(body)) {
          if (!declared(c).has(f)) {
            problems.push(`${file}: ${fn} (${c.name}) reads undeclared ${f}`);
          }
        }
      }
    }
  }
  return problems;
}

const withoutHelp = (c: Command) => new Set([...declared(c)].filter((f) => f !== "--help"));

Deno.test("command table: help lists exactly each command's options; a dropped one is caught", () => {
  assert.deepEqual(drift("help", helpFlags(commandHelp), declared), []);
  const broken = (name: string) =>
    name === "peer add"
      ? commandHelp(name)!.split("\n").filter((l) => !l.includes("--timeout")).join("\n")
      : commandHelp(name);
  assert.deepEqual(drift("help", helpFlags(broken), declared), [
    "help: `peer add` lacks --timeout",
  ]);
});

Deno.test("command table: bash, zsh and fish complete exactly each command's options; a dropped one is caught", () => {
  for (const shell of ["bash", "zsh"]) {
    const script = completionScript(shell, COMMANDS)!;
    assert.deepEqual(drift(shell, bashFlags(script), declared), []);
    const broken = script.replace(/("peer add"\) opts="[^"]*?) --timeout/, "$1");
    assert.notEqual(broken, script);
    assert.deepEqual(drift(shell, bashFlags(broken), declared), [
      `${shell}: \`peer add\` lacks --timeout`,
    ]);
  }
  const fish = completionScript("fish", COMMANDS)!;
  assert.deepEqual(drift("fish", fishFlags(fish), declared), []);
  const broken = fish.split("\n").filter((l) =>
    !(l.includes("from peer; and __fish_seen_subcommand_from add") && l.endsWith("-l timeout"))
  ).join("\n");
  assert.deepEqual(drift("fish", fishFlags(broken), declared), [
    "fish: `peer add` lacks --timeout",
  ]);
});

Deno.test("command table: README's command reference lists exactly each command's options and is current; a dropped one is caught", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  assert.deepEqual(drift("README", readmeFlags(readme), withoutHelp), []);
  // one flag gone from one row (peer add's --timeout), and one from the node serve paragraph
  const row = readme.split("\n").find((l) => l.startsWith("| `peer add "))!;
  const brokenRow = readme.replace(row, row.replace(/, `--timeout D` \(10s\)/, ""));
  assert.notEqual(brokenRow, readme);
  assert.deepEqual(drift("README", readmeFlags(brokenRow), withoutHelp), [
    "README: `peer add` lacks --timeout",
  ]);
  const brokenPara = readme.replace(/`--join-secret-file FILE`, /, "");
  assert.notEqual(brokenPara, readme);
  assert.deepEqual(
    drift("README", readmeFlags(brokenPara), withoutHelp).filter((p) => p.includes("node serve")),
    ["README: `node serve` lacks --join-secret-file"],
  );
  // and README holds exactly what `deno task docs` would write
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run", `${ROOT}scripts/gen_docs.ts`, "--check"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
});

Deno.test("command table: every flag a handler reads is declared; an undeclared read is caught", async () => {
  const sources: Record<string, string> = {};
  for await (const e of Deno.readDir(`${ROOT}src/cli`)) {
    if (e.name.endsWith(".ts")) {
      sources[e.name] = await Deno.readTextFile(`${ROOT}src/cli/${e.name}`);
    }
  }
  assert.ok(Object.values(sources).some((s) => flagsRead(s).length > 40), "reads were found");
  assert.deepEqual(undeclaredReads(sources), []);
  const planted = sources["peer_commands.ts"].replace(
    "export async function peerOptimal(ctx: CliContext, p: Parsed): Promise<number> {",
    `export async function peerOptimal(ctx: CliContext, p: Parsed): Promise<number> {
  const w = str(p, "weights");`,
  );
  assert.notEqual(planted, sources["peer_commands.ts"]);
  assert.deepEqual(undeclaredReads({ ...sources, "peer_commands.ts": planted }), [
    "peer_commands.ts reads --weights, which no command declares",
    "peer_commands.ts: peerOptimal (peer optimal) reads undeclared --weights",
  ]);
});
