/**
 * Fleet: every miner on every node (this one and each worker), grouped by node or flat, with the
 * total hashrate; start per node, stop per row, bulk stop, and deploy a profile to selected nodes.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, ndjson } from "../api.ts";
import { ago, bytes, duration, hashrate } from "../format.ts";
import { attempt, refreshFleet, refreshMiners, toast, useStore } from "../store.ts";
import type { MinerHealth, MinerStats, RigHealth } from "../types.ts";
import { Dot, StateBadge, useAction, useProfiles } from "./common.tsx";

interface FleetRow {
  nodeId: string;
  nodeName: string;
  local: boolean;
  online: boolean;
  error?: string;
  /** When its row was last refreshed (remote nodes). */
  updatedAt?: string;
  miners: MinerStats[];
}

/** "· last answer 42 s ago" for a row the fleet monitor has not refreshed for 30 s. */
function staleNote(updatedAt: string | undefined): string | null {
  if (!updatedAt) return null;
  const age = Math.round((Date.now() - Date.parse(updatedAt)) / 1000);
  return age >= 30 ? `· last answer ${age} s ago` : null;
}

const key = (node: string, miner: string) => `${node}\u0000${miner}`;

/** The hottest device of a miner (°C), or "–". */
function maxTemp(m: MinerStats): string {
  const t = m.devices.map((d) => d.temp).filter((x): x is number => x !== null);
  return t.length ? `${Math.max(...t)} °C` : "–";
}

/** A health state with its reasons ("degraded · hashrate 0 H/s for 6 min, restarted 2×"). */
function HealthCell(props: { h: RigHealth | MinerHealth | undefined; rig?: boolean }): JSX.Element {
  const h = props.h;
  if (!h) return <span class="muted">–</span>;
  const since = props.rig && "since" in h && h.since && h.state !== "ok"
    ? ` since ${new Date(h.since).toLocaleTimeString()}`
    : "";
  return (
    <span data-health={h.state}>
      <span class={`badge health-${h.state}`}>{h.state}</span>
      {h.reasons.length > 0 && (
        <span class="reason">
          {" "}
          {h.reasons.map((r) => r.message).join("; ").slice(0, 300)}
          {since}
        </span>
      )}
    </span>
  );
}

