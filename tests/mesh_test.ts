/**
 * Acceptance 2: two nodes as separate processes on loopback; allowlisting; refusal of an
 * unknown node; refusal of a node claiming a registered ID with a different key.
 */
import assert from "node:assert/strict";
import { cli, cliOk, initNode, serve, tempHome } from "./helpers.ts";
import { initIdentity, toBase64 } from "../src/identity/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  dialSocket,
  initiateChannel,
  joinParts,
  keyPairFromPrivate,
  KIND_CONTROL,
} from "../src/transport/mod.ts";
import { PROLOGUE, PROTOCOL_VERSION } from "../src/protocol/mod.ts";

Deno.test("controller adds and pings an allowing worker; strangers and impostors are refused", async () => {
  const root = await tempHome();
  const w = `${root}/worker`;
  const c = `${root}/controller`;
  const x = `${root}/stranger`;
  const worker = await initNode(w, "rig-01", "worker");
  const ctl = await initNode(c, "control", "controller");
  await initNode(x, "stranger", "dual");
  await cliOk(w, ["peer", "allow", ctl.id]);
  const srv = await serve(w);
  try {
    // peer add pins the key and stores the peer
    const added = JSON.parse(
      (await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig1", "--json"]))
        .stdout,
    );
    assert.equal(added.peer.id, worker.id);
    assert.equal(added.peer.publicKey, worker.publicKey);
    assert.equal(added.peer.role, "worker");
    // ping by name, by ID prefix and by full ID
    for (const ref of ["RIG1", worker.id.slice(0, 6), worker.id]) {
      const ping = JSON.parse(
        (await cliOk(c, ["peer", "ping", ref, "--count", "3", "--interval", "0ms", "--json"]))
          .stdout,
      );
      assert.equal(ping.received, 3);
      assert.ok(ping.avgMs > 0 && ping.avgMs < 1000, `rtt ${ping.avgMs}`);
    }
    const list = JSON.parse((await cliOk(c, ["peer", "list", "--json"])).stdout);
    assert.equal(list.length, 1);
    assert.equal(list[0].online, true);
    assert.equal(list[0].score, 59, "nine successful pings: 50 + 9");
    assert.ok(list[0].pingMs > 0);
    assert.ok(list[0].lastSeen);
    // the worker registered the controller (allowlisted, connected in) with its pinned key
    const wl = JSON.parse((await cliOk(w, ["peer", "list", "--json", "--no-probe"])).stdout);
    assert.equal(wl.length, 1);
    assert.equal(wl[0].id, ctl.id);
    assert.equal(wl[0].address, null);

    // a node that is not allowed is refused, with a clear message, and nothing is stored
    const refused = await cli(x, ["peer", "add", "--address", srv.address, "--name", "rig1"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /refused the connection: node [0-9a-f]{32} is not authorized here/,
    );
    assert.match(refused.stderr, /peer allow/);
    assert.deepEqual(
      JSON.parse((await cliOk(x, ["peer", "list", "--json", "--no-probe"])).stdout),
      [],
    );
    await srv.waitForLog("peer_rejected");

    // an impostor claiming the controller's (registered) ID with a different key is refused
    const impostorHome = `${root}/impostor`;
    const imp = await initIdentity(resolvePaths({ home: impostorHome }), { name: "control" });
    const socket = await dialSocket(`ws://${srv.address}/ws`);
    const ackText = await new Promise<string>((resolve, reject) => {
      initiateChannel(socket, {
        staticKey: keyPairFromPrivate(imp.privateKey),
        prologue: PROLOGUE,
        onResponder: () =>
          new TextEncoder().encode(
            JSON.stringify({
              id: ctl.id,
              name: "control",
              role: "controller",
              version: "0.1.0",
              protocol: PROTOCOL_VERSION,
            }),
          ),
      }).then((ch) => {
        ch.setHandler((kind, parts) =>
          kind === KIND_CONTROL && resolve(new TextDecoder().decode(joinParts(parts)))
        );
        ch.closed.then(() => reject(new Error("closed without handshake_ack")));
      }, reject);
    });
    const ack = JSON.parse(ackText);
    assert.equal(ack.type, "handshake_ack");
    assert.equal(ack.payload.accepted, false);
    assert.match(
      ack.payload.reason,
      new RegExp(`claims ID ${ctl.id} but its authenticated key hashes to ${imp.info.id}`),
    );
    assert.notEqual(toBase64(imp.publicKey), ctl.publicKey);
    await srv.waitForLog(`claims ID ${ctl.id}`);

    // and a node answering at a registered peer's address with another key is refused by the dialer
    const impSrv = await serve(x);
    try {
      await cliOk(c, ["peer", "set", "rig1", "--address", impSrv.address]);
      const r = await cli(c, ["peer", "ping", "rig1", "--count", "1"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`is [0-9a-f]{32}, not the expected ${worker.id}`),
      );
      const after =
        JSON.parse((await cliOk(c, ["peer", "list", "--json", "--no-probe"])).stdout)[0];
      assert.equal(after.publicKey, worker.publicKey, "pinned key unchanged");
      assert.equal(after.score, 54, "failed dial costs 5 points");
    } finally {
      assert.equal(await impSrv.stop(), 0);
    }
  } finally {
    assert.equal(await srv.stop(), 0);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("revoking a peer and open auth mode", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  const c = `${root}/c`;
  const worker = await initNode(w, "rig-02", "worker");
  const ctl = await initNode(c, "ctl", "controller");
  const srv = await serve(w);
  try {
    assert.equal((await cli(c, ["peer", "add", "--address", srv.address])).code, 1);
    await cliOk(w, ["peer", "auth-mode", "open"]);
    const added = JSON.parse(
      (await cliOk(c, ["peer", "add", "--address", srv.address, "--json"])).stdout,
    );
    assert.equal(added.peer.name, "rig-02", "name defaults to the advertised one");
    // open mode does not register strangers
    assert.deepEqual(
      JSON.parse((await cliOk(w, ["peer", "list", "--json", "--no-probe"])).stdout),
      [],
    );
    await cliOk(w, ["peer", "auth-mode", "allowlist"]);
    assert.equal((await cli(c, ["peer", "ping", "rig-02", "--count", "1"])).code, 1);
    await cliOk(w, ["peer", "allow", ctl.publicKey]);
    await cliOk(c, ["peer", "ping", worker.id.slice(0, 8), "--count", "1"]);
    await cliOk(w, ["peer", "revoke", ctl.id]);
    const r = await cli(c, ["peer", "ping", "rig-02", "--count", "1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not authorized/);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
