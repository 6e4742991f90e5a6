/**
 * A node out of file descriptors does not die: started with `ulimit -n 64` and flooded with more
 * connections than it can take on both its peer port and its API, it refuses what it cannot
 * accept, says so in its log (rate-limited), keeps running, serves its API again as soon as
 * descriptors free up, and its worker still answers a controller. A controller whose open-file
 * limit fits fewer links than rigs link in keeps what fits, summarises the refusals and serves on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cli,
  cliOk,
  freePort,
  initNode,
  MAIN,
  ROOT,
  RUN_FLAGS,
  tempHome,
  until,
} from "./helpers.ts";

/** `node serve` for `home` under `ulimit -n fds` on these ports, its stderr collected. */
function serveWithFds(
  home: string,
  fds: number,
  options: { peerPort: number; apiPort: number; extra?: string[]; env?: Record<string, string> },
): { proc: Deno.ChildProcess; out: ReadableStreamDefaultReader<string>; readonly log: string } {
  const argv = [
    Deno.execPath(),
    "run",
    ...RUN_FLAGS,
    MAIN,
    "--home",
    home,
    "node",
    "serve",
    "--listen",
    `127.0.0.1:${options.peerPort}`,
    "--api-listen",
    `127.0.0.1:${options.apiPort}`,
    "--json",
    ...(options.extra ?? []),
  ].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const proc = new Deno.Command("bash", {
    args: ["-c", `ulimit -n ${fds} && exec ${argv}`],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let log = "";
  (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  return {
    proc,
    out: proc.stdout.pipeThrough(new TextDecoderStream()).getReader(),
    get log() {
      return log;
    },
  };
}

Deno.test({
  name:
    "limits: a node with `ulimit -n 64` flooded on its peer port and API keeps running, logs it, and serves again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const w = join(root, "w");
    const c = join(root, "c");
    const ctl = await initNode(c, "boss", "controller");
    await initNode(w, "rig", "worker");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    const peerPort = freePort();
    const apiPort = freePort();
    const node = serveWithFds(w, 64, { peerPort, apiPort });
    const { proc, out } = node;
    const conns: Deno.Conn[] = [];
    try {
      let first = "";
      while (!first.includes("\n")) first += (await out.read()).value ?? "";
      assert.match(first, /"event":"listening"/);
      // More connections than 64 descriptors allow, held open, on both ports.
      let refused = 0;
      for (let i = 0; i < 120; i++) {
        for (const port of [peerPort, apiPort]) {
          try {
            conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
          } catch {
            refused++;
          }
        }
      }
      const health = () =>
        fetch(`http://127.0.0.1:${apiPort}/health`, { signal: AbortSignal.timeout(2000) }).then((
          r,
        ) => r.ok).catch(() => false);
      assert.ok(conns.length + refused === 240);
      // Still running while flooded.
      await new Promise((r) => setTimeout(r, 1000));
      const running = await Promise.race([
        proc.status.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 100)),
      ]);
      assert.ok(running, `the node exited:\n${node.log}`);
      for (const conn of conns.splice(0)) {
        try {
          conn.close();
        } catch { /* reset by the node */ }
      }
      // Descriptors free: the API answers again, and the worker answers its controller.
      await until(health, "the API serving again", 15_000, 200);
      // (the flood's queued sockets hold the per-address handshake slots until their timeout)
      await until(
        async () =>
          (await cli(c, ["peer", "add", "--address", `127.0.0.1:${peerPort}`, "--name", "rig"]))
            .code === 0,
        "the worker reachable again",
        30_000,
        1000,
      );
      const ping = await cli(c, ["peer", "ping", "rig", "--count", "1"]);
      assert.equal(ping.code, 0, `ping: ${ping.stderr}\nthe worker's log:\n${node.log}`);
      assert.match(ping.stdout, /1\/1|received 1|1 received|rtt/i, ping.stdout);
      // The shortage was logged, and rate-limited (not one line per refused connection).
      const lines = node.log.split("\n").filter((l) =>
        /out_of_file_descriptors|api_serving_again|connection_refused/.test(l)
      );
      assert.ok(lines.length >= 1, `no log line about the shortage:\n${node.log}`);
      assert.ok(
        lines.length <= 25,
        `${lines.length} log lines for one flood:\n${lines.join("\n")}`,
      );
      assert.doesNotMatch(node.log, /Uncaught/);
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      try {
        proc.kill("SIGTERM");
      } catch { /* gone */ }
      await proc.status;
      await out.cancel().catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "limits: a controller whose open-file limit fits fewer links than 60 rigs linking in keeps what fits, refuses the rest with one log line per interval, serves its API and does not exit",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const c = join(root, "c");
    const ctl = await initNode(c, "boss", "controller");
    const peerPort = freePort();
    const apiPort = freePort();
    const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
    // 420 descriptors: the default connection limit is about 420 - 384 = 36.
    const node = serveWithFds(c, 420, {
      peerPort,
      apiPort,
      extra: ["--refusal-log-interval", "3s"],
      env: { MINER_CLI_LOG_FORMAT: "json" },
    });
    const { proc, out } = node;
    // 60 rigs in one process, each with its own key, linking in as `node serve --connect` does.
    const host = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-net",
        join(ROOT, "scripts", "bench_fleet_host.ts"),
        "--root",
        join(root, "rigs"),
        "--count",
        "60",
        "--prefix",
        "rig",
        "--controller-id",
        ctl.id,
        "--controller-key",
        ctl.publicKey,
        "--connect",
        `127.0.0.1:${peerPort}`,
        "--push-ms",
        "2000",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const api = (path: string) =>
      fetch(`http://127.0.0.1:${apiPort}${path}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
    try {
      let first = "";
      while (!first.includes("\n")) first += (await out.read()).value ?? "";
      assert.match(first, /"event":"listening"/);
      const reader = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let line = "";
      while (!line.includes("\n")) line += (await reader.read()).value ?? "";
      const ids = JSON.parse(line.split("\n")[0]).nodes.map((n: { id: string }) => n.id);
      assert.equal(ids.length, 60);
      await cliOk(c, ["peer", "allow", ...ids]);
      const go = host.stdin.getWriter();
      await go.write(new TextEncoder().encode("go\n"));
      const summary = async () => await (await api("/api/v1/mining/remote/summary")).json();
      // The limit follows the descriptors: 420 minus the 384 kept for everything else, less
      // the few already open when the node counted them (it may not run `sh` to ask).
      await until(() => node.log.includes('"event":"connection_limit"'), "the limit logged");
      const limitLine = JSON.parse(
        node.log.split("\n").find((l) => l.includes("connection_limit"))!,
      );
      const max = limitLine.maxConnections;
      assert.ok(max >= 16 && max <= 36, JSON.stringify(limitLine));
      assert.ok(limitLine.openFileLimit <= 420 && limitLine.openFileLimit > 380);
      await until(async () => (await summary()).online === max, `${max} rigs linked`, 60_000, 250);
      // The 24 others keep trying: their refusals are summarised, one line per window (3 s here,
      // 10 s by default).
      const refusals = () =>
        node.log.split("\n").filter((l) => l.includes('"event":"connection_refused"'));
      await until(
        () => refusals().filter((l) => l.includes("more connection(s) refused")).length >= 2,
        "two summary lines",
        40_000,
        250,
      );
      const times = refusals().map((l) => Date.parse(JSON.parse(l).ts));
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      assert.ok(gaps.every((g) => g >= 2_700), `refusal lines closer than a window: ${gaps}`);
      assert.ok(refusals().join("\n").includes(`connection limit (${max}) reached`));
      // Still serving: its API, and the links it has (their pushes keep arriving).
      assert.equal((await api("/health")).status, 200);
      const s = await summary();
      assert.equal(s.online, max);
      const stats = await (await api("/api/v1/mining/remote/stats?limit=1")).json();
      assert.equal(stats.online, max);
      const running = await Promise.race([
        proc.status.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 100)),
      ]);
      assert.ok(running, `the node exited:\n${node.log}`);
      assert.doesNotMatch(node.log, /Uncaught/);
    } finally {
      try {
        host.kill("SIGTERM");
      } catch { /* gone */ }
      await host.status;
      try {
        proc.kill("SIGTERM");
      } catch { /* gone */ }
      await proc.status;
      await out.cancel().catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("loop lag: a blocked event loop shows in the monitor's maximum", async () => {
  const { startLoopLagMonitor } = await import("../src/daemon/mod.ts");
  const lag = startLoopLagMonitor({ intervalMs: 50, windowMs: 60_000 });
  try {
    const tick = () => new Promise((r) => setTimeout(r, 120));
    await tick();
    const before = lag.maxMs();
    const end = performance.now() + 600;
    while (performance.now() < end) { /* the node busy in one synchronous task */ }
    await tick(); // the monitor's timer has run since
    const after = lag.maxMs();
    assert.ok(after >= 450, `a 600 ms block measured ${after} ms`);
    assert.ok(after > before, `${before} → ${after}`);
  } finally {
    lag.stop();
  }
});
