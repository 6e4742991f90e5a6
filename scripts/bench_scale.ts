/**
 * `deno task bench --only scale`: a controller (`node serve`, the controller permission set)
 * with 1,000, 3,000 and 10,000 rigs linked in (`--connect`), hosted by processes of up to 1,000
 * worker identities each (bench_fleet_host.ts: real MeshNodes, each with its own key and
 * registry, pushing stats every 10 s). Per size and run, on a fresh controller home:
 *
 * - `peer allow` of all the IDs (one command);
 * - time until every rig is linked and registered from first contact;
 * - `GET /remote/stats` (cached, all rows), `GET /remote/summary`, `remote status --json` through
 *   the daemon (a fresh CLI process), and a forced fresh read (`maxAge=0`) of every rig;
 * - controller RSS, and idle CPU over 20 s with the pushes coming in;
 * - a controller restart: time until every link is back.
 *
 * And once: a cold `remote status --json` from a fresh CLI with no daemon, dialing 1,000 rigs.
 * Prints a table (min/median/max of the runs) and how time and memory grow per rig.
 *
 * usage: deno run -A scripts/bench_scale.ts [--sizes 1000,3000,10000] [--runs 3] [--json]
 * @module
 */
import { DEV_PERMISSION_FLAGS, NODE_RUNTIME_FLAGS, permissionFlags } from "../src/cli/mod.ts";
import { initIdentity } from "../src/identity/mod.ts";
import { newPeer, PeerRegistry } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { freePort, procUsage } from "./bench_util.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const HOST = new URL("./bench_fleet_host.ts", import.meta.url).pathname;
const CLI_FLAGS = [...NODE_RUNTIME_FLAGS, ...DEV_PERMISSION_FLAGS];
const PER_HOST = 1000;
const dec = new TextDecoder();

/** One run's figures. */
export interface ScaleRun {
  /** Rigs. */
  rigs: number;
  /** `peer allow` of every ID, ms. */
  allowMs: number;
  /** From the hosts' go to every rig linked and registered, ms. */
  linkMs: number;
  /** Cached `/remote/stats` (all rows), median of 5, ms. */
  statsMs: number;
  /** Its size, bytes. */
  statsBytes: number;
  /** `/remote/summary`, median of 10, ms. */
  summaryMs: number;
  /** `remote status --json` through the daemon (fresh CLI process, wall), ms. */
  cliStatusMs: number;
  /** Forced fresh read of every rig (`maxAge=0`), ms. */
  freshMs: number;
  /** A Prometheus scrape of `/metrics` (every rig's series), median of 3, ms. */
  metricsMs: number;
  /** Its size, bytes. */
  metricsBytes: number;
  /** Controller RSS, bytes. */
  rss: number;
  /** Controller idle CPU, % of one core, over 20 s. */
  idleCpu: number;
  /** Pushes taken per second while idle. */
  pushesPerSecond: number;
  /**
   * The rig hosts' CPU over the same 20 s, % of one core: what the emulated rigs' pushes cost
   * their side, on the same two cores as the controller.
   */
  idleCpuHosts: number;
  /** From SIGTERM to the old controller's exit, ms (a restart as an operator makes it adds this). */
  shutdownMs: number;
  /** After a controller restart, until every link is back, ms. */
  restartMs: number;
  /**
   * CPU the restarted controller used from its start until every link was back, and what the
   * rig hosts used meanwhile, s (the storm shares two cores: its pace is their sum's).
   */
  restartCpuController: number;
  /** The rig hosts' CPU meanwhile, s. */
  restartCpuHosts: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Spawns through bash to raise the soft open-file limit to the hard one. */
function spawnWithFds(argv: string[], options: { stdin?: "piped" | "null" } = {}) {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Deno.Command("bash", {
    args: ["-c", `ulimit -n $(ulimit -Hn) && exec ${quoted}`],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", MINER_CLI_LOG_FORMAT: "json", MINER_CLI_LOG_LEVEL: "warn" },
  }).spawn();
}

/**
 * The child's first JSON line (lines before it, such as V8's `--trace-gc`, go to `rest` with the
 * rest of its stdout when given, else are dropped).
 */
async function firstLine(
  stream: ReadableStream<Uint8Array>,
  rest?: Deno.FsFile,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const enc = new TextEncoder();
  let buf = "";
  let line: string | undefined;
  while (line === undefined) {
    const nl = buf.indexOf("\n");
    if (nl < 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`exited before its first line: ${buf}`);
      buf += value;
      continue;
    }
    const l = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    // (V8's own prints may share the line: its PrintF and the node's writes interleave)
    const at = l.indexOf('{"');
    if (at >= 0) line = l.slice(at);
    if (rest && at !== 0) await rest.write(enc.encode(l + "\n"));
  }
  // keep draining so the child never blocks on a full pipe (into `rest` when given)
  (async () => {
    if (rest) await rest.write(enc.encode(buf));
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      if (rest) await rest.write(enc.encode(r.value));
    }
  })().catch(() => {});
  return line;
}

