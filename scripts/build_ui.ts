/**
 * `deno task build:ui`: bundles the dashboard (`src/ui/app/`) into `dist/ui/` with `deno bundle`
 * (esbuild): `app.js`, `app.css` (ours plus uPlot's) and `index.html`. Nothing is fetched at run
 * time; the node serves these files and `deno compile` embeds them.
 *
 * usage: deno task build:ui [--dev]   (--dev: no minification)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src/ui/app");
const out = join(root, "dist/ui");
const dev = Deno.args.includes("--dev");

const tmp = `${out}.tmp-${Deno.pid}`;
await Deno.remove(tmp, { recursive: true }).catch(() => {});
await Deno.mkdir(tmp, { recursive: true });
const t0 = performance.now();
const res = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    ...(dev ? [] : ["--minify"]),
    "--outdir",
    tmp,
    join(src, "app.tsx"),
  ],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!res.success) {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  console.error("build:ui: deno bundle failed");
  Deno.exit(1);
}
await Deno.copyFile(join(src, "index.html"), join(tmp, "index.html"));
await Deno.copyFile(join(src, "favicon.svg"), join(tmp, "favicon.svg"));
for (const f of ["app.js", "app.css"]) {
  await Deno.stat(join(tmp, f)).catch(() => {
    throw new Error(`build:ui: ${f} missing from the bundle output`);
  });
}
// Identical output (the usual case: every task builds first) leaves dist/ui untouched, so nodes
// running meanwhile never see it half-replaced.
async function sameTree(a: string, b: string): Promise<boolean> {
  try {
    const names = async (d: string) => {
      const n: string[] = [];
      for await (const e of Deno.readDir(d)) n.push(e.name);
      return n.sort();
    };
    const [na, nb] = await Promise.all([names(a), names(b)]);
    if (na.join("\0") !== nb.join("\0")) return false;
    for (const n of na) {
      const [x, y] = await Promise.all([Deno.readFile(join(a, n)), Deno.readFile(join(b, n))]);
      if (x.length !== y.length || !x.every((v, i) => v === y[i])) return false;
    }
    return true;
  } catch {
    return false;
  }
}
if (await sameTree(tmp, out)) {
  await Deno.remove(tmp, { recursive: true });
} else {
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, out);
}
const sizes = [];
for await (const e of Deno.readDir(out)) {
  sizes.push(`${e.name} ${(await Deno.stat(join(out, e.name))).size} B`);
}
console.error(
  `build:ui: dist/ui (${sizes.sort().join(", ")}) in ${Math.round(performance.now() - t0)} ms`,
);
