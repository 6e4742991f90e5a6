/**
 * `deno task bench`: performance figures, each between real processes on loopback.
 *
 * mesh: Noise XX handshakes per second, and encrypted request/response round trips per second at
 * 256 B, 4 KiB and 64 KiB next to raw WebSocket round trips of the same client (`npm:ws`) and
 * server (`node:http` + `npm:ws`) pair, measured in the same run.
 *
 * supervision: node CPU% and RSS while it supervises 10 emulated miners polled every 10 s.
 *
 * fleet: wall time and peak RSS of a cold `miner-cli remote status --json` (a fresh process)
 * against 100 worker nodes, hosted by 4 processes of 25 node identities each, each on its port.
 *
 * deploy: throughput of `miner-cli remote deploy --bundle` of a 100 MB bundle to a worker
 * process (`node serve`), received, extracted and verified.
 *
 * api: requests per second and latency of `GET /remote/stats` (served from the node's fleet
 * cache) and `GET /peers`, measured with wrk against a dual node with two workers.
 *
 * startup: time from spawning `node serve` to its listening line, and idle RSS, of a worker
 * (with and without the API) and of a controller.
 *
 * partition: `GET /remote/stats` latency while one of three rigs is partitioned.
 *
 * soak: 20 workers polled every 2 s with API and event-stream clients for --soak-seconds
 * (default 300: the first two minutes are warm-up), judged on the second half: errors, flapping,
 * RSS peaks.
 *
 * rules: one health-and-alert evaluation for 10,000 miners on 1,000 rigs (see bench_rules.ts).
 *
 * scale: a controller with 1,000, 3,000 and 10,000 rigs linked in and pushing stats: time to
 * link and register, cached and fresh reads, RSS, idle CPU, reconnection after a restart; a cold
 * CLI dialing 1,000 (see bench_scale.ts; `--scale-sizes`, `--scale-runs`). Not in the default
 * run: it takes about 15 minutes.
 *
 * stratum: the farm's stratum proxy with 1,000 and 10,000 emulated miners on 10 and 20 worker
 * nodes: a new job's fan-out, shares validated per second, controller RSS per miner (see
 * bench_stratum.ts; `--stratum-sizes`). Not in the default run: a few minutes.
 *
 * floor: the socket layer's own cost for 1,000 and 10,000 connections sending a push-sized frame
 * every 10 s, dropped or answered, with nothing of miner-cli on top (see bench_floor.ts;
 * `--floor-sizes`). Not in the default run: about two minutes.
 *
 * usage: deno task bench [--only mesh|supervision|fleet|deploy|api|startup|partition|soak|rules|
 *          scale|stratum|floor] [--seconds S] [--supervise-seconds S] [--soak-seconds S] [--json]
 */
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import type { MeshBenchResult } from "./bench_mesh_client.ts";
import { procUsage } from "./bench_util.ts";
import { DEV_PERMISSION_FLAGS, NODE_RUNTIME_FLAGS, permissionFlags } from "../src/cli/mod.ts";
import { initIdentity } from "../src/identity/mod.ts";
import { newPeer, PeerRegistry } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    seconds: { type: "string" },
    "supervise-seconds": { type: "string" },
    "soak-seconds": { type: "string" },
    "scale-sizes": { type: "string" },
    "scale-runs": { type: "string" },
    "stratum-sizes": { type: "string" },
    "floor-sizes": { type: "string" },
    json: { type: "boolean" },
  },
});
const SECONDS = Number(values.seconds ?? 3);
const results: Record<string, unknown> = {};
const log = (s: string) => console.error(s);

