/**
 * `deno task bench --only rules`: the cost of one health-and-alert evaluation for 10,000 miners
 * on 1,000 rigs (what a controller does every `--health-interval`): the health model over every
 * rig's stats, then the alert engine's rules over the result. The fleet is realistic: 2 % of
 * rigs offline, 3 % of miners stalled, 2 % over-temperature GPUs, 1 % with high rejects, so
 * several hundred alerts are live. Reports the time per evaluation (median and p95 over the
 * measured rounds, after warm-up) and the heap the model and engine hold.
 *
 * usage: deno run -A scripts/bench_rules.ts [--rigs N] [--miners-per-rig N] [--rounds N]
 * @module
 */
import { parseArgs } from "node:util";
import {
  AlertControls,
  AlertEngine,
  ChannelStore,
  Dispatcher,
  RulesStore,
} from "../src/alerts/mod.ts";
import { HealthTracker, type RigInput } from "../src/health/mod.ts";
import { emptyStats } from "../src/miners/mod.ts";
import { DEFAULT_THRESHOLDS, type MinerStats } from "../src/protocol/mod.ts";

/** One benchmark result. */
export interface RulesBenchResult {
  rigs: number;
  miners: number;
  rounds: number;
  /** Median ms per evaluation (health model + rules). */
  medianMs: number;
  /** 95th percentile ms. */
  p95Ms: number;
  /** Of which the health model (median ms). */
  healthMs: number;
  /** Alerts live after the last round (firing + pending). */
  alerts: number;
  /** Heap the tracker and the engine keep after the rounds (their memory of the fleet, MB). */
  heapMB: number;
  /** Target: < 50 ms per evaluation. */
  targetMet: boolean;
}

/** Runs the benchmark. */
export async function benchRules(
  log: (s: string) => void,
  options: { rigs?: number; minersPerRig?: number; rounds?: number } = {},
): Promise<RulesBenchResult> {
  const rigsN = options.rigs ?? 1000;
  const perRig = options.minersPerRig ?? 10;
  const rounds = options.rounds ?? 30;
  let seed = 42;
  const rand = () =>
    ((seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5 | 0) >>> 0) / 2 ** 32;
  const dir = await Deno.makeTempDir({ prefix: "miner-cli-bench-rules-" });
  const now0 = Date.now();
  const rigs: RigInput[] = [];
  for (let r = 0; r < rigsN; r++) {
    const miners: MinerStats[] = [];
    for (let m = 0; m < perRig; m++) {
      const gpu = m % 2 === 1;
      const stalled = rand() < 0.03;
      const base = gpu ? 30e6 : 1200;
      const accepted = 500 + Math.floor(rand() * 500);
      miners.push({
        ...emptyStats(`m${m}`, gpu ? "tt-miner" : "xmrig", null),
        state: "running",
        pid: 1000 + m,
        algorithm: gpu ? "kawpow" : "rx/0",
        hashrate: stalled
          ? { now: 0, avg60: 0, avg15m: base }
          : { now: base, avg60: base, avg15m: base },
        shares: { accepted, rejected: rand() < 0.01 ? accepted : Math.floor(accepted * 0.01) },
        pool: "pool.example.org:3333",
        uptime: 3600,
        devices: gpu
          ? Array.from({ length: 6 }, (_, d) => ({
            name: `GPU${d}`,
            kind: "gpu" as const,
            hashrate: base / 6,
            temp: rand() < 0.02 ? 92 : 60 + Math.floor(rand() * 15),
            fan: 60,
            fanRpm: null,
            power: 150,
          }))
          : [],
      });
    }
    rigs.push({
      id: `r${String(r).padStart(31, "0")}`,
      name: `rig-${r}`,
      tags: [r % 10 === 0 ? "row-a" : "row-b"],
      online: rand() >= 0.02,
      offlineSince: new Date(now0 - 600_000).toISOString(),
      updatedAt: now0,
      miners,
    });
  }
  // @ts-ignore: gc is exposed with --v8-flags=--expose-gc
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const heap0 = Deno.memoryUsage().heapUsed;
  if (!gc) log("  (run with --v8-flags=--expose-gc for a steady heap figure)");
  const tracker = new HealthTracker({ thresholds: () => DEFAULT_THRESHOLDS });
  const engine = await AlertEngine.open({
    statePath: `${dir}/state.json`,
    controls: new AlertControls(`${dir}/s.json`, `${dir}/a.json`),
    rules: new RulesStore(`${dir}/r.json`),
    channels: new ChannelStore(`${dir}/c.json`),
    dispatcher: new Dispatcher({ statusPath: null, deliver: () => Promise.resolve() }),
    thresholds: () => DEFAULT_THRESHOLDS,
    node: { id: "c".repeat(32), name: "bench" },
    groupWaitMs: 3_600_000,
  });
  const times: number[] = [];
  const healthTimes: number[] = [];
  const warmup = 5;
  for (let i = 0; i < warmup + rounds; i++) {
    const now = now0 + i * 5000;
    for (const r of rigs) r.updatedAt = now;
    const t0 = performance.now();
    const health = tracker.evaluate(rigs, now);
    const t1 = performance.now();
    engine.apply(health, now);
    const t2 = performance.now();
    if (i >= warmup) {
      times.push(t2 - t0);
      healthTimes.push(t1 - t0);
    }
  }
  gc?.();
  gc?.();
  // What the tracker (durations, share windows) and the engine (live alerts) keep.
  const heapMB = (Deno.memoryUsage().heapUsed - heap0) / 1e6;
  const view = engine.view(now0 + (warmup + rounds) * 5000);
  const alerts = view.firing.length + view.pending.length;
  await engine.close();
  await Deno.remove(dir, { recursive: true });
  const sorted = [...times].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const medianMs = q(0.5);
  const p95Ms = q(0.95);
  const healthMs = [...healthTimes].sort((a, b) => a - b)[Math.floor(healthTimes.length / 2)];
  const result: RulesBenchResult = {
    rigs: rigsN,
    miners: rigsN * perRig,
    rounds,
    medianMs: Math.round(medianMs * 10) / 10,
    p95Ms: Math.round(p95Ms * 10) / 10,
    healthMs: Math.round(healthMs * 10) / 10,
    alerts,
    heapMB: Math.round(heapMB * 10) / 10,
    targetMet: p95Ms < 50,
  };
  log(
    `rules: ${result.miners} miners on ${result.rigs} rigs: ${result.medianMs} ms per evaluation (p95 ${result.p95Ms} ms; health model ${result.healthMs} ms), ${alerts} live alerts, heap +${result.heapMB} MB`,
  );
  log(`  target (< 50 ms per evaluation): ${result.targetMet ? "met" : "NOT met"}`);
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rigs: { type: "string" },
      "miners-per-rig": { type: "string" },
      rounds: { type: "string" },
    },
  });
  const r = await benchRules(console.error, {
    rigs: values.rigs ? Number(values.rigs) : undefined,
    minersPerRig: values["miners-per-rig"] ? Number(values["miners-per-rig"]) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
  });
  console.log(JSON.stringify(r));
}
