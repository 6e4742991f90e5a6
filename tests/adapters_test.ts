/**
 * Adapters against recorded miner API answers (tests/fixtures/miners/, shaped after XMRig's and
 * TT-Miner's documented APIs).
 */
import assert from "node:assert/strict";
import {
  CustomConfigSchema,
  customLineParser,
  parseGetStat1,
  parseXmrigBackends,
  parseXmrigSummary,
} from "../src/miners/mod.ts";

/** H/s per unit of TT-Miner's miner_getstat1 rates (see tests/fixtures/miners/README.md). */
const TT_UNIT = 1;

const fixture = async (name: string) =>
  JSON.parse(await Deno.readTextFile(new URL(`./fixtures/miners/${name}`, import.meta.url)));

Deno.test("xmrig /2/summary: every normalized field", async () => {
  const s = parseXmrigSummary(await fixture("xmrig_summary.json"));
  assert.deepEqual(s.hashrate, { now: 10867.84, avg60: 10851.89, avg15m: 10835.36 });
  assert.deepEqual(s.shares, { accepted: 118, rejected: 1 });
  assert.equal(s.pool, "pool.example.org:443");
  assert.equal(s.algorithm, "rx/0");
  assert.equal(s.difficulty, 480045);
  assert.equal(s.paused, false);
  assert.equal(s.version, "6.22.2");
  assert.equal(s.minerUptime, 3725);
});

Deno.test("xmrig /2/summary right after start: null hashrate windows stay null", async () => {
  const s = parseXmrigSummary(await fixture("xmrig_summary_startup.json"));
  assert.deepEqual(s.hashrate, { now: null, avg60: null, avg15m: null });
  assert.deepEqual(s.shares, { accepted: 0, rejected: 0 });
  assert.equal(s.pool, "pool.example.org:443");
});

Deno.test("xmrig /2/backends: CPU threads and GPU devices with health", async () => {
  const raw = await fixture("xmrig_backends.json");
  const b = parseXmrigBackends(raw);
  const cpu = raw.find((x: { type: string }) => x.type === "cpu");
  assert.equal(b.threads!.length, cpu.threads.length);
  assert.equal(b.threads![0].hashrate, cpu.threads[0].hashrate[0]);
  const gpus = raw.filter((x: { type: string; enabled: boolean }) => x.type !== "cpu" && x.enabled)
    .flatMap((x: { threads: unknown[] }) => x.threads);
  assert.equal(b.devices!.length, gpus.length);
  // CUDA: fan in percent; OpenCL boards report RPM, which is not a percentage.
  assert.deepEqual(b.devices![0], {
    name: "NVIDIA GeForce RTX 3070",
    kind: "gpu",
    hashrate: 2391.77,
    temp: 61,
    fan: 55,
    fanRpm: null,
    power: b.devices![0].power,
  });
});

Deno.test("xmrig parsers reject answers that are not XMRig's shape", () => {
  assert.throws(() => parseXmrigSummary({ hashrate: { total: "fast" } }));
  assert.throws(() => parseXmrigBackends({ not: "an array" }));
});

Deno.test("tt-miner miner_getstat1: totals, shares, per-GPU rates, temp/fan pairs", async () => {
  const raw = await fixture("ttminer_getstat1.json");
  const s = parseGetStat1(raw);
  const [total, acc, rej] = raw.result[2].split(";").map(Number);
  assert.deepEqual(s.shares, { accepted: acc, rejected: rej });
  assert.equal(s.devices!.length, 2);
  assert.equal(s.devices![0].temp, 58);
  assert.equal(s.devices![0].fan, 62);
  assert.equal(s.devices![1].temp, 63);
  assert.equal(s.devices![1].fan, 70);
  assert.equal(s.version, "TT-Miner/2024.1.6");
  assert.equal(s.minerUptime, 187 * 60);
  assert.equal(s.pool, "rvn.example.org:4444");
  assert.equal(s.hashrate!.now, total * TT_UNIT);
  assert.equal(s.devices![0].hashrate, Number(raw.result[3].split(";")[0]) * TT_UNIT);
});

Deno.test("custom miner: hashrate and shares scraped from console lines", () => {
  const p = customLineParser(CustomConfigSchema.parse({
    command: "lolMiner",
    hashratePattern: "Total:\\s+([\\d.]+)\\s*(H/s|kH/s|MH/s|GH/s)",
    acceptedPattern: "accepted",
    rejectedPattern: "rejected",
  }));
  p.line("\x1b[32mAverage speed (30s): 10 MH/s\x1b[0m");
  p.line("Total: 52.5 MH/s");
  p.line("GPU 0: share accepted");
  p.line("GPU 1: share accepted");
  p.line("GPU 1: share rejected");
  const s = p.stats();
  assert.equal(s.hashrate!.now, 52.5e6);
  assert.deepEqual(s.shares, { accepted: 2, rejected: 1 });
  const q = customLineParser(
    CustomConfigSchema.parse({
      command: "x",
      hashratePattern: "speed ([\\d.]+)",
      hashrateUnit: "kH/s",
      acceptedPattern: "A:(\\d+)",
    }),
  );
  q.line("speed 3.5");
  q.line("A:41");
  assert.equal(q.stats().hashrate!.now, 3500);
  assert.equal(q.stats().shares!.accepted, 41, "a captured running total wins over counting");
});
