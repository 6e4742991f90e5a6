/**
 * `deno task check:imports`: the module rules of `src/`, checked from the import statements.
 *
 * - A module is a folder under `src/` (the dashboard's browser code, `src/ui/app/`, counts as its
 *   own module, `ui/app`). A module imports another only through its `mod.ts`, never its insides.
 * - `src/node` and `src/api` never import each other (the composition root, `src/daemon`, adapts
 *   one to the other).
 * - Layers: a module imports only modules of lower layers (see `LAYERS`); so there are no cycles.
 *   The dashboard (`ui/app`) sits on top and imports only types (`import type`), so nothing of the
 *   node is bundled into it.
 *
 * Prints every violation and exits 1 when there is one; exits 0 with a summary otherwise.
 *
 * usage: deno run --allow-read scripts/check_imports.ts [--json]
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Layers, lowest first: a module may import modules of lower layers only. */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors"],
  ["store", "log", "terminal", "backoff", "netaddr", "ui"],
  ["identity", "capabilities"],
  ["peers"],
  ["protocol"],
  ["events", "transport", "health"],
  ["miners", "alerts", "stratum"],
  ["bundles"],
  ["node", "api"],
  ["daemon"],
  ["cli"],
  ["ui/app"],
];

/** Pairs of modules that must not import each other even across layers. */
export const FORBIDDEN: readonly [string, string][] = [["node", "api"], ["api", "node"]];

/** One import found in a source file. */
export interface ImportEdge {
  /** Importing file, relative to the repository root. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The specifier as written. */
  specifier: string;
  /** Whether it is `import type` / `export type`. */
  typeOnly: boolean;
  /** Importing module. */
  from: string;
  /** Imported module (null: outside `src/`, e.g. an npm package). */
  to: string | null;
  /** Imported file, relative to `src/<module>/`. */
  target: string | null;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

/** The module a path under `src/` belongs to. */
export function moduleOf(pathInSrc: string): string {
  const parts = pathInSrc.split("/");
  if (parts[0] === "ui" && parts[1] === "app") return "ui/app";
  return parts.length > 1 ? parts[0] : "";
}

const IMPORT_RE =
  /(?:^|\n)\s*(import|export)(\s+type)?\s+(?:[\w*${}\s,]+?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** `src/`, absolute. */
export const SRC_DIR: string = SRC;

/** Every relative import of one file (an absolute path under the repository). */
export function importsOf(file: string, text: string): ImportEdge[] {
  const out: ImportEdge[] = [];
  const fromRel = relative(SRC, file);
  for (const m of text.matchAll(IMPORT_RE)) {
    const specifier = m[3] ?? m[4];
    if (!specifier.startsWith(".")) continue;
    const abs = resolve(dirname(file), specifier);
    const rel = relative(SRC, abs);
    const inSrc = !rel.startsWith("..");
    const to = inSrc ? moduleOf(rel) : null;
    const line = text.slice(0, m.index! + m[0].length).split("\n").length;
    out.push({
      file: relative(ROOT, file),
      line,
      specifier,
      typeOnly: Boolean(m[2]),
      from: moduleOf(fromRel),
      to,
      target: inSrc && to ? relative(join(SRC, to), abs) : null,
    });
  }
  return out;
}

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* sources(p);
    else if (/\.(ts|tsx)$/.test(e.name)) yield p;
  }
}

const layerOf = (m: string): number => LAYERS.findIndex((l) => l.includes(m));

/** The violations among `edges`, and the module graph they make. */
export function violationsOf(
  edges: readonly ImportEdge[],
): { violations: string[]; graph: Map<string, Set<string>> } {
  const violations: string[] = [];
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    const where = `${e.file}:${e.line}`;
    if (e.to === null) {
      violations.push(`${where}: imports ${e.specifier}, outside src/`);
      continue;
    }
    if (e.to === e.from || e.from === "") continue;
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    graph.get(e.from)!.add(e.to);
    if (e.target !== "mod.ts") {
      violations.push(
        `${where}: imports ${e.to}'s inside (${e.specifier}); import src/${e.to}/mod.ts`,
      );
    }
    if (FORBIDDEN.some(([a, b]) => a === e.from && b === e.to)) {
      violations.push(`${where}: ${e.from} must not import ${e.to}`);
    }
    const [lf, lt] = [layerOf(e.from), layerOf(e.to)];
    if (lf < 0) violations.push(`${where}: module ${e.from} has no layer in LAYERS`);
    else if (lt < 0) violations.push(`${where}: module ${e.to} has no layer in LAYERS`);
    else if (lt >= lf) {
      violations.push(
        `${where}: ${e.from} (layer ${lf}) imports ${e.to} (layer ${lt}): only lower layers`,
      );
    }
    if (e.from === "ui/app" && !e.typeOnly) {
      violations.push(`${where}: the dashboard imports ${e.to} for more than types`);
    }
  }
  const cycle = findCycle(graph);
  if (cycle) violations.push(`import cycle between modules: ${cycle.join(" → ")}`);
  return { violations, graph };
}

/** Checks `src/`; returns the violations (empty when the rules hold) and the module graph. */
export async function checkImports(): Promise<
  { violations: string[]; graph: Map<string, Set<string>>; files: number }
> {
  const edges: ImportEdge[] = [];
  let files = 0;
  for await (const file of sources(SRC)) {
    files++;
    edges.push(...importsOf(file, await Deno.readTextFile(file)));
  }
  return { ...violationsOf(edges), files };
}

/** A cycle in the module graph, or null. */
export function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done") return null;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

if (import.meta.main) {
  const { violations, graph, files } = await checkImports();
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(
      {
        files,
        violations,
        graph: Object.fromEntries([...graph].map(([k, v]) => [k, [...v].sort()])),
      },
      null,
      2,
    ));
  } else if (violations.length) {
    for (const v of violations) console.error(v);
    console.error(`check:imports: ${violations.length} violation(s) in ${files} files`);
  } else {
    console.log(`check:imports: ${files} files, ${graph.size} modules, no violations`);
  }
  Deno.exit(violations.length ? 1 : 0);
}
