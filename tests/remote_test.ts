/**
 * Issue 4 (remote operations): a controller and workers as real processes, direct and through
 * the controller's node (--connect).
 */
import assert from "node:assert/strict";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { PeerRegistry } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  cli,
  cliOk,
  followUntil,
  initNode,
  MAIN,
  processesMentioning,
  RUN_FLAGS,
  serve,
  tempHome,
  until,
} from "./helpers.ts";

const FAST = ["--poll-interval", "200ms"];
const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };

Deno.test("remote: start on two workers, fleet status, logs and follow, stop one then all; offline worker → exit 2", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const homes = [`${root}/w1`, `${root}/w2`];
  const ctl = await initNode(c, "control", "controller");
  const servers = [];
  try {
    for (const [i, h] of homes.entries()) {
      await initNode(h, `rig-${i + 1}`, "worker");
      await installEmulatedMiner(resolvePaths({ home: h }), "xmrig", {
        env: { ...EMU, MINER_EMU_HASHRATE: String(1000 * (i + 1)) },
      });
      await cliOk(h, ["peer", "allow", ctl.id, "--control"]);
      servers.push(await serve(h, FAST));
    }
    for (const [i, s] of servers.entries()) {
      await cliOk(c, ["peer", "add", "--address", s.address, "--name", `w${i + 1}`]);
    }
    // the profile lives on the controller only; start_miner carries it
    await cliOk(c, [
      "profile",
      "add",
      "--type",
      "xmrig",
      "--name",
      "cpu",
      "--pool",
      "pool.example.org:3333",
      "--user",
      "44wallet",
      "--threads",
      "1",
    ]);
    // deploy the profile to both workers in one command; each saves it in its profile store
    const dep = JSON.parse(
      (await cliOk(c, ["remote", "deploy", "w1", "w2", "--profile", "cpu", "--json"])).stdout,
    );
    assert.deepEqual(dep.results.map((r: { ok: boolean }) => r.ok), [true, true]);
    assert.equal(dep.bundle.type, "profile");
    const localProfile = JSON.parse((await cliOk(c, ["profile", "show", "cpu", "--json"])).stdout);
    for (const h of homes) {
      const remote = JSON.parse((await cliOk(h, ["profile", "show", "cpu", "--json"])).stdout);
      assert.deepEqual(remote, localProfile);
    }
    for (const w of ["w1", "w2"]) {
      assert.match(
        (await cliOk(c, ["remote", "start", w, "--profile", "cpu"])).stdout,
        /started cpu on w\d/,
      );
    }
    type Doc = {
      totals: { algorithm: string; hashrate: number; rigs: number }[];
      online: number;
      offline: number;
      peers: {
        name: string;
        online: boolean;
        hashrate?: number;
        miners: { name: string; hashrate: { now: number | null } }[];
      }[];
    };
    let doc!: Doc;
    await until(
      async () => {
        const r = await cli(c, ["remote", "status", "--json"]);
        assert.ok(r.code === 0 || r.code === 2, r.stderr);
        doc = JSON.parse(r.stdout);
        // exit 0 once every rig is ok (2 while a miner is still starting)
        return r.code === 0 &&
          doc.peers.every((p) => p.miners.length === 1 && (p.miners[0].hashrate.now ?? 0) > 0);
      },
      "both workers hashing",
      20_000,
    );
    assert.equal(doc.online, 2);
    // The answers' last-seen times and scores reached the registry (written once, at exit).
    const reg = await PeerRegistry.open(`${c}/config/registry.sqlite`);
    const stored = [...reg.list()];
    await reg.close();
    assert.ok(
      stored.every((p: { lastSeen: string | null; stats: { success: number } }) =>
        p.lastSeen !== null && p.stats.success > 0
      ),
      JSON.stringify(
        stored.map((p: { name: string; lastSeen: string | null }) => [p.name, p.lastSeen]),
      ),
    );
    const sum = doc.peers.reduce(
      (a, p) => a + p.miners.reduce((b, m) => b + (m.hashrate.now ?? 0), 0),
      0,
    );
    // One algorithm here: its total is the sum of the miners.
    assert.equal(doc.totals.length, 1);
    assert.equal(doc.totals[0].algorithm, "rx/0");
    assert.ok(Math.abs(doc.totals[0].hashrate - sum) < 1e-6, "total = sum of miners");
    const w2 = doc.peers.find((p) => p.name === "w2")!.miners[0].hashrate.now!;
    const w1 = doc.peers.find((p) => p.name === "w1")!.miners[0].hashrate.now!;
    assert.ok(w2 > w1 * 1.5, `per-node rates differ as configured (${w1}, ${w2})`);
    assert.match(
      (await cliOk(c, ["remote", "status"])).stdout,
      /^rx\/0: [\d.]+ k?H\/s on 2 rigs\nrigs: 2 ok \(of 2\)$/m,
    );
    // logs and follow
    const logs = (await cliOk(c, ["remote", "logs", "w1", "cpu", "--lines", "4"])).stdout.trim()
      .split("\n");
    assert.equal(logs.length, 4);
    const followed = await followUntil(
      c,
      ["remote", "logs", "w2", "cpu", "--lines", "1", "--follow"],
      /speed 10s/,
      3,
    );
    assert.equal(followed.code, 0);
    // stop one (a follower of its console ends by itself, exit 0), then all
    const follower = new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUN_FLAGS, MAIN, "--home", c, "remote", "logs", "w1", "cpu", "--follow"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderrText = new Response(follower.stderr).text();
    const reader = follower.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let tail = "";
    // The backlog printed means the follow is subscribed on the worker.
    while (!tail.includes("\n")) tail += (await reader.read()).value ?? "";
    await cliOk(c, ["remote", "stop", "w1", "cpu"]);
    for (let r = await reader.read(); !r.done; r = await reader.read()) tail += r.value;
    const fstatus = await follower.status;
    assert.equal(fstatus.code, 0, await stderrText);
    assert.match(await stderrText, /cpu on w1 stopped/);
    assert.ok(tail.includes("speed 10s"));
    await cliOk(c, ["remote", "stop", "w2"]);
    doc = JSON.parse((await cliOk(c, ["remote", "status", "--json"])).stdout);
    assert.deepEqual(doc.peers.map((p) => p.miners.length), [0, 0]);
    // a dead worker is reported offline within the timeout, the other still answers, exit 2
    servers[1].process.kill("SIGKILL");
    await servers[1].process.status;
    const t0 = Date.now();
    const r = await cli(c, ["remote", "status", "--json", "--timeout", "2s"]);
    assert.equal(r.code, 2);
    doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.peers.map((p) => [p.name, p.online]), [["w1", true], ["w2", false]]);
    assert.ok(Date.now() - t0 < 10_000);
    const unknown = await cli(c, ["remote", "status", "nope"]);
    assert.equal(unknown.code, 1);
  } finally {
    for (const s of servers) await s.stop();
    for (const h of homes) assert.deepEqual(await processesMentioning(h), []);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("remote: only peers granted control control; ungranted and unregistered peers get neither control nor reads, audited", async () => {
  const root = await tempHome();
  const [w, c, x, y] = ["w", "c", "x", "y"].map((n) => `${root}/${n}`);
  const ctl = await initNode(c, "control", "controller");
  const peerWorker = await initNode(x, "other-rig", "worker");
  await initNode(y, "stranger", "dual");
  await initNode(w, "rig", "worker");
  await installEmulatedMiner(resolvePaths({ home: w }), "xmrig", { env: EMU });
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  await cliOk(w, ["peer", "allow", peerWorker.id]);
  await addXmrigProfile(w, "cpu");
  const srv = await serve(w, FAST);
  try {
    for (const h of [c, x]) {
      await cliOk(h, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    }
    // the controller may start (the worker has the profile; --type tells the kind)
    await cliOk(c, ["remote", "start", "rig", "--profile", "cpu", "--type", "xmrig"]);
    // a registered peer the operator granted nothing: no reads (stats, logs), no control
    const noRead = await cli(x, ["remote", "status", "rig", "--json"]);
    assert.equal(noRead.code, 2);
    assert.match(JSON.parse(noRead.stdout).peers[0].error, /may not read this node's stats/);
    const noLogs = await cli(x, ["remote", "logs", "rig", "cpu"]);
    assert.equal(noLogs.code, 1);
    assert.match(noLogs.stderr, /may not read this node's stats or logs/);
    const refused = await cli(x, ["remote", "stop", "rig", "cpu"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /other-rig may not control this node/);
    await addXmrigProfile(x, "sneaky");
    const refusedDeploy = await cli(x, ["remote", "deploy", "rig", "--profile", "sneaky"]);
    assert.equal(refusedDeploy.code, 1);
    assert.match(refusedDeploy.stderr, /deploy to rig failed: other-rig may not control this node/);
    // a read grant lets it read, still not control
    await cliOk(w, ["peer", "grant", "other-rig", "read"]);
    // (--fail-on down: the emulated miner's random rejects may make the rig degraded, exit 2)
    const read = await cli(x, ["remote", "status", "rig", "--json", "--fail-on", "down"]);
    assert.equal(read.code, 0, `${read.stdout} ${read.stderr}`);
    const [readPeer] = JSON.parse(read.stdout).peers;
    assert.equal(readPeer.online, true);
    assert.equal(readPeer.error, undefined);
    assert.equal(readPeer.miners[0].name, "cpu");
    assert.match((await cli(x, ["remote", "stop", "rig", "cpu"])).stderr, /may not control/);
    // an unregistered peer (open mode lets it connect): reads and control refused
    await cliOk(w, ["peer", "auth-mode", "open"]);
    await cliOk(y, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    const r1 = await cli(y, ["remote", "start", "rig", "--profile", "cpu", "--type", "xmrig"]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /not registered here/);
    await addXmrigProfile(y, "sneaky");
    const r3 = await cli(y, ["remote", "deploy", "rig", "--profile", "sneaky"]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /not registered here/);
    const r2 = await cli(y, ["remote", "status", "rig"]);
    assert.equal(r2.code, 2, "refused read: reported as not answering");
    await cliOk(c, ["remote", "stop", "rig", "cpu"]);
    // Commands only (the log also records when peers came and went).
    const audit = (await Deno.readTextFile(`${w}/data/audit.log`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    ).filter((a) => !a.action.startsWith("peer_"));
    // an admitted command is recorded before it acts (attempt) and after (outcome)
    assert.deepEqual(audit.map((a) => [a.action, a.outcome, a.peerName]), [
      ["start_miner", "attempt", "control"],
      ["start_miner", "ok", "control"],
      ["stop_miner", "refused", "other-rig"],
      ["deploy", "refused", "other-rig"],
      ["stop_miner", "refused", "other-rig"],
      ["start_miner", "refused", "stranger"],
      ["deploy", "refused", "stranger"],
      ["stop_miner", "attempt", "control"],
      ["stop_miner", "ok", "control"],
    ]);
    assert.equal((await Deno.stat(`${w}/data/audit.log`)).mode! & 0o777, 0o600);
    // the refused deploys changed nothing: the worker still has only its own profile
    const names = JSON.parse((await cliOk(w, ["profile", "list", "--json"])).stdout).profiles
      .map((p: { name: string }) => p.name);
    assert.deepEqual(names, ["cpu"]);
  } finally {
    await srv.stop();
    assert.deepEqual(await processesMentioning(w), []);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("remote: a worker behind NAT dials the controller (--connect); commands go through the controller's node", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const w = `${root}/w`;
  const ctl = await initNode(c, "control", "controller");
  const wk = await initNode(w, "rig-nat", "worker");
  await installEmulatedMiner(resolvePaths({ home: w }), "xmrig", { env: EMU });
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  await cliOk(c, ["peer", "allow", wk.id]);
  const cs = await serve(c);
  // The worker listens on loopback only for show: the controller never dials it.
  const ws = await serve(w, [...FAST, "--connect", cs.address]);
  try {
    await cs.waitForLog(new RegExp(`peer_connected.*${wk.id}`), 15_000);
    // Registered on the controller without an address: only the inbound link reaches it.
    const peers = JSON.parse((await cliOk(c, ["peer", "list", "--json"])).stdout);
    const entry = (Array.isArray(peers) ? peers : peers.peers).find((p: { id: string }) =>
      p.id === wk.id
    );
    assert.equal(entry.address, null);
    assert.equal(entry.role, "worker");
    // A direct dial cannot reach it...
    const direct = await cli(c, ["remote", "status", "--direct", "--json", "--timeout", "2s"]);
    assert.equal(direct.code, 2);
    assert.match(JSON.parse(direct.stdout).peers[0].error, /no address to dial/);
    // ...the controller's node can, over the worker's own connection.
    await addXmrigProfile(c, "cpu", ["--threads", "1"]);
    const dep = JSON.parse(
      (await cliOk(c, ["remote", "deploy", "rig-nat", "--profile", "cpu", "--json"])).stdout,
    );
    assert.equal(dep.via, "daemon");
    assert.equal(dep.results[0].ok, true);
    assert.equal(
      JSON.parse((await cliOk(w, ["profile", "show", "cpu", "--json"])).stdout).name,
      "cpu",
    );
    await cliOk(c, ["remote", "start", "rig-nat", "--profile", "cpu"]);
    await until(
      async () => {
        const r = await cli(c, ["remote", "status", "--json"]);
        const doc = JSON.parse(r.stdout);
        return r.code === 0 && (doc.peers[0].miners[0]?.hashrate.now ?? 0) > 0;
      },
      "hashing through the inbound link",
      20_000,
    );
    const logs = (await cliOk(c, ["remote", "logs", "rig-nat", "cpu", "--lines", "3"])).stdout;
    assert.equal(logs.trim().split("\n").length, 3);
    const followed = await followUntil(
      c,
      ["remote", "logs", "rig-nat", "cpu", "--lines", "1", "--follow"],
      /speed 10s/,
      2,
    );
    assert.equal(followed.code, 0);
    assert.match((await cliOk(c, ["remote", "stop", "rig-nat"])).stdout, /stopped cpu on rig-nat/);
    const audit = (await Deno.readTextFile(`${w}/data/audit.log`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((a) => !a.action.startsWith("peer_"));
    assert.deepEqual(audit.map((a) => [a.action, a.outcome, a.peerName]), [
      ["deploy", "ok", "control"],
      ["start_miner", "attempt", "control"],
      ["start_miner", "ok", "control"],
      ["stop_miner", "attempt", "control"],
      ["stop_miner", "ok", "control"],
    ]);
    // The worker goes away: reported offline, exit 2.
    await ws.stop();
    const r = await cli(c, ["remote", "status", "--json", "--timeout", "2s"]);
    assert.equal(r.code, 2, r.stdout + cs.log());
    assert.equal(JSON.parse(r.stdout).peers[0].online, false);
  } finally {
    await ws.stop();
    await cs.stop();
    assert.deepEqual(await processesMentioning(w), []);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a session dialed for one operation stays open while another operation borrowed it", async () => {
  const { initIdentity } = await import("../src/identity/mod.ts");
  const { MeshNode, sessionFor } = await import("../src/node/mod.ts");
  const { newPeer } = await import("../src/peers/mod.ts");
  const root = await tempHome();
  const wPaths = resolvePaths({ home: `${root}/w` });
  const cPaths = resolvePaths({ home: `${root}/c` });
  const w = await initIdentity(wPaths, { name: "rig", role: "worker" });
  const c = await initIdentity(cPaths, { name: "boss", role: "controller" });
  const worker = await MeshNode.open(wPaths, { keepalive: false });
  const ctl = await MeshNode.open(cPaths, { keepalive: false, registryDebounceMs: 0 });
  try {
    await worker.auth.allow({ id: c.info.id, addedAt: new Date().toISOString() });
    const server = await worker.serve({ hostname: "127.0.0.1", port: 0 });
    const peer = newPeer({
      id: w.info.id,
      name: "rig",
      publicKey: w.info.publicKey,
      address: `127.0.0.1:${server.port}`,
      role: "worker",
    });
    ctl.registry.upsert(peer);
    // a background poll dials; a user request finds the same session open and borrows it
    const poll = await sessionFor(ctl, peer, 5000);
    const request = await sessionFor(ctl, peer, 5000);
    assert.equal(poll.dialed, true);
    assert.equal(request.dialed, false);
    assert.equal(request.session, poll.session);
    poll.release("poll done");
    assert.equal(request.session.isClosed, false, "closed under a borrower");
    await request.session.ping(5000);
    request.release("request done");
    assert.equal(poll.session.isClosed, true, "the last borrower closes it");
  } finally {
    await ctl.close();
    await worker.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
