/**
 * Benchmark peer: a real MeshNode (rate limit off, open auth) plus a raw WebSocket echo at /raw
 * on the same `Deno.serve` instance, so encrypted and raw round trips share the server.
 * Prints `{"port": N}` on stdout when ready.
 *
 * usage: deno run -A <NODE_RUNTIME_FLAGS> scripts/bench_server.ts --home DIR
 */
import { parseArgs } from "node:util";
import { initIdentity } from "../src/identity/mod.ts";
import { MeshNode } from "../src/node/mod.ts";
import { AuthStore } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { home: { type: "string" } } });
if (!values.home) throw new Error("--home is required");
const paths = resolvePaths({ home: values.home });
await initIdentity(paths, { name: "bench-server", role: "worker", force: true });
await (await AuthStore.open(paths.authJson)).setMode("open");
const node = await MeshNode.open(paths, { limits: { ratePerSecond: 0 }, keepalive: false });
const server = node.serve({
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 100_000,
  fallback: (req) => {
    if (new URL(req.url).pathname !== "/raw") return new Response("not found", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  },
});
console.log(JSON.stringify({ port: server.port }));
const stop = () => node.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
