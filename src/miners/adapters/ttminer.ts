/**
 * TT-Miner: command line `-P pool -u user -p pass -a algo -b 127.0.0.1:PORT`, stats via its
 * Claymore-compatible JSON-RPC `miner_getstat1` over TCP.
 * @module
 */
import { z } from "zod";
import { findVersion, type LaunchContext, type MinerAdapter, MinerApiError } from "../adapter.ts";
import type { Profile } from "../profiles.ts";
import type { AdapterStats } from "../stats.ts";

/** The `miner_getstat1` response. */
export const GetStat1Schema = z.object({
  result: z.array(z.string()).min(3),
}).passthrough();

const int = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : 0;
};

/**
 * Maps a `miner_getstat1` result (`total;acc;rej`, per-GPU `a;b;c`, `t1;f1;t2;f2...`). TT-Miner
 * reports rates in H/s, unlike Claymore and ethminer (kH/s), hence the default multiplier of 1.
 */
export function parseGetStat1(body: unknown, unitMultiplier = 1): AdapterStats {
  const r = GetStat1Schema.parse(body).result;
  const [total, accepted, rejected] = (r[2] ?? "").split(";");
  const perGpu = (r[3] ?? "").split(";").filter((x) => x !== "");
  const tf = (r[6] ?? "").split(";").filter((x) => x !== "");
  const now = Number(total);
  return {
    version: r[0] ?? null,
    minerUptime: int(r[1]) * 60,
    hashrate: {
      now: Number.isFinite(now) ? now * unitMultiplier : null,
      avg60: null,
      avg15m: null,
    },
    shares: { accepted: int(accepted), rejected: int(rejected) },
    pool: r[7] || null,
    devices: perGpu.map((h, i) => ({
      name: `GPU${i}`,
      kind: "gpu" as const,
      hashrate: Number.isFinite(Number(h)) ? Number(h) * unitMultiplier : null,
      temp: tf[i * 2] !== undefined ? Number(tf[i * 2]) : null,
      fan: tf[i * 2 + 1] !== undefined ? Number(tf[i * 2 + 1]) : null,
    })),
  };
}

/** Sends one JSON-RPC line over TCP and reads the JSON answer. */
export async function tcpJsonRpc(
  port: number,
  request: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (err) {
    throw new MinerApiError(`TT-Miner API not reachable: ${(err as Error).message}`);
  }
  const onAbort = () => {
    try {
      conn.close();
    } catch { /* closed */ }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const dec = new TextDecoder();
    let text = "";
    const buf = new Uint8Array(16 * 1024);
    while (text.length < 1_000_000) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      const trimmed = text.trim();
      if (trimmed.endsWith("}")) {
        try {
          return JSON.parse(trimmed);
        } catch { /* incomplete: keep reading */ }
      }
    }
    return JSON.parse(text.trim());
  } catch (err) {
    if (err instanceof MinerApiError) throw err;
    throw new MinerApiError(
      signal.aborted ? "TT-Miner API timed out" : `TT-Miner API error: ${(err as Error).message}`,
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The TT-Miner adapter. */
export const ttMinerAdapter: MinerAdapter = {
  type: "tt-miner",
  defaultBinary: "TT-Miner",
  binaryName: () => "TT-Miner",
  prepare(profile: Profile, ctx: LaunchContext): Promise<string[]> {
    if (profile.minerType !== "tt-miner") throw new Error("not a tt-miner profile");
    const c = profile.config;
    return Promise.resolve([
      "-P",
      c.pool,
      "-u",
      c.user,
      "-p",
      c.pass,
      "-a",
      c.algo,
      "-b",
      `127.0.0.1:${ctx.apiPort}`,
      ...c.args,
    ]);
  },
  async readStats(ctx: LaunchContext, signal: AbortSignal): Promise<AdapterStats> {
    const body = await tcpJsonRpc(
      ctx.apiPort,
      { id: 0, jsonrpc: "2.0", method: "miner_getstat1" },
      signal,
    );
    try {
      return parseGetStat1(body);
    } catch (err) {
      throw new MinerApiError(`unexpected miner_getstat1 answer: ${(err as Error).message}`);
    }
  },
  parseVersion: findVersion,
};
