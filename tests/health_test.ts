/**
 * The health model on its own: every reason (hashrate 0, below expected, crash loop, high
 * rejects, device temperature, fan failure, pool disconnected, miner API, rig offline, stale),
 * the states of miners, rigs and the fleet, one-shot judgment from the miners' own windows,
 * thresholds with per-rig and per-profile overrides, and totals that never mix algorithms.
 */
import assert from "node:assert/strict";
import {
  algorithmTotals,
  emptyHealthConfig,
  fleetStateOf,
  HealthConfigStore,
  HealthTracker,
  parseThresholdPairs,
  resolveThresholds,
  type RigInput,
} from "../src/health/mod.ts";
import { emptyStats } from "../src/miners/mod.ts";
import {
  DEFAULT_THRESHOLDS,
  type FleetHealth,
  type MinerStats,
  type RigHealth,
  type Thresholds,
} from "../src/protocol/mod.ts";
import { tempHome } from "./helpers.ts";

const T0 = Date.parse("2026-12-01T12:00:00.000Z");

function miner(name: string, patch: Partial<MinerStats> = {}): MinerStats {
  return {
    ...emptyStats(name, "xmrig", null),
    state: "running",
    pid: 1,
    hashrate: { now: 1000, avg60: 1000, avg15m: 1000 },
    pool: "pool:3333",
    algorithm: "rx/0",
    uptime: 600,
    ...patch,
  };
}

function rig(name: string, miners: MinerStats[], patch: Partial<RigInput> = {}): RigInput {
  return { id: name.padEnd(32, "0"), name, online: true, updatedAt: null, miners, ...patch };
}

const tracker = (t: Partial<Thresholds> = {}, expected?: number) =>
  new HealthTracker({
    thresholds: () => ({ ...DEFAULT_THRESHOLDS, ...t }),
    expected: expected ? () => ({ value: expected, source: "profile" }) : undefined,
  });

Deno.test("health: hashrate 0 for zeroForSeconds makes the miner and rig degraded, with the restarts", () => {
  const h = tracker({ zeroForSeconds: 60 });
  const stalled = miner("cpu", {
    hashrate: { now: 0, avg60: 0, avg15m: 400 },
    restarts: 2,
    restartLog: [
      {
        at: new Date(T0 - 200_000).toISOString(),
        reason: "stall: hashrate 0 H/s (zero) for 120 s",
      },
      { at: new Date(T0 - 30_000).toISOString(), reason: "stall: hashrate 0 H/s (zero) for 120 s" },
    ],
  });
  const first = h.evaluate([rig("r1", [stalled])], T0);
  // Not yet: 0 H/s for 0 s.
  assert.equal(first.rigs[0].miners[0].reasons.some((r) => r.code === "hashrate_zero"), false);
  const later = h.evaluate([rig("r1", [stalled])], T0 + 6 * 60_000);
  const m = later.rigs[0].miners[0];
  assert.equal(m.state, "degraded");
  assert.equal(later.rigs[0].state, "degraded");
  assert.equal(later.state, "degraded");
  const zero = m.reasons.find((r) => r.code === "hashrate_zero")!;
  assert.equal(zero.message, "hashrate 0 H/s for 6 min, restarted 2× (stall)");
  assert.equal(zero.since, new Date(T0).toISOString());
  assert.equal(m.recentRestarts, 2);
  // Through the watchdog's restart it is the same stall.
  const restarting = h.evaluate(
    [rig("r1", [{ ...stalled, state: "restarting" }])],
    T0 + 6 * 60_000 + 5000,
  ).rigs[0].miners[0];
  assert.match(restarting.reasons[0].message, /^hashrate 0 H\/s for 6 min \(restarting\)/);
  // Hashing again: recovering for zeroForSeconds, then ok, and the memory of the stall is gone.
  const back = h.evaluate([rig("r1", [miner("cpu")])], T0 + 7 * 60_000).rigs[0].miners[0];
  assert.match(
    back.reasons[0].message,
    /^hashrate 0 H\/s for 7 min \(recovering: 1\.00 kH\/s for 0 s\)/,
  );
  const ok = h.evaluate([rig("r1", [miner("cpu")])], T0 + 8 * 60_000);
  assert.equal(ok.rigs[0].miners[0].state, "ok");
  assert.equal(ok.rigs[0].state, "ok");
});

