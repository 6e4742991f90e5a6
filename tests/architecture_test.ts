/**
 * The module rules of `src/` (scripts/check_imports.ts): mod.ts faces only, node and api apart,
 * layers without cycles, a type-only dashboard; and the checker catches each kind of breach.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkImports,
  findCycle,
  importsOf,
  SRC_DIR,
  violationsOf,
} from "../scripts/check_imports.ts";

Deno.test("architecture: src/ keeps its module rules", async () => {
  const { violations, files, graph } = await checkImports();
  assert.deepEqual(violations, []);
  assert.ok(files > 50, `${files} files checked`);
  assert.ok(!graph.get("node")?.has("api") && !graph.get("api")?.has("node"));
});

Deno.test("architecture: the checker reports insides, node↔api, upward imports, cycles and a non-type dashboard import", () => {
  const check = (file: string, text: string) =>
    violationsOf(importsOf(join(SRC_DIR, file), text)).violations;
  assert.match(
    check("cli/x.ts", 'import { MeshNode } from "../node/mesh.ts";').join(),
    /imports node's inside/,
  );
  assert.match(
    check("node/x.ts", 'import { createApiApp } from "../api/mod.ts";').join(),
    /node must not import api/,
  );
  assert.match(
    check("miners/x.ts", 'import type { MeshNode } from "../node/mod.ts";').join(),
    /miners \(layer \d\) imports node \(layer \d\): only lower layers/,
  );
  assert.match(
    check("ui/app/x.ts", 'import { EventHub } from "../../events/mod.ts";').join(),
    /dashboard imports events for more than types/,
  );
  assert.deepEqual(
    check("ui/app/x.ts", 'import type { NodeEvent } from "../../events/mod.ts";'),
    [],
  );
  assert.deepEqual(
    check(
      "cli/x.ts",
      'import {\n  a,\n  type B,\n} from "../node/mod.ts";\nexport * from "./y.ts";',
    ),
    [],
  );
  const graph = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]);
  assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
  assert.equal(findCycle(new Map([["a", new Set(["b"])]])), null);
});

Deno.test("architecture: every module's face says what it is and has an example (run by `deno task test`, --doc)", async () => {
  const missing: string[] = [];
  for await (const e of Deno.readDir(SRC_DIR)) {
    if (!e.isDirectory) continue;
    const face = await Deno.readTextFile(join(SRC_DIR, e.name, "mod.ts")).catch(() => null);
    if (face === null) {
      missing.push(`${e.name}/ has no mod.ts`);
      continue;
    }
    const doc = /^\/\*\*([\s\S]*?)\*\//.exec(face)?.[1] ?? "";
    if (!doc.includes("@module")) missing.push(`${e.name}/mod.ts has no module comment`);
    if (!/@example\s*\n\s*\*\s*```ts/.test(doc)) missing.push(`${e.name}/mod.ts has no @example`);
  }
  assert.deepEqual(missing, []);
});