async function startBenchServer(
  home: string,
): Promise<{ port: number; rawPort: number; stop: () => Promise<void> }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...NODE_RUNTIME_FLAGS, // as `node serve` runs
      new URL("./bench_server.ts", import.meta.url).pathname,
      "--home",
      home,
    ],
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
    rawPort: JSON.parse(buf.split("\n")[0]).rawPort,
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
  try {
    log(`mesh: server pid on port ${server.port}; ${SECONDS}s per measurement`);
    // The client is its own process too, with the node's runtime flags (as a CLI command).
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...NODE_RUNTIME_FLAGS,
        new URL("./bench_mesh_client.ts", import.meta.url).pathname,
        "--home",
        `${root}/client`,
        "--address",
        `127.0.0.1:${server.port}`,
        "--raw-address",
        `127.0.0.1:${server.rawPort}`,
        "--seconds",
        String(SECONDS),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("the mesh bench client failed");
    const mesh: MeshBenchResult = JSON.parse(new TextDecoder().decode(out.stdout));
    results.mesh = mesh;
    // The farm-scale targets: handshakes bound a reconnect storm, 256 B is a push's size.
    const ok = mesh.handshakesPerSecond >= 1000 &&
      mesh.roundTrips.every((r) => r.ratio >= (r.size <= 256 ? 0.6 : 0.5) && r.encrypted >= 1000);
    log(
      `  targets (>= 1000 handshakes/s, ratio >= 0.6 at 256 B and >= 0.5 above, >= 1000 rt/s): ${
        ok ? "met" : "NOT met"
      }`,
    );
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

async function benchSupervision(): Promise<void> {
  const seconds = Number(values["supervise-seconds"] ?? 60);
  const home = await Deno.makeTempDir({ prefix: "miner-cli-bench-sup-" });
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      // The runtime flags of `deno task cli` and the compiled binaries.
      args: [
        "run",
        "-A",
        ...NODE_RUNTIME_FLAGS,
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

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** The flags `deno task cli` runs main.ts with. */
const CLI_FLAGS = [...NODE_RUNTIME_FLAGS, ...DEV_PERMISSION_FLAGS];

async function cliJson(home: string, args: string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_FLAGS, MAIN, "--home", home, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success && !text.trim().startsWith("{")) {
    throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    return text; // a command without --json
  }
}

/** Runs a command, sampling the peak RSS (VmHWM) of the process until it exits. */
async function runMeasured(
  args: string[],
): Promise<{ ms: number; peakRss: number; stdout: string; code: number }> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .spawn();
  let peakRss = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      try {
        const st = await Deno.readTextFile(`/proc/${child.pid}/status`);
        const m = /VmHWM:\s+(\d+) kB/.exec(st);
        if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
      } catch { /* exited */ }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const out = await child.output();
  const ms = performance.now() - t0;
  running = false;
  await sampler;
  return { ms, peakRss, stdout: new TextDecoder().decode(out.stdout), code: out.code };
}

async function benchFleet(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bench-fleet-" });
  const controller = `${root}/controller`;
  const paths = resolvePaths({ home: controller });
  const id = await initIdentity(paths, { name: "bench-controller", role: "controller" });
  const hosts: Deno.ChildProcess[] = [];
  try {
    const HOSTS = 4;
    const PER_HOST = 25;
    const nodes: { id: string; name: string; publicKey: string; port: number }[] = [];
    for (let h = 0; h < HOSTS; h++) {
      const proc = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./bench_fleet_host.ts", import.meta.url).pathname,
          "--root",
          root,
          "--count",
          String(PER_HOST),
          "--prefix",
          `w${h}`,
          "--controller-id",
          id.info.id,
          "--controller-key",
          id.info.publicKey,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      hosts.push(proc);
    }
    for (const proc of hosts) {
      const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      while (!buf.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("fleet host exited early");
        buf += value;
      }
      reader.releaseLock();
      nodes.push(...JSON.parse(buf.split("\n")[0]).nodes);
    }
    const reg = await PeerRegistry.open(paths.registryDb, { debounceMs: 0 });
    for (const n of nodes) {
      reg.upsert(
        newPeer({
          id: n.id,
          name: n.name,
          publicKey: n.publicKey,
          address: `127.0.0.1:${n.port}`,
          role: "worker",
        }),
      );
    }
    await reg.close();
    log(`fleet: ${nodes.length} worker nodes in ${HOSTS} processes; cold \`remote status --json\``);
    // Registry write transactions by the CLI (each bumps the peers revision in the database).
    const peersRev = () => {
      const db = new DatabaseSync(paths.registryDb, { readOnly: true });
      try {
        const row = db.prepare("SELECT value FROM meta WHERE key = 'peers_rev'").get() as
          | { value: string }
          | undefined;
        return Number(row?.value ?? 0);
      } finally {
        db.close();
      }
    };
    let revBefore = peersRev();
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const r = await runMeasured([
        "run",
        ...CLI_FLAGS,
        MAIN,
        "--home",
        controller,
        "remote",
        "status",
        "--json",
      ]);
      const doc = JSON.parse(r.stdout);
      if (r.code !== 0 || doc.online !== nodes.length) {
        throw new Error(`remote status: exit ${r.code}, ${doc.online}/${nodes.length} online`);
      }
      const fanOutMs = Math.max(...doc.peers.map((p: { ms: number }) => p.ms));
      await new Promise((r) => setTimeout(r, 50)); // let the last events arrive
      const writes = peersRev() - revBefore;
      revBefore += writes;
      runs.push({ wallMs: r.ms, fanOutMs, peakRss: r.peakRss, writes });
      log(
        `  run ${i + 1}: process wall ${
          r.ms.toFixed(0)
        } ms (slowest peer ${fanOutMs} ms), peak RSS ${(r.peakRss / 1e6).toFixed(1)} MB, ${
          runs.at(-1)!.writes
        } registry writes`,
      );
    }
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const wall = med(runs.map((r) => r.wallMs));
    const peak = Math.max(...runs.map((r) => r.peakRss));
    results.fleet = {
      nodes: nodes.length,
      hostProcesses: HOSTS,
      medianWallMs: Math.round(wall),
      medianSlowestPeerMs: med(runs.map((r) => r.fanOutMs)),
      peakRssMB: Number((peak / 1e6).toFixed(1)),
      medianRegistryWrites: med(runs.map((r) => r.writes)),
    };
    log(
      `  median cold wall time ${wall.toFixed(0)} ms, peak controller RSS ${
        (peak / 1e6).toFixed(1)
      } MB`,
    );
    log(`  target (100-node fan-out < 1 s from a cold start): ${wall < 1000 ? "met" : "NOT met"}`);
  } finally {
    for (const p of hosts) {
      p.kill("SIGTERM");
      await p.status;
      await p.stdout.cancel().catch(() => {});
    }
    await Deno.remove(root, { recursive: true });
  }
}

