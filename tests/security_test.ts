/**
 * Security hardening, tried as an attacker would with real processes on loopback: control is
 * granted by the operator and never taken from the announced role; the worker policy; no lock-out
 * or memory blow-up before authentication; nothing about the responder before the initiator
 * authenticates; secrets out of console lines, logs and responses; hostile strings never reach the
 * operator's terminal; DNS rebinding; duplicate names.
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
// @ts-types="npm:@types/ws@8.18.1"
import WebSocket from "ws";
import { installEmulatedMiner, minersDir } from "../src/miners/mod.ts";
import {
  AuditLog,
  auditLogPath,
  MeshNode,
  type PeerSession,
  RemoteError,
} from "../src/node/mod.ts";
import { type Peer, PeerRegistry } from "../src/peers/mod.ts";
import { PROLOGUE } from "../src/protocol/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  dialSocket,
  generateKeyPair,
  HandshakeState,
  NOISE_PROTOCOL,
} from "../src/transport/mod.ts";
import {
  addXmrigProfile,
  cli,
  cliOk,
  followUntil,
  initNode,
  serve,
  tempHome,
  until,
  within,
} from "./helpers.ts";

const FAST = ["--poll-interval", "200ms"];
const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };
const decoder = new TextDecoder();

/** Rewrites the role in a node's `node.json` (what it will announce; its key stays). */
async function announceAs(home: string, role: string): Promise<void> {
  const path = resolvePaths({ home }).nodeJson;
  const info = JSON.parse(await Deno.readTextFile(path));
  await Deno.writeTextFile(path, JSON.stringify({ ...info, role }));
}

async function auditOf(home: string): Promise<Record<string, unknown>[]> {
  // What peers asked of this node (not presence, not its operator's own actions).
  return (await new AuditLog(auditLogPath(resolvePaths({ home }))).read()).records.filter((a) =>
    !String(a.action).startsWith("peer_") && !a.source
  ) as unknown as Record<string, unknown>[];
}

async function registryOf(home: string): Promise<Peer[]> {
  const reg = await PeerRegistry.open(resolvePaths({ home }).registryDb);
  const list = reg.list();
  await reg.close();
  return list;
}