function drain(stream: ReadableStream<Uint8Array>): void {
  stream.pipeTo(new WritableStream()).catch(() => {});
}

interface Host {
  proc: Deno.ChildProcess;
  ids: string[];
  go(): Promise<void>;
}

async function startHosts(
  root: string,
  rigs: number,
  controller: { id: string; publicKey: string },
  connect: string | null,
): Promise<Host[]> {
  const hosts: Host[] = [];
  for (let h = 0; h * PER_HOST < rigs; h++) {
    const count = Math.min(PER_HOST, rigs - h * PER_HOST);
    // BENCH_SCALE_HOST_DENO_FLAGS (e.g. `--inspect=127.0.0.1:9230`): for the first host only.
    const hostExtra = h === 0
      ? Deno.env.get("BENCH_SCALE_HOST_DENO_FLAGS")?.split(" ").filter(Boolean) ?? []
      : [];
    // BENCH_SCALE_HOST_LAG_LOG=FILE: the first host's longest loop stall of each second.
    const lagLog = h === 0 ? Deno.env.get("BENCH_SCALE_HOST_LAG_LOG") : undefined;
    // BENCH_SCALE_HOST_LOG=FILE: the first host's rigs' warnings (failed dials, with reasons).
    const rigLog = h === 0 ? Deno.env.get("BENCH_SCALE_HOST_LOG") : undefined;
    // BENCH_SCALE_HOST_NICE (e.g. `19`): the hosts yield the CPU to the controller, as rigs on
    // machines of their own do (by default they share the two cores with it as equals).
    const nice = Deno.env.get("BENCH_SCALE_HOST_NICE");
    const proc = spawnWithFds([
      ...(nice ? ["nice", "-n", nice] : []),
      Deno.execPath(),
      "run",
      ...hostExtra,
      "-A",
      "--unstable-net",
      HOST,
      "--root",
      `${root}/rigs`,
      "--count",
      String(count),
      "--prefix",
      `h${h}`,
      "--controller-id",
      controller.id,
      "--controller-key",
      controller.publicKey,
      ...(lagLog ? ["--lag-log", lagLog] : []),
      ...(rigLog ? ["--log", rigLog] : []),
      ...(connect
        ? [
          "--connect",
          connect,
          "--push-ms",
          Deno.env.get("BENCH_SCALE_PUSH_MS") ?? "10000",
          "--address-base",
          String(h * PER_HOST),
        ]
        : []),
    ], { stdin: "piped" });
    drain(proc.stderr);
    hosts.push({
      proc,
      ids: [],
      go: async () => {
        const w = proc.stdin.getWriter();
        await w.write(new TextEncoder().encode("go\n"));
        w.releaseLock();
      },
    });
  }
  // Identities are opened in parallel across hosts; their lines come when each is ready.
  const lines = await Promise.all(hosts.map((h) => firstLine(h.proc.stdout)));
  lines.forEach((l, i) => {
    hosts[i].ids = JSON.parse(l).nodes.map((n: { id: string }) => n.id);
    (hosts[i] as Host & { nodes?: unknown }).nodes = JSON.parse(l).nodes;
  });
  return hosts;
}

async function stopAll(procs: Deno.ChildProcess[]): Promise<void> {
  for (const p of procs) {
    try {
      p.kill("SIGTERM");
    } catch { /* gone */ }
  }
  await Promise.all(procs.map((p) => p.status));
}

interface Controller {
  proc: Deno.ChildProcess;
  api: string;
  peer: string;
}

