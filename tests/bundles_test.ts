/**
 * Bundles: building, inspecting, encryption at rest (wrong password, flipped bit, truncation,
 * swapped chunks), and hardened installation (traversal, absolute paths, symlinks, hard links,
 * devices, size bombs, previous version intact on failure).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTarPacker, type TarHeader } from "modern-tar";
import {
  BundleError,
  BundleTamperedError,
  createBundle,
  installBundle,
  type KdfParams,
  type Manifest,
  openBundle,
  parseManifest,
  readManifest,
  recoverMinersDir,
  WrongPasswordError,
} from "../src/bundles/mod.ts";
import {
  findMinerBinaries,
  type Profile,
  ProfileStore,
  validateProfile,
} from "../src/miners/mod.ts";
import { allFiles, mulberry32 } from "./helpers.ts";

const FAST_KDF: KdfParams = { t: 1, m: 256, p: 1 };

function profile(name = "rig-a"): Profile {
  return validateProfile({
    name,
    minerType: "xmrig",
    config: { pools: [{ url: "pool.example.org:3333", user: "44w" }] },
  });
}

async function setup() {
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bundle-" });
  const minersDir = join(root, "data", "miners");
  const store = new ProfileStore(join(root, "config", "mining_profiles.json"));
  await Deno.mkdir(join(root, "config"), { recursive: true });
  return { root, minersDir, store };
}

async function minerDir(root: string, size = 300_000): Promise<string> {
  const dir = join(root, "src-miner");
  await Deno.mkdir(join(dir, "lib"), { recursive: true });
  await Deno.writeTextFile(join(dir, "xmrig"), "#!/bin/sh\necho XMRig 6.22.0\n", { mode: 0o755 });
  await Deno.chmod(join(dir, "xmrig"), 0o755);
  const rand = mulberry32(7);
  const blob = new Uint8Array(size).map(() => Math.floor(rand() * 256));
  await Deno.writeFile(join(dir, "lib", "blob.bin"), blob);
  return dir;
}

Deno.test("bundle: a miner+profile bundle round-trips, keeps the executable bit, saves profiles", async () => {
  const { root, minersDir, store } = await setup();
  const src = await minerDir(root);
  const p = profile();
  const out = join(root, "full.bundle");
  const made = await createBundle(out, {
    minerPath: src,
    minerType: "xmrig",
    version: "6.22.0",
    profiles: [p],
    name: "xmrig",
  });
  assert.equal(made.manifest.type, "full");
  assert.deepEqual(made.manifest.files.map((f) => f.path), [
    "miner/lib/blob.bin",
    "miner/xmrig",
    `profiles/${p.id}.json`,
  ]);
  const m = await readManifest((await openBundle(out)).stream);
  assert.deepEqual(m, made.manifest);

  const res = await installBundle((await openBundle(out)).stream, { minersDir, profiles: store });
  assert.equal(res.minerDir, join(minersDir, "xmrig", "current"));
  assert.equal(await Deno.readTextFile(join(res.minerDir!, ".version")), "6.22.0\n");
  assert.deepEqual(
    await Deno.readFile(join(res.minerDir!, "lib", "blob.bin")),
    await Deno.readFile(join(src, "lib", "blob.bin")),
  );
  const st = await Deno.stat(join(res.minerDir!, "xmrig"));
  assert.equal((st.mode ?? 0) & 0o777, 0o755);
  assert.deepEqual((await store.get(p.id)).config, p.config);
  // Nothing but the active install is left in the type dir.
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(join(minersDir, "xmrig")))).map((e) => e.name),
    ["current"],
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("bundle: encrypted at rest; wrong password, flipped bit, truncation and swapped chunks are each refused", async () => {
  const { root, minersDir, store } = await setup();
  const src = await minerDir(root, 400_000);
  const out = join(root, "enc.bundle");
  const made = await createBundle(out, {
    minerPath: src,
    minerType: "xmrig",
    version: "6.22.0",
    password: "correct horse battery",
    kdf: FAST_KDF,
  });
  assert.ok(made.encrypted);
  const bytes = await Deno.readFile(out);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "MCBUNDLE");
  assert.ok(!new TextDecoder().decode(bytes).includes("manifest.json"), "the tar is not visible");

  // Right password: the manifest and an install work.
  const ok = await openBundle(out, { password: "correct horse battery" });
  assert.ok(ok.encrypted);
  assert.equal((await readManifest(ok.stream)).name, "src-miner");
  await assert.rejects(() => openBundle(out), /encrypted: give its password/);

  const tryInstall = async (data: Uint8Array, password = "correct horse battery") => {
    const path = join(root, `variant-${crypto.randomUUID()}`);
    await Deno.writeFile(path, data);
    const { stream } = await openBundle(path, { password });
    return installBundle(stream, { minersDir, profiles: store });
  };
  await assert.rejects(() => tryInstall(bytes, "wrong password"), WrongPasswordError);

  const HEADER = 72;
  const SEALED = 64 * 1024 + 16;
  const flipped = bytes.slice();
  flipped[HEADER + SEALED + 1000] ^= 0x01;
  await assert.rejects(() => tryInstall(flipped), BundleTamperedError);

  // Cut at a chunk boundary (the remaining chunks all authenticate, but none is final).
  const truncated = bytes.slice(0, HEADER + 3 * SEALED);
  await assert.rejects(() => tryInstall(truncated), /cut short/);
  // Cut inside a chunk.
  await assert.rejects(() => tryInstall(bytes.slice(0, bytes.length - 7)), BundleTamperedError);

  const swapped = bytes.slice();
  swapped.set(bytes.subarray(HEADER + SEALED, HEADER + 2 * SEALED), HEADER);
  swapped.set(bytes.subarray(HEADER, HEADER + SEALED), HEADER + SEALED);
  await assert.rejects(() => tryInstall(swapped), /chunk 0 failed authentication/);

  // A tampered header (for example weaker KDF parameters) changes the key or the AD.
  const header = bytes.slice();
  header[12 + 3] ^= 0x02; // t
  await assert.rejects(() => tryInstall(header), BundleError);

  // None of the failures left anything behind.
  assert.deepEqual(await allFiles(minersDir).catch(() => []), []);
  // The intact file still installs.
  const res = await tryInstall(bytes);
  assert.ok(res.minerDir);
  await Deno.remove(root, { recursive: true });
});

Deno.test("bundle: the default Argon2id cost is stored in the header and a wrong password is refused", async () => {
  const { root } = await setup();
  const out = join(root, "p.bundle");
  await createBundle(out, { profiles: [profile()], password: "a long enough password" });
  const bytes = await Deno.readFile(out);
  const v = new DataView(bytes.buffer);
  assert.deepEqual([bytes[10], v.getUint32(12), v.getUint32(16)], [1, 3, 65536]);
  await assert.rejects(
    async () => readManifest((await openBundle(out, { password: "nope" })).stream),
    WrongPasswordError,
  );
  assert.equal(
    (await readManifest((await openBundle(out, { password: "a long enough password" })).stream))
      .type,
    "profile",
  );
  await Deno.remove(root, { recursive: true });
});

/** Builds a raw tar from entries, for hostile bundles. */
async function rawTar(
  entries: { header: TarHeader; body?: Uint8Array }[],
): Promise<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const done = (async () => {
    for (const e of entries) {
      const w = controller.add(e.header).getWriter();
      if (e.body) await w.write(e.body);
      await w.close();
    }
    controller.finalize();
  })();
  const bytes = new Uint8Array(await new Response(readable).arrayBuffer());
  await done;
  return bytes;
}

