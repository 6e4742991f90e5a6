/**
 * `deno task demo`: runs a node with a fresh demo identity in a temporary home, so miner-cli can
 * be tried with one command. The home is deleted on exit (Ctrl+C).
 *
 * usage: deno task demo [--listen HOST:PORT]   (default 127.0.0.1:9091)
 */
import { parseArgs } from "node:util";
import { runCli } from "../src/cli/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { listen: { type: "string" } } });
const home = await Deno.makeTempDir({ prefix: "miner-cli-demo-" });
const stop = new AbortController();
Deno.addSignalListener("SIGINT", () => stop.abort());
if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => stop.abort());
let code = 1;
try {
  code = await runCli(["--home", home, "node", "init", "--name", "demo-node", "--role", "dual"]);
  if (code === 0) {
    console.log(`\ndemo home: ${home} (deleted on exit)`);
    console.log(`try, in another terminal:  deno task cli --home ${home} node info`);
    console.log(`                          deno task cli --home ${home} node pair-code\n`);
    code = await runCli([
      "--home",
      home,
      "node",
      "serve",
      "--listen",
      values.listen ?? "127.0.0.1:9091",
    ], {
      stopSignal: stop.signal,
    });
  }
} finally {
  await Deno.remove(home, { recursive: true }).catch(() => {});
}
Deno.exit(code);