Deno.test("health: a paused miner counts as 0 H/s", () => {
  const h = tracker({ zeroForSeconds: 5 });
  const paused = miner("cpu", {
    state: "paused",
    paused: true,
    hashrate: { now: 990, avg60: 990, avg15m: 990 },
  });
  h.evaluate([rig("r1", [paused])], T0);
  const m = h.evaluate([rig("r1", [paused])], T0 + 6000).rigs[0].miners[0];
  assert.equal(m.state, "degraded");
  assert.match(m.reasons[0].message, /^hashrate 0 H\/s for 6 s \(paused\)$/);
});

Deno.test("health: below expected for belowForSeconds (profile's expected hashrate), not before", () => {
  const h = tracker({ belowForSeconds: 300, expectedFraction: 0.8 }, 1000);
  const slow = miner("cpu", { hashrate: { now: 700, avg60: 700, avg15m: 700 } });
  assert.equal(h.evaluate([rig("r1", [slow])], T0).rigs[0].miners[0].state, "ok");
  assert.equal(h.evaluate([rig("r1", [slow])], T0 + 299_000).rigs[0].miners[0].state, "ok");
  const m = h.evaluate([rig("r1", [slow])], T0 + 300_000).rigs[0].miners[0];
  assert.equal(m.state, "degraded");
  assert.equal(m.reasons[0].code, "below_expected");
  assert.equal(m.reasons[0].message, "hashrate 700.0 H/s is 70 % of expected 1.00 kH/s for 5 min");
  assert.equal(m.expected, 1000);
  assert.equal(m.expectedSource, "profile");
  // At 85 % it is fine again.
  const fine = miner("cpu", { hashrate: { now: 850, avg60: 850, avg15m: 850 } });
  assert.equal(h.evaluate([rig("r1", [fine])], T0 + 301_000).rigs[0].miners[0].state, "ok");
});

Deno.test("health: crash loop, rejects over the window, device temperature and fan failure", () => {
  const h = tracker({ crashLoopRestarts: 3, rejectRate: 0.05, rejectMinShares: 20 });
  const at = (s: number) => new Date(T0 - s * 1000).toISOString();
  const looping = miner("a", {
    restartLog: [
      { at: at(500), reason: "exit code 1" },
      { at: at(300), reason: "exit code 1" },
      { at: at(60), reason: "exit code 1" },
      { at: at(5000), reason: "exit code 1" }, // outside the 10-minute window
    ],
  });
  const r1 = h.evaluate([rig("r1", [looping])], T0).rigs[0].miners[0];
  assert.ok(
    r1.reasons.some((r) => r.code === "crash_loop" && r.value === 3),
    JSON.stringify(r1.reasons),
  );
  // Rejects: 100 accepted / 0 rejected, then +50 accepted / +10 rejected: 16.7 % in the window.
  const h2 = tracker();
  h2.evaluate(
    [rig("r1", [miner("b", { shares: { accepted: 100, rejected: 0 }, uptime: 5000 })])],
    T0,
  );
  const rej = h2.evaluate(
    [rig("r1", [miner("b", { shares: { accepted: 150, rejected: 10 }, uptime: 5030 })])],
    T0 + 30_000,
  ).rigs[0].miners[0];
  assert.equal(rej.reasons[0]?.code, "high_rejects");
  assert.ok(Math.abs(rej.rejectRate! - 10 / 60) < 1e-9);
  // Devices: one GPU over its limit, one with a dead fan while hot.
  const hot = miner("gpu", {
    devices: [
      { name: "RX 6800", kind: "gpu", hashrate: 30e6, temp: 91, fan: 80, fanRpm: null, power: 150 },
      { name: "RX 6700", kind: "gpu", hashrate: 25e6, temp: 70, fan: null, fanRpm: 0, power: 120 },
      { name: "RX 6600", kind: "gpu", hashrate: 20e6, temp: 60, fan: 40, fanRpm: null, power: 90 },
    ],
  });
  const g = h.evaluate([rig("r2", [hot])], T0).rigs[0];
  const gm = g.miners[0];
  assert.deepEqual(gm.devices.map((d) => d.state), ["degraded", "degraded", "ok"]);
  assert.equal(gm.devices[0].reasons[0].message, "RX 6800 at 91 °C (limit 85 °C)");
  assert.equal(gm.devices[1].reasons[0].code, "fan_failure");
  assert.equal(g.maxTemp, 91);
  assert.equal(gm.state, "degraded");
});

