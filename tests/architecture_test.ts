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
