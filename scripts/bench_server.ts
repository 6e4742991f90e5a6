/**
 * Benchmark peer: a real MeshNode (rate limit off, open auth) plus a raw WebSocket echo on the
 * same server stack (`node:http` + `npm:ws`, as the mesh listener), so encrypted and raw round
 * trips differ only by the secure channel. Prints `{"port": N, "rawPort": M}` on stdout when ready.
 *
 * usage: deno run -A <NODE_RUNTIME_FLAGS> scripts/bench_server.ts --home DIR
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
// @ts-types="npm:@types/ws@8.18.1"
import { WebSocketServer } from "ws";
import { initIdentity } from "../src/identity/mod.ts";
import { MeshNode } from "../src/node/mod.ts";
import { AuthStore } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { home: { type: "string" } } });
if (!values.home) throw new Error("--home is required");
const paths = resolvePaths({ home: values.home });
await initIdentity(paths, { name: "bench-server", role: "worker", force: true });
await (await AuthStore.open(paths.registryDb)).setMode("open");
const node = await MeshNode.open(paths, { limits: { ratePerSecond: 0 }, keepalive: false });
const server = await node.serve({
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 100_000,
  maxHandshakes: 100_000,
  maxHandshakesPerAddress: 100_000,
});
const rawHttp = createServer();
const rawWss = new WebSocketServer({
  server: rawHttp,
  maxPayload: 1 << 20,
  perMessageDeflate: false,
});
rawWss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (d: Uint8Array) => ws.send(d));
});
await new Promise<void>((r) => rawHttp.listen(0, "127.0.0.1", () => r()));
const rawPort = (rawHttp.address() as { port: number }).port;
console.log(JSON.stringify({ port: server.port, rawPort }));
const stop = () => node.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