Deno.test("grants: a rig paired by a dual controller cannot control it, whatever role it announces; the controller controls the rig; peer allow --control grants", async () => {
  const root = await tempHome();
  const [c, r, w2] = ["c", "r", "w2"].map((n) => `${root}/${n}`);
  const boss = await initNode(c, "boss", "dual");
  const rig = await initNode(r, "rig", "dual");
  await initNode(w2, "rig-2", "worker");
  for (const h of [r, w2]) {
    await installEmulatedMiner(resolvePaths({ home: h }), "xmrig", { env: EMU });
  }
  await addXmrigProfile(c, "cpu");
  const cs = await serve(c, FAST);
  const rs = await serve(r, FAST);
  let w2s: Awaited<ReturnType<typeof serve>> | null = null;
  const marker = join(root, "pwned");
  try {
    // the rig's operator makes a code for its controller (the default: --for controller)
    const code = JSON.parse((await cliOk(r, ["node", "pair-code", "--json"])).stdout);
    assert.equal(code.for, "controller");
    await cliOk(c, ["peer", "add", "--address", rs.address, "--code", code.code, "--name", "rig"]);
    // what each side may do on the other: the rig granted the controller control; the
    // controller granted the rig nothing (peer add never grants)
    assert.deepEqual((await registryOf(r)).map((p) => [p.name, p.grants]), [["boss", ["control"]]]);
    assert.deepEqual((await registryOf(c)).map((p) => [p.name, p.role, p.grants]), [[
      "rig",
      "dual",
      [],
    ]]);
    await cliOk(c, ["remote", "start", "rig", "--profile", "cpu"]);

    // the rig turns hostile: its key dials the controller announcing controller, then dual
    for (const role of ["controller", "dual"]) {
      await announceAs(r, role);
      const hostile = await MeshNode.open(resolvePaths({ home: r }), { keepalive: false });
      try {
        const s = await hostile.dial(cs.address);
        const custom = {
          id: crypto.randomUUID(),
          name: "odd",
          minerType: "custom",
          autostart: true,
          config: { command: "/usr/bin/touch", args: [marker] },
          createdAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
        };
        await assert.rejects(
          s.request("start_miner", { minerType: "custom", config: custom }, { timeoutMs: 5000 }),
          (e: unknown) =>
            e instanceof RemoteError && e.code === "unauthorized" &&
            /rig may not control this node/.test(e.message),
        );
        await assert.rejects(
          s.request(
            "deploy",
            { type: "full", name: "x", size: 10, checksum: "0".repeat(64) },
            { timeoutMs: 5000 },
          ),
          (e: unknown) => e instanceof RemoteError && e.code === "unauthorized",
        );
        await assert.rejects(
          s.request("get_stats", {}, { timeoutMs: 5000 }),
          (e: unknown) =>
            e instanceof RemoteError && /may not read this node's stats/.test(e.message),
        );
        s.close("done");
      } finally {
        await hostile.close();
      }
    }
    await announceAs(r, "dual");
    const refused = (await auditOf(c)).map((a) => [a.action, a.outcome, a.peerName]);
    assert.deepEqual(refused, [
      ["start_miner", "refused", "rig"],
      ["deploy", "refused", "rig"],
      ["start_miner", "refused", "rig"],
      ["deploy", "refused", "rig"],
    ]);
    // nothing changed on the controller: no program ran, no profile stored, no grant, no policy
    assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
    assert.deepEqual(
      JSON.parse((await cliOk(c, ["profile", "list", "--json"])).stdout).profiles.map((
        p: { name: string },
      ) => p.name),
      ["cpu"],
    );
    assert.deepEqual((await registryOf(c)).map((p) => p.grants), [[]]);
    assert.equal(await Deno.stat(resolvePaths({ home: c }).policyJson).then(() => 1, () => 0), 0);
    // the controller still controls the rig
    await cliOk(c, ["remote", "stop", "rig", "cpu"]);

    // a second worker: control once its operator says so (peer allow --control)
    w2s = await serve(w2, FAST);
    await cliOk(w2, ["peer", "allow", boss.id]);
    await cliOk(c, ["peer", "add", "--address", w2s.address, "--name", "rig-2"]);
    const denied = await cli(c, ["remote", "start", "rig-2", "--profile", "cpu"]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /boss may not control this node/);
    await cliOk(w2, ["peer", "grant", boss.id, "control"]);
    await cliOk(c, ["remote", "start", "rig-2", "--profile", "cpu"]);
    await cliOk(c, ["remote", "stop", "rig-2", "cpu"]);
    // and ungranting takes it back at the next request
    await cliOk(w2, ["peer", "ungrant", "boss", "control"]);
    assert.equal((await cli(c, ["remote", "start", "rig-2", "--profile", "cpu"])).code, 1);
    assert.ok(rig.id);
  } finally {
    await Promise.all([cs.stop(), rs.stop(), w2s?.stop()]);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("grants: a registry from before grants migrates: inbound and allowlisted controllers keep control, dialed ones lose it, with a warning naming each", async () => {
  const root = await tempHome();
  try {
    const paths = resolvePaths({ home: root });
    await Deno.mkdir(paths.configDir, { recursive: true });
    const peer = (n: number, role: string, address: string | null) => ({
      id: String(n).repeat(32).slice(0, 32),
      name: `p${n}`,
      publicKey: btoa(String(n).repeat(32)).slice(0, 43) + "=",
      address,
      role,
      addedAt: "2026-01-01T00:00:00.000Z",
      lastSeen: null,
      pingMs: null,
      hops: 1,
      geoKm: null,
      score: 50,
      stats: { success: 0, failure: 0, timeout: 0 },
    });
    const v1 = {
      version: 1,
      peers: [
        peer(1, "controller", null), // paired inbound: keeps control
        peer(2, "dual", "127.0.0.1:9091"), // dialed with peer add: loses it
        peer(3, "controller", "10.0.0.1:9091"), // dialed, but on the allowlist (--connect): keeps
        peer(4, "worker", null), // a worker never had control
      ],
    };
    await Deno.writeTextFile(paths.peersJson, JSON.stringify(v1));
    await Deno.writeTextFile(
      paths.authJson,
      JSON.stringify({
        version: 1,
        mode: "allowlist",
        allow: [{ id: peer(3, "", null).id, addedAt: "2026-01-01T00:00:00.000Z" }],
      }),
    );
    const warnings: string[] = [];
    const reg = await PeerRegistry.open(paths.registryDb, {
      debounceMs: 0,
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(reg.list().map((p) => [p.name, p.grants]), [
      ["p1", ["control"]],
      ["p2", []],
      ["p3", ["control"]],
      ["p4", []],
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /peer p2 \(2{32}\) no longer controls this node/);
    assert.match(warnings[0], /miner-cli peer grant 2{32} control/);
    await reg.close();
    // imported into the database: every peer and its pinned key survived; the old file is kept
    // aside as peers.json.migrated
    const reopened = await PeerRegistry.open(paths.registryDb);
    assert.deepEqual(
      reopened.list().map((p: Peer) => [p.id, p.publicKey, p.address]),
      v1.peers.map((p) => [p.id, p.publicKey, p.address]),
    );
    await reopened.close();
    assert.ok((await Deno.stat(`${paths.peersJson}.migrated`)).isFile);
    // a second open migrates nothing and warns no more
    const again: string[] = [];
    await (await PeerRegistry.open(paths.registryDb, { onWarning: (m) => again.push(m) }))
      .close();
    assert.deepEqual(again, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("worker policy: custom miners refused by default and allowed by the operator; miner binaries limited to allowed SHA-256s", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const w = `${root}/w`;
  const ctl = await initNode(c, "boss", "controller");
  await initNode(w, "rig", "worker");
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  const marker = join(root, "ran");
  await cliOk(c, [
    "profile",
    "add",
    "--type",
    "custom",
    "--name",
    "odd",
    "--command",
    "/usr/bin/touch",
    "--arg",
    marker,
  ]);
  const srv = await serve(w, FAST);
  try {
    await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    assert.match((await cliOk(w, ["node", "policy"])).stdout, /remote-custom\s+deny/);
    const r1 = await cli(c, ["remote", "start", "rig", "--profile", "odd"]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /refused by this worker's policy remote-custom=deny/);
    assert.match(r1.stderr, /miner-cli node policy set remote-custom allow/);
    const audit = await auditOf(w);
    assert.deepEqual(
      [audit[0].action, audit[0].outcome, audit[0].policy],
      ["start_miner", "refused", "remote-custom=deny"],
    );
    assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
    // the running node applies a new policy at the next request
    await cliOk(w, ["node", "policy", "set", "remote-custom", "allow"]);
    assert.match((await cliOk(w, ["node", "info"])).stdout, /policy\s+remote-custom=allow/);
    await cliOk(c, ["remote", "start", "rig", "--profile", "odd"]);
    await until(() => Deno.stat(marker).then(() => true, () => false), "the custom miner to run");
    await cliOk(c, ["remote", "stop", "rig", "odd"]);
    // bad values are refused and change nothing
    const bad = await cli(w, ["node", "policy", "set", "remote-custom", "maybe"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /remote-custom takes allow or deny/);
    assert.equal(
      JSON.parse((await cliOk(w, ["node", "policy", "--json"])).stdout).remoteCustom,
      "allow",
    );

    // miner binaries: only those on the list, once a list is set
    const bin = await installEmulatedMiner(resolvePaths({ home: c }), "xmrig", {
      version: "6.22.0",
    });
    const sum = createHash("sha256").update(await Deno.readFile(bin)).digest("hex");
    await cliOk(w, ["node", "policy", "set", "allowed-binaries", "a".repeat(64)]);
    const d1 = await cli(c, ["remote", "deploy", "rig", "--miner", "xmrig"]);
    assert.equal(d1.code, 1);
    assert.match(d1.stderr, /refused by this worker's policy allowed-binaries/);
    assert.match(d1.stderr, new RegExp(sum));
    const target = join(minersDir(resolvePaths({ home: w })), "xmrig", "current");
    assert.equal(await Deno.stat(target).then(() => true, () => false), false, "nothing installed");
    const last = (await auditOf(w)).at(-1)!;
    assert.deepEqual([last.action, last.outcome, last.policy], [
      "deploy",
      "refused",
      "allowed-binaries",
    ]);
    await cliOk(w, ["node", "policy", "set", "allowed-binaries", sum]);
    await cliOk(c, ["remote", "deploy", "rig", "--miner", "xmrig"]);
    assert.equal(await Deno.readTextFile(join(target, ".version")), "6.22.0\n");
    // and no miner deploys at all
    await cliOk(w, ["node", "policy", "set", "deploy-miners", "deny"]);
    const d2 = await cli(c, ["remote", "deploy", "rig", "--miner", "xmrig"]);
    assert.match(d2.stderr, /deploy-miners=deny/);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/** Opens `n` WebSockets from `localAddress`; resolves with those the server upgraded. */
async function flood(url: string, n: number, localAddress: string): Promise<WebSocket[]> {
  const opened: WebSocket[] = [];
  await Promise.all(Array.from({ length: n }, () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
      ws.on("error", () => {});
      ws.once("open", () => {
        opened.push(ws);
        resolve();
      });
      ws.once("close", () => resolve());
    })));
  return opened;
}

async function established(port: number, from: string): Promise<number> {
  const out = await new Deno.Command("ss", {
    args: ["-Htn", "state", "established", `( dport = :${port} and src ${from} )`],
    stdout: "piped",
  }).output();
  return decoder.decode(out.stdout).split("\n").filter(Boolean).length;
}

Deno.test("pre-authentication: 1,024 idle sockets from one address lock nobody out and are torn down at the handshake timeout", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const w = `${root}/w`;
  const ctl = await initNode(c, "boss", "controller");
  await initNode(w, "rig", "worker");
  await cliOk(w, ["peer", "allow", ctl.id]);
  const srv = await serve(w, ["--handshake-timeout", "3s"]);
  try {
    await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    const url = `ws://${srv.address}/ws`;
    const attacker = await flood(url, 1024, "127.0.0.2");
    assert.ok(attacker.length <= 16, `${attacker.length} idle sockets upgraded from one address`);
    // a legitimate peer gets in, within 2 s, while the attacker holds its sockets
    const ping = await cli(c, ["peer", "ping", "rig", "--count", "1", "--timeout", "2s"]);
    assert.equal(ping.code, 0, ping.stderr);
    // the node tears the idle ones down once the handshake timeout passes
    await within(
      Promise.all(
        attacker.map((ws) =>
          ws.readyState === WebSocket.CLOSED ? null : new Promise((r) => ws.once("close", r))
        ),
      ),
      "the attacker's sockets to be closed by the node",
      10_000,
    );
    assert.equal(await established(srv.port, "127.0.0.2"), 0);
    await srv.waitForLog(/handshake_failed/);
    // bounded logging: the refusals are counted, not written one line each
    const refusedLines = srv.log().split("\n").filter((l) => l.includes("connection_refused"));
    assert.ok(refusedLines.length <= 21, `${refusedLines.length} connection_refused lines`);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

async function vmHwmBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

Deno.test("pre-authentication: 16 connections sending 60 MiB frames before the handshake cost the node < 50 MB and are closed", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  await initNode(w, "rig", "worker");
  const srv = await serve(w);
  try {
    const url = `ws://${srv.address}/ws`;
    // warm the server's WebSocket path up first, so the peak measures the frames
    await flood(url, 4, "127.0.0.1").then((s) => s.forEach((x) => x.terminate()));
    const before = await vmHwmBytes(srv.process.pid);
    const frame = new Uint8Array(60 * 1024 * 1024);
    const codes = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url, {
            perMessageDeflate: false,
            localAddress: `127.0.1.${i + 1}`,
          });
          ws.on("error", () => {});
          ws.once("open", () => ws.send(frame));
          ws.once("close", (code: number) => resolve(code));
        })),
    );
    assert.ok(codes.every((c) => c === 1009 || c === 1006), `close codes ${codes}`);
    const grew = (await vmHwmBytes(srv.process.pid)) - before;
    assert.ok(grew < 50 * 1024 * 1024, `peak RSS grew ${(grew / 1e6).toFixed(1)} MB`);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("handshake message 2 tells an unauthenticated initiator nothing about the responder", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  await initNode(w, "secret-rig-name", "worker");
  await Deno.writeTextFile(`${root}/farm.secret`, "x".repeat(40), { mode: 0o600 });
  const plain = await serve(w);
  try {
    for (const srv of [plain]) {
      const socket = await dialSocket(`ws://${srv.address}/ws`);
      const frames: Uint8Array[] = [];
      const got = new Promise<void>((r) => socket.onframe = (f) => (frames.push(f), r()));
      const hs = new HandshakeState({
        protocolName: NOISE_PROTOCOL,
        initiator: true,
        prologue: PROLOGUE,
        s: generateKeyPair(),
      });
      socket.send(hs.writeMessage());
      await within(got, "handshake message 2");
      const payload = JSON.parse(decoder.decode(hs.readMessage(frames[0])));
      assert.deepEqual(Object.keys(payload), ["protocol"]);
      const text = decoder.decode(frames[0]);
      assert.ok(!text.includes("secret-rig-name"));
      socket.terminate();
    }
  } finally {
    await plain.stop();
  }
  // with a join secret, a worker adds its proof of it, and still nothing about itself
  const joined = await serve(w, ["--join-secret-file", `${root}/farm.secret`]);
  try {
    const socket = await dialSocket(`ws://${joined.address}/ws`);
    const frames: Uint8Array[] = [];
    const got = new Promise<void>((r) => socket.onframe = (f) => (frames.push(f), r()));
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL,
      initiator: true,
      prologue: PROLOGUE,
      s: generateKeyPair(),
    });
    socket.send(hs.writeMessage());
    await within(got, "handshake message 2");
    const payload = JSON.parse(decoder.decode(hs.readMessage(frames[0])));
    assert.deepEqual(Object.keys(payload).sort(), ["join", "protocol"]);
    assert.deepEqual(Object.keys(payload.join), ["proof"]);
    socket.terminate();
  } finally {
    await joined.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("secrets: a TT-Miner pool password is in no console line kept or sent, no log, no response; bundles are 0600", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const w = `${root}/w`;
  const ctl = await initNode(c, "boss", "controller");
  await initNode(w, "rig", "worker");
  await installEmulatedMiner(resolvePaths({ home: w }), "tt-miner", { env: EMU });
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  const PASS = "s3cretPoolPass77";
  await cliOk(c, [
    "profile",
    "add",
    "--type",
    "tt-miner",
    "--name",
    "gpu",
    "--pool",
    "pool.example.org:4444",
    "--user",
    "RWallet",
    "--pass",
    PASS,
    "--algo",
    "kawpow",
  ]);
  const srv = await serve(w, FAST);
  try {
    await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    await cliOk(c, ["remote", "start", "rig", "--profile", "gpu"]);
    const seen: string[] = [];
    const logs = async () => {
      const r = await cliOk(c, ["remote", "logs", "rig", "gpu", "--json", "--lines", "200"]);
      seen.push(r.stdout);
      return r.stdout;
    };
    // TT-Miner echoed its command line: the node kept it redacted
    await until(async () => (await logs()).includes("Command line: TT-Miner"), "the echoed argv");
    const echoed = (await logs()).split("\n").find((l) => l.includes("Command line"))!;
    assert.match(echoed, /-p \[redacted\]/);
    seen.push((await cliOk(w, ["logs", "gpu", "--lines", "200"])).stdout);
    seen.push((await cli(c, ["remote", "status", "--json"])).stdout);
    seen.push((await cliOk(w, ["status", "--json"])).stdout);
    const follow = await followUntil(
      c,
      ["remote", "logs", "rig", "gpu", "--follow"],
      /GPU\[0\]/,
      1,
    );
    seen.push(follow.output);
    // the API: profiles show their password masked
    const token = (await cliOk(w, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
    const api = srv.api!;
    for (const path of ["/api/v1/mining/profiles", "/api/v1/mining/miners"]) {
      const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      seen.push(await res.text());
    }
    assert.match(seen.at(-2)!, /"pass":"\(hidden\)"/);
    seen.push((await cliOk(c, ["profile", "show", "gpu"])).stdout);
    seen.push((await cliOk(c, ["profile", "list", "--json"])).stdout);
    // an edit that sends the mask back keeps the password
    await cliOk(c, ["profile", "edit", "gpu", "--algo", "ethash"]);
    const stored = await Deno.readTextFile(join(c, "config", "mining_profiles.json"));
    assert.ok(stored.includes(PASS), "the profile file still holds the password");
    await cliOk(c, ["remote", "stop", "rig", "gpu"]);
    seen.push(srv.log(), await Deno.readTextFile(auditLogPath(resolvePaths({ home: w }))));
    for (const [i, text] of seen.entries()) {
      assert.ok(
        !text.includes(PASS),
        `the password leaked in output ${i}:\n${text.slice(0, 2000)}`,
      );
    }
    // a plaintext bundle holds the password: owner-only
    const out = join(root, "gpu.bundle");
    await cliOk(c, ["bundle", "create", "--profile", "gpu", "-o", out]);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

const HOSTILE = {
  title: "\x1b]0;pwned\x07",
  clipboard: "\x1b]52;c;cm0gLXJmIH4K\x07",
  cursor: "\x1b[2J\x1b[H\x1b[10;10H",
};
// deno-lint-ignore no-control-regex
const BAD = /\x1b\]|\x07|\x1b\[2J|\x1b\[H|\x1b\[10;10H/;

/** A worker whose every string carries escape sequences (a compromised rig). */
async function hostileWorker(home: string, controllerId: string) {
  const mesh = await MeshNode.open(resolvePaths({ home }), { keepalive: false });
  await mesh.auth.allow({
    id: controllerId,
    addedAt: new Date().toISOString(),
    grants: ["control"],
  });
  const name = `m${HOSTILE.title}x`;
  mesh.onSession((s: PeerSession) => {
    s.on("get_stats", (m) =>
      s.reply(m, "stats", {
        nodeId: mesh.id,
        nodeName: "evil",
        role: "worker",
        uptime: 5,
        miners: [{
          name,
          type: "xmrig",
          profileId: null,
          state: "running",
          pid: 1,
          hashrate: { now: 100, avg60: 100, avg15m: null },
          shares: { accepted: 1, rejected: 0 },
          pool: `pool${HOSTILE.clipboard}.example:3333`,
          algorithm: `rx/0${HOSTILE.cursor}`,
          difficulty: 1,
          uptime: 5,
          paused: false,
          version: `6${HOSTILE.title}`,
          threads: [],
          devices: [],
          restarts: 0,
          restartLog: [],
          startedAt: new Date().toISOString(),
          lastError: `boom${HOSTILE.cursor}${HOSTILE.clipboard}`,
        }],
      }));
    const lines = [
      { seq: 1, ts: new Date().toISOString(), text: `\x1b[32maccepted\x1b[0m ${HOSTILE.title}` },
      { seq: 2, ts: new Date().toISOString(), text: `speed ${HOSTILE.cursor}${HOSTILE.clipboard}` },
    ];
    s.on("get_logs", (m) => {
      s.reply(m, "logs", { minerName: name, lines, hasMore: false });
      const p = m.payload as { follow?: boolean };
      if (p.follow) {
        s.reply(m, "log_lines", {
          minerName: name,
          lines: [{
            seq: 3,
            ts: new Date().toISOString(),
            text: `\x1b[33mnew\x1b[0m${HOSTILE.title}`,
          }],
        });
      }
    });
  });
  const server = await mesh.serve({ hostname: "127.0.0.1", port: 0 });
  return { mesh, server, name };
}

Deno.test("hostile strings: a compromised worker's names, pools, errors and console lines reach the operator's terminal without escape sequences; SGR colours survive in logs", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const ctl = await initNode(c, "boss", "controller");
  await initNode(`${root}/w`, "evil", "worker");
  const w = await hostileWorker(`${root}/w`, ctl.id);
  try {
    await cliOk(c, ["peer", "add", "--address", `127.0.0.1:${w.server.port}`, "--name", "evil"]);
    const status = await cli(c, ["remote", "status"]);
    // shown, minus the escape sequences
    assert.ok(status.stdout.includes("pool.example:3333"), status.stdout);
    assert.match(status.stdout, /\bmx\b/);
    const logs = await cliOk(c, ["remote", "logs", "evil", "m"]);
    // the name is given as the operator typed it (without the escape): resolved by prefix
    const follow = await followUntil(c, ["remote", "logs", "evil", "m", "--follow"], /new/, 1);
    for (
      const [what, text] of [
        ["remote status", status.stdout + status.stderr],
        ["remote logs", logs.stdout + logs.stderr],
        ["remote logs --follow", follow.output],
      ]
    ) {
      assert.ok(!BAD.test(text), `${what} printed an escape sequence: ${JSON.stringify(text)}`);
    }
    assert.ok(logs.stdout.includes("\x1b[32maccepted\x1b[0m"), JSON.stringify(logs.stdout));
    assert.ok(follow.output.includes("\x1b[33mnew\x1b[0m"), JSON.stringify(follow.output));
    // JSON output keeps the data (escaped by JSON itself), for scripts
    const json = JSON.parse((await cli(c, ["remote", "status", "--json"])).stdout);
    assert.equal(json.peers[0].miners[0].lastError, `boom${HOSTILE.cursor}${HOSTILE.clipboard}`);
  } finally {
    await w.mesh.close();
    await Deno.remove(root, { recursive: true });
  }
});

/** Raw HTTP/1.1 GET with a chosen Host header; returns the status code. */
async function getWithHost(port: number, path: string, host: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

Deno.test("DNS rebinding: the API, the dashboard and openapi.json answer only to IP addresses, localhost and --api-host names", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  await initNode(w, "rig", "worker");
  const srv = await serve(w, ["--api-host", "miner.lan"]);
  try {
    const port = Number(new URL(srv.api!).port);
    for (const path of ["/health", "/", "/api/v1/mining/openapi.json"]) {
      assert.equal(await getWithHost(port, path, "evil.example"), 421, path);
      assert.equal(await getWithHost(port, path, `evil.example:${port}`), 421, path);
      assert.equal(await getWithHost(port, path, `127.0.0.1:${port}`), 200, path);
    }
    assert.equal(await getWithHost(port, "/health", `localhost:${port}`), 200);
    assert.equal(await getWithHost(port, "/health", `miner.lan:${port}`), 200);
    assert.equal(await getWithHost(port, "/health", `[::1]:${port}`), 200);
    const bad = await cli(w, ["node", "serve", "--api-host", "not a name", "--no-api"]);
    assert.equal(bad.code, 1);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("names: a node that registers under a name already taken is registered under a suffixed name, and the log says so", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  await initNode(w, "rig", "worker");
  const a = await initNode(`${root}/a`, "boss", "controller");
  const b = await initNode(`${root}/b`, "boss", "controller");
  await cliOk(w, ["peer", "allow", a.id, b.id]);
  const srv = await serve(w);
  try {
    await cliOk(`${root}/a`, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    await cliOk(`${root}/b`, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    const names = (await registryOf(w)).map((p) => p.name).sort();
    assert.deepEqual(names, ["boss", `boss-${b.id.slice(0, 6)}`]);
    await srv.waitForLog(/peer_name_taken .*registeredAs=boss-/);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("docs: README's security model and docs/protocol.md say what the issue asks", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const security = readme.slice(readme.indexOf("## Security model"));
  for (
    const needle of [
      /granted/i,
      /node policy/,
      /remote-custom/,
      /compromised\s+\**controller/i,
      /compromised\s+\**rig/i,
      /before authentication|pre-authentication/i,
      /TT-Miner/,
    ]
  ) assert.match(security, needle);
  const protocol = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));
  assert.match(protocol, /message 2/i);
  assert.match(protocol, /handshake_ack/);
});
