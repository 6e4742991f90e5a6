/**
 * Miner emulator entry: `deno run -A src/miners/emulator/main.ts --emulate xmrig|tt-miner <miner args...>`.
 * @module
 */
import { type EmulatedKind, runEmulator } from "./emulator.ts";

if (import.meta.main) {
  const [flag, kind, ...rest] = Deno.args;
  if (flag !== "--emulate" || (kind !== "xmrig" && kind !== "tt-miner")) {
    console.error("usage: main.ts --emulate xmrig|tt-miner [miner arguments...]");
    Deno.exit(2);
  }
  runEmulator(kind as EmulatedKind, rest);
}
