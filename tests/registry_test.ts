/**
 * PeerRegistry on SQLite: peer resolution, score bookkeeping, debounced and merged writes that
 * cost one row per change, corrupt-database recovery, the import of `peers.json` and `auth.json`
 * from earlier versions, and kill -9 of a writer 20 times with the database always consistent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  AmbiguousPeerError,
  AuthStore,
  type Peer,
  PeerNotFoundError,
  PeerRegistry,
  resolvePeer,
} from "../src/peers/mod.ts";
import { AuditLog, type Fleet, FleetMonitor } from "../src/node/mod.ts";
import { fleetStatusJson } from "../src/api/mod.ts";
import { emptyStats } from "../src/miners/mod.ts";
import type {
  AlgorithmTotal,
  FleetNodeStatus,
  MinerStats,
  RigHealth,
} from "../src/protocol/mod.ts";
import { mulberry32, ROOT, within } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/registry_writer.ts", import.meta.url).pathname;

function makePeer(id: string, name: string, extra: Partial<Peer> = {}): Peer {
  return {
    id,
    name,
    publicKey: btoa(id.slice(0, 24)).slice(0, 32) + "AAAAAAAAAAA=",
    address: "127.0.0.1:9091",
    role: "worker",
    grants: [],
    tags: [],
    addedAt: "2024-01-01T00:00:00.000Z",
    lastSeen: null,
    pingMs: null,
    hops: 1,
    geoKm: null,
    score: 50,
    stats: { success: 0, failure: 0, timeout: 0 },
    ...extra,
  };
}

const ID1 = "aaaa1111" + "0".repeat(24);
const ID2 = "aaaa2222" + "0".repeat(24);
const ID3 = "bbbb3333" + "f".repeat(24);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "miner-cli-registry-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** What another process opening the database now sees. */
async function stored(path: string): Promise<Peer[]> {
  const reg = await PeerRegistry.open(path, { debounceMs: 60_000 });
  const peers = [...reg.list()];
  await reg.close();
  return peers;
}

/** The rows as SQLite has them, read with a connection of its own. */
function rawRows(path: string): { id: string; doc: string }[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT id, doc FROM peers ORDER BY id").all() as {
      id: string;
      doc: string;
    }[];
  } finally {
    db.close();
  }
}

Deno.test("resolvePeer: full ID, unique prefix, case-insensitive name; ambiguous and unknown queries fail", () => {
  const p1 = makePeer(ID1, "Rig-One");
  const p2 = makePeer(ID2, "rig-two");
  const p3 = makePeer(ID3, "Backup");
  const peers = [p1, p2, p3];
  assert.equal(resolvePeer(peers, ID1), p1);
  assert.equal(resolvePeer(peers, ID3.toUpperCase()), p3);
  assert.equal(resolvePeer(peers, "aaaa1"), p1);
  assert.equal(resolvePeer(peers, "AAAA2"), p2);
  assert.equal(resolvePeer(peers, "b"), p3);
  assert.equal(resolvePeer(peers, "rig-one"), p1);
  assert.equal(resolvePeer(peers, "RIG-ONE"), p1);
  assert.equal(resolvePeer(peers, "  Rig-Two "), p2);
  assert.equal(resolvePeer(peers, "backup"), p3);

  for (const q of ["aaaa", "a", "AAAA"]) {
    assert.throws(() => resolvePeer(peers, q), (err: unknown) => {
      assert.ok(err instanceof AmbiguousPeerError, String(err));
      assert.equal(err.query, q);
      assert.match(err.message, /matches 2 peers/);
      assert.ok(
        err.message.includes(ID1.slice(0, 12)) && err.message.includes(ID2.slice(0, 12)),
        err.message,
      );
      return true;
    });
  }
  for (
    const q of ["cccc", "rig", "rig-three", "", ID1 + "0", ID1.slice(0, 31) + "9", "aaaa1111x"]
  ) {
    assert.throws(() => resolvePeer(peers, q), (err: unknown) => {
      assert.ok(err instanceof PeerNotFoundError, `${q}: ${err}`);
      assert.equal(err.query, q);
      assert.match(err.message, /no peer matches/);
      return true;
    });
  }
  assert.throws(() => resolvePeer([], ID1), PeerNotFoundError);
  // two names equal but for case are ambiguous
  assert.throws(() => resolvePeer([p1, makePeer(ID3, "RIG-one")], "rig-one"), AmbiguousPeerError);
  // an exact name wins over an ID prefix it happens to look like
  const hexNamed = makePeer(ID3, "aaaa");
  assert.equal(resolvePeer([p1, p2, hexNamed], "aaaa"), hexNamed);
});

Deno.test("registry.resolve uses the same rules on the stored peers", async () => {
  await withDir(async (dir) => {
    const reg = await PeerRegistry.open(join(dir, "registry.sqlite"), { debounceMs: 60_000 });
    reg.upsert(makePeer(ID1, "Rig-One"));
    reg.upsert(makePeer(ID2, "rig-two"));
    assert.equal(reg.resolve("RIG-TWO").id, ID2);
    assert.equal(reg.resolve("aaaa1").id, ID1);
    assert.equal(reg.resolve(ID1.toUpperCase()).id, ID1);
    assert.throws(() => reg.resolve("aaaa"), AmbiguousPeerError);
    assert.throws(() => reg.resolve("nope"), PeerNotFoundError);
    assert.deepEqual(reg.named("RIG-ONE").map((p) => p.id), [ID1]);
    reg.update(ID1, (p) => ({ ...p, name: "renamed" }));
    assert.deepEqual(reg.named("rig-one"), [], "the name index follows renames");
    assert.deepEqual(reg.named("Renamed").map((p) => p.id), [ID1]);
    await reg.close();
  });
});

