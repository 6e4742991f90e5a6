/**
 * Benchmark client for the mesh section of `deno task bench`: a real MeshNode (controller) that
 * measures Noise XX handshakes per second against `scripts/bench_server.ts`, then encrypted
 * request/response round trips (`ping` with a binary body the server echoes) beside raw
 * WebSocket round trips of the same client library (`npm:ws`, default options: random masks)
 * against the same server stack (`node:http` + `npm:ws` echo), alternating short slices of each.
 *
 * It runs as its own process with the node's runtime flags (as a CLI command or node would), so
 * the figures are those of the shipped configuration. Progress goes to stderr; the result is one
 * JSON line on stdout.
 *
 * usage: deno run -A <NODE_RUNTIME_FLAGS> scripts/bench_mesh_client.ts --home DIR --address
 *          HOST:PORT --raw-address HOST:PORT [--seconds S]
 */
import { parseArgs } from "node:util";
// @ts-types="npm:@types/ws@8.18.1"
import WebSocket from "ws";
import { initIdentity } from "../src/identity/mod.ts";
import { MeshNode, type PeerSession } from "../src/node/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    home: { type: "string" },
    address: { type: "string" },
    "raw-address": { type: "string" },
    seconds: { type: "string" },
  },
});
if (!values.home || !values.address) throw new Error("--home and --address are required");
const SECONDS = Number(values.seconds ?? 3);
/** Warm-up per size, for each of encrypted and raw. */
const WARMUP_SECONDS = 2;
const address = values.address;
const log = (s: string) => console.error(s);

/** Runs `op` for `seconds` with `concurrency` callers; returns operations per second. */
async function timed(
  seconds: number,
  concurrency: number,
  op: () => Promise<void>,
): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await op();
      count++;
    }
  }));
  return count / ((performance.now() - t0) / 1000);
}

/** One row of the round-trip table. */
export interface RoundTripRow {
  /** Payload bytes. */
  size: number;
  /** Encrypted round trips per second. */
  encrypted: number;
  /** Raw WebSocket round trips per second. */
  raw: number;
  /** encrypted / raw. */
  ratio: number;
}

/** What the client prints on stdout. */
export interface MeshBenchResult {
  /** Noise XX handshakes per second (16 in parallel). */
  handshakesPerSecond: number;
  /** One row per payload size. */
  roundTrips: RoundTripRow[];
}

const paths = resolvePaths({ home: values.home });
await initIdentity(paths, { name: "bench-client", role: "controller" });
const node = await MeshNode.open(paths, { keepalive: false, limits: { ratePerSecond: 0 } });
const raw = new WebSocket(`ws://${values["raw-address"] ?? address}/raw`, {
  perMessageDeflate: false,
});
raw.binaryType = "arraybuffer";
await new Promise((r, j) => (raw.once("open", r), raw.once("error", j)));
let rawWaiter: (() => void) | null = null;
raw.on("message", () => rawWaiter?.());
const rawRtt = (payload: Uint8Array) =>
  new Promise<void>((resolve) => {
    rawWaiter = resolve;
    raw.send(payload);
  });
/** Encrypted and raw round trips per second of `size`-byte payloads, alternating slices. */
async function roundTrips(session: PeerSession, size: number): Promise<RoundTripRow> {
  const body = crypto.getRandomValues(new Uint8Array(size));
  // Warm up (JIT, heap sizes) before measuring: V8 takes 2-4 s to optimize the encrypted path
  // (256 B round trips go from ~5,600/s in the first two seconds to ~7,500/s), raw echoes less.
  await timed(WARMUP_SECONDS, 1, async () => void await session.ping(5000, body));
  await timed(WARMUP_SECONDS, 1, () => rawRtt(body));
  // Alternate short slices so both sides see the same machine conditions.
  let enc = 0;
  let rawRate = 0;
  const slices = 6;
  for (let i = 0; i < slices; i++) {
    enc += await timed(SECONDS / slices, 1, async () => void await session.ping(5000, body));
    rawRate += await timed(SECONDS / slices, 1, () => rawRtt(body));
  }
  enc /= slices;
  rawRate /= slices;
  return {
    size,
    encrypted: Math.round(enc),
    raw: Math.round(rawRate),
    ratio: Number((enc / rawRate).toFixed(2)),
  };
}

function logRow(r: RoundTripRow): void {
  log(
    `  ${String(r.size).padStart(6)} B: encrypted ${r.encrypted} rt/s, raw ${r.raw} rt/s, ratio ${
      r.ratio.toFixed(2)
    }`,
  );
}

// Round trips first, then the handshake burst (thousands of connections) on the same processes.
const session = await node.dial(address);
const rows: RoundTripRow[] = [];
for (const size of [256, 4096, 65536]) {
  rows.push(await roundTrips(session, size));
  logRow(rows.at(-1)!);
}
session.close("bench done");
// warm up JIT on both sides
for (let i = 0; i < 50; i++) (await node.dial(address)).close("bench");
const hs = await timed(SECONDS, 16, async () => {
  (await node.dial(address)).close("bench");
});
log(`  handshakes/s (connect + Noise XX + ack, 16 in parallel): ${hs.toFixed(0)}`);
raw.close();
await node.close();
const result: MeshBenchResult = { handshakesPerSecond: Math.round(hs), roundTrips: rows };
console.log(JSON.stringify(result));
