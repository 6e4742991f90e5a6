/**
 * The Fleet page's Pool view: the farm's stratum proxy — its upstreams in failover order (state,
 * latency, height, accepted/rejected, blocks), the miners' difficulty and ranges, every miner
 * behind it with its nonce range and shares, the reasons shares were rejected and the latest
 * shares. Upstreams are added and removed here (passwords are sent once and never shown again).
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ago, hashrate } from "../format.ts";
import { refreshStratum, useStore } from "../store.ts";
import type { ShareRecord, StratumStatus } from "../types.ts";
import { useAction } from "./common.tsx";

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

function UpstreamForm(props: { onDone: () => Promise<unknown> }): JSX.Element {
  const [url, setUrl] = useState("");
  const [user, setUser] = useState("");
  const [pass, setPass] = useState("");
  const action = useAction(props.onDone);
  return (
    <form
      class="card row"
      data-testid="upstream-form"
      onSubmit={(e) => {
        e.preventDefault();
        action.run("add", "Add upstream", async () => {
          await api("POST", "/stratum/upstreams", {
            url: url.trim(),
            user: user.trim(),
            ...(pass ? { pass } : {}),
          });
          setUrl("");
          setUser("");
          setPass("");
        });
      }}
    >
      <label>
        Upstream
        <input
          name="upstream-url"
          value={url}
          required
          placeholder="daemon+http://127.0.0.1:18081 or stratum+ssl://pool:443"
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Wallet / login
        <input
          name="upstream-user"
          value={user}
          required
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Password
        <input
          name="upstream-pass"
          type="password"
          value={pass}
          autocomplete="off"
          onInput={(e) => setPass((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit" disabled={action.busy !== null}>Add upstream</button>
    </form>
  );
}

function Settings(props: { status: StratumStatus; onDone: () => Promise<unknown> }): JSX.Element {
  const [difficulty, setDifficulty] = useState(String(props.status.difficulty));
  const [ranges, setRanges] = useState(String(props.status.ranges));
  const action = useAction(props.onDone);
  return (
    <form
      class="card row"
      data-testid="stratum-settings"
      onSubmit={(e) => {
        e.preventDefault();
        action.run("set", "Stratum settings", () =>
          api("PUT", "/stratum/settings", {
            difficulty: Number(difficulty),
            ranges: Number(ranges),
          }));
      }}
    >
      <label>
        Miners' difficulty
        <input
          name="difficulty"
          type="number"
          min="1"
          value={difficulty}
          onInput={(e) => setDifficulty((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Nonce ranges per blob
        <input
          name="ranges"
          type="number"
          min="1"
          max="256"
          value={ranges}
          onInput={(e) => setRanges((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit" disabled={action.busy !== null}>Save</button>
      <span class="muted">
        Capped at the upstream's difficulty, so no block is missed. Beyond one blob's ranges, a
        daemon upstream gives the next miners blobs with other extra nonces.
      </span>
    </form>
  );
}

/** The Pool view. */
export function PoolView(): JSX.Element {
  const s = useStore();
  const [shares, setShares] = useState<ShareRecord[] | null>(null);
  const [rig, setRig] = useState<{ url: string | null } | null>(null);
  const reload = () =>
    Promise.all([
      refreshStratum(),
      api<{ shares: ShareRecord[] }>("GET", "/stratum/shares?limit=10")
        .then((r) => setShares(r.shares), () => setShares([])),
    ]);
  useEffect(() => {
    reload().catch(() => {});
    api<{ url: string | null }>("GET", "/stratum/rig").then(setRig, () => {});
  }, []);
  // The miners' rows and the log are read again when the proxy says something changed.
  const t = s.stratum && s.stratum !== "off" ? s.stratum.totals : null;
  useEffect(() => {
    if (t) {
      api<{ shares: ShareRecord[] }>("GET", "/stratum/shares?limit=10")
        .then((r) => setShares(r.shares), () => {});
    }
  }, [t?.accepted, t?.rejected, t?.stale, t?.blocks]);
  const action = useAction(reload);
  const st = s.stratum;
  if (st === null) return <p class="muted">Loading…</p>;
  if (st === "off") {
    return (
      <div class="card empty" data-testid="pool-off">
        This node is a rig: the farm's proxy runs on its controller.
        {rig?.url && (
          <>
            Miners with <code>--pool farm</code> connect here to {rig.url}.
          </>
        )}
      </div>
    );
  }
  const reasons = Object.entries(st.rejectReasons);
  const loginOf = new Map(st.miners.map((m) => [`${m.rig}/${m.miner}`, m.login]));
  return (
    <div data-testid="pool-view">
      <div class="card row">
        <div>
          <div class="muted">Hashrate from shares</div>
          <div class="total" data-testid="pool-hashrate">{hashrate(st.totals.hashrate)}</div>
        </div>
        <div>
          <div class="muted">Miners</div>
          <div data-testid="pool-miners">{st.totals.miners}</div>
        </div>
        <div>
          <div class="muted">Shares</div>
          <div data-testid="pool-shares">
            {st.totals.accepted} accepted · {st.totals.stale} stale · {st.totals.rejected} rejected
          </div>
        </div>
        <div>
          <div class="muted">Upstream</div>
          <div>
            {st.totals.upstreamAccepted} accepted · {st.totals.upstreamRejected} rejected ·{" "}
            {st.totals.blocks} block(s)
          </div>
        </div>
        <div>
          <div class="muted">Free ranges</div>
          <div>{st.totals.freeSlots}</div>
        </div>
        {reasons.length > 0 && (
          <div data-testid="pool-reasons">
            <div class="muted">Rejected because</div>
            <div>
              {reasons.map(([k, v]) => (
                <span key={k} class="badge failed">{k.replace(/_/g, " ")} {v}</span>
              ))}
            </div>
          </div>
        )}
      </div>
      <h2>Upstreams</h2>
      {st.upstreams.length === 0 && (
        <div class="card empty">
          No upstreams: miners with <code>--pool farm</code>{" "}
          wait for work. Add a pool or a Monero daemon for solo mining below.
        </div>
      )}
      {st.upstreams.length > 0 && (
        <div class="table-wrap">
          <table data-testid="upstreams-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Upstream</th>
                <th>State</th>
                <th class="num">Latency</th>
                <th class="num">Height</th>
                <th class="num">Difficulty</th>
                <th class="num">Accepted</th>
                <th class="num">Rejected</th>
                <th class="num">Blocks</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {st.upstreams.map((u) => (
                <tr key={u.url} data-upstream={u.url}>
                  <td>{u.index}</td>
                  <td>
                    {u.url} <span class="muted">{u.kind}</span>
                    {u.active && <span class="badge running">active</span>}
                  </td>
                  <td>
                    <span
                      class={`badge ${
                        u.state === "up" ? "running" : u.state === "down" ? "failed" : "starting"
                      }`}
                    >
                      {u.state}
                    </span>{" "}
                    <span class="muted">{ago(u.since)}</span>
                    {u.state !== "up" && u.lastError && <div class="reason">{u.lastError}</div>}
                  </td>
                  <td class="num">{u.latencyMs === null ? "–" : `${u.latencyMs} ms`}</td>
                  <td class="num">{u.height ?? "–"}</td>
                  <td class="num">{u.difficulty ?? "–"}</td>
                  <td class="num">{u.accepted}</td>
                  <td class="num">{u.rejected}</td>
                  <td class="num">{u.blocks}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      disabled={action.busy !== null}
                      onClick={() =>
                        confirm(`Remove upstream ${u.url}?`) &&
                        action.run(
                          u.url,
                          "Remove upstream",
                          () => api("DELETE", `/stratum/upstreams/${encodeURIComponent(u.url)}`),
                        )}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <UpstreamForm onDone={reload} />
      <Settings key={`${st.difficulty}/${st.ranges}`} status={st} onDone={reload} />
      <h2>Miners</h2>
      {st.miners.length === 0
        ? (
          <div class="card empty">
            No miners connected: rigs' profiles with <code>--pool farm</code> mine here.
          </div>
        )
        : (
          <div class="table-wrap">
            <table data-testid="pool-miners-table">
              <thead>
                <tr>
                  <th>Rig</th>
                  <th>Miner</th>
                  <th>Range</th>
                  <th class="num">Accepted</th>
                  <th class="num">Stale</th>
                  <th class="num">Rejected</th>
                  <th class="num">Upstream ok/rej</th>
                  <th class="num">Best diff</th>
                  <th class="num">Hashrate</th>
                  <th>Last share</th>
                </tr>
              </thead>
              <tbody>
                {st.miners.map((m) => (
                  <tr key={`${m.rig}/${m.miner}`}>
                    <td>
                      <a href={`#/rig?id=${m.rig}`}>{m.rigName}</a>
                    </td>
                    <td>
                      {m.login || m.miner} <span class="muted">{m.agent.split(" ")[0]}</span>
                    </td>
                    <td title="extra nonce : nonce high byte">
                      {m.extraNonce ? `${m.extraNonce}:` : ""}
                      {hex2(m.slot)}
                    </td>
                    <td class="num">{m.accepted}</td>
                    <td class="num">{m.stale}</td>
                    <td class="num">{m.rejected}</td>
                    <td class="num">{m.upstreamAccepted}/{m.upstreamRejected}</td>
                    <td class="num">{m.bestDifficulty.toLocaleString()}</td>
                    <td class="num">{hashrate(m.hashrate)}</td>
                    <td>{m.lastShareAt ? ago(m.lastShareAt) : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      <h2>Latest shares</h2>
      {shares && shares.length > 0
        ? (
          <div class="table-wrap">
            <table data-testid="pool-shares-table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Miner</th>
                  <th>Job</th>
                  <th>Nonce</th>
                  <th class="num">Difficulty</th>
                  <th>Verdict</th>
                  <th>Upstream</th>
                </tr>
              </thead>
              <tbody>
                {[...shares].reverse().map((r, i) => (
                  <tr key={`${r.at}/${i}`}>
                    <td>{ago(r.at)}</td>
                    <td>{loginOf.get(`${r.rig}/${r.miner}`) || r.miner}</td>
                    <td>{r.jobId}</td>
                    <td>
                      <code>{r.nonce}</code>
                    </td>
                    <td class="num">{r.difficulty.toLocaleString()}</td>
                    <td>
                      <span
                        class={`badge ${
                          r.verdict === "rejected"
                            ? "failed"
                            : r.verdict === "stale"
                            ? "paused"
                            : "running"
                        }`}
                      >
                        {r.reason ? r.reason.replace(/_/g, " ") : r.verdict}
                      </span>
                    </td>
                    <td>
                      {r.upstream ? `${r.block ? "block " : ""}${r.upstream}` : "–"}
                      {r.upstreamError && <span class="muted">{r.upstreamError}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
        : <div class="card empty">No shares yet.</div>}
    </div>
  );
}
