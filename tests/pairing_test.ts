/**
 * Acceptance 3: a pairing code works once; a reused, expired or wrong code is refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, cliOk, initNode, serve, tempHome } from "./helpers.ts";
import { formatPairCode, parsePairCode } from "../src/node/mod.ts";

Deno.test("pairing code: works once, then reused / expired / wrong / other node are refused", async () => {
  const root = await tempHome();
  const w = `${root}/w`;
  const c = `${root}/c`;
  const c2 = `${root}/c2`;
  const worker = await initNode(w, "rig-03", "worker");
  const ctl = await initNode(c, "ctl", "controller");
  await initNode(c2, "ctl-2", "controller");
  const srv = await serve(w);
  try {
    const code = JSON.parse(
      (await cliOk(w, ["node", "pair-code", "--ttl", "5m", "--json"])).stdout,
    );
    assert.equal(code.nodeId, worker.id);
    assert.match(code.code, new RegExp(`^MC1-${worker.id}-[A-Za-z0-9_-]{22}$`));

    // works once: both sides now know each other with pinned keys
    const added = JSON.parse(
      (await cliOk(c, [
        "peer",
        "add",
        "--address",
        srv.address,
        "--name",
        "rig",
        "--code",
        code.code,
        "--json",
      ])).stdout,
    );
    assert.equal(added.peer.id, worker.id);
    const onWorker = JSON.parse((await cliOk(w, ["peer", "list", "--json", "--no-probe"])).stdout);
    assert.deepEqual(onWorker.map((p: { id: string }) => p.id), [ctl.id]);
    assert.equal(onWorker[0].publicKey, ctl.publicKey);
    // the paired controller keeps access without a code
    await cliOk(c, ["peer", "ping", "rig", "--count", "1"]);

    // reused
    const reused = await cli(c2, ["peer", "add", "--address", srv.address, "--code", code.code]);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /pairing code already used/);

    // expired: age a fresh code on disk
    const fresh = JSON.parse((await cliOk(w, ["node", "pair-code", "--json"])).stdout);
    const pairingDir = join(w, "data", "pairing");
    for await (const e of Deno.readDir(pairingDir)) {
      if (!e.name.endsWith(".json")) continue;
      const p = join(pairingDir, e.name);
      const stored = JSON.parse(await Deno.readTextFile(p));
      assert.equal((await Deno.stat(p)).mode! & 0o777, 0o600, "secret stored 0600");
      stored.expiresAt = new Date(Date.now() - 1000).toISOString();
      await Deno.writeTextFile(p, JSON.stringify(stored));
    }
    const expired = await cli(c2, ["peer", "add", "--address", srv.address, "--code", fresh.code]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /pairing code expired/);

    // wrong: right node ID, made-up secret
    const wrong = formatPairCode({
      nodeId: worker.id,
      secret: crypto.getRandomValues(new Uint8Array(16)),
    });
    const bad = await cli(c2, ["peer", "add", "--address", srv.address, "--code", wrong]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown pairing code/);

    // a code naming another node: the controller refuses the worker before proving anything
    const valid = JSON.parse((await cliOk(w, ["node", "pair-code", "--json"])).stdout);
    const other = formatPairCode({
      nodeId: "0".repeat(32),
      secret: parsePairCode(valid.code).secret,
    });
    const mismatch = await cli(c2, ["peer", "add", "--address", srv.address, "--code", other]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /not the expected 0{32}/);
    // that code is still unused and works for the right node
    await cliOk(c2, ["peer", "add", "--address", srv.address, "--code", valid.code]);

    // malformed
    const malformed = await cli(c2, [
      "peer",
      "add",
      "--address",
      srv.address,
      "--code",
      "MC1-nope",
    ]);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /invalid pairing code/);

    // c2 was never stored by the failed attempts, only by the successful one
    const c2peers = JSON.parse((await cliOk(c2, ["peer", "list", "--json", "--no-probe"])).stdout);
    assert.equal(c2peers.length, 1);
  } finally {
    assert.equal(await srv.stop(), 0);
    await Deno.remove(root, { recursive: true });
  }
});
