/**
 * Alerts: what fires and is pending (acknowledge, silence for an hour), what resolved lately,
 * the silences in force, the channels with their last delivery (send a test), and the rules.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ago } from "../format.ts";
import { refreshAlerts, toast, useStore } from "../store.ts";
import type { Alert, AlertRule, ChannelView } from "../types.ts";
import { useAction } from "./common.tsx";

function subject(a: Alert): string {
  return `${a.rig}${a.miner ? ` / ${a.miner}` : ""}${
    a.device !== null ? ` · device ${a.device}` : ""
  }`;
}

/** The Alerts page. */
export function AlertsPage(): JSX.Element {
  const s = useStore();
  const [channels, setChannels] = useState<ChannelView[] | null>(null);
  const [rules, setRules] = useState<AlertRule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      const [c, r] = await Promise.all([
        api<{ channels: ChannelView[] }>("GET", "/alerts/channels"),
        api<{ rules: AlertRule[] }>("GET", "/alerts/rules"),
        refreshAlerts(),
      ]);
      setChannels(c.channels);
      setRules(r.rules);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const { busy, run } = useAction(load);
  const view = s.alerts;
  const active = view ? [...view.firing, ...view.pending] : [];

  const ack = (a: Alert) =>
    run(`ack:${a.id}`, `Acknowledge ${a.rule} on ${a.rig}`, async () => {
      await api("POST", "/alerts/ack", { ref: a.id });
      toast(`acknowledged ${a.rule} on ${a.rig}: no repeats until it resolves`);
    });
  const silence = (a: Alert) =>
    run(`silence:${a.id}`, `Silence ${a.rule} on ${a.rig}`, async () => {
      await api("POST", "/alerts/silences", {
        rule: a.rule,
        rig: a.rigId,
        seconds: 3600,
        reason: "silenced from the dashboard",
      });
      toast(`silenced ${a.rule} on ${a.rig} for 1 hour`);
    });
  const unsilence = (id: string) =>
    run(`unsilence:${id}`, "End silence", async () => {
      await api("DELETE", `/alerts/silences/${encodeURIComponent(id)}`);
      toast("silence ended");
    });
  const test = (c: ChannelView) =>
    run(`test:${c.name}`, `Test ${c.name}`, async () => {
      const r = await api<{ ok: boolean; error: string | null; ms: number }>(
        "POST",
        `/alerts/channels/${encodeURIComponent(c.name)}/test`,
      );
      if (r.ok) toast(`test message delivered to ${c.name} in ${r.ms} ms`);
      else toast(`test message to ${c.name} failed: ${r.error}`, "error");
    });

  return (
    <>
      <h1>Alerts</h1>
      {error && <div class="error-box" role="alert">{error}</div>}
      <section class="card">
        <h2>Active</h2>
        {view === null
          ? <p class="muted">Loading…</p>
          : active.length === 0
          ? <p class="muted" data-testid="no-alerts">No alerts firing or pending.</p>
          : (
            <div class="scroll">
              <table data-testid="alerts-table">
                <thead>
                  <tr>
                    <th>State</th>
                    <th>Severity</th>
                    <th>Rule</th>
                    <th>Rig / miner</th>
                    <th>Summary</th>
                    <th>Since</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {active.map((a) => (
                    <tr key={a.id} data-alert={a.rule} data-rig={a.rig}>
                      <td>
                        <span class={`badge ${a.state === "firing" ? "failed" : "starting"}`}>
                          {a.silencedBy ? "silenced" : a.ackedAt ? `${a.state} · acked` : a.state}
                        </span>
                      </td>
                      <td>{a.severity}</td>
                      <td>{a.rule}</td>
                      <td>{subject(a)}</td>
                      <td class="wrap">{a.summary}</td>
                      <td>{ago(a.firedAt ?? a.activeAt)}</td>
                      <td class="actions">
                        {a.state === "firing" && !a.ackedAt && (
                          <button
                            type="button"
                            disabled={busy !== null}
                            onClick={() => ack(a)}
                          >
                            Acknowledge
                          </button>
                        )}
                        {!a.silencedBy && (
                          <button
                            type="button"
                            disabled={busy !== null}
                            onClick={() => silence(a)}
                          >
                            Silence 1 h
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        {view && view.silences.length > 0 && (
          <>
            <h3>Silences</h3>
            <ul>
              {view.silences.map((x) => (
                <li key={x.id}>
                  {[x.rule, x.rig].filter(Boolean).join(" on ")} until{" "}
                  {new Date(x.endsAt).toLocaleString()} ({x.reason}){" "}
                  <button type="button" disabled={busy !== null} onClick={() => unsilence(x.id)}>
                    End
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      <section class="card">
        <h2>Resolved (24 h)</h2>
        {!view || view.resolved.length === 0
          ? <p class="muted">Nothing resolved lately.</p>
          : (
            <ul data-testid="resolved-list">
              {view.resolved.slice(0, 30).map((a) => (
                <li key={`${a.id}:${a.resolvedAt}`}>
                  <strong>{a.rule}</strong> on {subject(a)} resolved {ago(a.resolvedAt)}
                  <span class="muted">· {a.summary}</span>
                </li>
              ))}
            </ul>
          )}
      </section>
      <section class="card">
        <h2>Channels</h2>
        {channels === null ? <p class="muted">Loading…</p> : channels.length === 0
          ? (
            <p class="muted">
              No channels yet: add one with{" "}
              <code>miner-cli alerts channels add NAME --type TYPE</code>.
            </p>
          )
          : (
            <div class="scroll">
              <table data-testid="channels-table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Type</th>
                    <th>Last delivery</th>
                    <th class="num">Delivered</th>
                    <th class="num">Failed</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {channels.map((c) => (
                    <tr key={c.name}>
                      <td>{c.name}</td>
                      <td>{c.type}</td>
                      <td class={c.status.ok === false ? "field-error wrap" : "wrap"}>
                        {c.status.at === null
                          ? "never"
                          : c.status.ok
                          ? `ok ${ago(c.status.at)}`
                          : `failing ${ago(c.status.at)}: ${c.status.error ?? ""}`}
                      </td>
                      <td class="num">{c.status.delivered}</td>
                      <td class="num">{c.status.failed}</td>
                      <td>
                        <button type="button" disabled={busy !== null} onClick={() => test(c)}>
                          {busy === `test:${c.name}` ? "Sending…" : "Send test"}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
      </section>
      <section class="card">
        <h2>Rules</h2>
        {rules === null ? <p class="muted">Loading…</p> : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th>Rule</th>
                  <th>On</th>
                  <th>Severity</th>
                  <th class="num">For</th>
                  <th>Threshold</th>
                </tr>
              </thead>
              <tbody>
                {rules.map((r) => (
                  <tr key={r.id}>
                    <td>{r.title}</td>
                    <td>{r.enabled ? "yes" : "no"}</td>
                    <td>{r.severity}</td>
                    <td class="num">{r.forSeconds} s</td>
                    <td>{r.thresholdKey ? `${r.thresholdKey} = ${r.threshold}` : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="muted">
          Change them with <code>miner-cli alerts rules set RULE --for 5m</code>{" "}
          (also --enabled, --severity, --threshold, --rigs, --tags).
        </p>
      </section>
    </>
  );
}
