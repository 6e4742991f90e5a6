/**
 * The miner emulator as a real process: XMRig-compatible command line and API (auth codes,
 * pause/resume JSON-RPC), and `miner-cli simulate`.
 */
import assert from "node:assert/strict";
import {
  freePort,
  installEmulatedMiner,
  MinerApiError,
  parseXmrigSummary,
} from "../src/miners/mod.ts";
import { xmrigAdapter } from "../src/miners/adapters/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { MAIN, processesMentioning, RUN_FLAGS, tempHome, until } from "./helpers.ts";

Deno.test("emulator: XMRig command line, /1 and /2 summary, bearer auth 401/403, json_rpc pause/resume", async () => {
  const home = await tempHome();
  const bin = await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "100" },
  });
  const port = freePort();
  const child = new Deno.Command(bin, {
    args: [
      "-o",
      "pool.example.org:3333",
      "-u",
      "44w",
      "-a",
      "rx/0",
      "--http-host",
      "127.0.0.1",
      "--http-port",
      String(port),
      "--http-access-token",
      "sekret",
      "--http-no-restricted",
      "-t",
      "2",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      async () =>
        (await fetch(url + "/2/summary").then((r) => (r.body?.cancel(), r.status)).catch(() =>
          0
        )) !== 0,
      "API up",
    );
    const none = await fetch(url + "/2/summary");
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { status: 401, error: "Unauthorized" });
    const wrong = await fetch(url + "/2/summary", { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();
    const auth = { authorization: "Bearer sekret" };
    for (const path of ["/1/summary", "/2/summary"]) {
      const s = parseXmrigSummary(await (await fetch(url + path, { headers: auth })).json());
      assert.equal(s.pool, "pool.example.org:3333");
      assert.equal(s.algorithm, "rx/0");
    }
    const rpc = (method: string) =>
      fetch(url + "/json_rpc", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ method, id: 7, jsonrpc: "2.0" }),
      })
        .then((r) => r.json());
    assert.deepEqual(await rpc("pause"), { result: { status: "OK" }, jsonrpc: "2.0", id: 7 });
    assert.equal((await (await fetch(url + "/2/summary", { headers: auth })).json()).paused, true);
    assert.deepEqual(await rpc("resume"), { result: { status: "OK" }, jsonrpc: "2.0", id: 7 });
    assert.equal((await rpc("reboot")).error.code, -32601);
    // the adapter reports a refused token clearly
    const ctx = {
      binary: bin,
      workDir: home,
      apiPort: port,
      apiToken: "wrong",
      minerName: "x",
      cpuThreads: 2,
    };
    await assert.rejects(
      xmrigAdapter.readStats!(ctx, AbortSignal.timeout(2000)),
      (e: Error) => e instanceof MinerApiError && /HTTP 403/.test(e.message),
    );
    // console lines in XMRig's format
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/speed 10s\/60s\/15m/.test(text)) text += (await reader.read()).value ?? "";
    assert.match(text, /XMRig\/6\.21\.0/);
    await reader.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("simulate: a node with N emulated miners, reachable through the CLI, gone after SIGINT", async () => {
  const home = await tempHome();
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...RUN_FLAGS,
      MAIN,
      "--home",
      home,
      "simulate",
      "--count",
      "3",
      "--preset",
      "cpu-low",
      "--listen",
      "127.0.0.1:0",
      "--api-listen",
      "127.0.0.1:0",
      "--json",
      "--poll-interval",
      "200ms",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let buf = "";
    while (!buf.includes("\n")) buf += (await reader.read()).value ?? "";
    const ready = JSON.parse(buf.split("\n")[0]);
    assert.deepEqual(ready.simulated, ["sim-cpu-low-1", "sim-cpu-low-2", "sim-cpu-low-3"]);
    const status = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...RUN_FLAGS, MAIN, "--home", home, "status", "--json"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return JSON.parse(new TextDecoder().decode(out.stdout)).miners as {
        hashrate: { now: number | null };
      }[];
    };
    await until(
      async () => {
        const m = await status();
        return m.length === 3 && m.every((x) => (x.hashrate.now ?? 0) > 0);
      },
      "three hashing miners",
      20_000,
    );
  } finally {
    proc.kill("SIGINT");
    assert.equal((await proc.status).code, 0);
    await reader.cancel();
    await proc.stderr.cancel();
    assert.deepEqual(await processesMentioning(home), []);
    await Deno.remove(home, { recursive: true });
  }
});