async function benchDeploy(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bench-deploy-" });
  const c = `${root}/c`;
  const w = `${root}/w`;
  await cliJson(c, ["node", "init", "--name", "bench-controller", "--role", "controller"]);
  await cliJson(w, ["node", "init", "--name", "bench-worker", "--role", "worker"]);
  const ctl = await cliJson(c, ["node", "info", "--json"]) as { id: string };
  await cliJson(w, ["peer", "allow", ctl.id, "--control"]);
  const node = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLI_FLAGS,
      MAIN,
      "--home",
      w,
      "node",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--no-api",
      "--json",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = node.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) buf += (await reader.read()).value ?? "";
    reader.releaseLock();
    const port = JSON.parse(buf.split("\n")[0]).port;
    await cliJson(c, ["peer", "add", "--address", `127.0.0.1:${port}`, "--name", "rig"]);
    const dir = `${root}/miner`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/xmrig`, "#!/bin/sh\necho XMRig 6.22.0\n", { mode: 0o755 });
    const f = await Deno.open(`${dir}/data.bin`, { write: true, create: true });
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < 100; i++) {
      crypto.getRandomValues(chunk.subarray(0, 65536));
      chunk.copyWithin(65536, 0, 65536 * 15);
      await f.write(chunk);
    }
    f.close();
    const bundle = `${root}/m.bundle`;
    await cliJson(c, [
      "bundle",
      "create",
      "--miner",
      dir,
      "--type",
      "xmrig",
      "--version",
      "6.22.0",
      "-o",
      bundle,
      "--json",
    ]);
    const size = (await Deno.stat(bundle)).size;
    log(`deploy: ${(size / 1e6).toFixed(1)} MB bundle to a worker process over loopback`);
    const rates = [];
    for (let i = 0; i < 3; i++) {
      const r = await runMeasured([
        "run",
        ...CLI_FLAGS,
        MAIN,
        "--home",
        c,
        "remote",
        "deploy",
        "rig",
        "--bundle",
        bundle,
        "--json",
      ]);
      const doc = JSON.parse(r.stdout);
      const res = doc.results[0];
      if (!res.ok) throw new Error(res.error);
      const mbps = size / 1e6 / res.seconds;
      rates.push(mbps);
      log(
        `  run ${i + 1}: ${res.seconds.toFixed(2)} s transfer+install = ${
          mbps.toFixed(0)
        } MB/s (process wall ${(r.ms / 1000).toFixed(2)} s, peak RSS ${
          (r.peakRss / 1e6).toFixed(0)
        } MB)`,
      );
    }
    const median = rates.sort((a, b) => a - b)[1];
    results.deploy = { bytes: size, medianMBps: Math.round(median), runs: rates.map(Math.round) };
    log(
      `  median ${median.toFixed(0)} MB/s; target (>= 100 MB/s): ${
        median >= 100 ? "met" : "NOT met"
      }`,
    );
  } finally {
    node.kill("SIGTERM");
    await node.status;
    await node.stdout.cancel().catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
}

/** Starts `node serve` and returns ms until its listening line, then its RSS after `idleMs`. */
async function startupRun(
  home: string,
  extra: string[],
  opts: { idleMs: number; flags: string[] },
): Promise<{ ms: number; rss: number }> {
  const idleMs = opts.idleMs;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...opts.flags,
      MAIN,
      "--home",
      home,
      "node",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--json",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drained = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`node serve exited before listening:\n${stderr}`);
      buf += value;
    }
    const ms = performance.now() - t0;
    reader.releaseLock();
    await new Promise((r) => setTimeout(r, idleMs));
    if (exited) {
      throw new Error(`node serve exited while idle (${(await status).code}):\n${stderr}`);
    }
    const { rss } = await procUsage(child.pid);
    return { ms, rss };
  } finally {
    if (!exited) child.kill("SIGTERM");
    await status;
    await child.stdout.cancel().catch(() => {});
    await drained.catch(() => {});
  }
}

async function benchStartup(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bench-startup-" });
  try {
    log(
      "startup: `node serve` under its binary's permission set, from process spawn to its listening line; RSS after 5 s idle (median of 3 runs)",
    );
    const out: Record<string, unknown> = {};
    for (
      const [role, extra] of [
        ["worker", ["--no-api"]],
        ["worker+api", ["--api-listen", "127.0.0.1:0"]],
        ["controller", ["--api-listen", "127.0.0.1:0"]],
      ] as const
    ) {
      const home = `${root}/${role}`;
      const flavour = role.split("+")[0] as "worker" | "controller";
      await cliJson(home, ["node", "init", "--name", "bench", "--role", flavour]);
      const flags = [
        ...NODE_RUNTIME_FLAGS,
        ...permissionFlags(flavour, {
          configDir: `${home}/config`,
          dataDir: `${home}/data`,
          listen: "127.0.0.1:0",
          extraRead: [new URL("../dist/ui", import.meta.url).pathname],
        }),
      ];
      await startupRun(home, [...extra], { idleMs: 0, flags }); // warm the module cache
      const runs = [];
      for (let i = 0; i < 5; i++) {
        runs.push(await startupRun(home, [...extra], { idleMs: i < 3 ? 5000 : 0, flags }));
      }
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[2];
      const rss = runs.slice(0, 3).map((r) => r.rss).sort((a, b) => a - b)[1];
      out[role] = { startupMs: Math.round(ms), idleRssMB: Math.round(rss / 1e5) / 10 };
      log(
        `  ${role}: serving in ${ms.toFixed(0)} ms (median of 5), idle RSS ${
          (rss / 1e6).toFixed(1)
        } MB (median of 3)`,
      );
    }
    const w = out.worker as { startupMs: number; idleRssMB: number };
    log(
      `  targets (worker serving < 300 ms, idle worker < 80 MB): ${
        w.startupMs < 300 && w.idleRssMB < 80 ? "met" : "NOT met"
      }`,
    );
    results.startup = out;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as "ms"];
}

/** Runs wrk against one URL; returns requests/s and latency percentiles. */
async function wrk(
  url: string,
  token: string,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      "-c32",
      `-d${SECONDS}s`,
      "--latency",
      "-H",
      `Authorization: Bearer ${token}`,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p50 = wrkMs(/^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? "");
  const p99 = wrkMs(/^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50, p99, errors };
}

async function benchApi(): Promise<void> {
  let hasWrk = true;
  try {
    await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output();
  } catch {
    hasWrk = false;
  }
  if (!hasWrk) {
    log("api: skipped, wrk is not installed (`bash scripts/setup.sh --bench` installs it)");
    return;
  }
  const { startFleet } = await import("../tests/fleet_fixture.ts");
  const fleet = await startFleet();
  try {
    log(
      `api: wrk (2 threads, 32 connections, ${SECONDS} s) against a dual node with 2 workers, on loopback`,
    );
    const out: Record<string, unknown> = {};
    for (
      const [name, path] of [
        ["remote/stats (cached)", "/api/v1/mining/remote/stats"],
        ["peers", "/api/v1/mining/peers"],
      ]
    ) {
      const r = await wrk(`${fleet.api}${path}`, fleet.token);
      out[name] = { rps: Math.round(r.rps), p50Ms: r.p50, p99Ms: r.p99, errors: r.errors };
      log(
        `  GET ${path}: ${
          Math.round(r.rps)
        } req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors; target (>= 5000 req/s, p99 < 20 ms): ${
          r.rps >= 5000 && r.p99 < 20 && r.errors === 0 ? "met" : "NOT met"
        }`,
      );
    }
    results.api = out;
  } finally {
    await fleet.close();
  }
}

const sections: Record<string, () => Promise<void>> = {
  mesh: benchMesh,
  supervision: benchSupervision,
  fleet: benchFleet,
  deploy: benchDeploy,
  api: benchApi,
  startup: benchStartup,
  partition: async () => {
    const { benchPartition } = await import("./bench_chaos.ts");
    results.partition = await benchPartition(log);
  },
  rules: async () => {
    const { benchRules } = await import("./bench_rules.ts");
    results.rules = await benchRules(log);
  },
  scale: async () => {
    const { benchScale } = await import("./bench_scale.ts");
    results.scale = await benchScale(log, {
      sizes: values["scale-sizes"]?.split(",").map(Number),
      runs: values["scale-runs"] ? Number(values["scale-runs"]) : undefined,
    });
  },
  floor: async () => {
    const { benchFloor } = await import("./bench_floor.ts");
    results.floor = await benchFloor(log, {
      sizes: values["floor-sizes"]?.split(",").map(Number),
    });
  },
  stratum: async () => {
    const { benchStratum } = await import("./bench_stratum.ts");
    results.stratum = await benchStratum(log, {
      sizes: values["stratum-sizes"]?.split(",").map(Number),
    });
  },
  soak: async () => {
    const { benchSoak } = await import("./bench_chaos.ts");
    results.soak = await benchSoak(log, Number(values["soak-seconds"] ?? 300));
  },
};
for (const [name, fn] of Object.entries(sections)) {
  // The farm-sized ones take minutes: only when asked for.
  if (
    values.only ? values.only !== name : name === "scale" || name === "stratum" || name === "floor"
  ) continue;
  await fn();
}
if (values.json) console.log(JSON.stringify(results, null, 2));
