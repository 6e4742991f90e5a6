/**
 * miner-cli entry point.
 * @module
 */
import { runCli } from "./src/cli/mod.ts";
import { killAllMinerProcesses } from "./src/miners/mod.ts";

if (import.meta.main) {
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) {
      // Second Ctrl+C: exit at once, but never leave a miner behind.
      killAllMinerProcesses();
      Deno.exit(130);
    }
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
  const code = await runCli(Deno.args, { stopSignal: stop.signal });
  Deno.exit(code);
}
