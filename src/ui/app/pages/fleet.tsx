/**
 * Fleet: one row per rig (this node too, when it mines) with its health state and reason,
 * algorithms, hashrate vs expected, shares and reject %, hottest device, pool, uptime and
 * restarts; rows expand to their miners. Sort by any column, filter by state, algorithm, tag or
 * text, 50 rigs a page. Selection means rigs, with one bulk bar (start a profile, stop miners,
 * deploy a profile); stops ask first; every action ends in a toast; a stopped miner stays listed
 * as stopped until dismissed. The Pool view (`#/fleet?view=pool`) shows the farm's stratum proxy.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ndjson } from "../api.ts";
import { ago, bytes, duration, hashrate } from "../format.ts";
import {
  attempt,
  refreshFleet,
  refreshHealth,
  refreshMiners,
  refreshPeers,
  toast,
  useStore,
} from "../store.ts";
import type { HealthState, MinerHealth, MinerStats, RigHealth } from "../types.ts";
import { StateBadge, useProfiles } from "./common.tsx";
import { PoolView } from "./pool.tsx";

/** One rig as the table shows it. */
interface RigRow {
  id: string;
  name: string;
  local: boolean;
  tags: string[];
  health: RigHealth | null;
  state: HealthState;
  reason: string;
  online: boolean;
  updatedAt?: string;
  miners: { stats: MinerStats | null; health: MinerHealth | null; name: string }[];
  algorithms: string[];
  hashrate: number;
  expected: number | null;
  accepted: number;
  rejected: number;
  maxTemp: number | null;
  pools: string[];
  uptime: number;
  restarts: number;
}

const RANK: Record<HealthState, number> = { down: 0, degraded: 1, unknown: 2, idle: 3, ok: 4 };
const PAGE = 50;
type SortKey = "name" | "state" | "hashrate" | "rejects" | "temp" | "uptime" | "restarts";

const rejectPct = (a: number, r: number) => (a + r ? (r / (a + r)) * 100 : null);

/** Builds the rows from the health model and the last stats. */
function buildRows(
  s: ReturnType<typeof useStore>,
  stopped: Record<string, string[]>,
): RigRow[] {
  const statsOf = new Map<
    string,
    { miners: MinerStats[]; online: boolean; error?: string; updatedAt?: string }
  >();
  if (s.node?.runsMiners) statsOf.set(s.node.id, { miners: s.miners, online: true });
  for (const p of s.fleet?.peers ?? []) {
    statsOf.set(p.id, {
      miners: p.miners,
      online: p.online,
      error: p.error,
      updatedAt: p.updatedAt,
    });
  }
  const rigs: { id: string; name: string; health: RigHealth | null }[] = s.health
    ? s.health.rigs.map((r) => ({ id: r.id, name: r.name, health: r }))
    : [...statsOf.keys()].map((id) => ({
      id,
      name: s.fleet?.peers.find((p) => p.id === id)?.name ?? s.node?.name ?? id,
      health: null,
    }));
  const tagsOf = new Map(s.peers.map((p) => [p.id, p.tags ?? []]));
  return rigs.map(({ id, name, health }) => {
    const st = statsOf.get(id);
    const names = new Set([
      ...(st?.miners ?? []).map((m) => m.name),
      ...(health?.miners ?? []).map((m) => m.name),
      ...(stopped[id] ?? []),
    ]);
    const miners = [...names].sort().map((n) => ({
      name: n,
      stats: st?.miners.find((m) => m.name === n) ?? null,
      health: health?.miners.find((m) => m.name === n) ?? null,
    }));
    const live = miners.filter((m) =>
      m.stats && (m.stats.state === "running" || m.stats.state === "paused")
    );
    const temps = (health?.miners ?? []).flatMap((m) => m.devices.map((d) => d.temp)).filter((
      t,
    ): t is number => t !== null);
    const exp = (health?.miners ?? []).map((m) => m.expected).filter((e): e is number =>
      e !== null
    );
    const reason = [
      ...(health?.reasons ?? []).map((r) => r.message),
      ...(health?.miners ?? []).flatMap((m) => m.reasons.map((r) => `${m.name}: ${r.message}`)),
    ].join("; ");
    return {
      id,
      name: id === s.node?.id ? `${name} (this node)` : name,
      local: id === s.node?.id,
      tags: tagsOf.get(id) ?? [],
      health,
      state: health?.state ?? (st?.online ? "unknown" : "down"),
      reason: reason || (!st?.online && st?.error ? `offline: ${st.error}` : ""),
      online: st?.online ?? false,
      updatedAt: st?.updatedAt,
      miners,
      algorithms: [...new Set(live.map((m) => m.stats!.algorithm ?? "unknown"))].sort(),
      hashrate: live.reduce(
        (a, m) => a + (m.stats!.state === "paused" ? 0 : m.stats!.hashrate.now ?? 0),
        0,
      ),
      expected: exp.length ? exp.reduce((a, b) => a + b, 0) : null,
      accepted: live.reduce((a, m) => a + m.stats!.shares.accepted, 0),
      rejected: live.reduce((a, m) => a + m.stats!.shares.rejected, 0),
      maxTemp: temps.length ? Math.max(...temps) : null,
      pools: [...new Set(live.map((m) => m.stats!.pool).filter((p): p is string => !!p))],
      uptime: Math.max(0, ...live.map((m) => m.stats!.uptime)),
      restarts: miners.reduce((a, m) => a + (m.stats?.restarts ?? 0), 0),
    };
  });
}

