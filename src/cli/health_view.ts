/**
 * How the CLI shows health: `remote status` (state and reason per rig and miner, what needs
 * attention first, per-algorithm totals, devices) and its cron-friendly exit code. Rows from a
 * running node carry the node's health (with durations it has measured); rows a CLI fetched
 * itself are judged once, from the miners' own averaging windows.
 * @module
 */
import {
  HealthConfigStore,
  HealthTracker,
  resolveThresholds,
  type RigInput,
} from "../health/mod.ts";
import { alertFiles } from "../alerts/mod.ts";
import { formatHashrate, type Profile, ProfileStore } from "../miners/mod.ts";
import type {
  AlgorithmTotal,
  FleetStatus,
  HealthState,
  MinerStats,
  RigHealth,
} from "../protocol/mod.ts";
import { HEALTH_ORDER } from "../protocol/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import { join } from "node:path";
import { table } from "./format.ts";
import { formatUptime } from "./miner_commands.ts";

/** A state as the terminal shows it (`● degraded`). */
export function stateLabel(s: HealthState): string {
  const dot = s === "ok"
    ? "●"
    : s === "degraded"
    ? "◐"
    : s === "down"
    ? "○"
    : s === "idle"
    ? "·"
    : "?";
  return `${dot} ${s}`;
}

/** Every row with its health: the node's own judgment when it sent one, else a one-shot one. */
export async function withHealth(paths: NodePaths, doc: FleetStatus): Promise<FleetStatus> {
  if (doc.peers.every((p) => p.health)) return doc;
  const cfg = await new HealthConfigStore(alertFiles(paths).health).current().catch(() =>
    undefined
  );
  const profiles = new Map<string, Profile>(
    (await new ProfileStore(join(paths.configDir, "mining_profiles.json")).list().catch(() => []))
      .map((p) => [p.id, p]),
  );
  const tracker = new HealthTracker({
    oneShot: true,
    thresholds: (rig, m) =>
      resolveThresholds(cfg ?? { version: 1, defaults: {}, rigs: {}, profiles: {} }, {
        rig: { id: rig.id, name: rig.name },
        ...(m ? { profile: { id: m.profileId, name: profiles.get(m.profileId ?? "")?.name } } : {}),
      }),
    expected: (_rig, m: MinerStats) => {
      const e = m.profileId ? profiles.get(m.profileId)?.expectedHashrate : undefined;
      return e ? { value: e, source: "profile" } : null;
    },
  });
  const now = Date.now();
  const inputs: RigInput[] = doc.peers.map((p) => ({
    id: p.id,
    name: p.name,
    online: p.online,
    offlineReason: p.error,
    updatedAt: p.updatedAt ? Date.parse(p.updatedAt) : now,
    miners: p.miners,
  }));
  const h = tracker.evaluate(inputs, now);
  const byId = new Map(h.rigs.map((r) => [r.id, r]));
  return {
    ...doc,
    peers: doc.peers.map((p) => (p.health ? p : { ...p, health: byId.get(p.id) })),
    health: doc.health ?? { state: h.state, counts: h.counts },
  };
}

/** Rigs sorted so what needs attention comes first. */
export function byAttention(rigs: readonly RigHealth[]): RigHealth[] {
  const rank = (s: HealthState) => HEALTH_ORDER.indexOf(s);
  return [...rigs].sort((a, b) => rank(a.state) - rank(b.state) || a.name.localeCompare(b.name));
}

/** `rx/0: 3.80 kH/s on 3 rigs (expected 4.00 kH/s)`. */
export function totalLine(t: AlgorithmTotal): string {
  return `${t.algorithm}: ${formatHashrate(t.hashrate)} on ${t.rigs} rig${t.rigs === 1 ? "" : "s"}${
    t.expected !== null ? ` (expected ${formatHashrate(t.expected)})` : ""
  }`;
}