Deno.test("recordOutcome: success +1, failure -5, timeout -3, clamped to 0..100, counters, lastSeen, pingMs", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "registry.sqlite");
    const reg = await PeerRegistry.open(path, { debounceMs: 60_000 });
    reg.upsert(makePeer(ID1, "mid"));
    reg.upsert(makePeer(ID2, "top", { score: 99 }));
    reg.upsert(makePeer(ID3, "low", { score: 4, lastSeen: "2020-01-01T00:00:00.000Z", pingMs: 7 }));

    const before = Date.now();
    const s = reg.recordOutcome(ID1, "success", { rttMs: 1.23456 })!;
    const after = Date.now();
    assert.equal(s.score, 51);
    assert.deepEqual(s.stats, { success: 1, failure: 0, timeout: 0 });
    assert.ok(s.lastSeen !== null);
    const seen = Date.parse(s.lastSeen);
    assert.ok(seen >= before && seen <= after, `lastSeen ${s.lastSeen}`);
    assert.equal(s.pingMs, 1.235);
    assert.deepEqual(reg.get(ID1), s);

    const f = reg.recordOutcome(ID1, "failure")!;
    assert.equal(f.score, 46);
    assert.deepEqual(f.stats, { success: 1, failure: 1, timeout: 0 });
    assert.equal(f.lastSeen, s.lastSeen, "a failure does not count as seen");
    assert.equal(f.pingMs, 1.235, "no rtt: ping unchanged");

    const t = reg.recordOutcome(ID1, "timeout", { rttMs: 250 })!;
    assert.equal(t.score, 43);
    assert.deepEqual(t.stats, { success: 1, failure: 1, timeout: 1 });
    assert.equal(t.lastSeen, s.lastSeen);
    assert.equal(t.pingMs, 250);

    // clamped at 100
    assert.equal(reg.recordOutcome(ID2, "success")!.score, 100);
    assert.equal(reg.recordOutcome(ID2, "success")!.score, 100);
    assert.deepEqual(reg.get(ID2)!.stats, { success: 2, failure: 0, timeout: 0 });
    // clamped at 0
    assert.equal(reg.recordOutcome(ID3, "timeout")!.score, 1);
    assert.equal(reg.recordOutcome(ID3, "failure")!.score, 0);
    assert.equal(reg.recordOutcome(ID3, "timeout")!.score, 0);
    assert.deepEqual(reg.get(ID3)!.stats, { success: 0, failure: 1, timeout: 2 });
    assert.equal(reg.get(ID3)!.lastSeen, "2020-01-01T00:00:00.000Z");
    assert.equal(reg.get(ID3)!.pingMs, 7);

    // unknown peers are not created
    assert.equal(reg.recordOutcome("c".repeat(32), "success"), undefined);
    assert.equal(reg.list().length, 3);

    // and it all persists
    const mem = reg.list();
    await reg.close();
    const again = await PeerRegistry.open(path);
    assert.deepEqual(again.list(), mem);
    assert.deepEqual(again.list().map((p) => [p.name, p.score]), [["low", 0], ["mid", 43], [
      "top",
      100,
    ]]);
  });
});

Deno.test("debounced writes: many mutations are one transaction of the rows they changed, on flush or when the timer fires", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "registry.sqlite");
    const reg = await PeerRegistry.open(path, { debounceMs: 60_000 });
    const mutations = [
      () => reg.upsert(makePeer(ID1, "one")),
      () => reg.upsert(makePeer(ID2, "two")),
      () => reg.upsert(makePeer(ID3, "three")),
      () => reg.recordOutcome(ID1, "success", { rttMs: 3 }),
      () => reg.recordOutcome(ID1, "failure"),
      () => reg.update(ID2, (p) => ({ ...p, name: "deux", hops: 4 })),
      () => reg.remove(ID3),
    ];
    for (const mutate of mutations) {
      mutate();
      await new Promise((r) => setTimeout(r, 0));
      await reg.refresh();
    }
    assert.equal(reg.writes.transactions, 0, "nothing written before the debounce delay");
    assert.deepEqual(rawRows(path), []);
    const expected = [...reg.list()];
    await reg.flush();
    assert.equal(reg.writes.transactions, 1, "seven mutations, one transaction");
    assert.equal(reg.writes.rows, 3, "of the three peers they touched");
    assert.deepEqual(await stored(path), expected);
    assert.deepEqual(expected.map((p) => [p.name, p.score, p.hops, p.pingMs]), [[
      "deux",
      50,
      4,
      null,
    ], ["one", 46, 1, 3]]);
    await reg.flush();
    await reg.close();
    assert.equal(reg.writes.transactions, 1, "a flush with nothing pending writes nothing");

    // the timer path: a burst of mutations is written once after debounceMs
    const timed = await PeerRegistry.open(path, { debounceMs: 30 });
    for (let i = 0; i < 10; i++) timed.recordOutcome(ID1, "success");
    timed.upsert(makePeer(ID3, "three-again"));
    const deadline = Date.now() + 10_000;
    while (timed.writes.transactions === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(timed.writes.transactions, 1);
    assert.equal(timed.writes.rows, 2);
    await timed.close();
    assert.equal(timed.writes.transactions, 1, "the burst was written in one go");
    const after = await stored(path);
    assert.equal(after.find((p) => p.id === ID1)!.score, 56);
    assert.deepEqual(after.map((p) => p.name), ["deux", "one", "three-again"]);
  });
});

