/**
 * Bad input gives clear errors (exit 1, `error:` on stderr, no stack trace); help and version
 * work; `peer allow`, `peer revoke` and `peer auth-mode` persist in auth.json.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AuthStore } from "../src/peers/mod.ts";
import { cli, cliOk, type CliResult, initNode, ROOT, tempHome } from "./helpers.ts";

function assertCleanError(r: CliResult, pattern: RegExp, label: string): void {
  const show = `${label}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assert.equal(r.code, 1, show);
  assert.match(r.stderr, /^error: \S/, show);
  assert.match(r.stderr, pattern, show);
  assert.doesNotMatch(r.stderr, /^ {4}at /m, `stack trace: ${show}`);
  assert.doesNotMatch(r.stderr, /Uncaught|\bTypeError\b|ZodError/, show);
  assert.equal(r.stdout, "", show);
}

async function hexSha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomPublicKey(): { bytes: Uint8Array<ArrayBuffer>; b64: string } {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return { bytes, b64: btoa(String.fromCharCode(...bytes)) };
}

async function readAuth(home: string) {
  const store = await AuthStore.open(join(home, "config", "registry.sqlite"));
  try {
    return store.settings;
  } finally {
    store.close();
  }
}

Deno.test("bad input: each case exits 1 with a clear error and no stack trace", async () => {
  const root = await tempHome();
  try {
    const home = join(root, "n");
    await initNode(home, "rig-01");
    const empty = join(root, "empty");
    const cases: [string, string | null, string[], RegExp][] = [
      ["unknown command", home, ["frobnicate"], /unknown command "frobnicate"/],
      [
        "unknown subcommand",
        home,
        ["peer", "frob"],
        /peer has no command "frob" \(its commands: add,/,
      ],
      ["unknown help topic", home, ["help", "peer", "frob"], /peer has no command "frob"/],
      ["unknown global option", null, ["--bogus", "node", "info"], /unknown global option --bogus/],
      ["unknown flag", home, ["node", "info", "--bogus"], /--bogus/],
      ["unknown flag on peer list", home, ["peer", "list", "--frob"], /--frob/],
      [
        "unexpected argument",
        home,
        ["node", "init", "--name", "x", "extra"],
        /unexpected argument extra/,
      ],
      ["missing --address", home, ["peer", "add"], /--address is required/],
      ["empty --address", home, ["peer", "add", "--address", ""], /--address is required/],
      [
        "address without port",
        home,
        ["peer", "add", "--address", "nohost"],
        /invalid address "nohost"/,
      ],
      [
        "port out of range",
        home,
        ["peer", "add", "--address", "host:99999"],
        /invalid address "host:99999"/,
      ],
      ["port 0", home, ["peer", "add", "--address", "host:0"], /invalid address "host:0"/],
      [
        "non-numeric port",
        home,
        ["peer", "add", "--address", "host:abc"],
        /invalid address "host:abc"/,
      ],
      ["bad host", home, ["peer", "add", "--address", "ho st:80"], /invalid address/],
      ["bad scheme", home, ["peer", "add", "--address", "http://host:80"], /invalid address/],
      ["bad ws path", home, ["peer", "add", "--address", "ws://host:80/a b"], /invalid address/],
      [
        "bad --hops",
        home,
        ["peer", "add", "--address", "host:80", "--hops", "300"],
        /--hops must be between 0 and 255/,
      ],
      [
        "bad --lat",
        home,
        ["peer", "add", "--address", "host:80", "--lat", "north", "--lon", "1"],
        /--lat must be a number/,
      ],
      [
        "bad pair code",
        home,
        ["peer", "add", "--address", "host:80", "--code", "MC1-nope"],
        /invalid pairing code/,
      ],
      [
        "--count 0",
        home,
        ["peer", "ping", "rig", "--count", "0"],
        /--count must be between 1 and 10000/,
      ],
      [
        "--count abc",
        home,
        ["peer", "ping", "rig", "--count", "abc"],
        /--count must be a whole number, got "abc"/,
      ],
      [
        "--count 1.5",
        home,
        ["peer", "ping", "rig", "--count", "1.5"],
        /--count must be a whole number/,
      ],
      [
        "--count negative",
        home,
        ["peer", "optimal", "--count=-3"],
        /--count must be between 1 and 100000/,
      ],
      ["--count empty", home, ["peer", "optimal", "--count", ""], /--count must be a whole number/],
      [
        "bad --timeout",
        home,
        ["peer", "ping", "rig", "--timeout", "soon"],
        /--timeout must be a duration/,
      ],
      [
        "--ttl garbage",
        home,
        ["node", "pair-code", "--ttl", "5x"],
        /--ttl must be a duration like 500ms, 30s, 10m or 1h, got "5x"/,
      ],
      [
        "--ttl too short",
        home,
        ["node", "pair-code", "--ttl", "0s"],
        /--ttl must be between 1000 ms and 86400000 ms/,
      ],
      ["--ttl too long", home, ["node", "pair-code", "--ttl", "25h"], /--ttl must be between/],
      ["--ttl negative", home, ["node", "pair-code", "--ttl=-5m"], /--ttl must be a duration/],
      ["peer remove unknown", home, ["peer", "remove", "nosuch"], /no peer matches "nosuch"/],
      [
        "peer remove unknown (no state)",
        empty,
        ["peer", "remove", "abcdef"],
        /no peer matches "abcdef"/,
      ],
      ["peer remove no argument", home, ["peer", "remove"], /usage: miner-cli peer remove <peer>/],
      ["peer ping unknown", home, ["peer", "ping", "nosuch"], /no peer matches "nosuch"/],
      ["peer set nothing", home, ["peer", "set", "rig"], /nothing to change/],
      [
        "peer allow garbage",
        home,
        ["peer", "allow", "garbage"],
        /"garbage" is neither a node ID \(32 hex characters\) nor a public key/,
      ],
      ["peer allow short hex", home, ["peer", "allow", "abcd1234"], /neither a node ID/],
      ["peer allow bad base64", home, ["peer", "allow", "!".repeat(43) + "="], /neither a node ID/],
      ["peer allow nothing", home, ["peer", "allow"], /usage: miner-cli peer allow/],
      ["peer revoke unknown", home, ["peer", "revoke", "nosuch"], /no peer matches "nosuch"/],
      [
        "peer revoke never allowed",
        home,
        ["peer", "revoke", "0".repeat(32)],
        /is neither allowed nor registered/,
      ],
      [
        "peer auth-mode bogus",
        home,
        ["peer", "auth-mode", "bogus"],
        /auth mode must be open or allowlist, got "bogus"/,
      ],
      [
        "peer auth-mode two args",
        home,
        ["peer", "auth-mode", "open", "allowlist"],
        /usage: miner-cli peer auth-mode/,
      ],
      ["node set invalid name", home, ["node", "set", "--name", "bad!"], /invalid/],
      [
        "node serve bad listen",
        home,
        ["node", "serve", "--listen", "nowhere"],
        /--listen must be HOST:PORT/,
      ],
      [
        "node serve bad connect",
        home,
        ["node", "serve", "--no-api", "--listen", "127.0.0.1:0", "--connect", "nothere"],
        /invalid address "nothere": use HOST:PORT/,
      ],
      ["no identity", empty, ["node", "info"], /no node identity at .*node init/],
    ];
    const results = await Promise.all(cases.map(([, h, args]) => cli(h, args)));
    for (const [i, [label, , args, pattern]] of cases.entries()) {
      assertCleanError(results[i], pattern, `${label}: miner-cli ${args.join(" ")}`);
    }
    // the cases ran in this process (`runCli`, as main.ts runs it); a real process of the two
    // kinds of error, a usage error and a failed command, says exactly the same, exit code too
    for (const label of ["missing --address", "no identity"]) {
      const i = cases.findIndex(([l]) => l === label);
      const [, h, args] = cases[i];
      assert.deepEqual(await cli(h, args, { process: true }), results[i], label);
    }
    // usage errors of a command point at that command's usage line
    const addUsage = results[cases.findIndex(([l]) => l === "missing --address")];
    assert.match(addUsage.stderr, /^usage: miner-cli peer add --address HOST:PORT/m);
    // nothing above changed the node's state
    const info = JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout);
    assert.equal(info.name, "rig-01");
    assert.equal(info.authMode, "allowlist");
    assert.equal(info.allowlist, 0);
    assert.equal(info.peers, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("help, command help and --version exit 0", async () => {
  const version = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).version;
  // as processes of their own: main.ts's exit code and streams
  const argvs = [["help"], ["help", "peer", "add"], ["--help"], ["peer", "ping", "--help"]];
  const [help, helpAdd, dashHelp, subHelp, ver, dashV, bare] = await Promise.all(
    [...argvs, ["--version"], ["-V"], []].map((args) => cli(null, args, { process: true })),
  );
  for (const r of [help, helpAdd, dashHelp, subHelp, ver, dashV]) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
  }
  assert.match(help.stdout, /^usage: miner-cli \[--home DIR\] <command>/m);
  for (
    const c of [
      "node init",
      "node info",
      "node reset",
      "node pair-code",
      "node serve",
      "peer add",
      "peer list",
      "peer remove",
      "peer ping",
      "peer allow",
      "peer revoke",
      "peer auth-mode",
      "peer optimal",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`^  ${c} `, "m"), `help lists ${c}`);
  }
  assert.equal(dashHelp.stdout, help.stdout);
  assert.match(helpAdd.stdout, /^usage: miner-cli peer add --address HOST:PORT/);
  assert.doesNotMatch(helpAdd.stdout, /peer ping/);
  assert.match(subHelp.stdout, /^usage: miner-cli peer ping <peer>/);
  assert.equal(ver.stdout, `miner-cli ${version}\n`);
  assert.equal(dashV.stdout, ver.stdout);
  // no command at all: the overview, but a failing exit code
  assert.equal(bare.code, 1);
  assert.equal(bare.stdout, help.stdout);
});

Deno.test("peer allow (node ID or public key), peer revoke and peer auth-mode persist in the registry database", async () => {
  const home = await tempHome();
  try {
    await initNode(home, "rig-01", "worker");
    const dbPath = join(home, "config", "registry.sqlite");
    const a = randomPublicKey();
    const aId = (await hexSha256(a.bytes)).slice(0, 32);
    const b = randomPublicKey();
    const bId = (await hexSha256(b.bytes)).slice(0, 32);

    // by node ID (upper case is accepted and stored lower case)
    const r1 = await cliOk(home, ["peer", "allow", aId.toUpperCase()]);
    assert.match(r1.stdout, new RegExp(`allowed ${aId}`));
    let auth = await readAuth(home);
    assert.equal(auth.version, 1);
    assert.equal(auth.mode, "allowlist");
    assert.equal(auth.allow.length, 1);
    assert.equal(auth.allow[0].id, aId);
    assert.equal(auth.allow[0].publicKey, undefined);
    assert.ok(!Number.isNaN(Date.parse(auth.allow[0].addedAt)));

    // by public key: the ID is derived from it and the key is pinned
    const r2 = JSON.parse((await cliOk(home, ["peer", "allow", b.b64, "--json"])).stdout);
    assert.deepEqual(r2, [{ id: bId, added: true }]);
    auth = await readAuth(home);
    assert.deepEqual(
      auth.allow.map((e: { id: string; publicKey?: string }) => [e.id, e.publicKey]),
      [
        [aId, undefined],
        [bId, b.b64],
      ],
    );

    // again: already allowed; the key of an ID-only entry is added
    assert.match((await cliOk(home, ["peer", "allow", bId])).stdout, /was already allowed/);
    assert.match(
      (await cliOk(home, ["peer", "allow", a.b64])).stdout,
      new RegExp(`allowed ${aId}`),
    );
    auth = await readAuth(home);
    assert.equal(auth.allow.length, 2);
    assert.equal(auth.allow.find((e: { id: string }) => e.id === aId)!.publicKey, a.b64);
    assert.equal(JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout).allowlist, 2);

    // several at once
    const c = randomPublicKey();
    const d = "d".repeat(32);
    await cliOk(home, ["peer", "allow", c.b64, d]);
    assert.equal((await readAuth(home)).allow.length, 4);

    // revoke by ID and by public key
    assert.match(
      (await cliOk(home, ["peer", "revoke", aId])).stdout,
      new RegExp(`revoked ${aId} \\(removed from allowlist\\)`),
    );
    const rev = JSON.parse((await cliOk(home, ["peer", "revoke", c.b64, "--json"])).stdout);
    assert.equal(rev.revoked, true);
    auth = await readAuth(home);
    assert.deepEqual(auth.allow.map((e: { id: string }) => e.id).sort(), [bId, d].sort());
    assertCleanError(
      await cli(home, ["peer", "revoke", aId]),
      /is neither allowed nor registered/,
      "revoke twice",
    );

    // auth mode
    const open = await cliOk(home, ["peer", "auth-mode", "open"]);
    assert.match(open.stdout, /auth mode: open/);
    assert.match(open.stdout, /warning: any node/);
    assert.equal((await readAuth(home)).mode, "open");
    assert.deepEqual(JSON.parse((await cliOk(home, ["peer", "auth-mode", "--json"])).stdout), {
      mode: "open",
    });
    assert.equal(
      JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout).authMode,
      "open",
    );
    await cliOk(home, ["peer", "auth-mode", "allowlist"]);
    auth = await readAuth(home);
    assert.equal(auth.mode, "allowlist");
    assert.equal(auth.allow.length, 2, "changing the mode keeps the allowlist");
    assert.equal((await Deno.stat(dbPath)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("corrupt state files give a clear error naming the file", async () => {
  const home = await tempHome();
  try {
    await initNode(home, "rig-01");
    // a damaged registry database: moved aside intact, said (naming both files), not fatal
    const dbPath = join(home, "config", "registry.sqlite");
    const garbage = "{not a database}".repeat(300);
    for (const ext of ["-wal", "-shm"]) await Deno.remove(dbPath + ext).catch(() => {});
    await Deno.writeTextFile(dbPath, garbage);
    const first = await cli(home, ["node", "info"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /warning: .*registry\.sqlite is corrupt .*moved it to /);
    assert.ok(first.stderr.includes(dbPath), first.stderr);
    const aside = [...Deno.readDirSync(join(home, "config"))].map((e) => e.name)
      .find((n) => /^registry\.sqlite\.corrupt-[^-]+$/.test(n) || n.endsWith("Z"));
    assert.ok(aside, "moved aside");
    assert.equal(
      await Deno.readTextFile(join(home, "config", aside!)),
      garbage,
      "left for the operator to inspect",
    );
    const second = await cli(home, ["peer", "auth-mode"]);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /warning/);
    const nodeJson = join(home, "config", "node.json");
    await Deno.writeTextFile(nodeJson, JSON.stringify({ id: "nope" }));
    const r = await cli(home, ["node", "info"]);
    assertCleanError(r, /node\.json is corrupt/, "node info");
    assert.ok(r.stderr.includes(nodeJson), r.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
