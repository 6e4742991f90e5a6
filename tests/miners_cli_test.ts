/**
 * Issue 3 through the CLI and the node's API, with `node serve` as a real process.
 */
import assert from "node:assert/strict";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  alive,
  cli,
  cliOk,
  followUntil,
  initNode,
  processesMentioning,
  serve,
  tempHome,
  until,
} from "./helpers.ts";

const FAST = [
  "--api-listen",
  "127.0.0.1:0",
  "--poll-interval",
  "200ms",
  "--history-interval",
  "200ms",
];

Deno.test("CLI: profile add, start, status, logs, stdin, pause/resume, stop; SIGTERM leaves no miner", async () => {
  const home = await tempHome();
  await initNode(home, "rig-cli", "worker");
  await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "200" },
  });
  await cliOk(home, [
    "profile",
    "add",
    "--type",
    "xmrig",
    "--name",
    "cpu",
    "--pool",
    "stratum+tcp://pool.example.org:3333",
    "--user",
    "44wallet.rig",
    "--threads",
    "2",
  ]);
  await cliOk(home, [
    "profile",
    "add",
    "--type",
    "xmrig",
    "--name",
    "cpu2",
    "--pool",
    "pool.example.org:3333",
    "--user",
    "44wallet",
    "--autostart",
  ]);
  const bad = await cli(home, [
    "profile",
    "add",
    "--type",
    "xmrig",
    "--name",
    "evil",
    "--pool",
    "pool.example.org:3333",
    "--user",
    "w",
    "--arg",
    "x;reboot",
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /shell metacharacter/);
  const listed = JSON.parse((await cliOk(home, ["profile", "list", "--json"])).stdout).profiles;
  assert.deepEqual(listed.map((p: { name: string }) => p.name), ["cpu", "cpu2"]);
  const installed = JSON.parse((await cliOk(home, ["miners", "list", "--json"])).stdout).miners;
  assert.equal(installed[0].type, "xmrig");
  assert.equal(installed[0].version, "6.21.0");

  const srv = await serve(home, FAST);
  try {
    // autostart brought cpu2 up
    await until(
      async () => JSON.parse((await cliOk(home, ["status", "--json"])).stdout).miners.length === 1,
      "autostart",
    );
    const started = JSON.parse((await cliOk(home, ["start", "cpu", "--json"])).stdout);
    assert.equal(started.name, "cpu");
    // a repeated start is not a second miner: it says so and succeeds
    const again = await cliOk(home, ["start", "cpu"]);
    assert.match(again.stdout, /^cpu is already running \(since /m);
    let status: {
      miners: {
        name: string;
        hashrate: { now: number | null };
        shares: { accepted: number };
        pid: number;
      }[];
    };
    await until(async () => {
      status = JSON.parse((await cliOk(home, ["status", "--json"])).stdout);
      return status.miners.length === 2 &&
        status.miners.every((m) => (m.hashrate.now ?? 0) > 0 && m.shares.accepted > 0);
    }, "stats via API");
    const human = (await cliOk(home, ["status"])).stdout;
    assert.match(human, /cpu\s+xmrig\s+running/);
    assert.match(human, /^total rx\/0: [\d.]+ (k?H\/s)$/m);
    const logs = (await cliOk(home, ["logs", "cpu", "--lines", "5"])).stdout.trim().split("\n");
    assert.equal(logs.length, 5);
    await cliOk(home, ["stdin", "cpu", "s"]);
    await until(
      async () =>
        (await cliOk(home, ["logs", "cpu", "--lines", "50"])).stdout.includes("results: accepted"),
      "stdin",
    );
    await cliOk(home, ["pause", "cpu"]);
    await until(
      async () =>
        JSON.parse((await cliOk(home, ["status", "--json"])).stdout).miners.find((
          m: { name: string },
        ) => m.name === "cpu").paused,
      "paused",
    );
    await cliOk(home, ["resume", "cpu"]);
    // follow mode streams new lines and exits cleanly on Ctrl+C
    const followed = await followUntil(
      home,
      ["logs", "cpu", "--lines", "1", "--follow"],
      /speed 10s/,
      3,
    );
    assert.equal(followed.code, 0);
    assert.ok((followed.output.match(/speed 10s/g) ?? []).length >= 3);
    // API errors surface as CLI errors
    const missing = await cli(home, ["stop", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no miner named "nope"/);
    // history was sampled
    const pids = status!.miners.map((m) => m.pid);
    await cliOk(home, ["stop", "cpu"]);
    assert.equal(await alive(pids[0]), false);
    // SIGTERM to the node stops the remaining miner
    assert.equal(await srv.stop(), 0);
    for (const pid of pids) assert.equal(await alive(pid), false);
    assert.deepEqual(await processesMentioning(home), []);
  } finally {
    await srv.stop();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("API: token required, history and errors", async () => {
  const home = await tempHome();
  await initNode(home, "rig-api", "worker");
  await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "200" },
  });
  await addXmrigProfile(home, "cpu", ["--autostart"]);
  const token = (await cliOk(home, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
  assert.match(token, /^[0-9a-f]{64}$/);
  const srv = await serve(home, FAST);
  const api = JSON.parse(await Deno.readTextFile(`${home}/data/api.json`)).url;
  const get = (path: string, auth = true) =>
    fetch(api + path, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
  try {
    assert.equal((await get("/health", false)).status, 200);
    const noAuth = await get("/api/v1/mining/miners", false);
    assert.equal(noAuth.status, 401);
    assert.equal((await noAuth.json()).error.code, "unauthorized");
    const wrong = await fetch(api + "/api/v1/mining/miners", {
      headers: { authorization: "Bearer " + "0".repeat(64) },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    await until(async () => {
      const t = Date.now();
      const r = await (await get(`/api/v1/mining/history?miner=cpu&from=${t - 60_000}&to=${t}`))
        .json();
      return r.points.filter((p: { hashrate: number }) => p.hashrate > 0).length >= 3;
    }, "history samples");
    const bad = await get("/api/v1/mining/history?miner=cpu&from=abc&to=1");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /from/);
    const post = await fetch(api + "/api/v1/mining/profiles", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "x",
        minerType: "xmrig",
        config: { pools: [{ url: "nope", user: "w" }] },
      }),
    });
    assert.equal(post.status, 400);
    assert.match((await post.json()).error.message, /pool URL must be/);
    const unknown = await get("/api/v1/mining/miners/ghost");
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const doc = await (await get("/api/v1/mining/openapi.json", false)).json();
    assert.ok(doc.paths["/api/v1/mining/miners/{name}/logs"]);
  } finally {
    await srv.stop();
    assert.deepEqual(await processesMentioning(home), []);
    await Deno.remove(home, { recursive: true });
  }
});