Deno.test("health: offline rig is down since when it went away; stale data; idle; unknown; pool and API", () => {
  const h = tracker({ staleSeconds: 60, poolGraceSeconds: 60 });
  const since = new Date(T0 - 180_000).toISOString();
  const doc = h.evaluate([
    rig("down", [], { online: false, offlineSince: since, offlineReason: "connection refused" }),
    rig("stale", [miner("m")], { updatedAt: T0 - 120_000 }),
    rig("idle", [miner("m", { state: "stopped", pid: null })]),
    rig("new", [], { online: null }),
    rig("nopool", [miner("m", { pool: null })]),
    rig("noapi", [miner("m", { lastError: "connection refused (os error 111)" })]),
    rig("fine", [miner("m")]),
  ], T0);
  const by = Object.fromEntries(doc.rigs.map((r) => [r.name, r]));
  assert.equal(by.down.state, "down");
  assert.equal(by.down.since, since);
  assert.equal(by.down.reasons[0].message, "rig offline for 3 min (connection refused)");
  assert.equal(by.stale.state, "degraded");
  assert.equal(by.stale.reasons[0].code, "stale");
  assert.equal(by.idle.state, "idle");
  assert.equal(by.new.state, "unknown");
  assert.equal(by.nopool.miners[0].reasons[0].code, "pool_disconnected");
  assert.equal(by.noapi.miners[0].reasons[0].code, "api_unresponsive");
  assert.equal(by.fine.state, "ok");
  // What needs attention first.
  assert.deepEqual(doc.rigs.map((r) => r.name), [
    "down",
    "noapi",
    "nopool",
    "stale",
    "new",
    "idle",
    "fine",
  ]);
  assert.equal(doc.state, "down");
  assert.deepEqual(doc.counts, { ok: 1, degraded: 3, down: 1, idle: 1, unknown: 1 });
});

Deno.test("health: one-shot judgment reads the miners' own windows (a CLI without a node)", () => {
  const h = new HealthTracker({ oneShot: true, thresholds: () => DEFAULT_THRESHOLDS });
  const doc = h.evaluate([
    rig("a", [miner("zero", { hashrate: { now: 0, avg60: 0, avg15m: 300 }, uptime: 120 })]),
    rig("b", [miner("young", { hashrate: { now: 0, avg60: 0, avg15m: null }, uptime: 20 })]),
  ], T0);
  assert.equal(
    doc.rigs.find((r) => r.name === "a")!.miners[0].reasons[0].message,
    "hashrate 0 H/s",
  );
  assert.equal(doc.rigs.find((r) => r.name === "b")!.state, "ok");
});

Deno.test("health: totals are per algorithm, never one figure across algorithms", () => {
  const h = tracker();
  const doc = h.evaluate([
    rig("cpu1", [miner("x", { hashrate: { now: 1200, avg60: 1200, avg15m: 1200 } })]),
    rig("cpu2", [miner("x", { hashrate: { now: 1300, avg60: 1300, avg15m: 1300 } })]),
    rig("gpu1", [
      miner("t", {
        type: "tt-miner",
        algorithm: "kawpow",
        hashrate: { now: 120e6, avg60: null, avg15m: null },
      }),
    ]),
    rig("gone", [], { online: false }),
  ], T0);
  assert.deepEqual(doc.totals, [
    { algorithm: "kawpow", hashrate: 120e6, expected: null, rigs: 1, miners: 1 },
    { algorithm: "rx/0", hashrate: 2500, expected: null, rigs: 2, miners: 2 },
  ]);
  assert.deepEqual(
    algorithmTotals([{
      id: "r",
      miners: [{ algorithm: "a", hashrate: 1 }, { algorithm: "b", hashrate: 2 }],
    }])
      .map((t) => t.algorithm),
    ["a", "b"],
  );
});