Deno.test("bookkeeping (lastSeen, request outcomes) waits for the next real change or close, not the debounce; the CLI writes it at once", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "registry.sqlite");
    const setup = await PeerRegistry.open(path, { debounceMs: 0 });
    setup.upsert(makePeer(ID1, "one"));
    setup.upsert(makePeer(ID2, "two"));
    await setup.close();

    const reg = await PeerRegistry.open(path, { debounceMs: 20 });
    for (let i = 0; i < 100; i++) reg.recordOutcome(ID1, "success", { rttMs: 2 });
    const members = reg.members;
    reg.markSeen(ID2);
    assert.equal(reg.members, members, "lastSeen changes no member (the summary's counts key)");
    // Ten debounce delays later nothing is written: a forced read of 10,000 rigs is not 10,000
    // rows written at once (the heartbeat persister writes lastSeen every 30 s anyway).
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reg.writes.transactions, 0, "bookkeeping alone is not written on the debounce");
    assert.equal((await stored(path)).find((p) => p.id === ID1)!.score, 50);
    assert.equal(reg.get(ID1)!.score, 100, "but this node sees it at once");
    // A real change goes on the debounce and takes the bookkeeping with it, in one transaction.
    reg.update(ID2, (p) => ({ ...p, tags: ["row-7"] }));
    const deadline = Date.now() + 10_000;
    while (reg.writes.transactions === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(reg.writes.transactions, 1);
    assert.equal(reg.writes.rows, 2);
    assert.equal(reg.members, members, "nor does a tag");
    reg.upsert(makePeer(ID3, "three"));
    assert.equal(reg.members, members + 1, "a new peer does");
    reg.remove(ID3);
    assert.equal(reg.members, members + 2, "and so does one removed");
    const disk = await stored(path);
    assert.deepEqual(disk.find((p) => p.id === ID1)!.stats, {
      success: 100,
      failure: 0,
      timeout: 0,
    });
    assert.deepEqual(disk.find((p) => p.id === ID2)!.tags, ["row-7"]);
    // Bookkeeping still pending at close is written by close.
    reg.recordOutcome(ID1, "failure");
    await reg.close();
    assert.equal(reg.writes.transactions, 2);
    assert.deepEqual((await stored(path)).find((p) => p.id === ID1)!.stats, {
      success: 100,
      failure: 1,
      timeout: 0,
    });

    // With debounceMs 0 (the CLI: it exits soon) bookkeeping is written at the end of the turn.
    const cli = await PeerRegistry.open(path, { debounceMs: 0 });
    cli.recordOutcome(ID2, "success");
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(cli.writes.transactions, 1);
    await cli.close();
  });
});

Deno.test("1,000 first contacts are 1,000 one-row transactions: no rewrite of the registry per peer", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "registry.sqlite");
    const reg = await PeerRegistry.open(path, { debounceMs: 0 });
    const other = await PeerRegistry.open(path, { debounceMs: 60_000 });
    for (let i = 0; i < 1000; i++) {
      reg.upsert(makePeer(i.toString(16).padStart(32, "0"), `rig-${i}`));
      await reg.flush();
    }
    assert.equal(reg.writes.transactions, 1000);
    assert.equal(reg.writes.rows, 1000, "each registration wrote its own row only");
    assert.equal(reg.writes.fullLoads, 1, "loaded once, at open");
    // another process catches up by reading the new rows, not the whole table
    await other.refresh();
    assert.equal(other.size, 1000);
    assert.equal(other.writes.fullLoads, 1);
    reg.recordOutcome("0".repeat(32), "success");
    await reg.flush();
    await other.refresh();
    assert.equal(other.get("0".repeat(32))!.stats.success, 1);
    assert.equal(other.writes.fullLoads, 1);
    await reg.close();
    await other.close();
  });
});

Deno.test("two registries on one database (two processes) keep each other's changes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "registry.sqlite");
    const a = await PeerRegistry.open(path, { debounceMs: 60_000 });
    const b = await PeerRegistry.open(path, { debounceMs: 60_000 });
    a.upsert(makePeer(ID1, "from-a"));
    b.upsert(makePeer(ID2, "from-b"));
    await a.flush();
    await b.flush();
    assert.deepEqual((await stored(path)).map((p) => p.name), ["from-a", "from-b"]);
    assert.deepEqual(b.list().map((p) => p.name), ["from-a", "from-b"], "b merged a's write");
    await a.refresh();
    assert.deepEqual(
      a.list().map((p) => p.name),
      ["from-a", "from-b"],
      "a sees b's write after refresh",
    );

    // both change the same peer: both outcomes count
    a.recordOutcome(ID1, "success");
    b.recordOutcome(ID1, "failure");
    b.update(ID2, (p) => ({ ...p, hops: 9 }));
    a.upsert(makePeer(ID3, "third"));
    await b.flush();
    await a.flush();
    const doc = await stored(path);
    const p1 = doc.find((p) => p.id === ID1)!;
    assert.equal(p1.score, 46, "50 + 1 - 5");
    assert.deepEqual(p1.stats, { success: 1, failure: 1, timeout: 0 });
    assert.equal(doc.find((p) => p.id === ID2)!.hops, 9);
    assert.deepEqual(doc.map((p) => p.name), ["from-a", "from-b", "third"]);

    // a removal in one is not undone by the other's later write
    b.remove(ID3);
    await b.flush();
    a.recordOutcome(ID2, "timeout");
    await a.flush();
    const last = await stored(path);
    assert.deepEqual(last.map((p) => p.name), ["from-a", "from-b"]);
    assert.equal(last.find((p) => p.id === ID2)!.score, 47);
    assert.deepEqual(a.list(), last, "a saw b's removal");
    await a.close();
    await b.close();
  });
});

