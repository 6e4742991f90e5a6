/**
 * Audit: who did what, when. This node's records (the operator's actions through the dashboard,
 * scripts and the CLI, with their source; commands peers sent it) or a worker's (what it accepted
 * and refused, read over the mesh). Online/offline churn is kept on its own tab.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ago } from "../format.ts";
import { useStore } from "../store.ts";
import type { AuditRecord } from "../types.ts";

const SCOPES = [["commands", "Commands"], ["presence", "Online/offline"], ["all", "All"]] as const;

function target(r: AuditRecord, names: Map<string, string>): string {
  const p = r.params ?? {};
  const parts = [
    typeof p.path === "string" ? p.path : "",
    ...["profileId", "profile", "minerName", "name", "rule", "rig", "ref"].filter((k) =>
      p[k] !== undefined
    )
      .map((k) => `${k}=${String(p[k])}`),
  ].filter(Boolean);
  // Rig IDs in paths read as their names.
  return parts.join(" ").replace(/[0-9a-f]{32}/g, (id) => names.get(id) ?? id).slice(0, 200);
}

/** The Audit page. */
export function AuditPage(): JSX.Element {
  const s = useStore();
  const [where, setWhere] = useState("");
  const [scope, setScope] = useState<(typeof SCOPES)[number][0]>("commands");
  const [records, setRecords] = useState<AuditRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setRecords(null);
    const q = `scope=${scope}&limit=300`;
    (where
      ? api<{ records: AuditRecord[] }>("GET", `/remote/${where}/audit?${q}`)
      : api<{ records: AuditRecord[] }>("GET", `/audit?${q}`))
      .then((r) => {
        setRecords(r.records);
        setError(null);
      })
      .catch((err) => setError((err as Error).message));
  }, [where, scope, tick]);
  const workers = s.peers.filter((p) => p.role !== "controller");
  const names = new Map(s.peers.map((p) => [p.id, p.name]));
  return (
    <>
      <h1>Audit</h1>
      <div class="card row">
        <label>
          Records of
          <select
            name="audit-node"
            value={where}
            onChange={(e) => setWhere((e.target as HTMLSelectElement).value)}
          >
            <option value="">this node ({s.node?.name ?? ""})</option>
            {workers.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </label>
        <div class="tabs" role="group" aria-label="Which records">
          {SCOPES.map(([k, label]) => (
            <button
              key={k}
              type="button"
              aria-pressed={scope === k}
              onClick={() => setScope(k)}
            >
              {label}
            </button>
          ))}
        </div>
        <button type="button" onClick={() => setTick((n) => n + 1)}>Refresh</button>
      </div>
      {error && <div class="error-box" role="alert">Audit: {error}</div>}
      {!error && records === null && <p class="muted">Loading…</p>}
      {records && records.length === 0 && <div class="card empty">No records.</div>}
      {records && records.length > 0 && (
        <div class="table-wrap">
          <table data-testid="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Source</th>
                <th>Action</th>
                <th>Target</th>
                <th>Outcome</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r, i) => (
                <tr
                  key={`${r.ts}:${i}`}
                  data-action={r.action}
                  data-source={r.source ?? "peer"}
                  data-outcome={r.outcome}
                >
                  <td title={r.ts}>{ago(r.ts)}</td>
                  <td>{r.source ? "operator" : r.peerName}</td>
                  <td>{r.source ?? "peer"}</td>
                  <td>{r.action}</td>
                  <td class="wrap">{target(r, names)}</td>
                  <td>
                    <span
                      class={`badge ${
                        r.outcome === "ok"
                          ? "running"
                          : r.outcome === "attempt"
                          ? "starting"
                          : "failed"
                      }`}
                    >
                      {r.outcome}
                    </span>
                  </td>
                  <td class="wrap">{r.reason ?? r.policy ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