/** The fleet table of `remote status`. */
export function renderFleet(doc: FleetStatus): string[] {
  const rigs = byAttention(doc.peers.map((p) => p.health!).filter(Boolean));
  const rowOf = new Map(doc.peers.map((p) => [p.id, p]));
  const rows: (string | number)[][] = [];
  for (const rig of rigs) {
    const row = rowOf.get(rig.id)!;
    const age = row.stale && row.updatedAt
      ? ` (data ${Math.round((Date.now() - Date.parse(row.updatedAt)) / 1000)} s old)`
      : "";
    const rigReason = rig.reasons.map((r) => r.message).join("; ");
    if (rig.miners.length === 0) {
      rows.push([
        rig.name,
        stateLabel(rig.state),
        rig.state === "idle" ? "(no miners)" : "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        (rigReason || (rig.state === "unknown" ? "not heard from yet" : "")) + age,
      ]);
      continue;
    }
    for (const m of rig.miners) {
      const stats = row.miners.find((x) => x.name === m.name);
      const shares = stats ? `${stats.shares.accepted}/${stats.shares.rejected}` : "-";
      const reason = [
        ...(m === rig.miners[0] && rigReason ? [rigReason] : []),
        ...m.reasons.map((r) => r.message),
      ]
        .join("; ");
      const temps = m.devices.map((d) => d.temp).filter((t): t is number => t !== null);
      rows.push([
        rig.name,
        stateLabel(
          m.state === "ok" && rig.state === "degraded" && rigReason ? "degraded" : m.state,
        ),
        m.name,
        m.algorithm,
        m.state === "idle" ? stats?.state ?? "stopped" : formatHashrate(m.hashrate),
        shares,
        temps.length ? `${Math.max(...temps)} °C` : "-",
        stats && m.state !== "idle" ? formatUptime(stats.uptime) : "-",
        stats?.pool ?? "-",
        reason + (m === rig.miners[0] ? age : ""),
      ]);
    }
  }
  const out = [
    table(
      ["RIG", "STATE", "MINER", "ALGO", "HASHRATE", "SHARES", "TEMP", "UPTIME", "POOL", "REASON"],
      rows,
    ),
    "",
  ];
  for (const t of doc.totals) out.push(totalLine(t));
  const c = doc.health?.counts;
  if (c) {
    const parts = HEALTH_ORDER.filter((s) => c[s]).map((s) => `${c[s]} ${s}`);
    out.push(`rigs: ${parts.join(", ") || "none"} (of ${doc.nodes})`);
  }
  return out;
}

/** The device table of `remote status --devices`. */
export function renderDevices(doc: FleetStatus): string[] {
  const rows: (string | number)[][] = [];
  for (const rig of byAttention(doc.peers.map((p) => p.health!).filter(Boolean))) {
    for (const m of rig.miners) {
      for (const d of m.devices) {
        rows.push([
          rig.name,
          m.name,
          `${d.kind}${d.index}`,
          d.name ?? "-",
          stateLabel(d.state),
          formatHashrate(d.hashrate),
          d.temp !== null ? `${d.temp} °C` : "-",
          d.fan !== null ? `${d.fan} %` : d.fanRpm !== null ? `${d.fanRpm} rpm` : "-",
          d.power !== null ? `${d.power} W` : "-",
          `${d.tempLimit} °C`,
          d.reasons.map((r) => r.message).join("; "),
        ]);
      }
    }
  }
  if (!rows.length) return ["no devices reported (CPU-only miners report no per-device sensors)"];
  return [
    table(
      [
        "RIG",
        "MINER",
        "DEVICE",
        "NAME",
        "STATE",
        "HASHRATE",
        "TEMP",
        "FAN",
        "POWER",
        "LIMIT",
        "REASON",
      ],
      rows,
    ),
  ];
}

/**
 * The exit code for cron: 0 when every rig is ok (or idle), 2 when one is down (any `failOn`)
 * or degraded or not known (`failOn` `degraded`, the default).
 */
export function healthExitCode(doc: FleetStatus, failOn: "down" | "degraded"): number {
  const states = doc.peers.map((p) => p.health?.state ?? (p.online ? "unknown" : "down"));
  if (states.includes("down")) return 2;
  if (failOn === "degraded" && states.some((s) => s === "degraded" || s === "unknown")) return 2;
  return 0;
}
