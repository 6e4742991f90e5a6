/**
 * Discovery end to end on loopback (no root needed): nodes beacon to each other's UDP ports,
 * discovered nodes stay pending and untrusted, approval pins the key only after the handshake,
 * reject/undo, spoofed beacons, join-secret enrollment (and a wrong secret refused), and the
 * online/offline transitions in the audit log.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AuditLog,
  auditLogPath,
  BEACON_SIZE,
  encodeBeacon,
  joinProof,
  joinSecretFromText,
  verifyJoinProof,
} from "../src/node/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { initIdentity } from "../src/identity/mod.ts";
import { PROLOGUE, PROTOCOL_VERSION } from "../src/protocol/mod.ts";
import {
  dialSocket,
  initiateChannel,
  joinParts,
  keyPairFromPrivate,
  KIND_CONTROL,
} from "../src/transport/mod.ts";
import {
  cli,
  cliOk,
  discoverFlags,
  freeUdpPorts,
  initNode,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "./helpers.ts";

interface PendingDoc {
  pending: { id: string; role: string; address: string; lastError?: string }[];
  awaiting: { id: string }[];
  rejected: { id: string }[];
  counters: Record<string, number>;
}

async function pending(home: string): Promise<PendingDoc> {
  return JSON.parse((await cliOk(home, ["peer", "pending", "--json"])).stdout);
}

async function peers(home: string): Promise<{ id: string; address: string | null }[]> {
  return JSON.parse((await cliOk(home, ["peer", "list", "--json", "--no-probe"])).stdout);
}

/**
 * Sends one beacon to `port` from `from` (default 127.0.0.1). Beacons are rate limited per source
 * address (2/s, burst 5) and a node beaconing every 300 ms from 127.0.0.1 keeps that address's
 * bucket near empty: a test's own beacon sent from there may be dropped, so one that must arrive
 * comes from an address of its own (all of 127/8 is loopback).
 */
async function sendBeacon(
  port: number,
  b: { id: string; port: number; role?: "worker" | "controller" },
  from = "127.0.0.1",
): Promise<void> {
  const s = Deno.listenDatagram({ hostname: from, port: 0, transport: "udp" });
  try {
    const bytes = encodeBeacon({
      id: b.id,
      role: b.role ?? "worker",
      protocol: 1,
      port: b.port,
      threads: 4,
      memTotalMB: 8192,
      aes: true,
      avx2: true,
      hugePages: false,
      gpus: 0,
    });
    assert.equal(bytes.length, BEACON_SIZE);
    await s.send(bytes, { transport: "udp", hostname: "127.0.0.1", port });
  } finally {
    s.close();
  }
}

function count(log: string, text: string): number {
  return log.split(text).length - 1;
}

