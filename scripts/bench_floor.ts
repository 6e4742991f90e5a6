/**
 * The socket layer's floor: what a controller's process pays for its rigs' pushes before any of
 * miner-cli's own work. A bare listener built as the transport's is (`node:http` + `npm:ws`, the
 * same WebSocket options, the node's runtime flags) holds N connections from a second process;
 * each connection sends one 300-byte binary frame every 10 s (a push's size and rate), and the
 * listener either drops it or answers with a 4-byte frame (an ack's place). No Noise, no JSON,
 * no registry: the listener's CPU over 20 s is the least any design on this runtime and socket
 * layer pays for that traffic.
 *
 * usage: deno task bench --only floor [--floor-sizes 1000,10000]
 * BENCH_FLOOR_SERVER=deno runs the listener on Deno.serve + Deno.upgradeWebSocket instead.
 * @module
 */
import { NODE_RUNTIME_FLAGS } from "../src/cli/mod.ts";
import { procUsage } from "./bench_util.ts";

const PAYLOAD = 300;
const INTERVAL_MS = 10_000;
const WINDOW_S = 20;

/** One measurement. */
export interface FloorRun {
  /** Connections held. */
  links: number;
  /** Whether each frame was answered. */
  reply: boolean;
  /** Frames received per second over the window. */
  framesPerSecond: number;
  /** Listener CPU over the window (% of one core). */
  cpu: number;
  /** Listener RSS (MB). */
  rssMb: number;
}

/** Answers each line on stdin with the listener's frame count so far (the parent's probe). */
async function answerFrameCounts(frames: () => number): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const _ of lines) console.log(JSON.stringify({ frames: frames() }));
}

/** The same listener on Deno's own HTTP server and WebSocket (frames parsed in Rust). */
async function serveDeno(reply: boolean): Promise<void> {
  let frames = 0;
  const ack = new Uint8Array(4);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    socket.onmessage = () => {
      frames++;
      if (reply) socket.send(ack);
    };
    return response;
  });
  console.log(JSON.stringify({ port: server.addr.port }));
  await answerFrameCounts(() => frames);
}

async function serve(reply: boolean): Promise<void> {
  if (Deno.env.get("BENCH_FLOOR_SERVER") === "deno") return await serveDeno(reply);
  const http = (await import("node:http")).default;
  // @ts-types="npm:@types/ws@8.18.1"
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 65_535,
    perMessageDeflate: false,
    clientTracking: false,
  });
  let frames = 0;
  const ack = new Uint8Array(4);
  const server = http.createServer((_req, res) => res.end());
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.binaryType = "nodebuffer";
      ws.on("message", () => {
        frames++;
        if (reply) ws.send(ack);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
  await answerFrameCounts(() => frames);
}

async function dial(port: number, links: number): Promise<void> {
  const enc = new TextEncoder();
  // A client frame: masked (an all-zero mask, as the transport's client sends), 300 bytes.
  const frame = new Uint8Array(2 + 2 + 4 + PAYLOAD);
  frame.set([0x82, 0x80 | 126, PAYLOAD >> 8, PAYLOAD & 0xff]);
  const conns: Deno.TcpConn[] = [];
  const hello = enc.encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  for (let i = 0; i < links; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await c.write(hello);
    const buf = new Uint8Array(512);
    await c.read(buf); // the 101 answer
    conns.push(c);
    (async () => {
      const sink = new Uint8Array(256);
      while ((await c.read(sink).catch(() => null)) !== null) { /* drain answers */ }
    })();
  }
  console.log(JSON.stringify({ connected: links }));
  // Every connection once per interval, spread evenly (as jittered pushes are): each tick sends
  // what is due by the clock, so any N sends at exactly N per interval even when ticks are late.
  // With 10 ms ticks (the default) the frames of a tick arrive together and the listener takes
  // several per wakeup; BENCH_FLOOR_TICK_MS=1 spreads them as rigs on their own timers do.
  const tickMs = Number(Deno.env.get("BENCH_FLOOR_TICK_MS") ?? 10);
  const start = performance.now();
  let sent = 0;
  setInterval(() => {
    const due = Math.floor(((performance.now() - start) * links) / INTERVAL_MS);
    for (; sent < due; sent++) conns[sent % links].write(frame).catch(() => {});
  }, tickMs);
}

function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("process ended");
      buf += value;
    }
    const i = buf.indexOf("\n");
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return line;
  };
}

async function measure(links: number, reply: boolean): Promise<FloorRun> {
  const self = new URL(import.meta.url).pathname;
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", ...NODE_RUNTIME_FLAGS, "-A", self, "--serve", reply ? "reply" : "drop"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const serverLine = lineReader(server.stdout);
  let client: Deno.ChildProcess | undefined;
  try {
    const { port } = JSON.parse(await serverLine());
    client = new Deno.Command("bash", {
      // The soft descriptor limit raised to the hard one, as the scale bench does for its hosts.
      args: [
        "-c",
        `ulimit -n $(ulimit -Hn) && exec "$0" "$@"`,
        Deno.execPath(),
        "run",
        "-A",
        self,
        "--dial",
        String(port),
        String(links),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = server.stdin.getWriter();
    const frames = async () => {
      await writer.write(new TextEncoder().encode("\n"));
      return JSON.parse(await serverLine()).frames as number;
    };
    const clientLine = lineReader(client.stdout);
    await clientLine(); // connected
    await new Promise((r) => setTimeout(r, 5000)); // the sends spread out
    const u0 = await procUsage(server.pid);
    const f0 = await frames();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const u1 = await procUsage(server.pid);
    const f1 = await frames();
    return {
      links,
      reply,
      framesPerSecond: Math.round((f1 - f0) / WINDOW_S),
      cpu: Math.round(((u1.cpu - u0.cpu) / WINDOW_S) * 1000) / 10,
      rssMb: Math.round(u1.rss / 1e6),
    };
  } finally {
    // Only the processes this run started, by their handles.
    if (client) {
      client.kill("SIGKILL");
      await client.status;
    }
    server.kill("SIGKILL");
    await server.status;
  }
}

/** Runs the floor measurement at each size, with and without answers; prints the table. */
export async function benchFloor(
  log: (line: string) => void,
  options: { sizes?: number[] } = {},
): Promise<FloorRun[]> {
  const sizes = options.sizes ?? [1000, 10_000];
  const bad = sizes.filter((n) => !Number.isInteger(n) || n < 1 || n > 19_000);
  if (bad.length) {
    throw new Error(`--floor-sizes: ${bad.join(", ")}: give connection counts from 1 to 19,000`);
  }
  const runs: FloorRun[] = [];
  for (const links of sizes) {
    for (const reply of [false, true]) {
      const r = await measure(links, reply);
      log(
        `floor ${links} links, ${
          reply ? "answered" : "dropped"
        }: ${r.framesPerSecond} frames/s, CPU ${r.cpu} %, RSS ${r.rssMb} MB`,
      );
      runs.push(r);
    }
  }
  log("| links | frames/s | listener CPU, frames dropped | with a 4-byte answer each | RSS |");
  log("| --- | --- | --- | --- | --- |");
  for (const links of [...new Set(runs.map((r) => r.links))]) {
    const [d, a] = [false, true].map((reply) =>
      runs.find((r) => r.links === links && r.reply === reply)!
    );
    log(`| ${links} | ${d.framesPerSecond} | ${d.cpu} % | ${a.cpu} % | ${a.rssMb} MB |`);
  }
  return runs;
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve") await serve(Deno.args[1] === "reply");
  else if (Deno.args[0] === "--dial") await dial(Number(Deno.args[1]), Number(Deno.args[2]));
}
