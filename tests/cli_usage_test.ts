/**
 * The CLI as a newcomer meets it: group help, did-you-mean, sentences instead of validation
 * wording, busy addresses that name their flag, `--arg` values that start with `-`, `--timeout`
 * honoured through a running node, and geo distances measured from where the node is now.
 * @module
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { MeshNode, type PeerSession } from "../src/node/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { cli, cliOk, initNode, serve, tempHome } from "./helpers.ts";

Deno.test("usage: help node, node --help and a bare group print the group's commands; a typo gets the nearest command", async () => {
  const viaHelp = await cli(null, ["help", "node"]);
  assert.equal(viaHelp.code, 0);
  assert.match(viaHelp.stdout, /^miner-cli node: this node/);
  for (const sub of ["init", "info", "set", "reset", "pair-code", "policy", "serve"]) {
    assert.match(viaHelp.stdout, new RegExp(`^  ${sub} `, "m"), sub);
  }
  const viaFlag = await cli(null, ["node", "--help"]);
  assert.equal(viaFlag.code, 0);
  assert.equal(viaFlag.stdout, viaHelp.stdout);
  // a group without its command: the group's commands, and exit 1 (nothing was done)
  const bare = await cli(null, ["remote"]);
  assert.equal(bare.code, 1);
  assert.match(bare.stdout, /^miner-cli remote: drive workers/);
  for (const sub of ["status", "start", "stop", "logs", "deploy"]) {
    assert.match(bare.stdout, new RegExp(`^  ${sub} `, "m"), sub);
  }
  // a mistyped command and a mistyped option: the nearest one, and usage printed once
  const typo = await cli(null, ["peer", "lst"]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /^error: peer has no command "lst"; did you mean `peer list`\?/);
  assert.equal(typo.stdout, "");
  const home = await tempHome();
  try {
    const flag = await cli(home, ["peer", "list", "--no-prob"]);
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /peer list has no option --no-prob; did you mean --no-probe\?/);
    assert.equal(flag.stderr.match(/usage:/g)?.length, 1, flag.stderr);
    // --home after the command works as before it
    await cli(home, ["node", "init", "--name", "rig-01"]);
    const after = await cli(null, ["node", "info", "--json", "--home", home]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(JSON.parse(after.stdout).name, "rig-01");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("usage: a profile without --pool says so in a sentence; --arg takes values that start with -", async () => {
  const home = await tempHome();
  try {
    await cli(home, ["node", "init", "--name", "rig"]);
    const noPool = await cli(home, ["profile", "add", "--type", "xmrig", "--name", "cpu"]);
    assert.equal(noPool.code, 1);
    assert.match(noPool.stderr, /^error: invalid profile: --pool is required$/m);
    assert.doesNotMatch(noPool.stderr, /Invalid input|expected array|config\.pools/);
    const xmrig = await cli(home, [
      "profile",
      "add",
      "--type",
      "xmrig",
      "--name",
      "light",
      "--pool",
      "127.0.0.1:3333",
      "--user",
      "44w",
      "--arg",
      "--randomx-mode=light",
      "--json",
    ]);
    assert.equal(xmrig.code, 0, xmrig.stderr);
    assert.deepEqual(JSON.parse(xmrig.stdout).config.args, ["--randomx-mode=light"]);
    // README's own example
    const custom = await cli(home, [
      "profile",
      "add",
      "--type",
      "custom",
      "--name",
      "lol",
      "--command",
      "lolMiner",
      "--arg",
      "--algo",
      "--arg",
      "ETCHASH",
      "--hashrate-pattern",
      "Total:\\s+([\\d.]+)\\s*(MH/s)",
      "--accepted-pattern",
      "accepted",
      "--json",
    ]);
    assert.equal(custom.code, 0, custom.stderr);
    assert.deepEqual(JSON.parse(custom.stdout).config.args, ["--algo", "ETCHASH"]);
    // and the stored profile holds them
    const shown = JSON.parse((await cli(home, ["profile", "show", "lol"])).stdout);
    assert.deepEqual(shown.config.args, ["--algo", "ETCHASH"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("usage: a busy peer or API port names the address and the flag that changes it", async () => {
  const home = await tempHome();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    await initNode(home, "rig", "worker");
    const api = await cli(home, [
      "node",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--api-listen",
      `127.0.0.1:${port}`,
    ]);
    assert.equal(api.code, 1);
    assert.match(
      api.stderr,
      new RegExp(
        `error: 127\\.0\\.0\\.1:${port} is already in use .*--api-listen HOST:PORT.*--no-api`,
      ),
    );
    const p2p = await cli(home, ["node", "serve", "--listen", `127.0.0.1:${port}`, "--no-api"]);
    assert.equal(p2p.code, 1);
    assert.match(
      p2p.stderr,
      new RegExp(`error: 127\\.0\\.0\\.1:${port} is already in use .*--listen HOST:PORT`),
    );
    assert.doesNotMatch(api.stderr + p2p.stderr, /AddrInUse|EADDRINUSE|at .*\.ts:\d+/);
  } finally {
    blocker.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("usage: remote stop --timeout and remote logs --timeout take effect through a running node", async () => {
  const root = await tempHome();
  const c = `${root}/ctl`;
  const w = `${root}/rig`;
  const ctl = await initNode(c, "ctl", "controller");
  await initNode(w, "mute", "worker");
  // A worker that lets the controller in, reports one miner, and never answers stop or get_logs.
  const mesh = await MeshNode.open(resolvePaths({ home: w }), { keepalive: false });
  await mesh.auth.allow({ id: ctl.id, addedAt: new Date().toISOString(), grants: ["control"] });
  const asked: string[] = [];
  mesh.onSession((s: PeerSession) => {
    s.on("get_stats", (m) =>
      s.reply(m, "stats", {
        nodeId: mesh.id,
        nodeName: "mute",
        role: "worker",
        uptime: 5,
        miners: [{
          name: "xmrig",
          type: "xmrig",
          profileId: null,
          state: "running",
          pid: 1,
          hashrate: { now: 100, avg60: 100, avg15m: null },
          shares: { accepted: 1, rejected: 0 },
          pool: "127.0.0.1:3333",
          algorithm: "rx/0",
          difficulty: 1,
          uptime: 5,
          paused: false,
          version: "6.16.0",
          threads: [],
          devices: [],
          restarts: 0,
          restartLog: [],
          startedAt: new Date().toISOString(),
          lastError: null,
        }],
      }));
    s.on("stop_miner", () => void asked.push("stop_miner"));
    s.on("get_logs", () => void asked.push("get_logs"));
  });
  const server = await mesh.serve({ hostname: "127.0.0.1", port: 0 });
  const daemon = await serve(c);
  try {
    await cliOk(c, ["peer", "add", "--address", `127.0.0.1:${server.port}`, "--name", "mute"]);
    // --api names the running node: it answers, or the command fails (no direct dial)
    const api = ["--api", daemon.api!];
    const stop = await cli(c, ["remote", "stop", "mute", "--timeout", "300ms", ...api]);
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, /no answer to stop_miner within 300 ms/);
    const logs = await cli(c, [
      "remote",
      "logs",
      "mute",
      "xmrig",
      "--timeout",
      "400ms",
      ...api,
    ]);
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, /no answer to get_logs within 400 ms/);
    // the running node asked the worker, and gave up when the CLI's timeout said
    assert.deepEqual(asked, ["stop_miner", "get_logs"]);
  } finally {
    await daemon.stop();
    await server.close();
    await mesh.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("usage: node set --lat/--lon changes peer optimal's distances", async () => {
  const root = await tempHome();
  const c = `${root}/ctl`;
  const w = `${root}/rig`;
  await initNode(c, "ctl", "controller");
  await initNode(w, "rig", "worker");
  await cliOk(c, ["node", "set", "--lat", "52.52", "--lon", "13.40"]); // Berlin
  const rigNode = await serve(w, ["--no-api"]);
  try {
    const code = JSON.parse((await cliOk(w, ["node", "pair-code", "--json"])).stdout).code;
    await cliOk(c, [
      "peer",
      "add",
      "--address",
      rigNode.address,
      "--code",
      code,
      "--lat",
      "48.86",
      "--lon",
      "2.35", // Paris
    ]);
  } finally {
    await rigNode.stop();
  }
  try {
    const km = async () =>
      JSON.parse((await cli(c, ["peer", "optimal", "--json"])).stdout)[0].geoKm as number;
    assert.ok(Math.abs(await km() - 878) < 5, `Berlin-Paris ${await km()} km`);
    await cliOk(c, ["node", "set", "--lat", "40.71", "--lon", "-74.01"]); // New York
    assert.ok(Math.abs(await km() - 5837) < 10, `New York-Paris ${await km()} km`);
    // the stored distance moved too (peer list shows it)
    const listed = JSON.parse((await cli(c, ["peer", "list", "--json", "--no-probe"])).stdout);
    assert.ok(Math.abs(listed[0].geoKm - 5837) < 10, JSON.stringify(listed[0]));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