/** The Fleet page. */
export function FleetPage(): JSX.Element {
  const s = useStore();
  const { profiles, error: profilesError } = useProfiles();
  const [grouped, setGrouped] = useState(true);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [nodes, setNodes] = useState<Set<string>>(new Set());
  const [profile, setProfile] = useState("");
  const [deploying, setDeploying] = useState<Record<string, string>>({});

  const rows: FleetRow[] = [];
  if (s.node?.runsMiners) {
    rows.push({
      nodeId: s.node.id,
      nodeName: `${s.node.name} (this node)`,
      local: true,
      online: true,
      miners: s.miners,
    });
  }
  for (const p of s.fleet?.peers ?? []) {
    rows.push({
      nodeId: p.id,
      nodeName: p.name,
      local: false,
      online: p.online,
      error: p.error,
      updatedAt: p.updatedAt,
      miners: p.miners,
    });
  }
  // Totals per algorithm: H/s of RandomX and MH/s of KawPow never add up to one figure.
  const totals = s.health?.totals ?? [];
  const rigHealth = new Map((s.health?.rigs ?? []).map((r) => [r.id, r]));
  const minerHealth = (r: FleetRow, name: string) =>
    rigHealth.get(r.nodeId)?.miners.find((m) => m.name === name);
  const minerCount = rows.reduce((a, r) => a + r.miners.length, 0);

  const refresh = () => Promise.all([refreshFleet(), refreshMiners()]);
  const { busy, setBusy, run } = useAction(refresh);
  const stop = (row: FleetRow, m: MinerStats) =>
    row.local
      ? api("POST", `/miners/${encodeURIComponent(m.name)}/stop`)
      : api("POST", `/remote/${row.nodeId}/stop`, { minerName: m.name });
  const start = (row: FleetRow) => {
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return toast("Choose a profile first", "error");
    return run(
      `start:${row.nodeId}`,
      `Start ${p.name} on ${row.nodeName}`,
      () =>
        row.local
          ? api("POST", "/miners", { profile: p.id })
          : api("POST", `/remote/${row.nodeId}/start`, { profileId: p.id, minerType: p.minerType }),
    );
  };
  const bulkStop = async () => {
    const targets = rows.flatMap((r) =>
      r.miners.filter((m) => selected.has(key(r.nodeId, m.name))).map((m) => [r, m] as const)
    );
    setBusy("bulk");
    const results = await Promise.allSettled(targets.map(([r, m]) => stop(r, m)));
    const failed = results.filter((x) => x.status === "rejected") as PromiseRejectedResult[];
    if (failed.length) {
      toast(
        `${failed.length} of ${targets.length} stops failed: ${
          (failed[0].reason as Error).message
        }`,
        "error",
      );
    } else toast(`stopped ${targets.length} miner(s)`);
    setSelected(new Set());
    await refresh().catch(() => {});
    setBusy(null);
  };
  const deploy = async () => {
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return toast("Choose a profile first", "error");
    const targets = rows.filter((r) => !r.local && nodes.has(r.nodeId));
    await Promise.all(targets.map(async (r) => {
      setDeploying((d) => ({ ...d, [r.nodeId]: "sending…" }));
      try {
        for await (const line of ndjson(`/remote/${r.nodeId}/deploy`, { profiles: [p.id] })) {
          if (line.event === "progress") {
            setDeploying((d) => ({
              ...d,
              [r.nodeId]: `${bytes(line.received as number)} / ${bytes(line.total as number)}`,
            }));
          } else if (line.event === "done") {
            const ack = line.ack as { success: boolean; error?: string };
            if (!ack.success) throw new Error(ack.error ?? "refused");
            setDeploying((d) => ({ ...d, [r.nodeId]: "deployed" }));
            toast(`deployed ${p.name} to ${r.nodeName}`);
          } else if (line.event === "error") throw new Error(String(line.message));
        }
      } catch (err) {
        setDeploying((d) => ({ ...d, [r.nodeId]: "failed" }));
        toast(`Deploy to ${r.nodeName} failed: ${(err as Error).message}`, "error");
      }
    }));
  };

  const toggle = (set: Set<string>, k: string, update: (s: Set<string>) => void) => {
    const next = new Set(set);
    if (next.has(k)) next.delete(k);
    else next.add(k);
    update(next);
  };
  const minerRow = (r: FleetRow, m: MinerStats, showNode: boolean) => (
    <tr key={key(r.nodeId, m.name)} data-node={r.nodeName} data-miner={m.name}>
      <td>
        <input
          type="checkbox"
          aria-label={`select ${m.name} on ${r.nodeName}`}
          checked={selected.has(key(r.nodeId, m.name))}
          onChange={() =>
            toggle(selected, key(r.nodeId, m.name), setSelected)}
        />
      </td>
      {showNode && <td>{r.nodeName}</td>}
      <td>
        <a
          href={`#/console?${r.local ? "" : `peer=${r.nodeId}&`}miner=${
            encodeURIComponent(m.name)
          }`}
        >
          {m.name}
        </a>
      </td>
      <td>{m.type}</td>
      <td>
        <StateBadge state={m.state} />
      </td>
      <td class="wrap">
        <HealthCell h={minerHealth(r, m.name)} />
      </td>
      <td class="num">{hashrate(m.hashrate.now)}</td>
      <td class="num">{m.shares.accepted}/{m.shares.rejected}</td>
      <td class="num">{maxTemp(m)}</td>
      <td class="num">{duration(m.uptime)}</td>
      <td>
        <button
          type="button"
          class="danger"
          disabled={busy !== null || m.state === "stopped"}
          onClick={() =>
            run(key(r.nodeId, m.name), `Stop ${m.name} on ${r.nodeName}`, () => stop(r, m))}
        >
          {busy === key(r.nodeId, m.name) ? "Stopping…" : "Stop"}
        </button>
      </td>
    </tr>
  );

  return (
    <>
      <h1>Fleet</h1>
      <div class="card row">
        <div>
          <div class="muted">Hashrate per algorithm</div>
          <div class="total" data-testid="fleet-total">
            {totals.length === 0
              ? "–"
              : totals.map((t) => (
                <div key={t.algorithm} data-algorithm={t.algorithm}>
                  {hashrate(t.hashrate)} <span class="muted">{t.algorithm} · {t.rigs} rig(s)</span>
                </div>
              ))}
          </div>
        </div>
        {s.health && (
          <div data-testid="fleet-health">
            <div class="muted">Rigs</div>
            <div>
              {(["down", "degraded", "ok", "idle", "unknown"] as const).filter((k) =>
                s.health!.counts[k]
              ).map((k) => (
                <span key={k} class={`badge health-${k}`}>{s.health!.counts[k]} {k}</span>
              ))}
            </div>
          </div>
        )}
        <div>
          <div class="muted">Nodes</div>
          <div>{rows.filter((r) => r.online).length} online / {rows.length}</div>
        </div>
        <div>
          <div class="muted">Miners</div>
          <div data-testid="fleet-miner-count">{minerCount}</div>
        </div>
        <div class="muted">
          {s.fleet?.cachedAt ? `updated ${ago(s.fleet.cachedAt)}` : "no fleet poll yet"}
        </div>
        <button type="button" onClick={() => attempt("Refresh", refresh)}>Refresh</button>
        <div class="tabs" role="group" aria-label="Layout">
          <button type="button" aria-pressed={grouped} onClick={() => setGrouped(true)}>
            By node
          </button>
          <button type="button" aria-pressed={!grouped} onClick={() => setGrouped(false)}>
            Flat
          </button>
        </div>
      </div>
      <div class="card row">
        <label>
          Profile
          <select
            name="fleet-profile"
            value={profile}
            onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}
          >
            <option value="">{profiles === null ? "Loading…" : "Choose a profile"}</option>
            {profiles?.map((p) => <option key={p.id} value={p.id}>{p.name} ({p.minerType})
            </option>)}
          </select>
        </label>
        {profilesError && <span class="field-error">Profiles: {profilesError}</span>}
        <button type="button" disabled={!profile || nodes.size === 0} onClick={deploy}>
          Deploy to {nodes.size} selected node(s)
        </button>
        <button
          type="button"
          class="danger"
          disabled={selected.size === 0 || busy !== null}
          onClick={bulkStop}
        >
          Stop {selected.size} selected miner(s)
        </button>
      </div>
      {rows.length === 0 && (
        <div class="card empty">
          No nodes yet. Add workers on the <a href="#/nodes">Nodes</a> page.
        </div>
      )}
      {rows.length > 0 && (
        <table data-testid="fleet-table">
          <thead>
            <tr>
              <th></th>
              {!grouped && <th>Node</th>}
              <th>Miner</th>
              <th>Type</th>
              <th>State</th>
              <th>Health</th>
              <th class="num">Hashrate</th>
              <th class="num">Shares</th>
              <th class="num">Temp</th>
              <th class="num">Uptime</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {grouped
              ? rows.map((r) => [
                <tr
                  key={`g:${r.nodeId}`}
                  class={`group ${r.online ? "" : "offline"}`}
                  data-group={r.nodeName}
                >
                  <td>
                    {!r.local && (
                      <input
                        type="checkbox"
                        aria-label={`select node ${r.nodeName}`}
                        checked={nodes.has(r.nodeId)}
                        onChange={() => toggle(nodes, r.nodeId, setNodes)}
                      />
                    )}
                  </td>
                  <td colSpan={4}>
                    <Dot online={r.online} title={r.error} /> {r.nodeName}{" "}
                    <HealthCell h={rigHealth.get(r.nodeId)} rig />
                    {!r.online && !rigHealth.get(r.nodeId) && (
                      <span class="field-error">offline: {r.error ?? "no answer"}</span>
                    )}
                    {staleNote(r.updatedAt) && <span class="muted">{staleNote(r.updatedAt)}</span>}
                    {deploying[r.nodeId] && (
                      <span class="muted">· deploy: {deploying[r.nodeId]}</span>
                    )}
                  </td>
                  <td class="num">
                    {(rigHealth.get(r.nodeId)?.totals ?? []).map((t) => (
                      <div key={t.algorithm}>{hashrate(t.hashrate)} {t.algorithm}</div>
                    ))}
                  </td>
                  <td colSpan={3}></td>
                  <td>
                    <button
                      type="button"
                      disabled={!r.online || busy !== null || !profile}
                      onClick={() => start(r)}
                      title={profile ? "" : "choose a profile above"}
                    >
                      {busy === `start:${r.nodeId}` ? "Starting…" : "Start profile"}
                    </button>
                  </td>
                </tr>,
                ...(r.miners.length ? r.miners.map((m) => minerRow(r, m, false)) : [
                  <tr key={`e:${r.nodeId}`}>
                    <td></td>
                    <td colSpan={9} class="muted">{r.online ? "no miners" : "–"}</td>
                  </tr>,
                ]),
              ])
              : rows.flatMap((r) => r.miners.map((m) => minerRow(r, m, true)))}
          </tbody>
        </table>
      )}
    </>
  );
}