Deno.test("health: thresholds resolve defaults < fleet < profile < rig; bad input is refused and nothing is lost", async () => {
  const dir = await tempHome();
  try {
    const store = new HealthConfigStore(`${dir}/health.json`);
    await store.update({ kind: "defaults" }, { set: { zeroForSeconds: 30 } });
    await store.update({ kind: "profile", ref: "gpu-profile" }, { set: { gpuTempLimit: 80 } });
    await store.update({ kind: "rig", ref: "hot-rig" }, { set: { gpuTempLimit: 90 } });
    const cfg = await store.load();
    assert.equal(resolveThresholds(cfg).zeroForSeconds, 30);
    assert.equal(resolveThresholds(cfg).gpuTempLimit, 85);
    assert.equal(
      resolveThresholds(cfg, { profile: { id: "x", name: "gpu-profile" } }).gpuTempLimit,
      80,
    );
    assert.equal(
      resolveThresholds(cfg, {
        rig: { id: "r", name: "hot-rig" },
        profile: { id: "x", name: "gpu-profile" },
      })
        .gpuTempLimit,
      90,
    );
    const before = await Deno.readTextFile(`${dir}/health.json`);
    await assert.rejects(
      () => store.update({ kind: "defaults" }, { set: { expectedFraction: 2 } }),
      /expectedFraction/,
    );
    assert.throws(() => parseThresholdPairs(["nope=1"]), /unknown threshold nope/);
    assert.throws(() => parseThresholdPairs(["zeroForSeconds=abc"]), /must be a number/);
    assert.equal(await Deno.readTextFile(`${dir}/health.json`), before);
    await store.update({ kind: "rig", ref: "hot-rig" }, { unset: ["gpuTempLimit"] });
    assert.deepEqual((await store.load()).rigs, {});
    assert.deepEqual(emptyHealthConfig().defaults, {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health: a learned baseline is the median of the non-zero samples of the window", async () => {
  const { HistoryStore } = await import("../src/miners/mod.ts");
  const h = HistoryStore.open(":memory:");
  try {
    const t0 = T0 - 3_600_000;
    // 40 samples around 1000 H/s, a few zeros (a stall) and spikes that must not move it.
    for (let i = 0; i < 40; i++) {
      h.record("rig-1/cpu", t0 + i * 10_000, 990 + (i % 5) * 5, i, 0, "rx/0");
    }
    for (let i = 40; i < 45; i++) h.record("rig-1/cpu", t0 + i * 10_000, 0, 40, 0, "rx/0");
    h.record("rig-1/cpu", t0 + 460_000, 50_000, 41, 0, "rx/0");
    const m = h.median("rig-1/cpu", { from: T0 - 86_400_000, to: T0 });
    assert.equal(m.n, 41);
    assert.equal(m.median, 1000);
    assert.deepEqual(h.median("nobody", { from: 0, to: T0 }), { median: null, n: 0 });
    // device sensors are kept beside the samples, per device
    h.recordMany([{
      miner: "rig-2/gpu",
      ts: T0 - 5000,
      hashrate: 30e6,
      accepted: 1,
      rejected: 0,
      algorithm: "kawpow",
      devices: [{ temp: 61, fan: 55, power: 150 }, { temp: 95, fan: 0, power: 160 }],
    }]);
    const devs = h.devices("rig-2/gpu", { from: T0 - 60_000, to: T0 });
    assert.deepEqual(devs.map((d) => [d.device, d.points[0].temp, d.points[0].fan]), [[0, 61, 55], [
      1,
      95,
      0,
    ]]);
    const tr = new HealthTracker({
      thresholds: () => ({ ...DEFAULT_THRESHOLDS, belowForSeconds: 0 }),
      expected: () => ({ value: m.median!, source: "learned" }),
    });
    const r = tr.evaluate([
      rig("r1", [miner("cpu", { hashrate: { now: 500, avg60: 500, avg15m: 500 } })]),
    ], T0);
    assert.equal(
      r.rigs[0].miners[0].reasons[0].message,
      "hashrate 500.0 H/s is 50 % of expected 1.00 kH/s (learned) for 0 s",
    );
    assert.equal(r.rigs[0].miners[0].expectedSource, "learned");
  } finally {
    h.close();
  }
});

Deno.test("dashboard: a health event (the rigs that changed, the removed ones) merged into the last health keeps every other rig, worst first", async () => {
  // Loaded by URL: the dashboard's modules are checked with the DOM's types, not with the tests'.
  const store = new URL("../src/ui/app/store.ts", import.meta.url).href;
  const { mergeHealth } = await import(store) as {
    mergeHealth: (last: FleetHealth, change: FleetHealth & { removed: string[] }) => FleetHealth;
  };
  const rig = (id: string, name: string, state: RigHealth["state"]): RigHealth => ({
    id,
    name,
    tags: [],
    state,
    since: null,
    updatedAt: null,
    reasons: [],
    miners: [],
    totals: [],
    maxTemp: null,
  });
  const last: FleetHealth = {
    at: "2026-12-02T00:00:00.000Z",
    state: "degraded",
    counts: { ok: 2, degraded: 1, down: 0, idle: 0, unknown: 0 },
    totals: [],
    rigs: [rig("b", "b", "degraded"), rig("a", "a", "ok"), rig("c", "c", "ok")],
  };
  const merged = mergeHealth(last, {
    at: "2026-12-02T00:00:05.000Z",
    state: "down",
    counts: { ok: 0, degraded: 1, down: 1, idle: 0, unknown: 0 },
    totals: [],
    rigs: [rig("a", "a", "down")],
    removed: ["c"],
  });
  assert.deepEqual(merged.rigs.map((r) => `${r.name}:${r.state}`), ["a:down", "b:degraded"]);
  assert.equal(merged.state, "down");
  assert.equal(merged.at, "2026-12-02T00:00:05.000Z");
  assert.equal("removed" in merged, false);
  assert.deepEqual(last.rigs.map((r) => r.state), ["degraded", "ok", "ok"], "last is not changed");
});

Deno.test("health: the fleet's state from its counts is the evaluation's (worst first, idle counts as ok, all idle is idle)", () => {
  const tracker = new HealthTracker({ thresholds: () => DEFAULT_THRESHOLDS });
  const rig = (n: number, online: boolean | null): RigInput => ({
    id: n.toString(16).padStart(32, "0"),
    name: `rig-${n}`,
    tags: [],
    online,
    updatedAt: online ? Date.now() : null,
    miners: [],
  });
  const fleets: RigInput[][] = [
    [],
    [rig(1, true)],
    [rig(1, true), rig(2, null)],
    [rig(1, true), rig(2, false)],
    [rig(1, true), rig(2, null), rig(3, false)],
  ];
  for (const rigs of fleets) {
    const h = tracker.evaluate(rigs, Date.now());
    assert.equal(
      fleetStateOf(h.counts),
      h.state,
      `${rigs.length} rigs: ${JSON.stringify(h.counts)}`,
    );
  }
  const none = { ok: 0, degraded: 0, down: 0, idle: 0, unknown: 0 };
  assert.equal(fleetStateOf(none), "idle");
  assert.equal(fleetStateOf({ ...none, idle: 2 }), "idle");
  assert.equal(fleetStateOf({ ...none, idle: 2, ok: 1 }), "ok");
  assert.equal(fleetStateOf({ ...none, ok: 5, unknown: 1 }), "unknown");
  assert.equal(fleetStateOf({ ...none, ok: 5, unknown: 1, degraded: 1 }), "degraded");
  assert.equal(fleetStateOf({ ...none, ok: 5, degraded: 1, down: 1 }), "down");
});

Deno.test("health: an evaluation that finds a rig's health unchanged hands out the same object; any change, a duration's text included, a new one", () => {
  const h = tracker({ zeroForSeconds: 60 });
  const fine = rig("r1", [miner("cpu")]);
  const away = rig("r2", [], { online: false, offlineSince: new Date(T0 - 5_000).toISOString() });
  const a = h.evaluate([fine, away], T0);
  const b = h.evaluate([fine, { ...away }], T0 + 400);
  const byName = (f: FleetHealth, n: string) => f.rigs.find((r) => r.name === n)!;
  assert.equal(byName(b, "r1"), byName(a, "r1"), "same miners, same result: the same object");
  assert.equal(byName(b, "r2"), byName(a, "r2"), "offline for 5 s both times");
  // The offline rig's message counts on ("for 6 s"): a new object, with the new text.
  const c = h.evaluate([fine, away], T0 + 1_000);
  assert.notEqual(byName(c, "r2"), byName(b, "r2"));
  assert.match(byName(c, "r2").reasons[0].message, /for 6 s/);
  assert.equal(byName(c, "r1"), byName(a, "r1"));
  // A miner's new hashrate is a new result; the same figure again is that result again.
  const faster = rig("r1", [miner("cpu", { hashrate: { now: 2000, avg60: 2000, avg15m: 2000 } })]);
  const d = h.evaluate([faster, away], T0 + 1_200);
  assert.notEqual(byName(d, "r1"), byName(c, "r1"));
  assert.equal(byName(d, "r1").miners[0].hashrate, 2000);
  const e = h.evaluate([faster, away], T0 + 1_300);
  assert.equal(byName(e, "r1"), byName(d, "r1"));
  // A stall that turns into a reason after zeroForSeconds is a new result at that moment.
  const stalled = rig("r1", [miner("cpu", { hashrate: { now: 0, avg60: 0, avg15m: 0 } })]);
  const f = h.evaluate([stalled, away], T0 + 2_000);
  const g = h.evaluate([stalled, away], T0 + 30_000);
  assert.equal(byName(g, "r1").state, byName(f, "r1").state);
  const later = h.evaluate([stalled, away], T0 + 70_000);
  assert.notEqual(byName(later, "r1"), byName(g, "r1"));
  assert.ok(byName(later, "r1").miners[0].reasons.some((r) => r.code === "hashrate_zero"));
});
