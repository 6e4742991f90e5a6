/**
 * Regression tests for miner lifecycle races and shutdown with open event streams.
 */
import assert from "node:assert/strict";
import { installEmulatedMiner, MinerManager } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  cliOk,
  initNode,
  MAIN,
  processesMentioning,
  RUN_FLAGS,
  serve,
  tempHome,
  until,
} from "./helpers.ts";

const POOL = [{ url: "pool.example.org:3333", user: "44w" }];

Deno.test("stop during launch, during a watchdog restart, and stop+start back to back leave no stray process", async () => {
  const home = await tempHome();
  const paths = resolvePaths({ home });
  await installEmulatedMiner(paths, "xmrig", { env: { MINER_EMU_FAULT: "exit=1" } });
  const m = new MinerManager(paths, {
    supervisor: { pollMs: 100, backoffBaseMs: 20, backoffMaxMs: 40 },
  });
  // Every start of a process, with whether a stop of "a" had returned (and no start followed).
  let stopped = false;
  const lateStarts: string[] = [];
  m.onEvent((e) => {
    if (stopped && (e.kind === "started" || e.kind === "restarted")) lateStarts.push(e.kind);
  });
  try {
    await m.profiles.add({ name: "a", minerType: "xmrig", config: { pools: POOL } });
    // stop while the first launch is in flight, at each step of it: while the profile is read,
    // the intent is written, the binary is launched (a stop that came before the supervisor
    // started once left it restarting the miner forever, out of the manager's sight)
    for (let i = 0; i < 16; i++) {
      stopped = false;
      const starting = m.start("a");
      if (i < 8) { for (let k = 0; k < i; k++) await Promise.resolve(); }
      else await new Promise((r) => setTimeout(r, i - 8));
      const [started] = await Promise.all([
        starting.then(() => "started", (e: Error) => e.name),
        m.stop("a"),
      ]);
      assert.ok(["started", "MinerStoppedError"].includes(started), started);
      stopped = true;
    }
    // a stray supervisor restarts its miner every 20-40 ms: 300 ms without one is none
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(lateStarts, [], "a miner started after its stop returned");
    assert.deepEqual(await m.intents(), { [(await m.profiles.list())[0].id]: "stopped" });
    stopped = false;
    // the miner exits at once and is restarted every ~30 ms: stop lands during restarts
    for (let i = 0; i < 5; i++) {
      await m.start("a");
      await new Promise((r) => setTimeout(r, 60 + i * 17));
      await m.stop("a");
    }
    assert.deepEqual(m.list(), []);
    // A process that is exiting as stop returns (its exit is being reaped) is gone a moment
    // later; one left running would not be.
    await until(
      async () => (await processesMentioning(home)).length === 0,
      "no stray process",
      3000,
    );
  } finally {
    await m.stopAll();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("node shutdown and miner stop end open log streams; /miners/installed works", async () => {
  const home = await tempHome();
  await initNode(home, "rig", "worker");
  await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "100" },
  });
  await addXmrigProfile(home, "cpu", ["--autostart"]);
  const srv = await serve(home, ["--poll-interval", "200ms"]);
  // A follower of `cpu`: resolves once it printed a line from the live stream (the backlog is one
  // line, the emulator prints every 100 ms), so it is connected; stdout is drained after that.
  const follow = async (): Promise<Deno.ChildProcess> => {
    const proc = new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUN_FLAGS, MAIN, "--home", home, "logs", "cpu", "--lines", "1", "--follow"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (seen.split("\n").length < 3) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`follower ended before streaming: ${seen}`);
      seen += value;
    }
    (async () => {
      while (!(await lines.read()).done) { /* drain */ }
    })().catch(() => {});
    return proc;
  };
  try {
    const token = (await Deno.readTextFile(`${home}/config/api_token`)).trim();
    const api = JSON.parse(await Deno.readTextFile(`${home}/data/api.json`)).url;
    const installed = await fetch(`${api}/api/v1/mining/miners/installed`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(installed.status, 200);
    assert.equal((await installed.json()).miners[0].type, "xmrig");
    // a follower of a miner that is stopped ends by itself
    const f1 = await follow();
    await cliOk(home, ["stop", "cpu"]);
    const [status, stderr] = await Promise.all([f1.status, new Response(f1.stderr).text()]);
    assert.equal(status.code, 0);
    assert.match(stderr, /miner stopped/);
  } finally {
    // SIGTERM with a follower connected still shuts the node down promptly
    await cliOk(home, ["start", "cpu"]).catch(() => {});
    const f2 = await follow();
    const t0 = Date.now();
    assert.equal(await srv.stop(), 0);
    assert.ok(Date.now() - t0 < 8000, `node took ${Date.now() - t0} ms to stop`);
    await f2.status;
    await f2.stderr.cancel().catch(() => {});
    assert.deepEqual(await processesMentioning(`${home}/data`), []);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("API: a body without a JSON content type is 415, not 500", async () => {
  const { createApiApp } = await import("../src/api/mod.ts");
  const home = await tempHome();
  const miners = new MinerManager(resolvePaths({ home }));
  const { app } = createApiApp({
    node: () => ({
      id: "0".repeat(32),
      name: "n",
      publicKey: "A".repeat(43) + "=",
      role: "worker",
      createdAt: "",
    }),
    miners,
    history: null,
    token: "t",
    startedAt: new Date(),
  });
  try {
    const r = await app.request("/api/v1/mining/profiles", {
      method: "POST",
      headers: { authorization: "Bearer t" },
      body: "{}",
    });
    assert.equal(r.status, 415);
    assert.equal((await r.json()).error.code, "unsupported_media_type");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