Deno.test("import from earlier versions: peers.json and auth.json keep every peer, grant, tag, pinned key and the auth mode; once", async () => {
  await withDir(async (dir) => {
    const ctl = makePeer(ID1, "boss", {
      role: "controller",
      address: null,
      grants: ["control"],
      tags: [],
      capabilities: null,
    });
    const rig = makePeer(ID2, "rig-7", {
      tags: ["gpu", "row-3"],
      lastSeen: "2026-11-30T10:00:00.000Z",
      pingMs: 1.5,
      score: 77,
      lat: 52.5,
      lon: 13.4,
      stats: { success: 10, failure: 2, timeout: 1 },
    });
    const peersJson = { version: 2, peers: [ctl, rig] };
    const authJson = {
      version: 1,
      mode: "open",
      allow: [
        { id: ID3, publicKey: "B".repeat(43) + "=", addedAt: "2026-11-01T00:00:00.000Z" },
        { id: ID1, grants: ["control"], addedAt: "2026-11-02T00:00:00.000Z" },
      ],
    };
    await Deno.writeTextFile(join(dir, "peers.json"), JSON.stringify(peersJson, null, 2));
    await Deno.writeTextFile(join(dir, "auth.json"), JSON.stringify(authJson, null, 2));
    const path = join(dir, "registry.sqlite");
    const warnings: string[] = [];
    const reg = await PeerRegistry.open(path, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.deepEqual(reg.list(), [ctl, rig].map((p) => ({ ...p })), "every field kept");
    const auth = await AuthStore.open(path);
    assert.equal(auth.mode, "open");
    assert.deepEqual(auth.settings.allow, authJson.allow, "pinned key and grants kept");
    assert.deepEqual(await listDir(dir), [
      "auth.json.migrated",
      "peers.json.migrated",
      "registry.sqlite",
      "registry.sqlite-shm",
      "registry.sqlite-wal",
    ]);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    // once: an old file put back later is not imported again over newer state
    reg.remove(ID2);
    await reg.close();
    auth.close();
    await Deno.writeTextFile(join(dir, "peers.json"), JSON.stringify(peersJson));
    assert.deepEqual((await stored(path)).map((p) => p.name), ["boss"]);
  });
});

const CORRUPT_CASES: [string, Uint8Array][] = [
  ["garbage text", new TextEncoder().encode("this is {not a database\n".repeat(200))],
  ["binary garbage", new Uint8Array(8192).map((_, i) => (i * 7919) % 251)],
  [
    "a foreign header",
    new TextEncoder().encode("SQLite format 3\0" + "\xff".repeat(4000)),
  ],
];

for (const [label, bytes] of CORRUPT_CASES) {
  Deno.test(`corrupt registry.sqlite (${label}) is moved aside intact, with a warning; the registry starts empty`, async () => {
    await withDir(async (dir) => {
      const path = join(dir, "registry.sqlite");
      await Deno.writeFile(path, bytes);
      const warnings: string[] = [];
      const reg = await PeerRegistry.open(path, {
        debounceMs: 60_000,
        onWarning: (m) => warnings.push(m),
      });
      assert.deepEqual(reg.list(), []);
      const aside = (await listDir(dir)).filter((n) => /^registry\.sqlite\.corrupt-[^-]/.test(n));
      assert.equal(aside.length, 1, `files: ${await listDir(dir)}`);
      assert.deepEqual(await Deno.readFile(join(dir, aside[0])), bytes, "bytes kept intact");
      assert.equal(warnings.length, 1, `warnings: ${warnings}`);
      assert.ok(warnings[0].includes(path), warnings[0]);
      assert.ok(warnings[0].includes(join(dir, aside[0])), warnings[0]);
      assert.match(warnings[0], /corrupt/);
      assert.match(warnings[0], /empty peer registry/);
      reg.upsert(makePeer(ID1, "fresh"));
      await reg.close();
      const again: string[] = [];
      const reopened = await PeerRegistry.open(path, { onWarning: (m) => again.push(m) });
      assert.deepEqual(again, []);
      assert.deepEqual(reopened.list().map((p) => p.name), ["fresh"]);
      await reopened.close();
    });
  });
}

Deno.test("a corrupt peers.json of an earlier version is moved aside with a warning and nothing is imported from it", async () => {
  await withDir(async (dir) => {
    const bad = new TextEncoder().encode('{"version":1,"peers":[{"id":"aaaa');
    await Deno.writeFile(join(dir, "peers.json"), bad);
    const warnings: string[] = [];
    const reg = await PeerRegistry.open(join(dir, "registry.sqlite"), {
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(reg.list(), []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /peers\.json is corrupt .*moved it to .*peers\.json\.corrupt-/);
    const aside = (await listDir(dir)).find((n) => n.startsWith("peers.json.corrupt-"))!;
    assert.deepEqual(await Deno.readFile(join(dir, aside)), bad);
    await reg.close();
  });
});

/** Yields the lines of a byte stream; cancels the stream when the consumer stops early. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        yield buf.slice(0, nl);
        buf = buf.slice(nl + 1);
      }
    }
    if (buf) yield buf;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

Deno.test("kill -9 a process during registry writes 20 times: the database is always consistent and no flushed round is lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "miner-cli-kill9-" });
  const path = join(dir, "registry.sqlite");
  const rand = mulberry32(0x5EED);
  const PEERS = 200;
  try {
    let fileSeq = 0;
    for (let run = 1; run <= 20; run++) {
      const killAfter = 1 + Math.floor(rand() * 30);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", FIXTURE, path, String(PEERS)],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const watchdog = setTimeout(() => child.kill("SIGKILL"), 60_000);
      let opened = "";
      let flushed = 0;
      let ackedSeq = 0;
      try {
        for await (const line of readLines(child.stdout)) {
          if (line.startsWith("opened ")) {
            opened = line;
            continue;
          }
          const m = /^flushed (\d+)$/.exec(line);
          assert.ok(m, `unexpected output ${JSON.stringify(line)}`);
          ackedSeq = Number(m[1]);
          if (++flushed === killAfter) {
            // Not a wait for anything: a random 0-4 ms offset (about one write cycle), so the
            // kill lands at varied points of the next write, not always at the same phase.
            await new Promise((r) => setTimeout(r, rand() * 4));
            child.kill("SIGKILL");
            break;
          }
        }
      } finally {
        clearTimeout(watchdog);
      }
      const status = await child.status;
      const errText = await stderr;
      assert.equal(flushed, killAfter, `run ${run}: writer stopped early\n${errText}`);
      assert.equal(status.signal, "SIGKILL", `run ${run}: ${JSON.stringify(status)}\n${errText}`);
      assert.equal(errText, "", `run ${run}: the writer complained (corrupt database?)`);
      assert.equal(opened, run === 1 ? "opened 0 0" : `opened ${PEERS} ${fileSeq}`, `run ${run}`);

      const db = new DatabaseSync(path);
      const check = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
      db.close();
      assert.equal(Object.values(check)[0], "ok", `run ${run}: integrity check`);
      const peers = await stored(path);
      assert.equal(peers.length, PEERS, `run ${run}`);
      const seqs = peers.map((p) => p.stats.success);
      assert.ok(
        Math.min(...seqs) >= ackedSeq,
        `run ${run}: a flushed round (${ackedSeq}) was lost: ${Math.min(...seqs)}`,
      );
      // one round is one transaction: a kill never leaves half a round
      assert.equal(Math.min(...seqs), Math.max(...seqs), `run ${run}: a torn round`);
      fileSeq = Math.max(...seqs);
      if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    const names = await listDir(dir);
    assert.deepEqual(names.filter((n) => !n.startsWith("registry.sqlite")), []);
    const warnings: string[] = [];
    const reg = await PeerRegistry.open(path, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(reg.list().length, PEERS);
    assert.equal(Math.max(...reg.list().map((p) => p.stats.success)), fileSeq);
    await reg.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two writers flushing at the same time lose nothing, and a flush that cannot get the lock is retried", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/registry.sqlite`;
  try {
    const a = await PeerRegistry.open(path, { debounceMs: 0 });
    const b = await PeerRegistry.open(path, { debounceMs: 0 });
    const mk = (i: number) => ({
      id: i.toString(16).padStart(32, "0"),
      name: `p${i}`,
      publicKey: "A".repeat(43) + "=",
      address: null,
      role: "worker" as const,
      addedAt: new Date().toISOString(),
      lastSeen: null,
      pingMs: null,
      hops: 1,
      geoKm: null,
      score: 50,
      stats: { success: 0, failure: 0, timeout: 0 },
    });
    const work = async (r: PeerRegistry, off: number) => {
      for (let i = 0; i < 60; i++) {
        r.upsert(mk(off + i));
        await r.flush();
      }
    };
    await Promise.all([work(a, 1), work(b, 1001)]);
    assert.equal((await stored(path)).length, 120);

    // another process holds the write lock: the flush fails, keeps its changes, and works later
    const c = await PeerRegistry.open(path, { debounceMs: 60_000, busyTimeoutMs: 50 });
    const holder = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    c.upsert(mk(5000));
    await assert.rejects(c.flush(), /locked|busy/i);
    holder.exec("ROLLBACK");
    holder.close();
    c.upsert(mk(5001));
    await c.flush();
    const names = (await stored(path)).map((p) => p.name);
    assert.ok(names.includes("p5000") && names.includes("p5001"), names.join(","));
    await Promise.all([a.close(), b.close(), c.close()]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("audit log: records that come while one is written go together, whole and in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new AuditLog(join(dir, "audit.log"));
    // 2,000 rigs coming back at once after a controller restart: one record each.
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        log.append({
          peer: `p${i}`,
          peerName: `rig-${i}`,
          role: "worker",
          action: "peer_online",
          params: {},
          outcome: "ok",
        })),
    );
    const { records, torn } = await log.read();
    assert.deepEqual(torn, []);
    assert.deepEqual(
      records.map((r) => r.peerName),
      Array.from({ length: 2000 }, (_, i) => `rig-${i}`),
    );
    // They came before the first write started: all went in it (one open and write, not 2,000).
    assert.equal(log.writes, 1);
    // One more while nothing is being written is a write of its own.
    await log.append({
      peer: "p",
      peerName: "late",
      role: null,
      action: "peer_offline",
      params: {},
      outcome: "ok",
    });
    assert.equal(log.writes, 2);
    assert.equal((await log.read()).records.at(-1)?.peerName, "late");
    assert.equal((await Deno.stat(join(dir, "audit.log"))).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor: the events' counts and totals, kept rig by rig, agree with a count of the rows", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  try {
    const ids = Array.from({ length: 5 }, (_, i) => `cccc${i}`.padEnd(32, "0"));
    ids.forEach((id, i) => reg.upsert(makePeer(id, `rig-${i}`, { address: null })));
    reg.upsert(makePeer("dddd".padEnd(32, "0"), "boss", { role: "controller" }));
    type Summary = { nodes: number; online: number; offline: number; totals: AlgorithmTotal[] };
    let waiting: ((s: Summary) => void) | null = null;
    const fleet = {
      mesh: { registry: reg, session: () => undefined },
      workers: () => reg.list().filter((p) => p.role !== "controller"),
    } as unknown as Fleet;
    const monitor = new FleetMonitor(fleet, {
      intervalMs: 0,
      recountMs: Infinity, // only what the tally keeps: no periodic recount hides a mistake
      onEvent: (e) => {
        if (e.type === "fleet_rows") waiting?.(e);
      },
    });
    const miner = (
      name: string,
      algorithm: string,
      hashrate: number,
      state: MinerStats["state"],
    ): MinerStats => ({
      ...emptyStats(name, "xmrig", null),
      state,
      pid: 1,
      hashrate: { now: hashrate, avg60: hashrate, avg15m: null },
      algorithm,
      uptime: 1,
      paused: state === "paused",
    });
    const push = (i: number, miners: MinerStats[]) =>
      monitor.pushed(
        reg.get(ids[i])!,
        {
          nodeId: ids[i],
          nodeName: `rig-${i}`,
          uptime: 1,
          role: "worker",
          miners,
          seq: 1,
          intervalMs: 10_000,
          reason: "interval",
        } satisfies Parameters<FleetMonitor["pushed"]>[1],
      );
    const agree = async (what: string) => {
      const event = await new Promise<Summary>((r) => waiting = r);
      // Counted again from every row (the tally is what summary() and the events both read).
      const scan = await monitor.get(Infinity);
      const key = (s: Summary) =>
        JSON.stringify([
          s.nodes,
          s.online,
          s.offline,
          s.totals.map((t) => [t.algorithm, t.hashrate.toFixed(6), t.rigs, t.miners]),
        ]);
      assert.equal(key(event), key(scan), what);
      return event;
    };
    push(0, [miner("a", "rx/0", 100.1, "running")]);
    push(1, [miner("a", "rx/0", 200.2, "running"), miner("b", "kawpow", 1e6, "running")]);
    push(2, [miner("a", "rx/0", 0.3, "paused")]);
    push(3, [miner("a", "rx/0", 50, "stopped")]);
    push(4, [miner("a", "kawpow", 5.5, "running")]);
    const first = await agree("five rigs pushed");
    assert.equal(first.online, 5);
    assert.equal(first.totals.find((t) => t.algorithm === "kawpow")?.rigs, 2);
    // A rig's hashrate changes, another goes offline: their old parts are taken away.
    push(1, [miner("a", "rx/0", 150.7, "running")]);
    monitor.sawOffline(reg.get(ids[0])!, "link lost");
    const second = await agree("one changed, one offline");
    assert.equal(second.online, 4);
    assert.equal(second.totals.find((t) => t.algorithm === "kawpow")?.rigs, 1);
    // Another process removes a rig and makes one a controller (no invalidate here): the next
    // event counts neither.
    reg.remove(ids[4]);
    reg.update(ids[3], (p) => ({ ...p, role: "controller" }));
    push(2, [miner("a", "rx/0", 0.4, "running")]);
    const third = await agree("a rig removed, one now a controller");
    assert.deepEqual([third.nodes, third.online], [3, 2]);
    assert.equal(third.totals.find((t) => t.algorithm === "kawpow"), undefined);
    monitor.stop();
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor: while nobody takes the rows' events, no rows are gathered for them; the counts, the version and the rows are still kept", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  let stop = () => {};
  try {
    const ids = Array.from({ length: 4 }, (_, i) => `abab${i}`.padEnd(32, "0"));
    ids.forEach((id, i) => reg.upsert(makePeer(id, `rig-${i}`, { address: null })));
    const fleet = {
      mesh: { registry: reg, session: () => undefined },
      workers: () => reg.list().filter((p) => p.role !== "controller"),
    } as unknown as Fleet;
    let listening = false;
    let wanted = 0;
    let next: ((e: { rows: { name: string }[]; online: number }) => void) | null = null;
    const monitor = new FleetMonitor(fleet, {
      intervalMs: 0,
      wanted: () => {
        wanted++;
        return listening;
      },
      onEvent: (e) => {
        if (e.type === "fleet_rows") next?.(e);
      },
    });
    stop = () => monitor.stop();
    const push = (i: number) =>
      monitor.pushed(reg.get(ids[i])!, {
        nodeId: ids[i],
        nodeName: `rig-${i}`,
        uptime: 1,
        role: "worker",
        miners: [],
        seq: 1,
        intervalMs: 10_000,
        reason: "interval",
      });
    const v0 = monitor.version;
    for (const i of [0, 1, 2]) push(i);
    assert.equal(wanted, 3, "asked once per change");
    assert.ok(monitor.version > v0, "the version (ETags) moves without listeners");
    assert.equal(monitor.summary().online, 3);
    // Someone listens now (after a snapshot): the next event has only what changed since.
    listening = true;
    const event = new Promise<{ rows: { name: string }[]; online: number }>((r) => next = r);
    push(3);
    const e = await within(event, "the first fleet_rows event after someone listens", 5000);
    assert.deepEqual(e.rows.map((r) => r.name), ["rig-3"]);
    assert.equal(e.online, 4, "the counts cover every rig, gathered or not");
    assert.equal((await monitor.get(Infinity)).peers.filter((r) => r.online).length, 4);
  } finally {
    stop();
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor: right after the node starts, a rig not linked yet is offline at once but announced only after the start grace", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  try {
    const late = makePeer("ffff0".padEnd(32, "0"), "late", { address: null });
    const back = makePeer("ffff1".padEnd(32, "0"), "back", { address: null });
    for (const p of [late, back]) reg.upsert(p);
    const fleet = {
      mesh: { registry: reg, session: () => undefined },
      workers: () => reg.list().filter((p) => p.role !== "controller"),
    } as unknown as Fleet;
    const announced: string[] = [];
    let lateAnnounced: () => void = () => {};
    const lateOffline = new Promise<void>((r) => lateAnnounced = r);
    const monitor = new FleetMonitor(fleet, {
      intervalMs: 0,
      startGraceMs: 400,
      onEvent: (e) => {
        if (e.type !== "peer") return;
        announced.push(`${e.name} ${e.kind}`);
        if (e.name === "late") lateAnnounced();
      },
    });
    const first = await monitor.poll(1000);
    // Offline in the rows, the counts and the peer state at once...
    assert.deepEqual(first.peers.map((r) => r.online), [false, false]);
    assert.equal(first.online, 0);
    assert.equal(monitor.state(late.id)?.online, false);
    const since = monitor.state(late.id)!.since;
    // ...but no transition announced: the node started without them.
    assert.deepEqual(announced, []);
    // One links within the grace: its online event is the only one it ever gets.
    monitor.sawOnline(back);
    assert.deepEqual(announced, ["back online"]);
    // The other is announced when the grace is over, with the time it was first seen offline.
    let bound: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      lateOffline,
      new Promise((_, no) => bound = setTimeout(() => no(new Error("never announced")), 10_000)),
    ]).finally(() => clearTimeout(bound));
    assert.deepEqual(announced, ["back online", "late offline"]);
    assert.equal(monitor.state(late.id)!.since, since);
    monitor.stop();
    // Without a grace, the first offline is announced at once (as after the grace).
    const events: string[] = [];
    const now = new FleetMonitor(fleet, {
      intervalMs: 0,
      startGraceMs: 0,
      onEvent: (e) => {
        if (e.type === "peer") events.push(`${e.name} ${e.kind}`);
      },
    });
    await now.poll(1000);
    assert.deepEqual(events.sort(), ["back offline", "late offline"]);
    now.stop();
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor: a rig with no link and no address is offline without a request", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  try {
    const away = makePeer("eeee0".padEnd(32, "0"), "away", { address: null });
    const linked = makePeer("eeee1".padEnd(32, "0"), "linked", { address: null });
    const dialed = makePeer("eeee2".padEnd(32, "0"), "dialed", { address: "127.0.0.1:9" });
    for (const p of [away, linked, dialed]) reg.upsert(p);
    const asked: string[] = [];
    const events: string[][] = [];
    const fleet = {
      mesh: {
        registry: reg,
        session: (id: string) => id === linked.id ? { isClosed: false } : undefined,
      },
      workers: () => reg.list().filter((p) => p.role !== "controller"),
      row: (p: Peer) => {
        asked.push(p.id);
        return Promise.resolve({
          id: p.id,
          name: p.name,
          address: p.address,
          ms: 1,
          online: true,
          miners: [],
        });
      },
    } as unknown as Fleet;
    const monitor = new FleetMonitor(fleet, {
      intervalMs: 0,
      onEvent: (e) => {
        if (e.type === "fleet_rows") events.push(e.rows.map((r) => r.name).sort());
      },
    });
    const first = await monitor.poll(1000);
    // Only the rigs that can be reached are asked (the linked one over its link, the other
    // at its address); the one that only dials in, and is not linked, is offline as a request
    // would have said, without one.
    assert.deepEqual(asked.sort(), [dialed.id, linked.id].sort());
    const row = first.peers.find((r) => r.id === away.id)!;
    assert.equal(row.online, false);
    assert.match(
      row.error!,
      /^away \(eeee00000000\) is offline: not connected, and it has no address/,
    );
    assert.equal(first.online, 2);
    // Asked again: still not asked, its row is current (not stale) and unchanged (no event).
    await new Promise<void>((r) => setTimeout(r, 300)); // the first event (every 250 ms)
    const seen = events.length;
    const again = await monitor.poll(1000);
    assert.equal(asked.filter((id) => id === away.id).length, 0);
    assert.equal(again.peers.find((r) => r.id === away.id)!.stale, false);
    await new Promise<void>((r) => setTimeout(r, 300));
    assert.ok(events.slice(seen).every((rows) => !rows.includes("away")), JSON.stringify(events));
    monitor.stop();
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor: a pushing rig that answers a forced read is due its next push an interval after the answer (not asked by the rounds meanwhile); forced reads reuse rows 250 ms old and join requests out", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  try {
    const rig = makePeer("ffff0".padEnd(32, "0"), "pusher", { address: null });
    reg.upsert(rig);
    let asked = 0;
    let answer: (() => void) | null = null;
    const fleet = {
      mesh: { registry: reg, session: () => ({ isClosed: false }) },
      workers: () => reg.list(),
      row: async (p: Peer) => {
        asked++;
        await new Promise<void>((r) => answer = r);
        return { id: p.id, name: "pusher", address: null, ms: 1, online: true, miners: [] };
      },
    } as unknown as Fleet;
    const monitor = new FleetMonitor(fleet, { intervalMs: 0 });
    const pushMs = 1_000;
    const t0 = Date.now() - 900; // its last push was 900 ms ago: due by t0 + 1.1 s + 2 s grace
    monitor.pushed(reg.get(rig.id)!, {
      nodeId: rig.id,
      nodeName: "pusher",
      uptime: 1,
      role: "worker",
      miners: [],
      seq: 1,
      intervalMs: pushMs,
      reason: "interval",
    }, { now: t0 });
    assert.ok(monitor.isPushing(rig.id));
    // Forced reads while a request is out join it: one request for two reads.
    const a = monitor.poll(5_000);
    const b = monitor.poll(5_000);
    await new Promise<void>((r) => setTimeout(r, 0));
    assert.equal(asked, 1);
    const answeredAt = Date.now();
    answer!();
    await Promise.all([a, b]);
    assert.equal(asked, 1);
    // The rig started its interval again when it answered (stats_push.ts): it is a pushing rig
    // until an interval after the answer, so a round does not ask it when the old push is due.
    const oldDue = t0 + pushMs * 1.1 + 2_000;
    assert.ok(monitor.isPushing(rig.id, oldDue + 500), "still pushing after the old due time");
    assert.ok(monitor.isPushing(rig.id, answeredAt + pushMs * 1.1 + 2_000 - 50));
    assert.ok(!monitor.isPushing(rig.id, Date.now() + pushMs * 1.1 + 2_000 + 50));
    // A forced read right after takes the row that just came in (no request); its row is fresh.
    const c = await monitor.poll(5_000);
    assert.equal(asked, 1);
    assert.equal(c.peers[0].stale, false);
    assert.equal(c.peers[0].online, true);
    monitor.stop();
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet monitor and API: a read reuses the rows (and their JSON) of rigs that did not change, and builds new ones for a push, going offline, a rename and turning stale", async () => {
  const dir = await Deno.makeTempDir();
  const reg = await PeerRegistry.open(join(dir, "registry.sqlite"));
  try {
    const ids = Array.from({ length: 4 }, (_, i) => `eeee${i}`.padEnd(32, "0"));
    ids.forEach((id, i) => reg.upsert(makePeer(id, `rig-${i}`)));
    const fleet = {
      mesh: { registry: reg, session: () => ({ isClosed: false }) },
      workers: () => reg.list().filter((p) => p.role !== "controller"),
      // A refresh of a stale row stays out (this test reads the rows, it does not answer).
      row: () => new Promise(() => {}),
    } as unknown as Fleet;
    const monitor = new FleetMonitor(fleet, { intervalMs: 0 });
    const push = (i: number, hashrate: number, now = Date.now()) =>
      monitor.pushed(reg.get(ids[i])!, {
        nodeId: ids[i],
        nodeName: `rig-${i}`,
        uptime: 1,
        role: "worker",
        miners: [{
          ...emptyStats("a", "xmrig", null),
          state: "running",
          pid: 1,
          hashrate: { now: hashrate, avg60: hashrate, avg15m: null },
          algorithm: "rx/0",
        }],
        seq: 1,
        intervalMs: 10_000,
        reason: "interval",
      }, { now });
    for (let i = 0; i < 3; i++) push(i, 100 + i);
    push(3, 103, Date.now() - 60_000); // overdue: stale for a reader allowing 2 s
    const row = (d: { peers: FleetNodeStatus[] }, i: number): FleetNodeStatus =>
      d.peers.find((p) => p.id === ids[i])!;
    const a = await monitor.get(Infinity);
    const b = await monitor.get(Infinity);
    for (let i = 0; i < 4; i++) assert.equal(row(b, i), row(a, i), `rig-${i} unchanged`);
    push(0, 200);
    monitor.sawOffline(reg.get(ids[1])!, "link lost");
    reg.update(ids[2], (p) => ({ ...p, name: "renamed" }));
    const c = await monitor.get(Infinity);
    assert.notEqual(row(c, 0), row(b, 0), "a push is a new row");
    assert.equal(row(c, 0).miners[0].hashrate.now, 200);
    assert.notEqual(row(c, 1), row(b, 1), "going offline is a new row");
    assert.equal(row(c, 1).online, false);
    assert.notEqual(row(c, 2), row(b, 2), "a rename is a new row");
    assert.equal(row(c, 2).name, "renamed");
    assert.equal(row(c, 3), row(b, 3), "rig-3 unchanged");
    // The same row is fresh for one reader and stale for another, whichever read first.
    const strict = await monitor.get(2000);
    assert.equal(row(strict, 3).stale, true);
    assert.equal(row(strict, 0).stale, false);
    assert.equal(row(await monitor.get(Infinity), 3).stale, false);
    assert.equal(row(await monitor.get(2000), 3).stale, true);

    // The API's JSON of a read is JSON.stringify's, the rows' cached text included, and a row
    // whose health object is replaced is serialized again.
    const same = (doc: Parameters<typeof fleetStatusJson>[0], what: string) =>
      assert.deepEqual(JSON.parse(fleetStatusJson(doc)), JSON.parse(JSON.stringify(doc)), what);
    const d = await monitor.get(Infinity);
    same(d, "first serialization");
    same(d, "from the cached rows");
    const health = (state: "ok" | "down"): RigHealth => ({
      id: ids[0],
      name: "rig-0",
      tags: [],
      state,
      since: null,
      reasons: [],
      miners: [],
      totals: [],
      maxTemp: null,
      updatedAt: null,
    });
    row(d, 0).health = health("ok");
    same(d, "a row given its health");
    assert.match(fleetStatusJson(d), /"state":"ok"/);
    row(d, 0).health = health("down");
    same(d, "a row given new health");
    assert.match(fleetStatusJson(d), /"state":"down"/);
    same({ ...d, peers: d.peers.slice(1, 3), page: { matched: 4, offset: 1, limit: 2 } }, "a page");
    monitor.stop();
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});
