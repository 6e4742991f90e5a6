/**
 * Issue 3: the miner runtime against the emulator running as a real subprocess.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  installEmulatedMiner,
  MinerManager,
  ProfileValidationError,
  type SupervisorOptions,
} from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { alive, processesMentioning, tempHome, until } from "./helpers.ts";
import { type MinerEvent } from "../src/protocol/mod.ts";

const POOL = [{ url: "stratum+tcp://pool.example.org:3333", user: "44AFFq5kSiGBoZ.rig1" }];

async function setup(env: Record<string, string> = {}, supervisor: SupervisorOptions = {}) {
  const home = await tempHome();
  const paths = resolvePaths({ home });
  await installEmulatedMiner(paths, "xmrig", {
    env: {
      MINER_EMU_PRINT_MS: "200",
      MINER_EMU_SHARE_MS: "200",
      MINER_EMU_WINDOW_MS: "400",
      ...env,
    },
  });
  const manager = new MinerManager(paths, {
    supervisor: {
      pollMs: 200,
      graceMs: 2000,
      backoffBaseMs: 100,
      backoffMaxMs: 400,
      ...supervisor,
    },
  });
  const events: MinerEvent[] = [];
  manager.onEvent((e) => events.push(e));
  return { home, paths, manager, events };
}

Deno.test("manager: start from a profile, stats, logs, stdin, pause/resume, stop", async () => {
  const { home, manager, events } = await setup();
  try {
    const profile = await manager.profiles.add({
      name: "cpu",
      minerType: "xmrig",
      config: { pools: POOL, threads: 2 },
    });
    const { miner: proc } = await manager.start(profile.name);
    const pid = proc.stats().pid!;
    assert.ok(await alive(pid));
    await until(
      () => (manager.list()[0].hashrate.now ?? 0) > 0 && manager.list()[0].shares.accepted > 0,
      "stats",
    );
    const s = manager.list()[0];
    assert.equal(s.type, "xmrig");
    assert.equal(s.state, "running");
    assert.equal(s.pool, "pool.example.org:3333");
    assert.equal(s.algorithm, "rx/0");
    assert.equal(s.version, "6.21.0");
    assert.equal(s.threads.length, 2, "per-thread hashrate from /2/backends");
    assert.ok(s.hashrate.now! > 500 && s.hashrate.now! < 1500, `hashrate ${s.hashrate.now}`);
    // XMRig's config file is private and carries the API token
    const cfg = join(home, "data", "run", profile.id, "config.json");
    assert.equal((await Deno.stat(cfg)).mode! & 0o777, 0o600);
    const written = JSON.parse(await Deno.readTextFile(cfg));
    assert.equal(written.http.host, "127.0.0.1");
    assert.match(written.http["access-token"], /^[0-9a-f]{32}$/);
    assert.equal(written["donate-level"], 1);
    assert.equal(written.pools[0]["rig-id"], "cpu");
    // logs: the last N lines and lines since a sequence number
    await until(
      () => manager.logs("cpu").lines.some((l) => l.text.includes("speed 10s/60s/15m")),
      "speed line",
    );
    const tail = manager.logs("cpu", { lines: 3 });
    assert.equal(tail.lines.length, 3);
    assert.equal(tail.lines[2].seq, tail.lastSeq);
    assert.ok(tail.lines[0].seq < tail.lines[1].seq);
    const since = manager.logs("cpu", { since: tail.lastSeq });
    assert.ok(since.lines.every((l) => l.seq > tail.lastSeq));
    // stdin passthrough: XMRig's "s" hotkey prints results
    const seq = manager.logs("cpu").lastSeq;
    await proc.writeStdin("s");
    await until(
      () =>
        manager.logs("cpu", { since: seq }).lines.some((l) => l.text.includes("results: accepted")),
      "stdin echo",
    );
    // pause / resume through the API
    await proc.pause();
    await until(async () => {
      await new Promise((r) => setTimeout(r, 250));
      return manager.list()[0].paused;
    }, "paused");
    assert.equal(manager.list()[0].state, "paused");
    await proc.resume();
    await until(
      () => manager.list()[0].state === "running" && !manager.list()[0].paused,
      "resumed",
    );
    // stop leaves no process behind
    await manager.stop("cpu");
    assert.equal(await alive(pid), false);
    assert.deepEqual(manager.list(), []);
    assert.deepEqual(await processesMentioning(home), []);
    assert.deepEqual(events.map((e) => e.kind), ["started", "stopped"]);
  } finally {
    await manager.stopAll();
    await Deno.remove(home, { recursive: true });
  }
});

for (
  const [fault, supervisor, reason] of [
    ["crash-after=0.5", {}, /^crash: exited with code 139/],
    ["hang-after=0.5", { hangMs: 1000 }, /^hang: miner API unresponsive/],
    ["stall-after=0.5", { stallMs: 800 }, /^stall: hashrate 0 H\/s \(zero\)/],
  ] as const
) {
  Deno.test(`watchdog: ${fault.split("-")[0]} is detected and restarted with backoff`, async () => {
    const { home, manager, events } = await setup({ MINER_EMU_FAULT: fault }, supervisor);
    try {
      await manager.profiles.add({
        name: "faulty",
        minerType: "xmrig",
        config: { pools: POOL, threads: 1 },
      });
      const { miner: proc } = await manager.start("faulty");
      const firstPid = proc.stats().pid!;
      await until(
        () => proc.stats().restarts >= 2 && proc.stats().pid !== null,
        "two restarts",
        20_000,
      );
      const s = proc.stats();
      assert.ok(s.restarts >= 2);
      for (const r of s.restartLog) assert.match(r.reason, reason);
      assert.notEqual(s.pid, firstPid);
      assert.equal(await alive(firstPid), false, "the faulty process was reaped");
      // backoff: the gap between restarts grows (100 ms base, doubling, capped at 400 ms)
      const kinds = events.map((e) => e.kind);
      assert.ok(kinds.includes(fault.startsWith("crash") ? "crashed" : "restarted"));
      await manager.stop("faulty");
      assert.deepEqual(await processesMentioning(home), [], "no process left after stop");
    } finally {
      await manager.stopAll();
      await Deno.remove(home, { recursive: true });
    }
  });
}

Deno.test("watchdog: restart delays back off exponentially", async () => {
  const { home, manager } = await setup({ MINER_EMU_FAULT: "exit=3" }, {
    backoffBaseMs: 100,
    backoffMaxMs: 800,
  });
  try {
    await manager.profiles.add({ name: "dies", minerType: "xmrig", config: { pools: POOL } });
    const { miner: proc } = await manager.start("dies");
    await until(() => proc.stats().restarts >= 5, "five restarts", 20_000);
    const at = proc.stats().restartLog.map((r) => Date.parse(r.at));
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // jitter is 20%: delays ≈ 100, 200, 400, 800 (cap) plus process start time
    assert.ok(gaps[2] > gaps[0], `gaps ${gaps}`);
    assert.ok(gaps[3] >= 640 * 0.8, `gaps ${gaps}`);
    assert.match(proc.stats().restartLog[0].reason, /code 3/);
  } finally {
    await manager.stopAll();
    assert.deepEqual(await processesMentioning(home), []);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("autostart starts marked profiles; stop clears the running intent", async () => {
  const { home, paths, manager } = await setup();
  try {
    await manager.profiles.add({
      name: "auto",
      minerType: "xmrig",
      autostart: true,
      config: { pools: POOL },
    });
    await manager.profiles.add({ name: "manual", minerType: "xmrig", config: { pools: POOL } });
    assert.deepEqual(await manager.autostart(), ["auto"]);
    await manager.start("manual");
    await manager.stopAll(); // node shutdown: intents kept
    const second = new MinerManager(paths, { supervisor: { pollMs: 200 } });
    assert.deepEqual(
      (await second.autostart()).sort(),
      ["auto", "manual"],
      "both come back after a node restart",
    );
    await second.stop("auto"); // the operator stops it: it must not come back
    await second.stopAll();
    const third = new MinerManager(paths, { supervisor: { pollMs: 200 } });
    assert.deepEqual(await third.autostart(), ["manual"]);
    await third.stopAll();
  } finally {
    await manager.stopAll();
    assert.deepEqual(await processesMentioning(home), []);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("bad profiles are rejected with a clear message and nothing is written", async () => {
  const { home, manager } = await setup();
  const file = join(home, "config", "mining_profiles.json");
  try {
    await manager.profiles.add({ name: "good", minerType: "xmrig", config: { pools: POOL } });
    const before = await Deno.readTextFile(file);
    const cases: [unknown, RegExp][] = [
      [{ name: "a", minerType: "cgminer", config: {} }, /unknown miner type "cgminer"/],
      [
        { name: "a", minerType: "xmrig", config: { pools: [{ url: "http://evil", user: "w" }] } },
        /pool URL must be/,
      ],
      [{
        name: "a",
        minerType: "xmrig",
        config: { pools: [{ url: "pool:3333;rm -rf /", user: "w" }] },
      }, /pool URL must be/],
      [
        { name: "a", minerType: "xmrig", config: { pools: POOL, threads: -2 } },
        /threads must be at least 1/,
      ],
      [
        { name: "a", minerType: "xmrig", config: { pools: POOL, args: ["--opt", "$(reboot)"] } },
        /shell metacharacter/,
      ],
      [{ name: "a", minerType: "xmrig", config: { pools: POOL, args: ["a b"] } }, /whitespace/],
      [{
        name: "a",
        minerType: "xmrig",
        config: { pools: [{ url: "pool.example.org:3333", user: "w".repeat(300) }] },
      }, /longer than 256/],
      [
        { name: "x".repeat(100), minerType: "xmrig", config: { pools: POOL } },
        /profile name must be/,
      ],
      [
        { name: "a", minerType: "tt-miner", config: { pool: "pool.example.org:4444", user: "w" } },
        /algo/,
      ],
      [{ name: "a", minerType: "custom", config: { command: "sh -c 'x'" } }, /command must be/],
      [
        { name: "a", minerType: "custom", config: { command: "lolMiner", hashratePattern: "([" } },
        /not a valid regular expression/,
      ],
      [{ name: "good", minerType: "xmrig", config: { pools: POOL } }, /already exists/],
    ];
    for (const [input, re] of cases) {
      await assert.rejects(manager.profiles.add(input), (err: Error) => {
        assert.ok(err instanceof ProfileValidationError, `${err}`);
        assert.match(err.message, re);
        return true;
      });
    }
    assert.equal(await Deno.readTextFile(file), before, "profile file unchanged");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("tt-miner: argv and miner_getstat1 stats through the emulator", async () => {
  const home = await tempHome();
  const paths = resolvePaths({ home });
  await installEmulatedMiner(paths, "tt-miner", {
    env: { MINER_EMU_GPUS: "2", MINER_EMU_HASHRATE: "60000000", MINER_EMU_SHARE_MS: "200" },
  });
  const manager = new MinerManager(paths, { supervisor: { pollMs: 200 } });
  try {
    await manager.profiles.add({
      name: "gpu",
      minerType: "tt-miner",
      config: { pool: "stratum+tcp://pool.example.org:4444", user: "0xabc.rig", algo: "kawpow" },
    });
    await manager.start("gpu");
    await until(
      () => (manager.list()[0].hashrate.now ?? 0) > 0 && manager.list()[0].shares.accepted > 0,
      "tt stats",
    );
    const s = manager.list()[0];
    assert.equal(s.devices.length, 2);
    assert.ok(s.hashrate.now! > 50e6 && s.hashrate.now! < 70e6, `${s.hashrate.now}`);
    assert.ok(s.devices.every((d) => d.temp !== null && d.fan !== null));
    assert.match(s.version ?? "", /TT-Miner/);
    assert.ok(
      manager.logs("gpu").lines[0].text.includes(
        "-P stratum+tcp://pool.example.org:4444 -u 0xabc.rig -p x -a kawpow -b 127.0.0.1:",
      ),
    );
  } finally {
    await manager.stopAll();
    assert.deepEqual(await processesMentioning(home), []);
    await Deno.remove(home, { recursive: true });
  }
});
