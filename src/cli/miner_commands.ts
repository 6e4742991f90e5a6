/**
 * Local miner commands (`start`, `stop`, `status`, `logs`, `pause`, `resume`, `stdin`), talking to
 * the running node's API, and `miners list`, which scans the installed binaries directly.
 * @module
 */
import { adapterFor, formatHashrate, installedMiners } from "../miners/mod.ts";
import { ApiClient } from "./api_client.ts";
import { bool, int, type Parsed, str, UsageError } from "./args.ts";
import type { CliContext, CommandFn } from "./context.ts";
import { table } from "./format.ts";
import { type MinerStats } from "../protocol/mod.ts";

function one(p: { positionals: string[] }, cmd: string, what: string): string {
  if (p.positionals.length !== 1) throw new UsageError(`usage: miner-cli ${cmd} <${what}>`, cmd);
  return p.positionals[0];
}

/** Human uptime: `3d 4h`, `5m 2s`. */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** The local miner table. */
export function minerTable(miners: MinerStats[]): string {
  return table(
    ["MINER", "TYPE", "STATE", "HASHRATE", "AVG 60S", "SHARES", "POOL", "UPTIME", "RESTARTS"],
    miners.map((m) => [
      m.name,
      m.type,
      m.state,
      formatHashrate(m.hashrate.now),
      formatHashrate(m.hashrate.avg60),
      `${m.shares.accepted}/${m.shares.rejected}`,
      m.pool ?? "-",
      formatUptime(m.uptime),
      m.restarts ? `${m.restarts} (${m.restartLog.at(-1)?.reason ?? ""})` : "0",
    ]),
  );
}

/** `start <profile>`. */
export async function minerStart(ctx: CliContext, p: Parsed): Promise<number> {
  const profile = one(p, "start", "profile");
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const m = await api.request<MinerStats & { already: boolean }>(
    "POST",
    "/api/v1/mining/miners",
    { profile },
  );
  if (bool(p, "json")) ctx.io.out(JSON.stringify(m, null, 2));
  else if (m.already) {
    ctx.io.out(`${m.name} is already running${m.startedAt ? ` (since ${m.startedAt})` : ""}`);
  } else ctx.io.out(`started ${m.name} (${m.type}, pid ${m.pid})`);
  return 0;
}

/** `stop <miner>`. */
export async function minerStop(ctx: CliContext, p: Parsed): Promise<number> {
  const name = one(p, "stop", "miner");
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const m = await api.request<MinerStats & { already: boolean }>(
    "POST",
    `/api/v1/mining/miners/${encodeURIComponent(name)}/stop`,
  );
  if (bool(p, "json")) ctx.io.out(JSON.stringify(m, null, 2));
  else ctx.io.out(m.already ? `${m.name} is already stopped` : `stopped ${m.name}`);
  return 0;
}

/** `pause <miner>` / `resume <miner>`. */
export function minerPauseResume(action: "pause" | "resume"): CommandFn {
  return async (ctx: CliContext, p: Parsed): Promise<number> => {
    const name = one(p, action, "miner");
    const api = await ApiClient.locate(ctx.paths, str(p, "api"));
    const m = await api.request<MinerStats>(
      "POST",
      `/api/v1/mining/miners/${encodeURIComponent(name)}/${action}`,
    );
    if (bool(p, "json")) ctx.io.out(JSON.stringify(m, null, 2));
    else ctx.io.out(`${action === "pause" ? "paused" : "resumed"} ${m.name}`);
    return 0;
  };
}

/** `stdin <miner> <text>`. */
export async function minerStdin(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "stdin";
  if (p.positionals.length !== 2) {
    throw new UsageError("usage: miner-cli stdin <miner> <text>", cmd);
  }
  const [name, text] = p.positionals;
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const r = await api.request<{ written: number }>(
    "POST",
    `/api/v1/mining/miners/${encodeURIComponent(name)}/stdin`,
    {
      text: bool(p, "no-newline") ? text : text + "\n",
    },
  );
  if (bool(p, "json")) ctx.io.out(JSON.stringify(r));
  else ctx.io.out(`sent ${r.written} characters to ${name}`);
  return 0;
}

/** `status`. */
export async function minerStatus(ctx: CliContext, p: Parsed): Promise<number> {
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const { miners } = await api.request<{ miners: MinerStats[] }>("GET", "/api/v1/mining/miners");
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ miners }, null, 2));
    return 0;
  }
  if (miners.length === 0) {
    ctx.io.out("no miners running: start one with `miner-cli start <profile>`");
    return 0;
  }
  ctx.io.out(minerTable(miners));
  // One total per algorithm: H/s of RandomX and MH/s of KawPow do not add up.
  const by = new Map<string, number>();
  for (const m of miners) {
    if (m.state !== "running" && m.state !== "paused") continue;
    const algo = m.algorithm ?? "unknown";
    by.set(algo, (by.get(algo) ?? 0) + (m.state === "paused" ? 0 : m.hashrate.now ?? 0));
  }
  ctx.io.out("");
  for (const [algo, hs] of [...by].sort()) ctx.io.out(`total ${algo}: ${formatHashrate(hs)}`);
  return 0;
}

/** `logs <miner> [--lines N] [--follow]`. */
export async function minerLogs(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "logs";
  const name = one(p, cmd, "miner");
  const lines = int(p, "lines", { min: 1, max: 100_000, fallback: 50 });
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const base = `/api/v1/mining/miners/${encodeURIComponent(name)}`;
  const json = bool(p, "json");
  type Line = { seq: number; ts: string; text: string; stream: string };
  const print = (l: Line) =>
    json ? ctx.io.out(JSON.stringify(l)) : (ctx.io.log ?? ctx.io.out)(l.text);
  if (!bool(p, "follow")) {
    const res = await api.request<{ lines: Line[]; hasMore: boolean }>(
      "GET",
      `${base}/logs?lines=${lines}`,
    );
    if (json) ctx.io.out(JSON.stringify(res, null, 2));
    else res.lines.forEach(print);
    return 0;
  }
  const res = await api.request<{ lines: Line[]; lastSeq: number }>(
    "GET",
    `${base}/logs?lines=${lines}`,
  );
  res.lines.forEach(print);
  const abort = new AbortController();
  ctx.stopSignal.addEventListener("abort", () => abort.abort(), { once: true });
  await api.stream(`${base}/logs/follow?since=${res.lastSeq}`, (event, data) => {
    if (event === "line") print(JSON.parse(data));
    else if (event === "end") {
      ctx.io.err(`${name}: ${JSON.parse(data).reason}`);
      abort.abort();
    }
  }, abort.signal);
  return 0;
}

/** `miners list`. */
export async function minersList(ctx: CliContext, p: Parsed): Promise<number> {
  const rows = await installedMiners(ctx.paths, adapterFor);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ miners: rows }, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    ctx.io.out(
      `no miner binaries found in ${ctx.paths.dataDir}/miners/<type>/current/ or on PATH`,
    );
    return 0;
  }
  ctx.io.out(
    table(
      ["TYPE", "VERSION", "SOURCE", "PATH"],
      rows.map((r) => [r.type, r.version ?? "?", r.source, r.path]),
    ),
  );
  return 0;
}
