/**
 * miner-cli entry point.
 * @module
 */
import { runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) Deno.exit(130); // second Ctrl+C: exit at once
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
  const code = await runCli(Deno.args, { stopSignal: stop.signal });
  Deno.exit(code);
}