/** The Fleet page. */
export function FleetPage(props: { params: URLSearchParams }): JSX.Element {
  const s = useStore();
  const { profiles, error: profilesError } = useProfiles();
  const [stopped, setStopped] = useState<Record<string, string[]>>({});
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [expanded, setExpanded] = useState<Record<string, boolean>>({});
  const [profile, setProfile] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [deploying, setDeploying] = useState<Record<string, string>>({});
  const [stateFilter, setStateFilter] = useState(props.params.get("state") ?? "");
  const [algoFilter, setAlgoFilter] = useState("");
  const [tagFilter, setTagFilter] = useState("");
  const [text, setText] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: "state", dir: 1 });
  const [page, setPage] = useState(0);
  const [bulkTag, setBulkTag] = useState("");
  useEffect(() => setStateFilter(props.params.get("state") ?? ""), [props.params.get("state")]);

  const all = useMemo(() => buildRows(s, stopped), [
    s.health,
    s.fleet,
    s.miners,
    s.peers,
    s.node,
    stopped,
  ]);
  const algorithms = [...new Set(all.flatMap((r) => r.algorithms))].sort();
  const tags = [...new Set(all.flatMap((r) => r.tags))].sort();
  const q = text.trim().toLowerCase();
  const filtered = all.filter((r) =>
    (!stateFilter || r.state === stateFilter) &&
    (!algoFilter || r.algorithms.includes(algoFilter)) &&
    (!tagFilter || r.tags.includes(tagFilter)) &&
    (!q || r.name.toLowerCase().includes(q) ||
      r.miners.some((m) => m.name.toLowerCase().includes(q)) ||
      r.pools.some((p) => p.toLowerCase().includes(q)) || r.reason.toLowerCase().includes(q))
  );
  const value = (r: RigRow): number | string => {
    switch (sort.key) {
      case "name":
        return r.name;
      case "state":
        return RANK[r.state];
      case "hashrate":
        return r.hashrate;
      case "rejects":
        return rejectPct(r.accepted, r.rejected) ?? -1;
      case "temp":
        return r.maxTemp ?? -1;
      case "uptime":
        return r.uptime;
      case "restarts":
        return r.restarts;
    }
  };
  const sorted = [...filtered].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    return c * sort.dir;
  });
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE));
  const shown = sorted.slice(
    Math.min(page, pages - 1) * PAGE,
    (Math.min(page, pages - 1) + 1) * PAGE,
  );
  // Rigs open to their miners by default on a wide screen with a small fleet; closed on a phone.
  const narrow = typeof matchMedia === "function" && matchMedia("(max-width: 800px)").matches;
  const isExpanded = (r: RigRow) => expanded[r.id] ?? (!narrow && all.length <= 20);
  const minerCount = all.reduce((a, r) => a + r.miners.filter((m) => m.stats).length, 0);
  const totals = s.health?.totals ?? [];

  const refresh = () => Promise.all([refreshFleet(), refreshMiners(), refreshHealth()]);
  const stopOne = (r: RigRow, name: string) =>
    r.local
      ? api("POST", `/miners/${encodeURIComponent(name)}/stop`)
      : api("POST", `/remote/${r.id}/stop`, { minerName: name });
  const markStopped = (pairs: [RigRow, string][]) =>
    setStopped((cur) => {
      const next = { ...cur };
      for (const [r, n] of pairs) next[r.id] = [...new Set([...(next[r.id] ?? []), n])];
      return next;
    });
  const stopMiners = async (targets: [RigRow, string][]) => {
    if (!targets.length) return toast("No running miners to stop", "error");
    const rigsN = new Set(targets.map(([r]) => r.id)).size;
    if (!confirm(`Stop ${targets.length} miner(s) on ${rigsN} rig(s)?`)) return;
    setBusy("stop");
    const results = await Promise.allSettled(targets.map(([r, n]) => stopOne(r, n)));
    const ok = targets.filter((_, i) => results[i].status === "fulfilled");
    markStopped(ok);
    const failed = results.filter((x) => x.status === "rejected") as PromiseRejectedResult[];
    if (failed.length) {
      toast(
        `${failed.length} of ${targets.length} stops failed: ${
          (failed[0].reason as Error).message
        }`,
        "error",
      );
    } else toast(`Stopped ${ok.map(([r, n]) => `${n} on ${r.name}`).join(", ")}`);
    await refresh().catch(() => {});
    setBusy(null);
  };
  const startOn = async (rigs: RigRow[]) => {
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return toast("Choose a profile first", "error");
    setBusy("start");
    const results = await Promise.allSettled(
      rigs.map((r) =>
        r.local
          ? api("POST", "/miners", { profile: p.id })
          : api("POST", `/remote/${r.id}/start`, { profileId: p.id, minerType: p.minerType })
      ),
    );
    const failed = results.filter((x) => x.status === "rejected") as PromiseRejectedResult[];
    setStopped((cur) => {
      const next = { ...cur };
      for (const r of rigs) next[r.id] = (next[r.id] ?? []).filter((n) => n !== p.name);
      return next;
    });
    if (failed.length) {
      toast(
        `Start ${p.name}: ${failed.length} of ${rigs.length} failed: ${
          (failed[0].reason as Error).message
        }`,
        "error",
      );
    } else toast(`Started ${p.name} on ${rigs.map((r) => r.name).join(", ")}`);
    await refresh().catch(() => {});
    setBusy(null);
  };
  const deploy = async (rigs: RigRow[]) => {
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return toast("Choose a profile first", "error");
    const targets = rigs.filter((r) => !r.local);
    if (!targets.length) {
      return toast("Deploy goes to other rigs: this node has the profile already", "error");
    }
    await Promise.all(targets.map(async (r) => {
      setDeploying((d) => ({ ...d, [r.id]: "sending…" }));
      try {
        for await (const line of ndjson(`/remote/${r.id}/deploy`, { profiles: [p.id] })) {
          if (line.event === "progress") {
            setDeploying((d) => ({
              ...d,
              [r.id]: `${bytes(line.received as number)} / ${bytes(line.total as number)}`,
            }));
          } else if (line.event === "done") {
            const ack = line.ack as { success: boolean; error?: string };
            if (!ack.success) throw new Error(ack.error ?? "refused");
            setDeploying((d) => ({ ...d, [r.id]: "deployed" }));
            toast(`Deployed ${p.name} to ${r.name}`);
          } else if (line.event === "error") throw new Error(String(line.message));
        }
      } catch (err) {
        setDeploying((d) => ({ ...d, [r.id]: "failed" }));
        toast(`Deploy to ${r.name} failed: ${(err as Error).message}`, "error");
      }
    }));
  };
  const picked = all.filter((r) => selected.has(r.id));
  const toggle = (id: string) =>
    setSelected((cur) => {
      const next = new Set(cur);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const Th = (p: { k?: SortKey; label: string; num?: boolean }) => (
    <th
      class={`${p.num ? "num " : ""}${p.k ? "sortable" : ""}`}
      aria-sort={p.k && sort.key === p.k
        ? (sort.dir === 1 ? "ascending" : "descending")
        : undefined}
      onClick={p.k
        ? () => setSort({ key: p.k!, dir: sort.key === p.k && sort.dir === 1 ? -1 : 1 })
        : undefined}
      data-sort={p.k}
    >
      {p.label}
    </th>
  );

  const pool = props.params.get("view") === "pool";
  const views = (
    <div class="tabs" role="group" aria-label="Fleet view">
      <button type="button" aria-pressed={!pool} onClick={() => (location.hash = "#/fleet")}>
        Rigs
      </button>
      <button
        type="button"
        aria-pressed={pool}
        onClick={() => (location.hash = "#/fleet?view=pool")}
      >
        Pool
      </button>
    </div>
  );
  if (pool) {
    return (
      <>
        <h1>Fleet</h1>
        {views}
        <PoolView />
      </>
    );
  }

  return (
    <>
      <h1>Fleet</h1>
      {views}
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
              ).map((
                k,
              ) => <span key={k} class={`badge health-${k}`}>{s.health!.counts[k]} {k}</span>)}
            </div>
          </div>
        )}
        <div>
          <div class="muted">Miners</div>
          <div data-testid="fleet-miner-count">{minerCount}</div>
        </div>
        <div class="muted">
          {s.fleet?.cachedAt ? `updated ${ago(s.fleet.cachedAt)}` : "no fleet poll yet"}
        </div>
        <button type="button" onClick={() => attempt("Refresh", refresh)}>Refresh</button>
      </div>
      <div class="card row" data-testid="fleet-filters">
        <label>
          State
          <select
            name="state"
            value={stateFilter}
            onChange={(e) => (setStateFilter((e.target as HTMLSelectElement).value), setPage(0))}
          >
            <option value="">all</option>
            {(["down", "degraded", "unknown", "idle", "ok"] as const).map((x) => (
              <option key={x} value={x}>{x}</option>
            ))}
          </select>
        </label>
        <label>
          Algorithm
          <select
            name="algorithm"
            value={algoFilter}
            onChange={(e) => (setAlgoFilter((e.target as HTMLSelectElement).value), setPage(0))}
          >
            <option value="">all</option>
            {algorithms.map((a) => <option key={a} value={a}>{a}</option>)}
          </select>
        </label>
        <label>
          Tag
          <select
            name="tag"
            value={tagFilter}
            onChange={(e) => (setTagFilter((e.target as HTMLSelectElement).value), setPage(0))}
          >
            <option value="">all</option>
            {tags.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label>
          Search
          <input
            name="search"
            type="search"
            value={text}
            placeholder="rig, miner, pool, reason"
            onInput={(e) => (setText((e.target as HTMLInputElement).value), setPage(0))}
          />
        </label>
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
      </div>
      {picked.length > 0 && (
        <div class="card row bulkbar" data-testid="bulk-bar">
          <strong>{picked.length} rig(s) selected:</strong>
          <button
            type="button"
            disabled={busy !== null || !profile}
            onClick={() => startOn(picked)}
          >
            Start profile
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy !== null}
            onClick={() =>
              stopMiners(
                picked.flatMap((r) =>
                  r.miners.filter((m) => m.stats && m.stats.state !== "stopped").map((m) =>
                    [r, m.name] as [RigRow, string]
                  )
                ),
              )}
          >
            Stop miners
          </button>
          <button type="button" disabled={busy !== null || !profile} onClick={() => deploy(picked)}>
            Deploy profile
          </button>
          <input
            name="bulk-tag"
            value={bulkTag}
            placeholder="tag"
            aria-label="tag to add to the selected rigs"
            onInput={(e) => setBulkTag((e.target as HTMLInputElement).value)}
          />
          <button
            type="button"
            disabled={busy !== null || !bulkTag.trim()}
            onClick={async () => {
              const tag = bulkTag.trim();
              const rigs = picked.filter((r) => !r.local);
              setBusy("tag");
              const results = await Promise.allSettled(
                rigs.map((r) =>
                  api("PUT", `/peers/${r.id}/tags`, { tags: [...new Set([...r.tags, tag])] })
                ),
              );
              const failed = results.filter((x) =>
                x.status === "rejected"
              ) as PromiseRejectedResult[];
              if (failed.length) {
                toast(
                  `Tag ${tag}: ${failed.length} failed: ${(failed[0].reason as Error).message}`,
                  "error",
                );
              } else toast(`Tagged ${rigs.length} rig(s) ${tag}`);
              setBulkTag("");
              await refreshPeers().catch(() => {});
              setBusy(null);
            }}
          >
            Add tag
          </button>
          <button type="button" onClick={() => setSelected(new Set())}>Clear</button>
        </div>
      )}
      {all.length === 0 && (
        <div class="card empty">
          No rigs yet. Add workers on the <a href="#/nodes">Nodes</a> page.
        </div>
      )}
      {all.length > 0 && (
        <div class="table-wrap">
          <table data-testid="fleet-table">
            <thead>
              <tr>
                <th>
                  <input
                    type="checkbox"
                    aria-label="select every rig shown"
                    checked={shown.length > 0 && shown.every((r) => selected.has(r.id))}
                    onChange={(e) =>
                      setSelected(
                        (e.target as HTMLInputElement).checked
                          ? new Set(shown.map((r) => r.id))
                          : new Set(),
                      )}
                  />
                </th>
                <Th k="name" label="Rig / miner" />
                <Th k="state" label="State" />
                <Th label="Algorithm" />
                <Th k="hashrate" label="Hashrate" num />
                <Th label="Shares" num />
                <Th k="rejects" label="Reject %" num />
                <Th k="temp" label="Temp" num />
                <Th label="Pool" />
                <Th k="uptime" label="Uptime" num />
                <Th k="restarts" label="Restarts" num />
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => [
                <tr
                  key={`g:${r.id}`}
                  class={`group ${r.online ? "" : "offline"}`}
                  data-group={r.name.replace(" (this node)", "")}
                  data-state={r.state}
                >
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`select rig ${r.name}`}
                      checked={selected.has(r.id)}
                      onChange={() => toggle(r.id)}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={isExpanded(r)}
                      aria-label={`${isExpanded(r) ? "collapse" : "expand"} ${r.name}`}
                      onClick={() => setExpanded((x) => ({ ...x, [r.id]: !isExpanded(r) }))}
                    >
                      {isExpanded(r) ? "▾" : "▸"}
                    </button>{" "}
                    <a href={`#/rig?id=${r.id}`}>{r.name}</a>
                    {r.tags.map((t) => <span key={t} class="badge tag">{t}</span>)}
                    {deploying[r.id] && <span class="muted">· deploy: {deploying[r.id]}</span>}
                  </td>
                  <td class="wrap">
                    <span class={`badge health-${r.state}`}>{r.state}</span>
                    {r.health?.since && r.state !== "ok" && (
                      <span class="muted">since {ago(r.health.since)}</span>
                    )}
                    {r.reason && (
                      <div class="reason" title={r.reason}>{r.reason.slice(0, 240)}</div>
                    )}
                  </td>
                  <td>{r.algorithms.join(", ") || "–"}</td>
                  <td class="num">
                    {hashrate(r.hashrate)}
                    {r.expected !== null && <div class="muted">of {hashrate(r.expected)}</div>}
                  </td>
                  <td class="num opt">{r.accepted}/{r.rejected}</td>
                  <td class="num opt">{rejectPct(r.accepted, r.rejected)?.toFixed(1) ?? "–"}</td>
                  <td class="num">{r.maxTemp !== null ? `${r.maxTemp} °C` : "–"}</td>
                  <td class="pool opt" title={r.pools.join(", ")}>{r.pools.join(", ") || "–"}</td>
                  <td class="num opt">{r.uptime ? duration(r.uptime) : "–"}</td>
                  <td class="num opt">{r.restarts}</td>
                  <td>
                    <button
                      type="button"
                      disabled={!r.online || busy !== null || !profile}
                      onClick={() => startOn([r])}
                      title={profile ? "" : "choose a profile above"}
                    >
                      {busy === "start" ? "Starting…" : "Start profile"}
                    </button>
                  </td>
                </tr>,
                ...(isExpanded(r)
                  ? (r.miners.length
                    ? r.miners.map((m) => (
                      <MinerRow
                        key={`${r.id}/${m.name}`}
                        r={r}
                        m={m}
                        busy={busy}
                        onStop={() => stopMiners([[r, m.name]])}
                        onDismiss={() =>
                          setStopped((cur) => ({
                            ...cur,
                            [r.id]: (cur[r.id] ?? []).filter((n) => n !== m.name),
                          }))}
                      />
                    ))
                    : [
                      <tr key={`e:${r.id}`} class="expanded-miner">
                        <td></td>
                        <td class="muted">{r.online ? "no miners" : "offline"}</td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                        <td></td>
                      </tr>,
                    ])
                  : []),
              ])}
            </tbody>
          </table>
        </div>
      )}
      {pages > 1 && (
        <div class="pager" data-testid="pager">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span>page {Math.min(page, pages - 1) + 1} of {pages} ({sorted.length} rigs)</span>
          <button type="button" disabled={page >= pages - 1} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </div>
      )}
      <p class="muted">{filtered.length} of {all.length} rigs shown.</p>
    </>
  );
}

