/**
 * Acceptance 4: private.key is 0600 and its bytes never appear in any file other than itself or
 * in any output. Plus the identity lifecycle (init, --force, reset, validation, broken key
 * files) and where state lives (--home, MINER_CLI_HOME, XDG directories, HOME defaults).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { x25519 } from "@noble/curves/ed25519.js";
import { allFiles, cli, cliOk, MAIN, ROOT, RUN_FLAGS, serve, tempHome } from "./helpers.ts";

const dec = new TextDecoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Textual forms the key could leak in (searched in the text with and without whitespace). */
function keyEncodings(key: Uint8Array): string[] {
  const std = b64(key).replace(/=+$/, "");
  return [
    hex(key),
    hex(key).toUpperCase(),
    std, // also matches the padded form
    std.replaceAll("+", "-").replaceAll("/", "_"), // base64url
  ];
}

/** Byte forms the key could leak in: raw, or as a latin1 string written out as UTF-8 (maybe JSON-escaped). */
function keyByteForms(key: Uint8Array): [string, Uint8Array][] {
  const latin1 = String.fromCharCode(...key);
  const enc = new TextEncoder();
  return [
    ["raw bytes", key],
    ["latin1 string as UTF-8", enc.encode(latin1)],
    ["JSON-escaped latin1 string", enc.encode(JSON.stringify(latin1).slice(1, -1))],
  ];
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Whether the byte values appear as a run of decimal numbers (an array dump), or as "i": b pairs. */
function includesDecimalDump(text: string, key: Uint8Array): boolean {
  const nums = (text.match(/\d+/g) ?? []).map(Number);
  for (let s = 0; s < nums.length; s++) {
    let plain = s + key.length <= nums.length;
    for (let i = 0; plain && i < key.length; i++) plain = nums[s + i] === key[i];
    if (plain) return true;
    let pairs = s + 2 * key.length <= nums.length;
    for (let i = 0; pairs && i < key.length; i++) {
      pairs = nums[s + 2 * i] === i && nums[s + 2 * i + 1] === key[i];
    }
    if (pairs) return true;
  }
  return false;
}

/** Finds the key (raw or encoded) in bytes; returns what was found, or null. */
function findKey(data: Uint8Array, key: Uint8Array): string | null {
  for (const [what, form] of keyByteForms(key)) if (includesBytes(data, form)) return what;
  const text = Array.from(data, (b) => String.fromCharCode(b)).join("");
  const squeezed = text.replace(/\s+/g, "");
  for (const e of keyEncodings(key)) {
    if (text.includes(e) || squeezed.includes(e)) return `encoding ${e}`;
  }
  // hex with separators (aa:bb:.., "aa bb", \x..) or split over lines
  if (text.toLowerCase().replace(/\\x|0x/g, "").replace(/[^0-9a-f]/g, "").includes(hex(key))) {
    return "separated hex";
  }
  if (includesDecimalDump(text, key)) return "decimal byte dump";
  return null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

function keyPath(home: string): string {
  return join(home, "data", "node", "private.key");
}

function nodeJsonPath(home: string): string {
  return join(home, "config", "node.json");
}

/** A clean error: exit 1, an `error:` line, no stack trace, nothing on stdout. */
function assertCleanError(
  r: { code: number; stdout: string; stderr: string },
  pattern?: RegExp | string,
): void {
  const show = `stdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.code, 1, show);
  assert.match(r.stderr, /^error: \S/, show);
  assert.doesNotMatch(r.stderr, /^ {4}at /m, `stack trace in stderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Uncaught|TypeError|ZodError/, show);
  assert.equal(r.stdout, "", show);
  if (typeof pattern === "string") {
    assert.ok(r.stderr.includes(pattern), `expected ${JSON.stringify(pattern)} in\n${r.stderr}`);
  } else if (pattern) assert.match(r.stderr, pattern, show);
}

interface RawResult {
  code: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** Like helpers.cli, but keeps the raw output bytes (so a raw key in the output is detectable). */
async function cliRaw(
  home: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RawResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, MAIN, "--home", home, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: out.stderr };
}

/** Asserts `files` include every one of `expected` and lie only below the `allowed` directories. */
function assertFilesWithin(files: string[], expected: string[], allowed: string[]): void {
  for (const e of expected) {
    assert.ok(files.includes(e), `${e} missing; files: ${files.join(", ")}`);
  }
  for (const f of files) {
    assert.ok(allowed.some((d) => f.startsWith(d + "/")), `${f} is outside ${allowed.join(", ")}`);
  }
}

let denoDirCache: string | undefined;
/** The parent's DENO_DIR, so subprocesses with another HOME still find the module cache. */
async function denoDir(): Promise<string> {
  if (denoDirCache) return denoDirCache;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  })
    .output();
  denoDirCache = JSON.parse(dec.decode(out.stdout)).denoDir as string;
  return denoDirCache;
}

