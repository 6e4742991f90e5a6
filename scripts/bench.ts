/**
 * `deno task bench`: performance figures, each between real processes on loopback.
 *
 * mesh: Noise XX handshakes per second, and encrypted request/response round trips per second at
 * 256 B, 4 KiB and 64 KiB next to raw WebSocket round trips of the same client (`npm:ws`) and
 * server (`Deno.serve`) pair, measured in the same run.
 *
 * supervision: node CPU% and RSS while it supervises 10 emulated miners polled every 10 s.
 *
 * usage: deno task bench [--only mesh|supervision] [--seconds S] [--supervise-seconds S] [--json]
 */
import { parseArgs } from "node:util";
// @ts-types="npm:@types/ws@8.18.1"
import WebSocket from "ws";
import { initIdentity } from "../src/identity/mod.ts";
import { MeshNode } from "../src/node/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    seconds: { type: "string" },
    "supervise-seconds": { type: "string" },
    json: { type: "boolean" },
  },
});
const SECONDS = Number(values.seconds ?? 3);
const results: Record<string, unknown> = {};
const log = (s: string) => console.error(s);

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

async function startBenchServer(
  home: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./bench_server.ts", import.meta.url).pathname, "--home", home],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("bench server exited early");
    buf += value;
  }
  reader.releaseLock();
  return {
    port: JSON.parse(buf.split("\n")[0]).port,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.status;
      await proc.stdout.cancel().catch(() => {});
    },
  };
}

async function benchMesh(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bench-" });
  const server = await startBenchServer(`${root}/server`);
  const paths = resolvePaths({ home: `${root}/client` });
  await initIdentity(paths, { name: "bench-client", role: "controller" });
  const node = await MeshNode.open(paths, { keepalive: false, limits: { ratePerSecond: 0 } });
  const address = `127.0.0.1:${server.port}`;
  try {
    log(`mesh: server pid on port ${server.port}; ${SECONDS}s per measurement`);
    // warm up JIT on both sides
    for (let i = 0; i < 50; i++) (await node.dial(address)).close("bench");
    const hs = await timed(SECONDS, 16, async () => {
      (await node.dial(address)).close("bench");
    });
    log(`  handshakes/s (connect + Noise XX + ack, 16 in parallel): ${hs.toFixed(0)}`);
    const session = await node.dial(address);
    const raw = new WebSocket(`ws://${address}/raw`, { perMessageDeflate: false });
    raw.binaryType = "arraybuffer";
    await new Promise((r, j) => (raw.once("open", r), raw.once("error", j)));
    let rawWaiter: (() => void) | null = null;
    raw.on("message", () => rawWaiter?.());
    const rawRtt = (payload: Uint8Array) =>
      new Promise<void>((resolve) => {
        rawWaiter = resolve;
        raw.send(payload);
      });
    const sizes = [256, 4096, 65536];
    const rows = [];
    for (const size of sizes) {
      const body = crypto.getRandomValues(new Uint8Array(size));
      for (let i = 0; i < 300; i++) {
        await session.ping(5000, body);
        await rawRtt(body);
      }
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
      rows.push({
        size,
        encrypted: Math.round(enc),
        raw: Math.round(rawRate),
        ratio: Number((enc / rawRate).toFixed(2)),
      });
      log(
        `  ${String(size).padStart(6)} B: encrypted ${enc.toFixed(0)} rt/s, raw ${
          rawRate.toFixed(0)
        } rt/s, ratio ${(enc / rawRate).toFixed(2)}`,
      );
    }
    raw.close();
    session.close("bench done");
    results.mesh = { handshakesPerSecond: Math.round(hs), roundTrips: rows };
    const ok = hs >= 500 && rows.every((r) => r.ratio >= 0.5 && r.encrypted >= 1000);
    log(`  targets (>= 500 handshakes/s, ratio >= 0.5, >= 1000 rt/s): ${ok ? "met" : "NOT met"}`);
  } finally {
    await node.close();
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/** CPU seconds (user+system) and RSS bytes of a process, from /proc. */
async function procUsage(pid: number): Promise<{ cpu: number; rss: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime
  const rssPages = Number(f[21]);
  return { cpu: ticks / 100, rss: rssPages * 4096 };
}

async function benchSupervision(): Promise<void> {
  const seconds = Number(values["supervise-seconds"] ?? 60);
  const home = await Deno.makeTempDir({ prefix: "miner-cli-bench-sup-" });
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      // Same V8 flag as `deno task cli` and the compiled binaries: a 1 MB young generation.
      args: [
        "run",
        "-A",
        "--v8-flags=--max-semi-space-size=1",
        new URL("../main.ts", import.meta.url).pathname,
        "--home",
        home,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    });
  await run(["node", "init", "--name", "bench-worker", "--role", "worker"]).output();
  const { installEmulatedMiner } = await import("../src/miners/mod.ts");
  await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "10000" },
  });
  for (let i = 1; i <= 10; i++) {
    const out = await run([
      "profile",
      "add",
      "--type",
      "xmrig",
      "--name",
      `m${i}`,
      "--pool",
      "pool.example.org:3333",
      "--user",
      "44w",
      "--threads",
      "1",
      "--autostart",
    ]).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  }
  const node = run([
    "node",
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--api-listen",
    "127.0.0.1:0",
    "--json",
    "--poll-interval",
    "10s",
    "--history-interval",
    "10s",
  ]).spawn();
  const reader = node.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) buf += (await reader.read()).value ?? "";
  const api = JSON.parse(buf.split("\n")[0]).api;
  const token = (await Deno.readTextFile(`${home}/config/api_token`)).trim();
  // wait until all ten miners run, then measure a steady window
  for (;;) {
    const r = await fetch(`${api}/api/v1/mining/miners`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const { miners } = await r.json();
    if (miners.length === 10 && miners.every((m: { state: string }) => m.state === "running")) {
      break;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  await new Promise((res) => setTimeout(res, 2000));
  log(
    `supervision: node pid ${node.pid} supervising 10 emulated XMRig miners, polled every 10 s; measuring ${seconds} s`,
  );
  const a = await procUsage(node.pid);
  const t0 = performance.now();
  let peakRss = a.rss;
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await new Promise((res) => setTimeout(res, 1000));
    peakRss = Math.max(peakRss, (await procUsage(node.pid)).rss);
  }
  const b = await procUsage(node.pid);
  const cpuPct = ((b.cpu - a.cpu) / ((performance.now() - t0) / 1000)) * 100;
  node.kill("SIGTERM");
  await node.status;
  await reader.cancel().catch(() => {});
  await node.stderr.cancel().catch(() => {});
  await Deno.remove(home, { recursive: true });
  results.supervision = {
    miners: 10,
    pollSeconds: 10,
    seconds,
    cpuPercent: Number(cpuPct.toFixed(2)),
    rssMB: Number((b.rss / 1e6).toFixed(1)),
    peakRssMB: Number((peakRss / 1e6).toFixed(1)),
  };
  log(
    `  node CPU ${cpuPct.toFixed(2)} %, RSS ${(b.rss / 1e6).toFixed(1)} MB (peak ${
      (peakRss / 1e6).toFixed(1)
    } MB)`,
  );
  log(`  targets (< 1 % CPU, < 100 MB RSS): ${cpuPct < 1 && peakRss < 100e6 ? "met" : "NOT met"}`);
}

const sections: Record<string, () => Promise<void>> = {
  mesh: benchMesh,
  supervision: benchSupervision,
};
for (const [name, fn] of Object.entries(sections)) {
  if (values.only && values.only !== name) continue;
  await fn();
}
if (values.json) console.log(JSON.stringify(results, null, 2));