Deno.test("discovery: pending until approved, approval pins the key after the handshake, reject, spoofing, online/offline audit", async () => {
  const root = await tempHome();
  const [cHome, wHome] = [join(root, "c"), join(root, "w")];
  const nodes: ServeHandle[] = [];
  try {
    const [c, w] = await Promise.all([
      initNode(cHome, "ctl", "controller"),
      initNode(wHome, "rig-1", "worker"),
    ]);
    const [pc, pw] = freeUdpPorts(2);
    const ctl = await serve(cHome, [...discoverFlags(pc, [pw]), "--fleet-poll", "300ms"]);
    nodes.push(ctl);
    const rig = await serve(wHome, discoverFlags(pw, [pc]));
    nodes.push(rig);
    assert.deepEqual(ctl.listening.discovery, {
      port: pc,
      broadcast: [`127.0.0.1:${pw}`],
      autoEnroll: false,
    });

    // Each side lists the other as pending; nothing is trusted.
    await ctl.waitForLog(`node_discovered peer=${w.id}`);
    await rig.waitForLog(`node_discovered peer=${c.id}`);
    const seen = await pending(cHome);
    assert.deepEqual(seen.pending.map((e) => [e.id, e.role, e.address]), [
      [w.id, "worker", rig.address],
    ]);
    assert.deepEqual(await peers(cHome), []);
    assert.deepEqual(await peers(wHome), []);
    const human = (await cliOk(cHome, ["peer", "pending"])).stdout;
    assert.match(human, new RegExp(`${w.id}\\s+worker\\s+${rig.address}`));

    // Reject: gone from the list, its beacons ignored (kept on disk); --undo brings it back.
    assert.match((await cliOk(cHome, ["peer", "reject", w.id.slice(0, 8)])).stdout, /rejected/);
    const before = (await pending(cHome)).counters.rejected;
    const stored = JSON.parse(
      await Deno.readTextFile(join(resolvePaths({ home: cHome }).configDir, "discovery.json")),
    );
    assert.deepEqual(stored.rejected.map((r: { id: string }) => r.id), [w.id]);
    // The rig beacons every 300 ms: wait (bounded in time, not in reads, since an in-process
    // read takes a millisecond) until one of its beacons has been counted as rejected.
    let doc = await pending(cHome);
    await until(async () => {
      doc = await pending(cHome);
      return doc.counters.rejected > before;
    }, "a beacon of the rejected node to be counted as ignored");
    assert.deepEqual(doc.pending, []);
    assert.deepEqual(doc.rejected.map((r) => r.id), [w.id]);
    await cliOk(cHome, ["peer", "reject", "--undo", w.id]);
    await ctl.waitForLog(new RegExp(`(node_discovered peer=${w.id}[^]*){2}`));
    assert.equal(count(ctl.log(), `node_discovered peer=${w.id}`), 2);

    // Bad input: not an ID, unknown ID, both IDs and a role.
    const bad = await cli(cHome, ["peer", "approve", "zz-not-hex"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not a node ID/);
    const unknown = await cli(cHome, ["peer", "approve", "abcdef0123"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no pending node matches abcdef0123/);
    const both = await cli(cHome, ["peer", "approve", w.id, "--all-matching", "worker"]);
    assert.notEqual(both.code, 0);

    // The controller approves first: the worker has not approved it, so the handshake is
    // refused and the approval waits (exit 2), with nothing registered.
    const first = await cli(cHome, ["peer", "approve", w.id, "--json"]);
    assert.equal(first.code, 2, first.stderr);
    const [r1] = JSON.parse(first.stdout).results;
    assert.equal(r1.outcome, "awaiting");
    assert.match(r1.reason, /not authorized/);
    assert.deepEqual(await peers(cHome), []);

    // The worker approves the controller (a worker only allows: the controller dials it); the
    // controller's waiting approval completes at the worker's next beacon.
    const wa = JSON.parse((await cliOk(wHome, ["peer", "approve", c.id, "--json"])).stdout);
    assert.deepEqual(wa.results.map((r: { outcome: string }) => r.outcome), ["allowed"]);
    await ctl.waitForLog(`node_approved peer=${w.id}`);
    const [reg] = await peers(cHome);
    assert.equal(reg.id, w.id);
    assert.equal(reg.address, rig.address);
    assert.equal((reg as unknown as { publicKey: string }).publicKey, w.publicKey);

    // The controller reaches the worker.
    const status = JSON.parse((await cliOk(cHome, ["remote", "status", "--json"])).stdout);
    assert.deepEqual(status.peers.map((p: { id: string; online: boolean }) => [p.id, p.online]), [
      [w.id, true],
    ]);

    // A spoofed beacon for the registered ID at another port changes nothing. A beacon for a
    // fresh ID sent after it proves the spoof was processed (datagrams are handled in order).
    // Both come from 127.0.0.2: the rig's own beacons keep 127.0.0.1's rate bucket near empty.
    await sendBeacon(pc, { id: w.id, port: 9 }, "127.0.0.2");
    const fresh = "0123456789abcdef0123456789abcdef";
    await sendBeacon(pc, { id: fresh, port: 9 }, "127.0.0.2");
    await ctl.waitForLog(`node_discovered peer=${fresh}`);
    assert.equal((await peers(cHome))[0].address, rig.address);
    assert.deepEqual((await pending(cHome)).pending.map((e) => e.id), [fresh]);

    // Online/offline transitions land in the audit log with their time.
    await rig.stop();
    await ctl.waitForLog(`peer_offline peer=${w.id}`);
    // The audit record is appended right after the log line.
    const log = new AuditLog(auditLogPath(resolvePaths({ home: cHome })));
    await until(
      async () => (await log.read()).records.some((a) => a.action === "peer_offline"),
      "peer_offline in the audit log",
      5_000,
    );
    const audit = (await log.read()).records;
    const actions = audit.filter((a) => a.peer === w.id).map((a) => a.action);
    for (const a of ["reject", "approve", "register", "peer_online", "peer_offline"]) {
      assert.ok(actions.includes(a), `${a} in ${actions}`);
    }
    const off = audit.find((a) => a.action === "peer_offline")!;
    assert.ok(Date.parse(off.params.at as string) <= Date.now());
    const saved = (await peers(cHome))[0] as unknown as { lastSeen: string };
    assert.ok(Date.parse(saved.lastSeen) > Date.now() - 60_000);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("discovery: join secret enrolls workers that prove it; a wrong secret is refused", async () => {
  const root = await tempHome();
  const nodes: ServeHandle[] = [];
  try {
    const homes = ["c", "good", "bad"].map((n) => join(root, n));
    const [c, good, bad] = await Promise.all([
      initNode(homes[0], "farm-ctl", "controller"),
      initNode(homes[1], "rig-good", "worker"),
      initNode(homes[2], "rig-bad", "worker"),
    ]);
    const secret = join(root, "farm.secret");
    const wrong = join(root, "other.secret");
    await Deno.writeTextFile(secret, "s3cr3t-farm-join-secret-0123456789abcdef\n", { mode: 0o600 });
    await Deno.writeTextFile(wrong, "another-farm-secret-0123456789abcdef\n", { mode: 0o600 });

    // Bad secret files are refused before anything starts.
    const short = join(root, "short.secret");
    await Deno.writeTextFile(short, "tooshort", { mode: 0o600 });
    const r1 = await cli(homes[1], ["node", "serve", "--join-secret-file", short]);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /too short/);
    const open = join(root, "open.secret");
    await Deno.writeTextFile(open, "s3cr3t-farm-join-secret-0123456789abcdef");
    await Deno.chmod(open, 0o644);
    const r2 = await cli(homes[1], ["node", "serve", "--join-secret-file", open]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /chmod 600/);
    const r3 = await cli(homes[1], ["node", "serve", "--discover", "--auto-controller"]);
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr, /--auto-controller is for controller and dual nodes/);
    const r4 = await cli(homes[0], ["node", "serve", "--auto-controller"]);
    assert.notEqual(r4.code, 0);
    assert.match(r4.stderr, /--auto-controller needs --discover/);

    const [pc, pg, pb] = freeUdpPorts(3);
    const ctl = await serve(homes[0], [
      ...discoverFlags(pc, [pg, pb]),
      "--auto-controller",
      "--join-secret-file",
      secret,
    ]);
    nodes.push(ctl);
    assert.equal((ctl.listening.discovery as { autoEnroll: boolean }).autoEnroll, true);
    const rigGood = await serve(homes[1], [
      ...discoverFlags(pg, [pc]),
      "--join-secret-file",
      secret,
    ]);
    const rigBad = await serve(homes[2], [...discoverFlags(pb, [pc]), "--join-secret-file", wrong]);
    nodes.push(rigGood, rigBad);

    await ctl.waitForLog(`node_enrolled peer=${good.id}`);
    await ctl.waitForLog(new RegExp(`enroll_failed peer=${bad.id}.*does not share`));
    // The enrolled worker is registered on both sides, with the roles fixed at enrollment.
    const cPeers = await peers(homes[0]);
    assert.deepEqual(cPeers.map((p) => [p.id, p.address]), [[good.id, rigGood.address]]);
    const gPeers = JSON.parse(
      (await cliOk(homes[1], ["peer", "list", "--json", "--no-probe"])).stdout,
    );
    assert.deepEqual(gPeers.map((p: { id: string; role: string }) => [p.id, p.role]), [
      [c.id, "controller"],
    ]);
    // The other stays pending, untrusted, with the reason; it registered nothing either.
    const doc = await pending(homes[0]);
    const entry = doc.pending.find((e) => e.id === bad.id)!;
    assert.match(entry.lastError ?? "", /does not share this farm's join secret/);
    assert.deepEqual(await peers(homes[2]), []);
    const status = JSON.parse((await cliOk(homes[0], ["remote", "status", "--json"])).stdout);
    assert.deepEqual(
      status.peers.map((p: { id: string; online: boolean }) => [p.id, p.online]),
      [[good.id, true]],
    );

    // A node without the secret cannot talk its way in by claiming a join: a controller with
    // the wrong secret is refused by the good worker.
    const rogueHome = join(root, "rogue");
    await initNode(rogueHome, "rogue", "controller");
    const [pr] = freeUdpPorts(1);
    const rogue = await serve(rogueHome, [
      ...discoverFlags(pr, [pg]),
      "--auto-controller",
      "--join-secret-file",
      wrong,
    ]);
    nodes.push(rogue);
    // The good worker beacons only to the farm controller; relay one of its beacons (as the LAN
    // would deliver it) to the rogue.
    await sendBeacon(pr, { id: good.id, port: rigGood.port });
    await rogue.waitForLog(new RegExp(`enroll_failed peer=${good.id}.*does not share`));
    assert.deepEqual(await peers(rogueHome), []);
    assert.equal(
      JSON.parse((await cliOk(homes[1], ["peer", "list", "--json", "--no-probe"])).stdout).length,
      1,
    );

    // The worker checks the initiator's proof too: a hand-made controller that sends a proof
    // made with another secret is refused. The worker's own proof is bound to the hash covering
    // the session's keys (message 2), so it is worthless anywhere else.
    const forger = await initIdentity(resolvePaths({ home: join(root, "forger") }), {
      name: "forger",
      role: "controller",
    });
    const farm = joinSecretFromText(await Deno.readTextFile(secret));
    const other = joinSecretFromText(await Deno.readTextFile(wrong));
    let workerProofOk = false;
    let workerProofElsewhere = true;
    const ack = await new Promise<{ payload: { accepted: boolean; reason?: string } }>(
      (resolve, reject) => {
        dialSocket(`ws://${rigGood.address}/ws`).then((socket) =>
          initiateChannel(socket, {
            staticKey: keyPairFromPrivate(forger.privateKey),
            prologue: PROLOGUE,
            onResponder: (_rs, payload, hashes) => {
              const proof = JSON.parse(new TextDecoder().decode(payload)).join.proof;
              workerProofOk = verifyJoinProof(farm, {
                proof,
                handshakeHash: hashes.responderPayloadHash,
              }, { side: "responder" });
              workerProofElsewhere = verifyJoinProof(farm, {
                proof,
                handshakeHash: hashes.handshakeHash,
              }, { side: "responder" });
              return new TextEncoder().encode(JSON.stringify({
                id: forger.info.id,
                name: "forger",
                role: "controller",
                version: "0.1.0",
                protocol: PROTOCOL_VERSION,
                join: { proof: joinProof(other, hashes.handshakeHash, { side: "initiator" }) },
              }));
            },
          })
        ).then((ch) => {
          ch.setHandler((kind, parts) =>
            kind === KIND_CONTROL &&
            resolve(JSON.parse(new TextDecoder().decode(joinParts(parts))))
          );
          ch.closed.then(() => reject(new Error("closed without handshake_ack")));
        }, reject);
      },
    );
    assert.ok(workerProofOk, "the worker proves the farm secret over the message-2 hash");
    assert.ok(!workerProofElsewhere, "and its proof does not verify against another hash");
    assert.equal(ack.payload.accepted, false);
    assert.match(ack.payload.reason ?? "", /join secret does not match/);
    assert.equal(
      JSON.parse((await cliOk(homes[1], ["peer", "list", "--json", "--no-probe"])).stdout).length,
      1,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Deno.remove(root, { recursive: true });
  }
});
