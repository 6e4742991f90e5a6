/**
 * XMRig: a 0600 `config.json` written from the profile, its HTTP API enabled on 127.0.0.1 with a
 * random access token, stats from `GET /2/summary` and `GET /2/backends`, pause/resume through
 * `POST /json_rpc`.
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../../store/mod.ts";
import { findVersion, type LaunchContext, type MinerAdapter, MinerApiError } from "../adapter.ts";
import { FARM_POOL, type Profile, type XmrigConfig } from "../profiles.ts";
import { MinerCliError } from "../../errors/mod.ts";
import type { AdapterStats } from "../stats.ts";

const Num = z.number().nullable().optional();
const Windows = z.array(z.number().nullable()).optional();

/** The fields of XMRig's `/2/summary` miner-cli reads (everything else is ignored). */
export const XmrigSummarySchema = z.object({
  version: z.string().optional(),
  uptime: z.number().optional(),
  algo: z.string().nullable().optional(),
  paused: z.boolean().optional(),
  results: z.object({
    diff_current: Num,
    shares_good: z.number().optional(),
    shares_total: z.number().optional(),
  }).passthrough().optional(),
  connection: z.object({
    pool: z.string().nullable().optional(),
    algo: z.string().nullable().optional(),
    diff: Num,
    accepted: z.number().optional(),
    rejected: z.number().optional(),
  }).passthrough().optional(),
  hashrate: z.object({ total: Windows, highest: Num }).passthrough().optional(),
}).passthrough();

const Health = z.object({
  temperature: Num,
  power: Num,
  rpm: Num,
  fan_speed: z.array(z.number()).nullable().optional(),
}).passthrough();

/** The fields of XMRig's `/2/backends` miner-cli reads. */
export const XmrigBackendsSchema = z.array(
  z.object({
    type: z.string(),
    enabled: z.boolean().optional(),
    hashrate: Windows,
    threads: z.array(
      z.object({
        hashrate: Windows,
        name: z.string().nullable().optional(),
        board: z.string().nullable().optional(),
        health: Health.nullable().optional(),
      }).passthrough(),
    ).nullable().optional(),
  }).passthrough(),
);

const rate = (
  v: number | null | undefined,
): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/** Maps a `/2/summary` body to normalized stats. */
export function parseXmrigSummary(body: unknown): AdapterStats {
  const s = XmrigSummarySchema.parse(body);
  const total = s.hashrate?.total ?? [];
  const good = s.results?.shares_good ?? s.connection?.accepted ?? 0;
  const all = s.results?.shares_total;
  const rejected = all !== undefined ? Math.max(0, all - good) : (s.connection?.rejected ?? 0);
  return {
    hashrate: { now: rate(total[0]), avg60: rate(total[1]), avg15m: rate(total[2]) },
    shares: { accepted: good, rejected },
    pool: s.connection?.pool || null, // "" before the first connection
    algorithm: s.algo ?? s.connection?.algo ?? null,
    difficulty: rate(s.results?.diff_current ?? s.connection?.diff),
    paused: s.paused ?? false,
    version: s.version ?? null,
    ...(s.uptime !== undefined ? { minerUptime: s.uptime } : {}),
  };
}

const finite = (v: number | null | undefined): number | null =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;

/** Maps a `/2/backends` body to threads (CPU) and devices (OpenCL/CUDA). */
export function parseXmrigBackends(body: unknown): Pick<AdapterStats, "threads" | "devices"> {
  const backends = XmrigBackendsSchema.parse(body);
  const threads: AdapterStats["threads"] = [];
  const devices: NonNullable<AdapterStats["devices"]> = [];
  for (const b of backends) {
    if (b.enabled === false) continue;
    for (const t of b.threads ?? []) {
      if (b.type === "cpu") threads.push({ hashrate: rate(t.hashrate?.[0]) });
      else {
        // CUDA reports fan speed in percent (`fan_speed`), OpenCL in RPM (`rpm`).
        devices.push({
          name: t.board ?? t.name ?? null,
          kind: "gpu",
          hashrate: rate(t.hashrate?.[0]),
          temp: finite(t.health?.temperature),
          fan: finite(t.health?.fan_speed?.[0]),
          fanRpm: finite(t.health?.rpm),
          power: finite(t.health?.power),
        });
      }
    }
  }
  return { threads, devices };
}