Deno.test("private.key is 0600 and its bytes appear in no other file and in no output", async () => {
  const root = await tempHome();
  const w = join(root, "worker");
  const c = join(root, "controller");
  const outputs: { what: string; data: Uint8Array }[] = [];
  const run = async (
    home: string,
    args: string[],
    expectCode = 0,
    env: Record<string, string> = {},
  ) => {
    const r = await cliRaw(home, args, env);
    outputs.push({ what: `${home} ${args.join(" ")} (stdout)`, data: r.stdout });
    outputs.push({ what: `${home} ${args.join(" ")} (stderr)`, data: r.stderr });
    assert.equal(
      r.code,
      expectCode,
      `miner-cli ${args.join(" ")}\n${dec.decode(r.stdout)}\n${dec.decode(r.stderr)}`,
    );
    return dec.decode(r.stdout);
  };
  try {
    await run(w, [
      "node",
      "init",
      "--name",
      "rig-01",
      "--role",
      "worker",
      "--lat",
      "52.52",
      "--lon",
      "13.40",
    ]);
    await run(c, [
      "node",
      "init",
      "--name",
      "control",
      "--role",
      "controller",
      "--lat",
      "48.85",
      "--lon",
      "2.35",
      "--json",
    ]);
    const worker = JSON.parse(await run(w, ["node", "info", "--json"]));
    const ctl = JSON.parse(await run(c, ["node", "info", "--json"]));
    await run(c, ["node", "info"]);
    await run(w, ["peer", "allow", ctl.publicKey, "--control"]);
    await run(w, ["peer", "auth-mode"]);
    const srv = await serve(w);
    let serveCode: number;
    try {
      const added = JSON.parse(
        await run(c, ["peer", "add", "--address", srv.address, "--name", "rig", "--json"]),
      );
      assert.equal(added.peer.id, worker.id);
      await run(c, ["peer", "ping", "rig", "--count", "3", "--interval", "0ms"]);
      const ping = JSON.parse(
        await run(c, [
          "peer",
          "ping",
          worker.id.slice(0, 8),
          "--count",
          "2",
          "--interval",
          "0ms",
          "--json",
        ]),
      );
      assert.equal(ping.received, 2);
      await run(c, ["peer", "list"]);
      assert.equal(JSON.parse(await run(c, ["peer", "list", "--json"]))[0].online, true);
      await run(w, ["peer", "list", "--json", "--no-probe"]);
      await run(c, ["peer", "optimal"]);
      await run(c, ["peer", "optimal", "--json"]);
      await run(w, ["node", "pair-code"]);
      await run(w, ["node", "pair-code", "--json", "--ttl", "1h"]);
      await run(w, ["node", "info"]);
      // error paths, also with the debug stack traces on
      await run(w, ["node", "init", "--name", "again"], 1);
      await run(c, ["peer", "ping", "nosuch"], 1, { MINER_CLI_DEBUG: "1" });
      await run(c, ["peer", "add", "--address", srv.address, "--code", "MC1-bad"], 1, {
        MINER_CLI_DEBUG: "1",
      });
      await srv.waitForLog(ctl.id);
    } finally {
      serveCode = await srv.stop();
    }
    assert.equal(serveCode, 0);
    const serveLog = srv.log();
    assert.ok(serveLog.includes(ctl.id), "the serve log was captured");

    const homes = [{ home: w, info: worker }, { home: c, info: ctl }];
    const files = await allFiles(root);
    assert.ok(files.length >= 8, `files: ${files}`);
    for (const { home, info } of homes) {
      const kp = keyPath(home);
      assert.equal(await mode(kp), 0o600, `${kp} mode`);
      const key = await Deno.readFile(kp);
      assert.equal(key.length, 32);
      assert.equal(b64(x25519.getPublicKey(key)), info.publicKey, "the file holds this node's key");
      // the checker itself works: it finds the key where it is, in every form
      assert.equal(findKey(key, key), "raw bytes");
      const enc = new TextEncoder();
      for (const e of keyEncodings(key)) assert.ok(findKey(enc.encode(`x ${e} y`), key));
      for (const [, form] of keyByteForms(key)) {
        assert.ok(findKey(new Uint8Array([1, ...form, 2]), key));
      }
      assert.equal(
        findKey(enc.encode(JSON.stringify({ k: key }, null, 2)), key),
        "decimal byte dump",
      );
      assert.equal(findKey(enc.encode(JSON.stringify([9, ...key, 9])), key), "decimal byte dump");
      assert.equal(
        findKey(
          enc.encode(Array.from(key, (b) => "0x" + hex(new Uint8Array([b]))).join(", ")),
          key,
        ),
        "separated hex",
      );
      assert.equal(
        findKey(enc.encode(b64(key).replace(/(.{10})/g, "$1\n")), key),
        `encoding ${b64(key).replace(/=+$/, "")}`,
      );

      for (const f of files) {
        if (f === kp) continue;
        const found = findKey(await Deno.readFile(f), key);
        assert.equal(found, null, `the private key of ${info.name} appears in ${f} (${found})`);
      }
      for (const o of outputs) {
        const found = findKey(o.data, key);
        assert.equal(
          found,
          null,
          `the private key of ${info.name} appears in the output of ${o.what} (${found})`,
        );
      }
      const logBytes = new TextEncoder().encode(serveLog);
      assert.equal(
        findKey(logBytes, key),
        null,
        `the private key of ${info.name} appears in the serve log`,
      );
      // a raw key in the log would have been UTF-8 decoded: look for the decoded middle too
      const decodedKey = dec.decode(key);
      assert.ok(!serveLog.includes(decodedKey.slice(4, -4)), "raw key bytes in the serve log");
    }
    // the stored state really was exercised
    assert.ok(files.some((f) => f.endsWith("registry.sqlite")));
    assert.ok(files.some((f) => f.includes("pairing")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("node init refuses an existing identity without --force; --force replaces it", async () => {
  const home = await tempHome();
  try {
    const first = JSON.parse(
      (await cliOk(home, ["node", "init", "--name", "rig-a", "--json"])).stdout,
    );
    const nodeJson = await Deno.readFile(nodeJsonPath(home));
    const key = await Deno.readFile(keyPath(home));

    const again = await cli(home, ["node", "init", "--name", "rig-b"]);
    assertCleanError(again, /a node identity already exists/);
    assert.ok(again.stderr.includes(first.id), again.stderr);
    assert.match(again.stderr, /--force/);
    const forcedBad = await cli(home, ["node", "init", "--name=bad!", "--force"]);
    assertCleanError(forcedBad, /invalid node name/);
    assert.deepEqual(await Deno.readFile(nodeJsonPath(home)), nodeJson, "node.json unchanged");
    assert.deepEqual(await Deno.readFile(keyPath(home)), key, "private.key unchanged");
    assert.equal((JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout)).id, first.id);

    const forced = await cliOk(home, [
      "node",
      "init",
      "--name",
      "rig-b",
      "--role",
      "controller",
      "--force",
      "--json",
    ]);
    const second = JSON.parse(forced.stdout);
    assert.notEqual(second.id, first.id);
    assert.notEqual(second.publicKey, first.publicKey);
    assert.equal(second.name, "rig-b");
    assert.equal(second.role, "controller");
    const newKey = await Deno.readFile(keyPath(home));
    assert.notDeepEqual(newKey, key);
    assert.equal(newKey.length, 32);
    assert.equal(await mode(keyPath(home)), 0o600);
    const info = JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout);
    assert.equal(info.id, second.id);
    assert.equal(info.publicKey, b64(x25519.getPublicKey(newKey)));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("invalid names and roles are rejected and nothing is written", async () => {
  const root = await tempHome();
  try {
    const cases: [string[], RegExp][] = [
      [["--name="], /--name is required/],
      [[], /--name is required/],
      [["--name=-bad"], /invalid node name "-bad"/],
      [["--name=" + "a".repeat(65)], /invalid node name/],
      [["--name=bad!"], /invalid node name "bad!"/],
      [["--name=trailing "], /invalid node name "trailing "/],
      [["--name= leading"], /invalid node name/],
      [["--name=tab\there"], /invalid node name/],
      [["--name=ünïcode"], /invalid node name/],
      [["--name", "ok", "--role", "boss"], /--role must be controller, worker or dual/],
      [["--name", "ok", "--role", ""], /--role must be controller, worker or dual/],
      [["--name", "ok", "--lat", "91", "--lon", "0"], /--lat must be between -90 and 90/],
      [["--name", "ok", "--lat", "10"], /give both --lat and --lon/],
    ];
    await Promise.all(cases.map(async ([args, pattern], i) => {
      const home = join(root, `case-${i}`);
      const r = await cli(home, ["node", "init", ...args]);
      assertCleanError(r, pattern);
      assert.ok(
        !(await exists(home)) || (await allFiles(home)).length === 0,
        `files written for ${args}`,
      );
    }));
    // the limits themselves are accepted: 64 characters, inner space/-/_
    const ok = join(root, "ok");
    const long = "a".repeat(63) + "z";
    const info = JSON.parse((await cliOk(ok, ["node", "init", "--name", long, "--json"])).stdout);
    assert.equal(info.name, long);
    await cliOk(ok, ["node", "init", "--name", "A b_c-9", "--force"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a broken private key gives a clear error naming the file, not a stack trace", async () => {
  const root = await tempHome();
  try {
    const home = join(root, "n");
    const other = join(root, "other");
    await cliOk(home, ["node", "init", "--name", "rig"]);
    await cliOk(other, ["node", "init", "--name", "other"]);
    const kp = keyPath(home);
    const good = await Deno.readFile(kp);
    const expectFail = async (pattern: RegExp) => {
      for (const args of [["node", "info"], ["node", "pair-code"], ["peer", "optimal"]]) {
        const r = await cli(home, args);
        assertCleanError(r, pattern);
        assert.ok(r.stderr.includes(kp), `${args.join(" ")}: the path is named:\n${r.stderr}`);
      }
    };

    await Deno.writeFile(kp, good.subarray(0, 31));
    assert.equal(await mode(kp), 0o600);
    await expectFail(/corrupt: expected 32 bytes, found 31/);
    await Deno.writeFile(kp, new Uint8Array([...good, 0]));
    await expectFail(/expected 32 bytes, found 33/);

    await Deno.writeFile(kp, good);
    await Deno.chmod(kp, 0o644);
    await expectFail(/has mode 644.*chmod 600/s);
    await Deno.chmod(kp, 0o640);
    await expectFail(/has mode 640/);
    await Deno.chmod(kp, 0o600);
    await cliOk(home, ["node", "info"]);

    await Deno.writeFile(kp, await Deno.readFile(keyPath(other)));
    await expectFail(/does not match the public key/);
    await Deno.remove(kp);
    await expectFail(/is missing/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("node reset refuses without --force and deletes the identity with it", async () => {
  const home = await tempHome();
  try {
    await cliOk(home, ["node", "init", "--name", "rig"]);
    const refused = await cli(home, ["node", "reset"]);
    assertCleanError(refused, /--force/);
    assert.ok(await exists(nodeJsonPath(home)));
    assert.ok(await exists(keyPath(home)));
    await cliOk(home, ["node", "info"]);

    const r = await cliOk(home, ["node", "reset", "--force"]);
    assert.match(r.stdout, /node identity deleted/);
    assert.equal(await exists(nodeJsonPath(home)), false);
    assert.equal(await exists(keyPath(home)), false);
    assertCleanError(await cli(home, ["node", "info"]), /no node identity/);
    assert.match((await cliOk(home, ["node", "reset", "--force"])).stdout, /no identity to delete/);
    // and a new identity can be created without --force
    await cliOk(home, ["node", "init", "--name", "rig-2"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("node ID = hex of the first 16 bytes of SHA-256(public key); public key is 44-char base64", async () => {
  const root = await tempHome();
  try {
    const infos = await Promise.all(["a", "b", "c"].map(async (n) => {
      const home = join(root, n);
      const init = JSON.parse(
        (await cliOk(home, ["node", "init", "--name", `node-${n}`, "--json"])).stdout,
      );
      const info = JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout);
      assert.equal(info.id, init.id);
      return { home, info };
    }));
    for (const { home, info } of infos) {
      assert.match(info.publicKey, /^[A-Za-z0-9+/]{43}=$/);
      assert.equal(info.publicKey.length, 44);
      const pub = unb64(info.publicKey);
      assert.equal(pub.length, 32);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", pub));
      assert.equal(info.id, hex(digest.subarray(0, 16)));
      assert.match(info.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(x25519.getPublicKey(await Deno.readFile(keyPath(home))), pub);
      const stored = JSON.parse(await Deno.readTextFile(nodeJsonPath(home)));
      assert.deepEqual(
        { id: stored.id, name: stored.name, publicKey: stored.publicKey, role: stored.role },
        { id: info.id, name: info.name, publicKey: info.publicKey, role: "dual" },
      );
      assert.equal(stored.privateKey, undefined);
    }
    assert.equal(new Set(infos.map((i) => i.info.id)).size, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--home before the command, --home=DIR and MINER_CLI_HOME all select the state directory", async () => {
  const root = await tempHome();
  try {
    const h1 = join(root, "h1");
    const h2 = join(root, "h2");
    const h3 = join(root, "h3");
    const h4 = join(root, "h4");
    await cliOk(h1, ["node", "init", "--name", "one"]);
    await cliOk(null, [`--home=${h2}`, "node", "init", "--name", "two"]);
    await cliOk(null, ["node", "init", "--name", "three"], { env: { MINER_CLI_HOME: h3 } });
    // --home wins over MINER_CLI_HOME
    await cliOk(h4, ["node", "init", "--name", "four"], { env: { MINER_CLI_HOME: h3 } });
    for (const [home, name] of [[h1, "one"], [h2, "two"], [h3, "three"], [h4, "four"]]) {
      const stored = JSON.parse(await Deno.readTextFile(nodeJsonPath(home)));
      assert.equal(stored.name, name);
      assert.equal(await mode(keyPath(home)), 0o600);
      const viaEnv = JSON.parse(
        (await cliOk(null, ["node", "info", "--json"], { env: { MINER_CLI_HOME: home } })).stdout,
      );
      assert.equal(viaEnv.name, name);
      assert.equal(viaEnv.configDir, join(home, "config"));
      assert.equal(viaEnv.dataDir, join(home, "data"));
    }
    const r = await cli(null, ["--home"]);
    assertCleanError(r, /--home needs a directory/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without --home: XDG_CONFIG_HOME / XDG_DATA_HOME are honoured, else ~/.config and ~/.local/share", async () => {
  const root = await tempHome();
  const base = { DENO_DIR: await denoDir(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  try {
    // XDG variables set
    const home1 = join(root, "home1");
    const xc = join(root, "xdg-config");
    const xd = join(root, "xdg-data");
    await Deno.mkdir(home1);
    const env1 = {
      ...base,
      HOME: home1,
      XDG_CONFIG_HOME: xc,
      XDG_DATA_HOME: xd,
      MINER_CLI_HOME: "",
    };
    await cliOk(null, ["node", "init", "--name", "xdg"], { env: env1 });
    const info1 = JSON.parse((await cliOk(null, ["node", "info", "--json"], { env: env1 })).stdout);
    assert.equal(info1.configDir, join(xc, "lethean-desktop"));
    assert.equal(info1.dataDir, join(xd, "lethean-desktop"));
    assert.equal(
      JSON.parse(await Deno.readTextFile(join(xc, "lethean-desktop", "node.json"))).id,
      info1.id,
    );
    const key1 = join(xd, "lethean-desktop", "node", "private.key");
    assert.equal((await Deno.readFile(key1)).length, 32);
    assert.equal(await mode(key1), 0o600);
    assert.deepEqual(await allFiles(home1), [], "nothing written under HOME");

    // XDG variables empty = unset: HOME defaults
    const home2 = join(root, "home2");
    await Deno.mkdir(home2);
    const env2 = {
      ...base,
      HOME: home2,
      XDG_CONFIG_HOME: "",
      XDG_DATA_HOME: "",
      MINER_CLI_HOME: "",
    };
    await cliOk(null, ["node", "init", "--name", "dflt"], { env: env2 });
    const info2 = JSON.parse((await cliOk(null, ["node", "info", "--json"], { env: env2 })).stdout);
    assert.equal(info2.configDir, join(home2, ".config", "lethean-desktop"));
    assert.equal(info2.dataDir, join(home2, ".local", "share", "lethean-desktop"));
    assertFilesWithin(await allFiles(home2), [
      join(home2, ".config", "lethean-desktop", "node.json"),
      join(home2, ".local", "share", "lethean-desktop", "node", "private.key"),
    ], [
      join(home2, ".config", "lethean-desktop"),
      join(home2, ".local", "share", "lethean-desktop"),
    ]);
    assert.equal(
      await mode(join(home2, ".local", "share", "lethean-desktop", "node", "private.key")),
      0o600,
    );

    // truly unset (clean environment), and only one XDG variable set
    const home3 = join(root, "home3");
    const xc3 = join(root, "xdg-config-3");
    await Deno.mkdir(home3);
    const clean = async (args: string[], env: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...RUN_FLAGS, MAIN, ...args],
        clearEnv: true,
        env,
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      return dec.decode(out.stdout);
    };
    await clean(["node", "init", "--name", "clean"], { ...base, HOME: home3 });
    const info3 = JSON.parse(await clean(["node", "info", "--json"], { ...base, HOME: home3 }));
    assert.equal(info3.name, "clean");
    assert.equal(info3.configDir, join(home3, ".config", "lethean-desktop"));
    assert.equal(
      await mode(join(home3, ".local", "share", "lethean-desktop", "node", "private.key")),
      0o600,
    );
    const home4 = join(root, "home4");
    await Deno.mkdir(home4);
    await clean(["node", "init", "--name", "half"], { ...base, HOME: home4, XDG_CONFIG_HOME: xc3 });
    const info4 = JSON.parse(
      await clean(["node", "info", "--json"], { ...base, HOME: home4, XDG_CONFIG_HOME: xc3 }),
    );
    assert.equal(info4.configDir, join(xc3, "lethean-desktop"));
    assert.equal(info4.dataDir, join(home4, ".local", "share", "lethean-desktop"));
    assertFilesWithin(
      await allFiles(home4),
      [join(home4, ".local", "share", "lethean-desktop", "node", "private.key")],
      [join(home4, ".local", "share", "lethean-desktop")],
    );
    assertFilesWithin(await allFiles(xc3), [join(xc3, "lethean-desktop", "node.json")], [
      join(xc3, "lethean-desktop"),
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
