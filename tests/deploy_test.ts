/**
 * Issue 4, acceptance 3 and 4 over the wire: a 100 MB miner bundle deployed between two
 * processes (byte-for-byte, then started from the deployed binary), an encrypted bundle, a
 * hostile bundle refused with nothing written outside the target, and a controller killed
 * mid-deploy leaving the previous version intact.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createTarPacker } from "modern-tar";
import { installEmulatedMiner, minersDir } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  allFiles,
  cli,
  cliOk,
  initNode,
  MAIN,
  processesMentioning,
  RUN_FLAGS,
  serve,
  tempHome,
  until,
} from "./helpers.ts";

const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };
const MB100 = 100 * 1024 * 1024;

async function writeRandom(path: string, size: number): Promise<string> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const h = createHash("sha256");
  const chunk = new Uint8Array(65536);
  for (let off = 0; off < size; off += chunk.length) {
    crypto.getRandomValues(chunk);
    const part = chunk.subarray(0, Math.min(chunk.length, size - off));
    h.update(part);
    let w = 0;
    while (w < part.length) w += await f.write(part.subarray(w));
  }
  f.close();
  return h.digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of (await Deno.open(path)).readable) h.update(c);
  return h.digest("hex");
}

async function pair(root: string) {
  const c = join(root, "c");
  const w = join(root, "w");
  const ctl = await initNode(c, "control", "controller");
  await initNode(w, "rig", "worker");
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  const srv = await serve(w, ["--poll-interval", "200ms"]);
  await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
  return { c, w, srv };
}

Deno.test("deploy: a 100 MB miner bundle arrives byte for byte and runs; encrypted and hostile bundles", async () => {
  const root = await tempHome();
  const { c, w, srv } = await pair(root);
  try {
    // The controller has an (emulated) XMRig installed, plus 100 MB of data beside it.
    const cPaths = resolvePaths({ home: c });
    const bin = await installEmulatedMiner(cPaths, "xmrig", { version: "6.22.0", env: EMU });
    const blobSum = await writeRandom(join(bin, "..", "data.bin"), MB100);
    const r = await cliOk(c, ["remote", "deploy", "rig", "--miner", "xmrig", "--json"]);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.results[0].ok, true, r.stdout);
    assert.equal(doc.bundle.type, "miner");
    assert.equal(doc.bundle.version, "6.22.0");
    assert.ok(doc.bundle.bytes > MB100);
    const target = join(minersDir(resolvePaths({ home: w })), "xmrig", "current");
    assert.equal(await Deno.readTextFile(join(target, ".version")), "6.22.0\n");
    assert.equal(await sha256File(join(target, "data.bin")), blobSum);
    assert.equal(
      await Deno.readTextFile(join(target, "xmrig")),
      await Deno.readTextFile(bin),
    );
    assert.equal((await Deno.stat(join(target, "xmrig"))).mode! & 0o777, 0o755);
    // Nothing else appeared in the worker's miners dir; the controller's temp file is gone.
    assert.deepEqual(
      (await allFiles(minersDir(resolvePaths({ home: w })))).sort(),
      [join(target, ".version"), join(target, "data.bin"), join(target, "xmrig")],
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(c, "data", "tmp"))), []);

    // The worker runs the deployed binary.
    await addXmrigProfile(c, "cpu", ["--threads", "1"]);
    await cliOk(c, ["remote", "start", "rig", "--profile", "cpu"]);
    await until(
      async () => {
        const s = JSON.parse((await cliOk(c, ["remote", "status", "--json"])).stdout);
        return (s.peers[0].miners[0]?.hashrate.now ?? 0) > 0;
      },
      "deployed miner hashing",
      20_000,
    );
    await cliOk(c, ["remote", "stop", "rig"]);

    // An encrypted full bundle (miner + profile): decrypted by the controller, sent, installed.
    const small = join(root, "small-miner");
    await Deno.mkdir(small);
    await Deno.copyFile(bin, join(small, "xmrig"));
    await Deno.chmod(join(small, "xmrig"), 0o755);
    await Deno.writeTextFile(join(root, "pw"), "correct horse battery\n");
    await addXmrigProfile(c, "gpu-rig");
    await cliOk(c, [
      "bundle",
      "create",
      "--miner",
      small,
      "--version",
      "6.23.0",
      "--profile",
      "gpu-rig",
      "--password-file",
      join(root, "pw"),
      "-o",
      join(root, "full.bundle"),
    ]);
    const inspected = JSON.parse(
      (await cliOk(c, [
        "bundle",
        "inspect",
        join(root, "full.bundle"),
        "--password-file",
        join(root, "pw"),
        "--json",
      ])).stdout,
    );
    assert.equal(inspected.encrypted, true);
    assert.equal(inspected.manifest.type, "full");
    const noPw = await cli(c, ["bundle", "inspect", join(root, "full.bundle")]);
    assert.equal(noPw.code, 1);
    assert.match(noPw.stderr, /encrypted: give its password with --password-file/);
    await cliOk(c, [
      "remote",
      "deploy",
      "rig",
      "--bundle",
      join(root, "full.bundle"),
      "--password-file",
      join(root, "pw"),
    ]);
    // 6.23.0 is now the active install; 6.22.0 is kept beside it.
    assert.equal(await Deno.readTextFile(join(target, ".version")), "6.23.0\n");
    assert.ok((await Deno.stat(join(target, "xmrig"))).isFile);
    assert.ok((await Deno.stat(join(target, "..", "6.22.0", "xmrig"))).isFile);
    assert.equal(
      JSON.parse((await cliOk(w, ["profile", "show", "gpu-rig", "--json"])).stdout).name,
      "gpu-rig",
    );

    // A hostile bundle (path traversal) is refused by the worker; nothing lands outside.
    const evil = await hostileTar();
    await Deno.writeFile(join(root, "evil.tar"), evil);
    const before = (await allFiles(w)).filter((f) => !f.includes("/data/") || f.includes("miners"));
    const bad = await cli(c, ["remote", "deploy", "rig", "--bundle", join(root, "evil.tar")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /deploy to rig failed: .*unsafe path/);
    const after = (await allFiles(w)).filter((f) => !f.includes("/data/") || f.includes("miners"));
    assert.deepEqual(after, before);
    assert.equal(await Deno.stat(join(root, "pwned")).catch(() => null), null);
    const audit = (await Deno.readTextFile(join(w, "data", "audit.log"))).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((a) => a.action === "deploy");
    assert.deepEqual(audit.map((a) => a.outcome), ["ok", "ok", "failed"]);
  } finally {
    await srv.stop();
    assert.deepEqual(await processesMentioning(w), []);
    await Deno.remove(root, { recursive: true });
  }
});

async function hostileTar(): Promise<Uint8Array> {
  const body = new TextEncoder().encode("#!/bin/sh\necho pwned\n");
  const sum = createHash("sha256").update(body).digest("hex");
  const manifest = new TextEncoder().encode(JSON.stringify({
    format: 1,
    type: "miner",
    name: "xmrig",
    version: "6.24.0",
    minerType: "xmrig",
    profileIds: [],
    createdAt: new Date().toISOString(),
    files: [{ path: "miner/xmrig", size: body.length, sha256: sum, mode: 0o755 }],
  }));
  const { readable, controller } = createTarPacker();
  const done = (async () => {
    for (
      const [name, data] of [
        ["manifest.json", manifest],
        ["../../../../pwned", body],
        // Bytes still in flight after the worker refuses the bundle are dropped, not a crash.
        ["miner/padding", new Uint8Array(40 * 1024 * 1024)],
      ] as const
    ) {
      const wr = controller.add({ name, size: data.length }).getWriter();
      await wr.write(data);
      await wr.close();
    }
    controller.finalize();
  })();
  const bytes = new Uint8Array(await new Response(readable).arrayBuffer());
  await done;
  return bytes;
}

Deno.test("deploy: killing the controller mid-deploy leaves the previous version intact", async () => {
  const root = await tempHome();
  const { c, w, srv } = await pair(root);
  try {
    const cPaths = resolvePaths({ home: c });
    const bin = await installEmulatedMiner(cPaths, "xmrig", { version: "6.22.0", env: EMU });
    await cliOk(c, ["remote", "deploy", "rig", "--miner", "xmrig"]);
    const typeDir = join(minersDir(resolvePaths({ home: w })), "xmrig");
    const v1 = await sha256File(join(typeDir, "current", "xmrig"));
    // The next version is large; kill the controller while it streams.
    const next = join(root, "6.23.0");
    await Deno.mkdir(next);
    await Deno.copyFile(bin, join(next, "xmrig"));
    await writeRandom(join(next, "big.bin"), 3 * MB100);
    const proc = new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUN_FLAGS, MAIN, "--home", c, "remote", "deploy", "rig", "--miner", next],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await until(
      async () => {
        for await (const e of Deno.readDir(typeDir)) {
          if (!e.name.startsWith(".staging-")) continue;
          for await (const f of Deno.readDir(join(typeDir, e.name))) {
            if (f.name === "big.bin" && (await Deno.stat(join(typeDir, e.name, f.name))).size > 0) {
              return true;
            }
          }
        }
        return false;
      },
      "the worker extracting into staging",
      30_000,
    );
    proc.kill("SIGKILL");
    await proc.status;
    // The worker notices, removes the staging directory, and records the failure.
    await until(
      async () => {
        const names = (await Array.fromAsync(Deno.readDir(typeDir))).map((e) => e.name);
        return names.length === 1;
      },
      "staging removed",
      15_000,
    );
    assert.deepEqual((await Array.fromAsync(Deno.readDir(typeDir))).map((e) => e.name), [
      "current",
    ]);
    assert.equal(await sha256File(join(typeDir, "current", "xmrig")), v1);
    await until(
      async () => {
        const audit = (await Deno.readTextFile(join(w, "data", "audit.log"))).trim().split("\n")
          .map((l) => JSON.parse(l)).filter((a) => a.action === "deploy");
        return audit.length === 2 && audit[1].outcome === "failed";
      },
      "failed deploy audited",
      10_000,
    );
    // The worker is still healthy and takes the next deploy.
    await cliOk(c, [
      "remote",
      "deploy",
      "rig",
      "--miner",
      join(typeDir, "current", "xmrig"),
      "--version",
      "6.22.1",
    ]);
    // The new version is active; the one it replaced is kept for a rollback.
    assert.equal(await Deno.readTextFile(join(typeDir, "current", ".version")), "6.22.1\n");
    assert.equal(await sha256File(join(typeDir, "6.22.0", "xmrig")), v1);
  } finally {
    await srv.stop();
    assert.deepEqual(await processesMentioning(w), []);
    await Deno.remove(root, { recursive: true });
  }
});