function MinerRow(
  props: {
    r: RigRow;
    m: RigRow["miners"][number];
    busy: string | null;
    onStop: () => void;
    onDismiss: () => void;
  },
): JSX.Element {
  const { r, m } = props;
  const st = m.stats;
  const h = m.health;
  const temps = (h?.devices ?? []).map((d) => d.temp).filter((t): t is number => t !== null);
  const gone = !st;
  return (
    <tr class="expanded-miner" data-node={r.name.replace(" (this node)", "")} data-miner={m.name}>
      <td></td>
      <td>
        <a href={`#/console?${r.local ? "" : `peer=${r.id}&`}miner=${encodeURIComponent(m.name)}`}>
          {m.name}
        </a>
        {st && <span class="muted">{st.type}</span>}
      </td>
      <td class="wrap">
        <StateBadge state={gone ? "stopped" : st.state} />{" "}
        {h && h.state !== "idle" && <span class={`badge health-${h.state}`}>{h.state}</span>}
        {h && h.reasons.length > 0 && (
          <div class="reason">{h.reasons.map((x) => x.message).join("; ")}</div>
        )}
      </td>
      <td>{st?.algorithm ?? h?.algorithm ?? "–"}</td>
      <td class="num">
        {gone ? "–" : hashrate(st.hashrate.now)}
        {h?.expected ? <div class="muted">of {hashrate(h.expected)}</div> : null}
      </td>
      <td class="num opt">{st ? `${st.shares.accepted}/${st.shares.rejected}` : "–"}</td>
      <td class="num opt">
        {st ? rejectPct(st.shares.accepted, st.shares.rejected)?.toFixed(1) ?? "–" : "–"}
      </td>
      <td class="num">{temps.length ? `${Math.max(...temps)} °C` : "–"}</td>
      <td class="pool opt" title={st?.pool ?? ""}>{st?.pool ?? "–"}</td>
      <td class="num opt">{st ? duration(st.uptime) : "–"}</td>
      <td class="num opt">{st?.restarts ?? 0}</td>
      <td>
        {gone ? <button type="button" onClick={props.onDismiss}>Dismiss</button> : (
          <button
            type="button"
            class="danger"
            disabled={props.busy !== null || st.state === "stopped"}
            onClick={props.onStop}
          >
            {props.busy === "stop" ? "Stopping…" : "Stop"}
          </button>
        )}
      </td>
    </tr>
  );
}