async function sha(bytes: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice())))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function hostile(
  entryName: string,
  header: Partial<TarHeader>,
  body: Uint8Array,
  listed = "miner/x",
): Promise<Uint8Array> {
  const manifest: Manifest = {
    format: 1,
    type: "miner",
    name: "evil",
    version: "1.0",
    minerType: "xmrig",
    profileIds: [],
    createdAt: new Date().toISOString(),
    files: [{ path: listed, size: body.length, sha256: await sha(body), mode: 0o755 }],
  };
  const m = new TextEncoder().encode(JSON.stringify(manifest));
  return rawTar([
    { header: { name: "manifest.json", size: m.length }, body: m },
    { header: { name: entryName, size: body.length, ...header }, body },
  ]);
}

Deno.test("bundle: hostile archives are refused and write nothing outside the target", async () => {
  const { root, minersDir, store } = await setup();
  // A previous version that must survive every failed install.
  const prev = join(minersDir, "xmrig", "1.0");
  await Deno.mkdir(prev, { recursive: true });
  await Deno.writeTextFile(join(prev, "x"), "previous");
  const body = new TextEncoder().encode("#!/bin/sh\necho pwned\n");
  const cases: [string, Uint8Array, RegExp][] = [
    ["../x", await hostile("../x", {}, body), /unsafe path/],
    ["miner/../../x", await hostile("miner/../../x", {}, body), /unsafe path/],
    ["/tmp/x", await hostile("/tmp/x", {}, body), /unsafe path/],
    [
      "symlink",
      await hostile(
        "miner/x",
        { type: "symlink", linkname: "/etc/passwd", size: 0 },
        new Uint8Array(),
      ),
      /symlink entries are refused/,
    ],
    [
      "hard link",
      await hostile(
        "miner/x",
        { type: "link", linkname: "/etc/passwd", size: 0 },
        new Uint8Array(),
      ),
      /link entries are refused/,
    ],
    [
      "device",
      await hostile("miner/x", { type: "character-device", size: 0 }, new Uint8Array()),
      /character-device entries are refused/,
    ],
    ["unlisted", await hostile("miner/y", {}, body), /not listed in the manifest/],
    ["manifest ../", await hostile("miner/x", {}, body, "../x"), /invalid bundle manifest/],
  ];
  for (const [label, tar, re] of cases) {
    await assert.rejects(
      () => installBundle(ReadableStream.from([tar]), { minersDir, profiles: store }),
      (err: Error) => {
        assert.ok(err instanceof BundleError, `${label}: ${err}`);
        assert.match(err.message, re, label);
        return true;
      },
    );
  }
  // Size bombs: a file over the per-file limit, and a total over the total limit.
  const big = new Uint8Array(5000);
  await assert.rejects(
    async () =>
      installBundle(ReadableStream.from([await hostile("miner/x", {}, big)]), {
        minersDir,
        profiles: store,
        limits: { maxFileBytes: 4096 },
      }),
    /per-file limit/,
  );
  await assert.rejects(
    async () =>
      installBundle(ReadableStream.from([await hostile("miner/x", {}, big)]), {
        minersDir,
        profiles: store,
        limits: { maxTotalBytes: 4096 },
      }),
    /over the 4096-byte limit/,
  );
  // A header claiming a huge size is refused before its body is read.
  const bombTar = await hostile("miner/x", {}, body);
  patchSize(bombTar, 8 * 1024 ** 3);
  await assert.rejects(
    () => installBundle(ReadableStream.from([bombTar]), { minersDir, profiles: store }),
    /per-file limit|bytes but the manifest says|not a valid archive/,
  );
  // Only the previous version is there, untouched; nothing outside the miners dir appeared.
  assert.deepEqual(await allFiles(minersDir), [join(prev, "x")]);
  assert.equal(await Deno.readTextFile(join(prev, "x")), "previous");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name).sort(),
    ["config", "data"],
  );
  await Deno.remove(root, { recursive: true });
});

