/**
 * A node out of file descriptors does not die: started with `ulimit -n 64` and flooded with more
 * connections than it can take on both its peer port and its API, it refuses what it cannot
 * accept, says so in its log (rate-limited), keeps running, serves its API again as soon as
 * descriptors free up, and its worker still answers a controller.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, cliOk, freePort, initNode, MAIN, RUN_FLAGS, tempHome, until } from "./helpers.ts";

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
    const argv = [
      Deno.execPath(),
      "run",
      ...RUN_FLAGS,
      MAIN,
      "--home",
      w,
      "node",
      "serve",
      "--listen",
      `127.0.0.1:${peerPort}`,
      "--api-listen",
      `127.0.0.1:${apiPort}`,
      "--json",
    ]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const proc = new Deno.Command("bash", {
      args: ["-c", `ulimit -n 64 && exec ${argv}`],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let log = "";
    (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    const out = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
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
      assert.ok(running, `the node exited:\n${log}`);
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
      const ping = await cliOk(c, ["peer", "ping", "rig", "--count", "1"]);
      assert.match(ping.stdout, /1\/1|received 1|1 received|rtt/i, ping.stdout);
      // The shortage was logged, and rate-limited (not one line per refused connection).
      const lines = log.split("\n").filter((l) =>
        /out_of_file_descriptors|api_serving_again|connection_refused/.test(l)
      );
      assert.ok(lines.length >= 1, `no log line about the shortage:\n${log}`);
      assert.ok(
        lines.length <= 25,
        `${lines.length} log lines for one flood:\n${lines.join("\n")}`,
      );
      assert.doesNotMatch(log, /Uncaught/);
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
