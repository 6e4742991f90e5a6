/**
 * Workers: this node's miners — start from a profile, pause/resume, stop, per-miner stats.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { duration, hashrate } from "../format.ts";
import { refreshMiners, toast, useStore } from "../store.ts";
import { StateBadge, useAction, useProfiles } from "./common.tsx";

/** The Workers page. */
export function WorkersPage(): JSX.Element {
  const s = useStore();
  const { profiles, error } = useProfiles();
  const [profile, setProfile] = useState("");
  const { busy, run: act } = useAction(refreshMiners);
  if (s.node && !s.node.runsMiners) {
    return (
      <>
        <h1>This node</h1>
        <div class="card empty">
          This node is a controller: it runs no miners. See <a href="#/fleet">Fleet</a>{" "}
          for the miners of its workers.
        </div>
      </>
    );
  }
  const start = async (e: Event) => {
    e.preventDefault();
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return;
    const res = await act(
      "start",
      `Start ${p.name}`,
      () => api("POST", "/miners", { profile: p.id }),
    );
    if (res) toast(`started ${p.name}`);
  };
  return (
    <>
      <h1>This node</h1>
      <form class="card row" onSubmit={start}>
        <label>
          Profile
          <select
            name="profile"
            value={profile}
            onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}
            disabled={!profiles?.length}
          >
            <option value="">{profiles === null ? "Loading…" : "Choose a profile"}</option>
            {profiles?.map((p) => <option key={p.id} value={p.id}>{p.name} ({p.minerType})
            </option>)}
          </select>
        </label>
        <button class="primary" type="submit" disabled={!profile || busy === "start"}>
          {busy === "start" ? "Starting…" : "Start miner"}
        </button>
        {profiles?.length === 0 && (
          <span class="muted">
            No profiles yet: <a href="#/profiles">create one</a>.
          </span>
        )}
        {error && <span class="field-error">Profiles: {error}</span>}
      </form>
      {s.miners.length === 0
        ? <div class="card empty">No miners on this node. Start one from a profile above.</div>
        : (
          <table data-testid="workers-table">
            <thead>
              <tr>
                <th>Miner</th>
                <th>Type</th>
                <th>State</th>
                <th class="num">Hashrate</th>
                <th class="num">60 s</th>
                <th class="num">15 m</th>
                <th class="num">Shares (A/R)</th>
                <th class="num">Uptime</th>
                <th class="num">Restarts</th>
                <th>Pool</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {s.miners.map((m) => (
                <tr key={m.name} data-miner={m.name}>
                  <td>
                    <a href={`#/console?miner=${encodeURIComponent(m.name)}`}>{m.name}</a>
                    {m.lastError && <div class="field-error">{m.lastError}</div>}
                  </td>
                  <td>{m.type}</td>
                  <td>
                    <StateBadge state={m.state} />
                  </td>
                  <td class="num">{hashrate(m.hashrate.now)}</td>
                  <td class="num">{hashrate(m.hashrate.avg60)}</td>
                  <td class="num">{hashrate(m.hashrate.avg15m)}</td>
                  <td class="num">{m.shares.accepted}/{m.shares.rejected}</td>
                  <td class="num">{duration(m.uptime)}</td>
                  <td class="num">{m.restarts}</td>
                  <td class="mono">{m.pool ?? "–"}</td>
                  <td>
                    <div class="row">
                      <button
                        type="button"
                        disabled={busy !== null || m.state !== "running"}
                        onClick={() =>
                          act(m.name, `${m.paused ? "Resume" : "Pause"} ${m.name}`, () =>
                            api(
                              "POST",
                              `/miners/${encodeURIComponent(m.name)}/${
                                m.paused ? "resume" : "pause"
                              }`,
                            ))}
                      >
                        {m.paused ? "Resume" : "Pause"}
                      </button>
                      <button
                        type="button"
                        class="danger"
                        disabled={busy !== null}
                        onClick={() =>
                          act(
                            m.name,
                            `Stop ${m.name}`,
                            () => api("POST", `/miners/${encodeURIComponent(m.name)}/stop`),
                          )}
                      >
                        {busy === m.name ? "Stopping…" : "Stop"}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </>
  );
}