/** Rewrites the octal size field (and checksum) of the second tar header, after the manifest. */
function patchSize(tar: Uint8Array, size: number): void {
  const manifestSize = parseInt(new TextDecoder().decode(tar.subarray(124, 135)).trim(), 8);
  const off = 512 + Math.ceil(manifestSize / 512) * 512;
  const field = size.toString(8).padStart(11, "0") + "\0";
  tar.set(new TextEncoder().encode(field), off + 124);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[off + i];
  tar.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), off + 148);
}

Deno.test("bundle: a failed same-version reinstall and a crash mid-swap leave the previous version", async () => {
  const { root, minersDir, store } = await setup();
  const src = await minerDir(root, 10_000);
  const out = join(root, "m.bundle");
  await createBundle(out, { minerPath: src, minerType: "xmrig", version: "6.22.0" });
  await installBundle((await openBundle(out)).stream, { minersDir, profiles: store });
  const target = join(minersDir, "xmrig", "current");
  await Deno.writeTextFile(join(target, "marker"), "v1");
  // Abort at the last moment (as a checksum mismatch does).
  await assert.rejects(
    async () =>
      installBundle((await openBundle(out)).stream, {
        minersDir,
        profiles: store,
        beforeCommit: () => {
          throw new BundleError("checksum mismatch");
        },
      }),
    /checksum mismatch/,
  );
  assert.equal(await Deno.readTextFile(join(target, "marker")), "v1");
  // Simulate a crash between the two renames of a swap, then recover.
  const aside = join(minersDir, "xmrig", `.old-${crypto.randomUUID()}-current`);
  await Deno.rename(target, aside);
  await Deno.mkdir(join(minersDir, "xmrig", `.staging-${crypto.randomUUID()}`));
  const actions = await recoverMinersDir(minersDir);
  assert.equal(actions.length, 2);
  assert.equal(await Deno.readTextFile(join(target, "marker")), "v1");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(join(minersDir, "xmrig")))).map((e) => e.name),
    ["current"],
  );
  // A newer version becomes current; the replaced one is kept under its version for rollback,
  // and a crash right after the swap is repaired the same way.
  const out2 = join(root, "m2.bundle");
  await createBundle(out2, { minerPath: src, minerType: "xmrig", version: "6.23.0" });
  await installBundle((await openBundle(out2)).stream, { minersDir, profiles: store });
  assert.equal(await Deno.readTextFile(join(target, ".version")), "6.23.0\n");
  assert.equal(await Deno.readTextFile(join(minersDir, "xmrig", "6.22.0", "marker")), "v1");
  const paths = { dataDir: join(root, "data") } as Parameters<typeof findMinerBinaries>[0];
  assert.deepEqual(
    findMinerBinaries(paths, "xmrig", "xmrig").filter((b) => b.source === "miners-dir")
      .map((b) => [b.path, b.dirVersion]),
    [
      [join(target, "xmrig"), "6.23.0"],
      [join(minersDir, "xmrig", "6.22.0", "xmrig"), "6.22.0"],
    ],
  );
  await Deno.rename(
    join(minersDir, "xmrig", "6.22.0"),
    join(minersDir, "xmrig", `.old-${crypto.randomUUID()}-current`),
  );
  assert.match((await recoverMinersDir(minersDir))[0], /^kept .*6\.22\.0$/);
  assert.equal(await Deno.readTextFile(join(minersDir, "xmrig", "6.22.0", "marker")), "v1");
  await Deno.remove(root, { recursive: true });
});

