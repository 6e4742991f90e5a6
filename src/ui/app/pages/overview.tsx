/**
 * Overview, the landing page: rigs per state, hashrate per algorithm (actual vs expected), the
 * alerts firing, and the rigs that need attention (down first, then degraded) with the reason
 * and since when. On a worker-only node: its own miners and whether its controllers are there.
 * @module
 */
import type { JSX } from "preact";
import { ago, hashrate } from "../format.ts";
import { useStore } from "../store.ts";
import type { HealthState, RigHealth } from "../types.ts";
import { Dot } from "./common.tsx";

const TILES: HealthState[] = ["down", "degraded", "ok", "idle", "unknown"];

function reasonOf(r: RigHealth): string {
  const own = r.reasons.map((x) => x.message);
  const miners = r.miners.flatMap((m) => m.reasons.map((x) => `${m.name}: ${x.message}`));
  return [...own, ...miners].join("; ") || (r.state === "unknown" ? "not heard from yet" : "");
}

/** The Overview page. */
export function OverviewPage(): JSX.Element {
  const s = useStore();
  const h = s.health;
  const worker = s.node?.role === "worker";
  const attention = (h?.rigs ?? []).filter((r) => r.state === "down" || r.state === "degraded");
  const firing = s.alerts?.firing ?? [];
  return (
    <>
      <h1>Overview</h1>
      {!h && <p class="muted">Loading the fleet's health…</p>}
      {h && (
        <div class="stat-tiles" data-testid="state-tiles">
          {TILES.map((st) => (
            <a
              key={st}
              class={`tile ${st}`}
              href={`#/fleet?state=${st}`}
              data-state={st}
              style="text-decoration:none;color:inherit"
            >
              <div class="muted">{st === "ok" ? "ok" : st}</div>
              <div class="big">{h.counts[st] ?? 0}</div>
              <div class="muted">rig{(h.counts[st] ?? 0) === 1 ? "" : "s"}</div>
            </a>
          ))}
        </div>
      )}
      {h && (
        <section class="card" data-testid="totals">
          <h2>Hashrate per algorithm</h2>
          {h.totals.length === 0 ? <p class="muted">Nothing is hashing.</p> : (
            <table>
              <thead>
                <tr>
                  <th>Algorithm</th>
                  <th class="num">Hashrate</th>
                  <th class="num">Expected</th>
                  <th class="num">Rigs</th>
                  <th class="num">Miners</th>
                </tr>
              </thead>
              <tbody>
                {h.totals.map((t) => (
                  <tr key={t.algorithm} data-algorithm={t.algorithm}>
                    <td>{t.algorithm}</td>
                    <td class="num">{hashrate(t.hashrate)}</td>
                    <td class="num">
                      {t.expected === null
                        ? "–"
                        : `${hashrate(t.expected)} (${
                          Math.round((t.hashrate / t.expected) * 100)
                        } %)`}
                    </td>
                    <td class="num">{t.rigs}</td>
                    <td class="num">{t.miners}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      <section class="card" data-testid="attention">
        <h2>Needs attention</h2>
        {h && attention.length === 0 && <p class="muted">Every rig is fine.</p>}
        {attention.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Rig</th>
                <th>State</th>
                <th>Since</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {attention.map((r) => (
                <tr key={r.id} data-rig={r.name} data-state={r.state}>
                  <td>
                    <a href={`#/rig?id=${r.id}`}>{r.name}</a>
                  </td>
                  <td>
                    <span class={`badge health-${r.state}`}>{r.state}</span>
                  </td>
                  <td>{r.since ? ago(r.since) : "–"}</td>
                  <td class="wrap">{reasonOf(r)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" data-testid="overview-alerts">
        <h2>
          Alerts firing <a href="#/alerts" class="muted">(all alerts)</a>
        </h2>
        {firing.length === 0 ? <p class="muted">None.</p> : (
          <ul>
            {firing.slice(0, 20).map((a) => (
              <li key={a.id}>
                <span class={`badge ${a.severity === "critical" ? "failed" : "starting"}`}>
                  {a.severity}
                </span>{" "}
                <strong>{a.rig}</strong>
                {a.miner ? ` / ${a.miner}` : ""}: {a.summary}{" "}
                <span class="muted">{ago(a.firedAt ?? a.activeAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      {worker && (
        <section class="card" data-testid="own-miners">
          <h2>This node's miners</h2>
          {s.miners.length === 0 ? <p class="muted">No miners running.</p> : (
            <table>
              <thead>
                <tr>
                  <th>Miner</th>
                  <th>State</th>
                  <th>Algorithm</th>
                  <th class="num">Hashrate</th>
                </tr>
              </thead>
              <tbody>
                {s.miners.map((m) => (
                  <tr key={m.name} data-miner={m.name}>
                    <td>{m.name}</td>
                    <td>{m.state}</td>
                    <td>{m.algorithm ?? "–"}</td>
                    <td class="num">{hashrate(m.hashrate.now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {worker && (
        <section class="card" data-testid="controllers">
          <h2>Controllers</h2>
          {s.peers.filter((p) => p.role !== "worker").length === 0
            ? <p class="muted">No controller registered yet (see Nodes).</p>
            : (
              <ul>
                {s.peers.filter((p) => p.role !== "worker").map((p) => (
                  <li key={p.id}>
                    <Dot online={p.online} /> {p.name}{" "}
                    <span class="muted">
                      {p.online === null
                        ? "not checked yet"
                        : p.online
                        ? "online"
                        : `offline: ${p.offlineReason ?? ""}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
        </section>
      )}
    </>
  );
}
