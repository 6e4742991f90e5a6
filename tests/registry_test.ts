/**
 * PeerRegistry: peer resolution, score bookkeeping, debounced and merged writes, corrupt-file
 * recovery, and acceptance 5: kill -9 a writer 20 times and peers.json always parses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AmbiguousPeerError,
  type Peer,
  PeerNotFoundError,
  PeerRegistry,
  PeersFileSchema,
  resolvePeer,
} from "../src/peers/mod.ts";
import { mulberry32, ROOT } from "./helpers.ts";

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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function readDoc(path: string) {
  return PeersFileSchema.parse(JSON.parse(await Deno.readTextFile(path)));
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
    const reg = await PeerRegistry.open(join(dir, "peers.json"), { debounceMs: 60_000 });
    reg.upsert(makePeer(ID1, "Rig-One"));
    reg.upsert(makePeer(ID2, "rig-two"));
    assert.equal(reg.resolve("RIG-TWO").id, ID2);
    assert.equal(reg.resolve("aaaa1").id, ID1);
    assert.throws(() => reg.resolve("aaaa"), AmbiguousPeerError);
    assert.throws(() => reg.resolve("nope"), PeerNotFoundError);
    await reg.close();
  });
});

Deno.test("recordOutcome: success +1, failure -5, timeout -3, clamped to 0..100, counters, lastSeen, pingMs", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
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

/** Counts writes that land on `path` (the atomic rename, or a direct write). */
function spyWrites(path: string) {
  type Fs = {
    rename: typeof Deno.rename;
    writeFile: typeof Deno.writeFile;
    writeTextFile: typeof Deno.writeTextFile;
  };
  const fs = Deno as unknown as Fs;
  const orig = { rename: fs.rename, writeFile: fs.writeFile, writeTextFile: fs.writeTextFile };
  const state = { count: 0, waiters: [] as (() => void)[] };
  const hit = (target: string | URL) => {
    if (String(target) !== path) return;
    state.count++;
    for (const w of state.waiters.splice(0)) w();
  };
  fs.rename = async (from, to) => {
    await orig.rename(from, to);
    hit(to);
  };
  fs.writeFile = async (p, data, opts) => {
    await orig.writeFile(p, data, opts);
    hit(p);
  };
  fs.writeTextFile = async (p, data, opts) => {
    await orig.writeTextFile(p, data, opts);
    hit(p);
  };
  return {
    get count() {
      return state.count;
    },
    /** Resolves at the next write to `path` (rejects after 10 s). */
    nextWrite(): Promise<void> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no write to ${path} within 10 s`)), 10_000);
        state.waiters.push(() => (clearTimeout(t), resolve()));
      });
    },
    restore() {
      Object.assign(fs, orig);
    },
  };
}

Deno.test("debounced writes: many mutations are written once, on flush or when the timer fires", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const spy = spyWrites(path);
    try {
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
        // let any write that was (wrongly) started right away finish: refresh waits for
        // in-flight flushes, and a timer turn lets a scheduled one begin
        await new Promise((r) => setTimeout(r, 0));
        await reg.refresh();
      }
      assert.equal(spy.count, 0, "nothing written before the debounce delay");
      assert.equal(await exists(path), false);
      const expected = reg.list();
      await reg.flush();
      assert.equal(spy.count, 1, "seven mutations, one write");
      const doc = await readDoc(path);
      assert.deepEqual(doc, { version: 2, peers: expected });
      assert.deepEqual(doc.peers.map((p) => [p.name, p.score, p.hops, p.pingMs]), [[
        "deux",
        50,
        4,
        null,
      ], ["one", 46, 1, 3]]);
      await reg.flush();
      await reg.close();
      assert.equal(spy.count, 1, "a flush with nothing pending writes nothing");

      // the timer path: a burst of mutations is written once after debounceMs
      const timed = await PeerRegistry.open(path, { debounceMs: 30 });
      const written = spy.nextWrite();
      for (let i = 0; i < 10; i++) timed.recordOutcome(ID1, "success");
      timed.upsert(makePeer(ID3, "three-again"));
      await written;
      assert.equal(spy.count, 2);
      await timed.close();
      assert.equal(spy.count, 2, "the burst was written in one go");
      const after = await readDoc(path);
      assert.equal(after.peers.find((p) => p.id === ID1)!.score, 56);
      assert.deepEqual(after.peers.map((p) => p.name), ["deux", "one", "three-again"]);
    } finally {
      spy.restore();
    }
  });
});

Deno.test("two registries on one file (two processes) keep each other's changes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const a = await PeerRegistry.open(path, { debounceMs: 60_000 });
    const b = await PeerRegistry.open(path, { debounceMs: 60_000 });
    a.upsert(makePeer(ID1, "from-a"));
    b.upsert(makePeer(ID2, "from-b"));
    await a.flush();
    await b.flush();
    assert.deepEqual((await readDoc(path)).peers.map((p) => p.name), ["from-a", "from-b"]);
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
    const doc = await readDoc(path);
    const p1 = doc.peers.find((p) => p.id === ID1)!;
    assert.equal(p1.score, 46, "50 + 1 - 5");
    assert.deepEqual(p1.stats, { success: 1, failure: 1, timeout: 0 });
    assert.equal(doc.peers.find((p) => p.id === ID2)!.hops, 9);
    assert.deepEqual(doc.peers.map((p) => p.name), ["from-a", "from-b", "third"]);

    // a removal in one is not undone by the other's later write
    b.remove(ID3);
    await b.flush();
    a.recordOutcome(ID2, "timeout");
    await a.flush();
    const last = await readDoc(path);
    assert.deepEqual(last.peers.map((p) => p.name), ["from-a", "from-b"]);
    assert.equal(last.peers.find((p) => p.id === ID2)!.score, 47);
    // a third reader sees the merged state
    const c = await PeerRegistry.open(path);
    assert.deepEqual(c.list(), last.peers);
    await a.close();
    await b.close();
  });
});

const CORRUPT_CASES: [string, Uint8Array][] = [
  ["garbage text", new TextEncoder().encode("this is {not json\n")],
  ["binary garbage", new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x80, 0x0a, 0xc3])],
  ["empty file", new Uint8Array()],
  ["truncated JSON", new TextEncoder().encode('{"version":1,"peers":[{"id":"aaaa')],
  ["valid JSON, wrong version", new TextEncoder().encode('{"version":99,"peers":[]}')],
  [
    "valid JSON, wrong schema",
    new TextEncoder().encode('{"version":1,"peers":[{"id":"nope","name":"x"}]}'),
  ],
  ["valid JSON, not an object", new TextEncoder().encode("[1,2,3]")],
];

for (const [label, bytes] of CORRUPT_CASES) {
  Deno.test(`corrupt peers.json (${label}) is moved aside intact, with a warning; the registry starts empty`, async () => {
    await withDir(async (dir) => {
      const path = join(dir, "peers.json");
      await Deno.writeFile(path, bytes);
      const warnings: string[] = [];
      const reg = await PeerRegistry.open(path, {
        debounceMs: 60_000,
        onWarning: (m) => warnings.push(m),
      });
      assert.deepEqual(reg.list(), []);
      const names = await listDir(dir);
      assert.equal(names.length, 1, `files: ${names}`);
      assert.match(names[0], /^peers\.json\.corrupt-/);
      const aside = join(dir, names[0]);
      assert.deepEqual(await Deno.readFile(aside), bytes, "bytes kept intact");
      assert.equal(warnings.length, 1, `warnings: ${warnings}`);
      assert.ok(warnings[0].includes(path), warnings[0]);
      assert.ok(warnings[0].includes(aside), warnings[0]);
      assert.match(warnings[0], /corrupt/);
      assert.match(warnings[0], /empty peer registry/);

      // the registry works normally afterwards and the aside copy is left alone
      reg.upsert(makePeer(ID1, "fresh"));
      await reg.close();
      assert.deepEqual((await readDoc(path)).peers.map((p) => p.name), ["fresh"]);
      assert.deepEqual(await Deno.readFile(aside), bytes);
      const again: string[] = [];
      const reopened = await PeerRegistry.open(path, { onWarning: (m) => again.push(m) });
      assert.deepEqual(again, []);
      assert.equal(reopened.list().length, 1);
    });
  });
}

Deno.test("peers.json is written 0644, and leftover temp files do not affect loading", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const reg = await PeerRegistry.open(path, { debounceMs: 0 });
    reg.upsert(makePeer(ID1, "one"));
    reg.upsert(makePeer(ID2, "two"));
    await reg.close();
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    const good = await Deno.readTextFile(path);
    // what a crash between create and rename leaves behind
    const torn = join(dir, `.peers.json.${crypto.randomUUID()}.tmp`);
    const empty = join(dir, `.peers.json.${crypto.randomUUID()}.tmp`);
    await Deno.writeTextFile(torn, good.slice(0, good.length >> 1));
    await Deno.writeFile(empty, new Uint8Array());
    const warnings: string[] = [];
    const again = await PeerRegistry.open(path, {
      debounceMs: 0,
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(again.list().map((p) => p.name), ["one", "two"]);
    again.remove(ID1);
    await again.close();
    assert.deepEqual((await readDoc(path)).peers.map((p) => p.name), ["two"]);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    const names = await listDir(dir);
    assert.deepEqual(names.filter((n) => n.includes("corrupt")), []);
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

Deno.test("kill -9 a process during registry writes 20 times: peers.json always parses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "miner-cli-kill9-" });
  const path = join(dir, "peers.json");
  const rand = mulberry32(0x5EED);
  const PEERS = 200;
  try {
    // a stale temp file from an earlier crash is there from the start
    await Deno.writeTextFile(
      join(dir, `.peers.json.${crypto.randomUUID()}.tmp`),
      '{"version":1,"peers":[{"id"',
    );
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
      assert.equal(errText, "", `run ${run}: the writer complained (corrupt file?)`);
      // the writer found the previous run's file complete
      assert.equal(opened, run === 1 ? "opened 0 0" : `opened ${PEERS} ${fileSeq}`, `run ${run}`);

      const text = await Deno.readTextFile(path);
      let json: unknown;
      assert.doesNotThrow(
        () => json = JSON.parse(text),
        `run ${run}: peers.json is not JSON (${text.length} bytes)`,
      );
      const parsed = PeersFileSchema.safeParse(json);
      assert.ok(parsed.success, `run ${run}: peers.json does not match the schema`);
      const doc = parsed.data;
      assert.equal(doc.peers.length, PEERS, `run ${run}`);
      const seqs = doc.peers.map((p) => p.stats.success);
      assert.ok(
        Math.min(...seqs) >= ackedSeq,
        `run ${run}: a flushed round (${ackedSeq}) was lost: ${Math.min(...seqs)}`,
      );
      fileSeq = Math.max(...seqs);
      if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    }
    // whatever the kills left behind (temp files), a fresh registry loads the last state cleanly
    const names = await listDir(dir);
    assert.ok(names.filter((n) => /^\.peers\.json\..+\.tmp$/.test(n)).length >= 1);
    assert.deepEqual(names.filter((n) => !/^\.peers\.json\..+\.tmp$/.test(n)).sort(), [
      "peers.json",
      "peers.json.lock",
    ]);
    const warnings: string[] = [];
    const reg = await PeerRegistry.open(path, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(reg.list().length, PEERS);
    assert.equal(Math.max(...reg.list().map((p) => p.stats.success)), fileSeq);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two writers flushing at the same time lose nothing (file lock), and a failed flush is retried", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/peers.json`;
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
    assert.equal((await PeerRegistry.open(path)).list().length, 120);

    // a flush that fails (directory replaced by a file) keeps its changes and the next one works
    const sub = `${dir}/sub`;
    await Deno.mkdir(sub);
    const c = await PeerRegistry.open(`${sub}/peers.json`, { debounceMs: 60_000 });
    await Deno.remove(sub);
    await Deno.writeTextFile(sub, "not a directory");
    c.upsert(mk(5000));
    await assert.rejects(c.flush());
    await Deno.remove(sub);
    await Deno.mkdir(sub);
    c.upsert(mk(5001));
    await c.flush();
    assert.deepEqual((await PeerRegistry.open(`${sub}/peers.json`)).list().map((p) => p.name), [
      "p5000",
      "p5001",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