/** The XMRig config.json content for a profile. */
export function xmrigConfig(config: XmrigConfig, ctx: LaunchContext): Record<string, unknown> {
  return {
    autosave: false,
    watch: false,
    background: false,
    colors: true,
    "donate-level": config.donateLevel,
    "donate-over-proxy": config.donateLevel,
    "print-time": 10,
    http: {
      enabled: true,
      host: "127.0.0.1",
      port: ctx.apiPort,
      "access-token": ctx.apiToken,
      restricted: false,
    },
    cpu: {
      enabled: config.cpu.enabled,
      "huge-pages": config.cpu.hugePages,
      ...(config.cpu.maxThreadsHint !== undefined
        ? { "max-threads-hint": config.cpu.maxThreadsHint }
        : {}),
      ...(config.cpu.priority !== undefined ? { priority: config.cpu.priority } : {}),
    },
    opencl: { enabled: config.opencl?.enabled ?? false },
    cuda: { enabled: config.cuda?.enabled ?? false },
    randomx: { mode: randomxMode(config, ctx) },
    pools: config.pools.map((p) => {
      if (p.url !== FARM_POOL) {
        return {
          url: p.url,
          user: p.user,
          pass: p.pass,
          "rig-id": p.rigId ?? ctx.minerName,
          keepalive: p.keepalive,
          tls: p.tls,
          ...(p.algo ? { algo: p.algo } : {}),
          ...(p.coin ? { coin: p.coin } : {}),
        };
      }
      if (!ctx.farmUrl) throw new FarmPoolError();
      // The node's endpoint: the miner owns one nonce range (nicehash) and sees no credentials.
      return {
        url: ctx.farmUrl.replace(/^stratum\+(?:tcp|ssl):\/\//, ""),
        user: p.user ?? ctx.minerName,
        pass: "x",
        "rig-id": p.rigId ?? ctx.minerName,
        keepalive: true,
        nicehash: true,
        tls: ctx.farmUrl.startsWith("stratum+ssl://"),
        ...(p.algo ? { algo: p.algo } : {}),
      };
    }),
  };
}

/** Free memory below which a farm miner hashes in RandomX light mode (the dataset needs 2 GB). */
export const LIGHT_MODE_BELOW_BYTES = 2.5 * 1024 ** 3;

/**
 * The RandomX mode: the profile's; else, for a farm miner, light on a rig short of memory (the
 * 2 GB dataset would not fit; light mode hashes from the 256 MB cache, several times slower) and
 * fast otherwise; else XMRig's own choice.
 */
export function randomxMode(config: XmrigConfig, ctx: LaunchContext): "auto" | "fast" | "light" {
  if (config.randomxMode) return config.randomxMode;
  const farm = config.pools.some((p) => p.url === FARM_POOL);
  const free = ctx.freeMemoryBytes;
  if (!farm || free === null || free === undefined) return "auto";
  return free < LIGHT_MODE_BELOW_BYTES ? "light" : "fast";
}

/** A `pool: farm` profile on a node without a stratum endpoint. */
export class FarmPoolError extends MinerCliError {
  /** Creates the error. */
  constructor() {
    super(
      "this profile mines with pool farm, but this node has no stratum endpoint: start it with node serve (the endpoint is on by default, --stratum-listen 127.0.0.1:3333)",
      { status: 409, code: "no_farm_endpoint" },
    );
    this.name = "FarmPoolError";
  }
}

/** Threads for `threads: auto`: all logical CPUs but one (at least 1). */
export function autoThreads(cpuThreads: number): number {
  return Math.max(1, cpuThreads - 1);
}

async function api(
  ctx: LaunchContext,
  path: string,
  init: RequestInit & { signal?: AbortSignal } = {},
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${ctx.apiPort}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${ctx.apiToken}`, "Content-Type": "application/json" },
    });
  } catch (err) {
    throw new MinerApiError(`XMRig API not reachable: ${(err as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new MinerApiError(`XMRig API refused the access token (HTTP ${res.status})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new MinerApiError(`XMRig API answered HTTP ${res.status} for ${path}`);
  }
  try {
    return await res.json();
  } catch {
    throw new MinerApiError(`XMRig API returned invalid JSON for ${path}`);
  }
}

async function rpc(ctx: LaunchContext, method: "pause" | "resume"): Promise<void> {
  const body = await api(ctx, "/json_rpc", {
    method: "POST",
    body: JSON.stringify({ method, id: 1, jsonrpc: "2.0" }),
    signal: AbortSignal.timeout(5000),
  }) as { error?: { message?: string } };
  if (body?.error) {
    throw new MinerApiError(`XMRig refused ${method}: ${body.error.message ?? "error"}`);
  }
}

/** The XMRig adapter. */
export const xmrigAdapter: MinerAdapter = {
  type: "xmrig",
  defaultBinary: "xmrig",
  binaryName: () => "xmrig",
  async prepare(profile: Profile, ctx: LaunchContext): Promise<string[]> {
    if (profile.minerType !== "xmrig") throw new Error("not an xmrig profile");
    const cfg = profile.config;
    const file = join(ctx.workDir, "config.json");
    await writeJsonAtomic(file, xmrigConfig(cfg, ctx), { mode: 0o600 });
    const threads = cfg.threads === "auto" ? autoThreads(ctx.cpuThreads) : cfg.threads;
    return [
      "--config",
      file,
      ...(threads !== undefined ? ["--threads", String(threads)] : []),
      ...cfg.args,
    ];
  },
  async readStats(ctx: LaunchContext, signal: AbortSignal): Promise<AdapterStats> {
    const summary = parseXmrigSummary(await api(ctx, "/2/summary", { signal }).catch(rethrow));
    let backends: Pick<AdapterStats, "threads" | "devices"> = {};
    try {
      backends = parseXmrigBackends(await api(ctx, "/2/backends", { signal }));
    } catch { /* older XMRig without /2/backends: summary is enough */ }
    return { ...summary, ...backends };
  },
  pause: (ctx) => rpc(ctx, "pause"),
  resume: (ctx) => rpc(ctx, "resume"),
  parseVersion: (out) => /XMRig\/?\s*(\d+\.\d+\.\d+\S*)/i.exec(out)?.[1] ?? findVersion(out),
};

function rethrow(err: unknown): never {
  if (err instanceof z.ZodError) {
    throw new MinerApiError(`unexpected /2/summary shape: ${err.issues[0]?.message}`);
  }
  throw err;
}