Deno.test("bundle: a deploy in progress is never picked as a miner version; profile files must be listed", async () => {
  const { root, minersDir } = await setup();
  const paths = { dataDir: join(root, "data") } as Parameters<typeof findMinerBinaries>[0];
  const staging = join(minersDir, "xmrig", `.staging-${crypto.randomUUID()}`);
  await Deno.mkdir(staging, { recursive: true });
  await Deno.writeTextFile(join(staging, "xmrig"), "#!/bin/sh\n", { mode: 0o755 });
  await Deno.chmod(join(staging, "xmrig"), 0o755);
  assert.deepEqual(
    findMinerBinaries(paths, "xmrig", "xmrig").filter((b) => b.source === "miners-dir"),
    [],
  );
  await Deno.mkdir(join(minersDir, "xmrig", "6.22.0"));
  await Deno.copyFile(join(staging, "xmrig"), join(minersDir, "xmrig", "6.22.0", "xmrig"));
  assert.deepEqual(
    findMinerBinaries(paths, "xmrig", "xmrig").filter((b) => b.source === "miners-dir")
      .map((b) => b.dirVersion),
    ["6.22.0"],
  );
  // A profile file that is not one of profileIds (a way to smuggle bulk data) is refused.
  const body = new TextEncoder().encode("{}");
  const manifest = {
    format: 1,
    type: "profile",
    name: "p",
    version: "1",
    minerType: null,
    profileIds: ["a"],
    createdAt: new Date().toISOString(),
    files: [
      { path: "profiles/a.json", size: 2, sha256: await sha(body), mode: 0o600 },
      { path: "profiles/b.json", size: 2, sha256: await sha(body), mode: 0o600 },
    ],
  };
  assert.throws(() => parseManifest(JSON.stringify(manifest)), /not one of the listed profileIds/);
  await Deno.remove(root, { recursive: true });
});