async function startController(home: string, ports: { peer: number; api: number }) {
  // BENCH_SCALE_V8_FLAGS (e.g. `--prof`) profiles the controller (isolate-*.log in its cwd).
  const v8 = Deno.env.get("BENCH_SCALE_V8_FLAGS");
  const flags = [
    ...NODE_RUNTIME_FLAGS.map((f) =>
      v8 && f.startsWith("--v8-flags=") ? `${f},${v8.replaceAll(" ", ",")}` : f
    ),
    ...permissionFlags("controller", {
      configDir: `${home}/config`,
      dataDir: `${home}/data`,
      listen: `127.0.0.1:${ports.peer}`,
      extraRead: [new URL("../dist/ui", import.meta.url).pathname],
    }),
  ];
  // BENCH_SCALE_DENO_FLAGS (e.g. `--inspect=127.0.0.1:9229`) for a CPU profile over CDP.
  const extra = Deno.env.get("BENCH_SCALE_DENO_FLAGS")?.split(" ").filter(Boolean) ?? [];
  const proc = spawnWithFds([
    Deno.execPath(),
    "run",
    ...extra,
    ...flags,
    MAIN,
    "--home",
    home,
    "node",
    "serve",
    "--listen",
    `127.0.0.1:${ports.peer}`,
    "--api-listen",
    `127.0.0.1:${ports.api}`,
    "--json",
    // BENCH_SCALE_SERVE_ARGS (e.g. `--max-handshakes 1024`): other `node serve` settings to try.
    ...(Deno.env.get("BENCH_SCALE_SERVE_ARGS")?.split(" ").filter(Boolean) ?? []),
  ]);
  // BENCH_SCALE_CONTROLLER_LOG=FILE: the controller's log (warnings: refusal summaries...) appended.
  const logFile = Deno.env.get("BENCH_SCALE_CONTROLLER_LOG");
  if (logFile) {
    proc.stderr.pipeTo(
      (await Deno.open(logFile, { write: true, create: true, append: true })).writable,
    )
      .catch(() => {});
  } else drain(proc.stderr);
  // BENCH_SCALE_CONTROLLER_STDOUT=FILE: the rest of its stdout (`--trace-gc` lines...) appended.
  const outFile = Deno.env.get("BENCH_SCALE_CONTROLLER_STDOUT");
  const line = await firstLine(
    proc.stdout,
    outFile ? await Deno.open(outFile, { write: true, create: true, append: true }) : undefined,
  );
  if (!line.includes('"listening"')) throw new Error(`controller: ${line}`);
  return {
    proc,
    api: `http://127.0.0.1:${ports.api}`,
    peer: `127.0.0.1:${ports.peer}`,
  } satisfies Controller;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function waitOnline(
  get: (path: string) => Promise<Response>,
  rigs: number,
  timeoutMs: number,
): Promise<number> {
  const t0 = performance.now();
  let online = -1;
  // BENCH_SCALE_TRACE=1: how many are online each second (waves of backoff, or a steady climb).
  const trace = Deno.env.get("BENCH_SCALE_TRACE") === "1";
  let traced = 0;
  while (performance.now() - t0 < timeoutMs) {
    try {
      const res = await get("/remote/summary?maxAge=3600000");
      if (res.ok) online = (await res.json()).online;
      else await res.body?.cancel();
    } catch { /* restarting */ }
    if (trace && performance.now() - t0 >= traced * 1000) {
      console.error(
        `  t+${traced} s: ${online} online (${new Date().toISOString().slice(11, 19)})`,
      );
      traced++;
    }
    if (online === rigs) return performance.now() - t0;
    // Every 250 ms: a summary of 10,000 rigs costs the controller a few ms, and polling it every
    // 100 ms took ~6 % of the controller's time in a reconnect storm (a CPU profile).
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`only ${online} of ${rigs} rigs online after ${timeoutMs} ms`);
}

async function oneRun(
  root: string,
  rigs: number,
  log: (s: string) => void,
): Promise<ScaleRun> {
  const home = await Deno.makeTempDir({ dir: root, prefix: "controller-" });
  const id = await initIdentity(resolvePaths({ home }), { name: "boss", role: "controller" });
  const ports = { peer: freePort(), api: freePort() };
  let ctl = await startController(home, ports);
  const apiToken = (await Deno.readTextFile(`${home}/config/api_token`)).trim();
  const get = (path: string) =>
    fetch(`${ctl.api}/api/v1/mining${path}`, {
      headers: { authorization: `Bearer ${apiToken}` },
    });
  const hosts = await startHosts(root, rigs, id.info, ctl.peer);
  try {
    const ids = hosts.flatMap((h) => h.ids);
    const allow = await timed(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...CLI_FLAGS, MAIN, "--home", home, "peer", "allow", ...ids, "--json"],
        stdout: "null",
        stderr: "piped",
      }).output()
    );
    if (!allow.value.success) throw new Error(dec.decode(allow.value.stderr));
    const t0 = performance.now();
    await Promise.all(hosts.map((h) => h.go()));
    await waitOnline(get, rigs, 180_000);
    const linkMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 12_000)); // every rig has pushed once since
    const stats: number[] = [];
    let statsBytes = 0;
    for (let i = 0; i < 5; i++) {
      const r = await timed(async () => await (await get("/remote/stats")).arrayBuffer());
      stats.push(r.ms);
      statsBytes = r.value.byteLength;
    }
    const summary: number[] = [];
    for (let i = 0; i < 10; i++) {
      summary.push((await timed(async () => await (await get("/remote/summary")).json())).ms);
    }
    const cli = await timed(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...CLI_FLAGS, MAIN, "--home", home, "remote", "status", "--json"],
        stdout: "null",
        stderr: "null",
      }).output()
    );
    // BENCH_SCALE_FRESH_REPEAT=N: N forced fresh reads, each printed (the figure is the first: the
    // later ones find the rigs' code warm), e.g. to profile the later ones over the inspector.
    const freshRepeat = Math.max(1, Number(Deno.env.get("BENCH_SCALE_FRESH_REPEAT") ?? 1) || 1);
    const fresh = await timed(async () => await (await get("/remote/stats?maxAge=0")).json());
    const freshOnline = (fresh.value as { online: number }).online;
    if (freshRepeat > 1) console.error(`  forced fresh read 1: ${Math.round(fresh.ms)} ms`);
    for (let i = 1; i < freshRepeat; i++) {
      const again = await timed(async () => await (await get("/remote/stats?maxAge=0")).json());
      console.error(`  forced fresh read ${i + 1}: ${Math.round(again.ms)} ms`);
    }
    const scrape = async () =>
      await (await fetch(`${ctl.api}/metrics`, {
        headers: { authorization: `Bearer ${apiToken}` },
      })).text();
    const metric = async () =>
      Number(/^miner_cli_fleet_stats_pushes_total (\d+)/m.exec(await scrape())?.[1] ?? 0);
    // What the controller's peer listener saw in a storm (its counters since it started).
    const storm = async (label: string) => {
      const text = await scrape();
      const outcome = (o: string) =>
        new RegExp(`^miner_cli_mesh_connections_total\\{outcome="${o}"\\} (\\d+)`, "m").exec(text)
          ?.[1] ?? "?";
      const lag = /^miner_cli_event_loop_lag_seconds (\S+)/m.exec(text)?.[1] ?? "?";
      console.error(
        `  ${label}: accepted ${outcome("accepted")}, refused ${
          outcome("refused")
        }, handshakes failed ${
          outcome("handshake_failed")
        }, longest loop stall of the last 10-20 s ${lag} s`,
      );
    };
    await storm("link-in");
    const hostsCpu = async () => {
      let sum = 0;
      for (const h of hosts) sum += await procUsage(h.proc.pid).then((u) => u.cpu, () => 0);
      return sum;
    };
    // The pushes counter first: a scrape renders every rig's series (~0.1-0.35 s of the
    // controller's CPU at 10,000), which is the bench's own work, not the idle controller's.
    const p0 = await metric();
    const u0 = await procUsage(ctl.proc.pid);
    const hi0 = await hostsCpu();
    const IDLE_S = 20;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const u1 = await procUsage(ctl.proc.pid);
    const hi1 = await hostsCpu();
    const p1 = await metric();
    const idleCpu = ((u1.cpu - u0.cpu) / IDLE_S) * 100;
    // A Prometheus scrape as a farm's Prometheus makes one every 15 s (warm: p1's came first),
    // median of 3.
    const scrapes = [await timed(scrape), await timed(scrape), await timed(scrape)];
    const scraped = { ms: median(scrapes.map((x) => x.ms)), value: scrapes[0].value };
    console.error(`  /metrics scrapes: ${scrapes.map((x) => Math.round(x.ms)).join(", ")} ms`);
    const idleCpuHosts = ((hi1 - hi0) / IDLE_S) * 100;
    // Restart: every link comes back by itself.
    const k0 = performance.now();
    ctl.proc.kill("SIGTERM");
    await ctl.proc.status;
    const shutdownMs = performance.now() - k0;
    const h0 = await hostsCpu();
    const r0 = performance.now();
    ctl = await startController(home, ports);
    // Its start is part of the restart's time (the rigs' redials share the cores with it).
    console.error(
      `  restart: the new controller listening after ${Math.round(performance.now() - r0)} ms`,
    );
    await waitOnline(get, rigs, 180_000);
    const restartMs = performance.now() - r0;
    const restartCpuController = Math.round((await procUsage(ctl.proc.pid)).cpu * 10) / 10;
    const restartCpuHosts = Math.round((await hostsCpu() - h0) * 10) / 10;
    await storm("restart");
    const run: ScaleRun = {
      rigs,
      allowMs: Math.round(allow.ms),
      linkMs: Math.round(linkMs),
      statsMs: Math.round(median(stats) * 10) / 10,
      statsBytes,
      summaryMs: Math.round(median(summary) * 10) / 10,
      cliStatusMs: Math.round(cli.ms),
      freshMs: Math.round(fresh.ms),
      metricsMs: Math.round(scraped.ms * 10) / 10,
      metricsBytes: scraped.value.length,
      rss: u1.rss,
      idleCpu: Math.round(idleCpu * 10) / 10,
      pushesPerSecond: Math.round((p1 - p0) / IDLE_S),
      idleCpuHosts: Math.round(idleCpuHosts * 10) / 10,
      shutdownMs: Math.round(shutdownMs),
      restartMs: Math.round(restartMs),
      restartCpuController,
      restartCpuHosts,
    };
    log(
      `scale ${rigs}: allow ${run.allowMs} ms, linked ${run.linkMs} ms, stats ${run.statsMs} ms (${
        (statsBytes / 1e6).toFixed(1)
      } MB), summary ${run.summaryMs} ms, CLI status ${run.cliStatusMs} ms, fresh ${run.freshMs} ms (${freshOnline} online), /metrics ${run.metricsMs} ms (${
        (run.metricsBytes / 1e6).toFixed(1)
      } MB), RSS ${
        (run.rss / 1e6).toFixed(0)
      } MB, idle CPU ${run.idleCpu} % (${run.pushesPerSecond} pushes/s; rig hosts ${run.idleCpuHosts} %), shutdown ${run.shutdownMs} ms, restart ${run.restartMs} ms (CPU: controller ${restartCpuController} s, rig hosts ${restartCpuHosts} s)`,
    );
    return run;
  } finally {
    await stopAll([ctl.proc, ...hosts.map((h) => h.proc)]);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** A cold `remote status --json` (no daemon) dialing `rigs` listening workers. */
async function coldStatus(
  root: string,
  rigs: number,
  log: (s: string) => void,
): Promise<number[]> {
  const home = await Deno.makeTempDir({ dir: root, prefix: "cold-" });
  const paths = resolvePaths({ home });
  const id = await initIdentity(paths, { name: "boss", role: "controller" });
  const hosts = await startHosts(root, rigs, id.info, null);
  try {
    const reg = await PeerRegistry.open(paths.registryDb, { debounceMs: 60_000 });
    for (const h of hosts) {
      for (
        const n of (h as Host & {
          nodes: { id: string; name: string; publicKey: string; port: number }[];
        }).nodes
      ) {
        reg.upsert(newPeer({
          id: n.id,
          name: n.name,
          publicKey: n.publicKey,
          address: `127.0.0.1:${n.port}`,
          role: "worker",
        }));
      }
    }
    await reg.close();
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await timed(() =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", ...CLI_FLAGS, MAIN, "--home", home, "remote", "status", "--json"],
          stdout: "piped",
          stderr: "null",
        }).output()
      );
      const online = JSON.parse(dec.decode(r.value.stdout)).online;
      log(`scale: cold remote status dialing ${rigs}: ${Math.round(r.ms)} ms, ${online} online`);
      runs.push(Math.round(r.ms));
    }
    return runs;
  } finally {
    await stopAll(hosts.map((h) => h.proc));
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

type Stat = { min: number; median: number; max: number };
const stat = (xs: number[]): Stat => ({
  min: Math.min(...xs),
  median: median(xs),
  max: Math.max(...xs),
});

/** Runs the scale benchmark; returns every run and the summary per size. */
export async function benchScale(
  log: (s: string) => void,
  options: { sizes?: number[]; runs?: number } = {},
): Promise<unknown> {
  const sizes = options.sizes ?? [1000, 3000, 10_000];
  const runsPer = options.runs ?? 3;
  // Identities are kept between runs (generating 10,000 keys and homes takes a while).
  const root = `${Deno.env.get("TMPDIR") ?? "/tmp"}/miner-cli-bench-scale`;
  await Deno.mkdir(root, { recursive: true });
  const all: ScaleRun[] = [];
  for (const n of sizes) {
    for (let r = 0; r < runsPer; r++) all.push(await oneRun(root, n, log));
  }
  const cold = await coldStatus(root, 1000, log);
  const keys = [
    ["linkMs", "all linked + registered (ms)", "< 60,000 at 10,000"],
    ["restartMs", "all back after a restart (ms)", "< 20,000 at 10,000"],
    ["shutdownMs", "before it: SIGTERM to the old controller's exit (ms)", "(reported)"],
    ["restartCpuController", "CPU of that restart: the controller's (s)", "(reported)"],
    ["restartCpuHosts", "CPU of that restart: the rig hosts' (s)", "(reported)"],
    ["statsMs", "/remote/stats cached, all rows (ms)", "< 100"],
    ["summaryMs", "/remote/summary (ms)", "< 20"],
    ["cliStatusMs", "`remote status --json` via daemon, CLI wall (ms)", "(process start ~0.3 s)"],
    ["freshMs", "forced fresh read of every rig (ms)", "< 2,000"],
    ["metricsMs", "a Prometheus scrape of /metrics, every rig's series (ms)", "(reported)"],
    ["rss", "controller RSS (MB)", "< 600"],
    ["idleCpu", "idle CPU, pushes every 10 s (%)", "< 3"],
    ["idleCpuHosts", "the rig hosts' CPU meanwhile (% of a core)", "(reported)"],
    ["allowMs", "`peer allow` of every ID (ms)", "O(n)"],
  ] as const;
  const table: Record<string, Record<number, Stat>> = {};
  const lines = [
    `| figure | ${sizes.map((s) => s.toLocaleString("en-US")).join(" | ")} | target |`,
    `| --- | ${sizes.map(() => "---").join(" | ")} | --- |`,
  ];
  for (const [key, label, target] of keys) {
    table[key] = {};
    const cells = sizes.map((n) => {
      const xs = all.filter((r) => r.rigs === n).map((r) =>
        key === "rss" ? Math.round(r.rss / 1e6) : r[key]
      );
      const s = stat(xs);
      table[key][n] = s;
      return runsPer === 1 ? `${s.median}` : `${s.min} / ${s.median} / ${s.max}`;
    });
    lines.push(`| ${label} | ${cells.join(" | ")} | ${target} |`);
  }
  const coldStat = stat(cold);
  lines.push(
    // One cell, under the first size; the other sizes' cells stay empty.
    `| cold \`remote status --json\`, no daemon, dialing 1,000 (ms) | ${coldStat.min} / ${coldStat.median} / ${coldStat.max} |${
      " |".repeat(sizes.length - 1)
    } < 3,000 |`,
  );
  // Growth per rig between the smallest and largest size (medians).
  const lo = sizes[0];
  const hi = sizes.at(-1)!;
  const per = (key: keyof typeof table) =>
    (table[key][hi].median - table[key][lo].median) / (hi - lo);
  const growth = {
    rssKBPerRig: Math.round(per("rss") * 1000 * 10) / 10,
    linkMsPerRig: Math.round(per("linkMs") * 100) / 100,
    statsMsPerRig: Math.round(per("statsMs") * 1000) / 1000,
    freshMsPerRig: Math.round(per("freshMs") * 100) / 100,
  };
  log(`\n${lines.join("\n")}\n(min / median / max of ${runsPer} runs)`);
  // Growth needs two sizes.
  if (lo !== hi) {
    log(
      `growth per rig (${lo.toLocaleString("en-US")} → ${
        hi.toLocaleString("en-US")
      }): ${growth.rssKBPerRig} KB RSS, ${growth.linkMsPerRig} ms to link, ${growth.statsMsPerRig} ms per cached read, ${growth.freshMsPerRig} ms per fresh read`,
    );
  }
  return { runs: all, table, cold: coldStat, growth, markdown: lines.join("\n") };
}

if (import.meta.main) {
  const args = Deno.args;
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = await benchScale((s) => console.error(s), {
    sizes: opt("sizes")?.split(",").map(Number),
    runs: opt("runs") ? Number(opt("runs")) : undefined,
  });
  if (args.includes("--json")) console.log(JSON.stringify(out, null, 2));
}
