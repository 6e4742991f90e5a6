/**
 * Writes README's command reference from the command table (`deno task docs`), formatted as
 * `deno fmt` formats it; `--check` exits 1 when README is out of date instead of writing it.
 * @module
 */
import { withReference } from "../src/cli/mod.ts";

const path = new URL("../README.md", import.meta.url);
const before = await Deno.readTextFile(path);
const after = await formatMarkdown(withReference(before));
if (Deno.args.includes("--check")) {
  if (after !== before) {
    console.error("README.md's command reference is out of date: run `deno task docs`");
    Deno.exit(1);
  }
  console.log("README.md's command reference is current");
} else if (after !== before) {
  await Deno.writeTextFile(path, after);
  console.log("README.md: command reference rewritten");
} else {
  console.log("README.md: command reference already current");
}

/** Markdown through `deno fmt` (the repository's settings), so README stays fmt-clean. */
async function formatMarkdown(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: new URL("..", import.meta.url),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}
