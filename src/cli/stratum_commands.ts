/**
 * `stratum ...`: the farm's stratum proxy on a controller — its status (upstreams, miners with
 * their nonce ranges and shares), the share log, and the pool set (upstreams in failover order,
 * the miners' difficulty). Changes go through the running node when there is one (applied at
 * once and audited), else to `stratum.json` (the node picks it up when it starts).
 * @module
 */
import { formatHashrate } from "../miners/mod.ts";
import type { PoolSetView, ShareRecord, StratumStatus } from "../protocol/mod.ts";
import { poolSetView, StratumConfigStore } from "../stratum/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { ApiClient } from "./api_client.ts";
import { bool, int, type Parsed, requireStr, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { ago, table } from "./format.ts";

const BASE = "/api/v1/mining/stratum";

async function running(ctx: CliContext, p: Parsed): Promise<ApiClient | null> {
  return await ApiClient.running(ctx.paths, str(p, "api"));
}

async function needRunning(ctx: CliContext, p: Parsed, cmd: string): Promise<ApiClient> {
  const api = await running(ctx, p);
  if (!api) {
    throw new UsageError(
      "no node is running on this home: the proxy's status lives in the running node (start it with miner-cli node serve)",
      cmd,
    );
  }
  return api;
}

/** The pool set on disk, on a node that runs a proxy (not a worker's: it would do nothing). */
async function store(ctx: CliContext): Promise<StratumConfigStore> {
  const me = await loadIdentity(ctx.paths).catch(() => undefined);
  if (me?.info.role === "worker") {
    throw new UsageError(
      "this node is a worker: the farm's stratum proxy runs on its controller (run this there)",
    );
  }
  return StratumConfigStore.of(ctx.paths);
}

function printPoolSet(ctx: CliContext, p: Parsed, set: PoolSetView): void {
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(set, null, 2));
    return;
  }
  if (!set.upstreams.length) {
    ctx.io.out("no upstreams: add one with `miner-cli stratum upstream add URL --user WALLET`");
  } else {
    ctx.io.out(table(
      ["#", "URL", "USER", "PASSWORD"],
      set.upstreams.map((
        u,
      ) => [
        u.index,
        u.url,
        u.user.length > 24 ? `${u.user.slice(0, 20)}…` : u.user,
        u.hasPass ? "set" : "-",
      ]),
    ));
  }
  ctx.io.out(
    `miners' difficulty: ${set.difficulty}; nonce ranges per blob: ${set.ranges}${
      set.ranges < 256 ? " (then a daemon's next extra nonce)" : ""
    }`,
  );
}

/** `stratum status`. */
export async function stratumStatus(ctx: CliContext, p: Parsed): Promise<number> {
  const api = await needRunning(ctx, p, "stratum status");
  const s = await api.request<StratumStatus>("GET", `${BASE}/status`);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  if (!s.enabled) {
    ctx.io.out(
      "the proxy has no upstreams: add one with `miner-cli stratum upstream add URL --user WALLET`",
    );
    return 0;
  }
  ctx.io.out(table(
    [
      "#",
      "UPSTREAM",
      "KIND",
      "STATE",
      "LATENCY",
      "HEIGHT",
      "ACCEPTED",
      "REJECTED",
      "BLOCKS",
      "LAST ERROR",
    ],
    s.upstreams.map((u) => [
      u.index,
      `${u.active ? "* " : "  "}${u.url}`,
      u.kind,
      u.state,
      u.latencyMs === null ? "-" : `${u.latencyMs} ms`,
      u.height ?? "-",
      u.accepted,
      u.rejected,
      u.blocks,
      u.lastError?.slice(0, 60) ?? "",
    ]),
  ));
  ctx.io.out("");
  if (!s.miners.length) ctx.io.out("no miners connected (profiles with --pool farm on the rigs)");
  else {
    ctx.io.out(table(
      [
        "RIG",
        "MINER",
        "RANGE",
        "ACCEPTED",
        "STALE",
        "REJECTED",
        "UPSTREAM OK/REJ",
        "BEST DIFF",
        "HASHRATE",
        "LAST SHARE",
      ],
      s.miners.map((m) => [
        m.rigName,
        m.login || m.miner,
        m.slot.toString(16).padStart(2, "0"),
        m.accepted,
        m.stale,
        m.rejected,
        `${m.upstreamAccepted}/${m.upstreamRejected}`,
        m.bestDifficulty,
        formatHashrate(m.hashrate),
        m.lastShareAt ? ago(m.lastShareAt) : "-",
      ]),
    ));
  }
  const t = s.totals;
  const reasons = Object.entries(s.rejectReasons).map(([k, v]) => `${k} ${v}`).join(", ");
  ctx.io.out(
    `\n${t.miners} miner(s), ${
      formatHashrate(t.hashrate)
    }; shares: ${t.accepted} accepted, ${t.stale} stale, ${t.rejected} rejected${
      reasons ? ` (${reasons})` : ""
    }; upstream: ${t.upstreamAccepted} accepted, ${t.upstreamRejected} rejected; ${t.blocks} block(s); ${t.freeSlots} free range(s); difficulty ${s.difficulty}`,
  );
  return 0;
}

/** `stratum shares`. */
export async function stratumShares(ctx: CliContext, p: Parsed): Promise<number> {
  const api = await needRunning(ctx, p, "stratum shares");
  const limit = int(p, "limit", { min: 1, max: 10_000, fallback: 50 });
  const rig = str(p, "rig");
  const q = new URLSearchParams({ limit: String(limit), ...(rig ? { rig } : {}) });
  const doc = await api.request<{ shares: ShareRecord[] }>("GET", `${BASE}/shares?${q}`);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(doc, null, 2));
    return 0;
  }
  if (!doc.shares.length) {
    ctx.io.out("no shares yet");
    return 0;
  }
  ctx.io.out(table(
    ["AT", "RIG", "MINER", "JOB", "NONCE", "DIFF", "VERDICT", "UPSTREAM"],
    doc.shares.map((r) => [
      r.at.slice(11, 19),
      r.rig.slice(0, 12),
      r.miner,
      r.jobId,
      r.nonce,
      r.difficulty,
      r.reason ? `${r.verdict} (${r.reason})` : r.verdict,
      r.upstream
        ? `${r.block ? "block " : ""}${r.upstream}${
          r.upstreamError ? `: ${r.upstreamError.slice(0, 40)}` : ""
        }`
        : "-",
    ]),
  ));
  return 0;
}

/** `stratum upstream list`. */
export async function stratumUpstreamList(ctx: CliContext, p: Parsed): Promise<number> {
  const api = await running(ctx, p);
  const set = api
    ? await api.request<PoolSetView>("GET", `${BASE}/upstreams`)
    : poolSetView(await (await store(ctx)).load());
  printPoolSet(ctx, p, set);
  return 0;
}

/** `stratum upstream add <url> --user WALLET`. */
export async function stratumUpstreamAdd(ctx: CliContext, p: Parsed): Promise<number> {
  const url = p.positionals[0];
  const user = requireStr(p, "user", "stratum upstream add");
  const pass = str(p, "pass");
  const position = str(p, "position") === undefined
    ? undefined
    : int(p, "position", { min: 0, max: 15, fallback: 0 });
  const api = await running(ctx, p);
  const set = api
    ? await api.request<PoolSetView>("POST", `${BASE}/upstreams`, {
      url,
      user,
      ...(pass !== undefined ? { pass } : {}),
      ...(position !== undefined ? { position } : {}),
    })
    : poolSetView(await (await store(ctx)).addUpstream({ url, user, pass }, { position }));
  if (!bool(p, "json")) {
    ctx.io.out(`added ${url}${api ? "" : " (the node uses it when it starts)"}`);
  }
  printPoolSet(ctx, p, set);
  return 0;
}

/** `stratum upstream remove <url|index>`. */
export async function stratumUpstreamRemove(ctx: CliContext, p: Parsed): Promise<number> {
  const ref = p.positionals[0];
  const api = await running(ctx, p);
  const set = api
    ? await api.request<PoolSetView>("DELETE", `${BASE}/upstreams/${encodeURIComponent(ref)}`)
    : poolSetView(await (await store(ctx)).removeUpstream(ref));
  if (!bool(p, "json")) ctx.io.out(`removed ${ref}`);
  printPoolSet(ctx, p, set);
  return 0;
}

/** `stratum set --difficulty N --ranges N`. */
export async function stratumSet(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "stratum set";
  const settings: { difficulty?: number; ranges?: number } = {};
  if (str(p, "difficulty") !== undefined) {
    settings.difficulty = int(p, "difficulty", { min: 1, max: 1e12, fallback: 5000 });
  }
  if (str(p, "ranges") !== undefined) {
    settings.ranges = int(p, "ranges", { min: 1, max: 256, fallback: 256 });
  }
  if (!Object.keys(settings).length) {
    throw new UsageError("give --difficulty N and/or --ranges N", cmd);
  }
  const api = await running(ctx, p);
  const set = api
    ? await api.request<PoolSetView>("PUT", `${BASE}/settings`, settings)
    : poolSetView(await (await store(ctx)).setSettings(settings));
  printPoolSet(ctx, p, set);
  return 0;
}
