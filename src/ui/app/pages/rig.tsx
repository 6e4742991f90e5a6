/**
 * A rig's page (`#/rig?id=ID`): identity and hardware, its state with reasons and since when,
 * its devices (hashrate, temperature, fan, power, limit), its miners with their console, a
 * hashrate chart per miner, its alerts, tags, and actions: start a profile, stop a miner (asks
 * first), deploy a profile or upload a miner bundle with progress and a result.
 * @module
 */
import type { JSX } from "preact";
import uPlot from "uplot";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ndjson } from "../api.ts";
import { ago, bytes, duration, hashrate } from "../format.ts";
import {
  refreshFleet,
  refreshHealth,
  refreshMiners,
  refreshPeers,
  toast,
  useStore,
} from "../store.ts";
import type { Capabilities } from "../types.ts";
import { hashrateAxis } from "../chart.ts";
import { Dot, StateBadge, useProfiles } from "./common.tsx";

const COLORS = [
  "#1f6f5c",
  "#c8372d",
  "#b7791f",
  "#3b5bdb",
  "#7b2cbf",
  "#2b8a3e",
  "#e8590c",
  "#495057",
];

/** A miner's device temperatures and its shares over the last hour. */
function SensorCharts(props: { series: string; title: string }): JSX.Element {
  const temps = useRef<HTMLDivElement>(null);
  const shares = useRef<HTMLDivElement>(null);
  const [noTemps, setNoTemps] = useState(false);
  useEffect(() => {
    const plots: uPlot[] = [];
    const to = Date.now();
    const from = to - 3_600_000;
    const q = new URLSearchParams({ miner: props.series, from: String(from), to: String(to) });
    api<{ devices: { device: number; points: { ts: number; temp: number | null }[] }[] }>(
      "GET",
      `/history/devices?${q}`,
    ).then((r) => {
      const devs = r.devices.filter((d) => d.points.some((p) => p.temp !== null));
      if (!temps.current || !devs.length) return setNoTemps(true);
      // One x axis for every device: the union of their sample times.
      const xs = [...new Set(devs.flatMap((d) => d.points.map((p) => p.ts)))].sort((a, b) => a - b);
      const ys = devs.map((d) => {
        const by = new Map(d.points.map((p) => [p.ts, p.temp]));
        return xs.map((x) => by.get(x) ?? null);
      });
      plots.push(
        new uPlot(
          {
            width: Math.max(260, temps.current.clientWidth - 8),
            height: 160,
            scales: { x: { time: true } },
            axes: [{}, { values: (_u, v) => v.map((x) => `${x} °C`), size: 60 }],
            series: [
              {},
              ...devs.map((d, i) => ({
                label: `device ${d.device}`,
                stroke: COLORS[i % COLORS.length],
                width: 2,
                value: (_u: uPlot, v: number | null) => (v === null ? "–" : `${Math.round(v)} °C`),
              })),
            ],
          },
          [xs.map((x) => x / 1000), ...ys],
          temps.current,
        ),
      );
    }).catch(() => setNoTemps(true));
    api<{ points: { ts: number; accepted: number; rejected: number }[] }>("GET", `/history?${q}`)
      .then((r) => {
        if (!shares.current || !r.points.length) return;
        plots.push(
          new uPlot({
            width: Math.max(260, shares.current.clientWidth - 8),
            height: 140,
            scales: { x: { time: true } },
            axes: [{}, { size: 60 }],
            series: [
              {},
              { label: "accepted", stroke: "#1f6f5c", width: 2 },
              { label: "rejected", stroke: "#c8372d", width: 2 },
            ],
          }, [
            r.points.map((p) => p.ts / 1000),
            r.points.map((p) => p.accepted),
            r.points.map((p) => p.rejected),
          ], shares.current),
        );
      }).catch(() => {});
    return () => plots.forEach((p) => p.destroy());
  }, [props.series]);
  return (
    <div>
      <div class="muted">{props.title}: device temperatures (last hour)</div>
      {noTemps
        ? <p class="muted">No device temperatures reported.</p>
        : <div class="chart" ref={temps} data-testid="rig-temps" />}
      <div class="muted">{props.title}: shares (last hour)</div>
      <div class="chart" ref={shares} data-testid="rig-shares" />
    </div>
  );
}

function MinerChart(props: { series: string; title: string }): JSX.Element {
  const el = useRef<HTMLDivElement>(null);
  const [empty, setEmpty] = useState(false);
  useEffect(() => {
    let plot: uPlot | null = null;
    const to = Date.now();
    const q = new URLSearchParams({
      miner: props.series,
      from: String(to - 3_600_000),
      to: String(to),
    });
    api<{ points: { ts: number; hashrate: number }[] }>("GET", `/history?${q}`).then((r) => {
      if (!el.current) return;
      if (!r.points.length) return setEmpty(true);
      plot = new uPlot(
        {
          width: Math.max(260, el.current.clientWidth - 8),
          height: 160,
          scales: { x: { time: true } },
          axes: [{}, hashrateAxis(() => el.current)],
          series: [{}, {
            label: props.title,
            stroke: "#1f6f5c",
            width: 2,
            value: (_u, v) => hashrate(v),
          }],
        },
        [r.points.map((p) => p.ts / 1000), r.points.map((p) => p.hashrate)],
        el.current,
      );
    }).catch(() => setEmpty(true));
    return () => plot?.destroy();
  }, [props.series]);
  return (
    <div>
      <div class="muted">{props.title} (last hour)</div>
      {empty
        ? <p class="muted">No history yet.</p>
        : <div class="chart" ref={el} data-testid="rig-chart" />}
    </div>
  );
}

/** The Rig page. */
export function RigPage(props: { params: URLSearchParams }): JSX.Element {
  const s = useStore();
  const id = props.params.get("id") ?? "";
  const { profiles } = useProfiles();
  const [profile, setProfile] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [deploy, setDeploy] = useState<{ phase: string; text: string } | null>(null);
  const [tags, setTags] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const local = id === s.node?.id;
  const peer = s.peers.find((p) => p.id === id);
  const row = s.fleet?.peers.find((p) => p.id === id);
  const h = s.health?.rigs.find((r) => r.id === id) ?? row?.health ?? null;
  const stats = local ? s.miners : row?.miners ?? [];
  const name = local ? s.node?.name : peer?.name ?? row?.name;
  if (!name) {
    return (
      <>
        <h1>Rig</h1>
        <div class="card empty">
          No rig {id || "(none given)"} here. Back to the <a href="#/fleet">Fleet</a>.
        </div>
      </>
    );
  }
  const caps = (peer?.capabilities ?? row?.capabilities ?? null) as Capabilities | null;
  const refresh = () =>
    Promise.all([refreshFleet(), refreshMiners(), refreshHealth(), refreshPeers()]);
  const run = async (key: string, what: string, fn: () => Promise<unknown>) => {
    setBusy(key);
    try {
      await fn();
      toast(what);
    } catch (err) {
      toast(`${what} failed: ${(err as Error).message}`, "error");
    } finally {
      await refresh().catch(() => {});
      setBusy(null);
    }
  };
  const stop = (miner: string) => {
    if (!confirm(`Stop ${miner} on ${name}?`)) return;
    run(
      `stop:${miner}`,
      `Stopped ${miner} on ${name}`,
      () =>
        local
          ? api("POST", `/miners/${encodeURIComponent(miner)}/stop`)
          : api("POST", `/remote/${id}/stop`, { minerName: miner }),
    );
  };
  const restart = (miner: string, profileId: string | null) => {
    if (!profileId || !confirm(`Restart ${miner} on ${name}?`)) return;
    run(`restart:${miner}`, `Restarted ${miner} on ${name}`, async () => {
      if (local) {
        await api("POST", `/miners/${encodeURIComponent(miner)}/stop`);
        await api("POST", "/miners", { profile: profileId });
      } else {
        await api("POST", `/remote/${id}/stop`, { minerName: miner });
        await api("POST", `/remote/${id}/start`, {
          profileId,
          minerType: stats.find((x) => x.name === miner)?.type,
        });
      }
    });
  };
  const start = () => {
    const p = profiles?.find((x) => x.id === profile);
    if (!p) return toast("Choose a profile first", "error");
    run(
      "start",
      `Started ${p.name} on ${name}`,
      () =>
        local
          ? api("POST", "/miners", { profile: p.id })
          : api("POST", `/remote/${id}/start`, { profileId: p.id, minerType: p.minerType }),
    );
  };
  /** Sends a profile (JSON) or an uploaded bundle (tar) and follows the worker's progress. */
  const send = async (body: { profiles: string[] } | File) => {
    setDeploy({ phase: "progress", text: "sending…" });
    try {
      for await (const line of ndjson(`/remote/${id}/deploy`, body)) {
        if (line.event === "progress") {
          setDeploy({
            phase: "progress",
            text: `${bytes(line.received as number)} of ${bytes(line.total as number)}`,
          });
        } else if (line.event === "done") {
          const ack = line.ack as {
            success: boolean;
            error?: string;
            name?: string;
            version?: string;
          };
          if (!ack.success) throw new Error(ack.error ?? "refused");
          setDeploy({
            phase: "done",
            text: `deployed ${ack.name ?? ""} ${ack.version ?? ""}`.trim(),
          });
          toast(`Deployed to ${name}`);
        } else if (line.event === "error") throw new Error(String(line.message));
      }
    } catch (err) {
      setDeploy({ phase: "error", text: (err as Error).message });
      toast(`Deploy to ${name} failed: ${(err as Error).message}`, "error");
    }
  };
  const alerts = (s.alerts?.firing ?? []).concat(s.alerts?.pending ?? []).filter((a) =>
    a.rigId === id
  );
  const resolved = (s.alerts?.resolved ?? []).filter((a) => a.rigId === id).slice(0, 10);
  const devices = (h?.miners ?? []).flatMap((m) => m.devices.map((d) => ({ ...d, miner: m.name })));
  return (
    <>
      <h1>
        {name} {local && <span class="muted">(this node)</span>}
      </h1>
      <div class="card row" data-testid="rig-identity">
        <div>
          <div class="muted">State</div>
          <span class={`badge health-${h?.state ?? "unknown"}`} data-testid="rig-state">
            {h?.state ?? "unknown"}
          </span>
          {h?.since && <span class="muted">since {ago(h.since)}</span>}
        </div>
        {!local && (
          <div>
            <div class="muted">Link</div>
            <Dot online={peer?.online ?? row?.online ?? null} /> {peer?.address ?? "connects in"}
            {peer?.pingMs !== null && peer?.pingMs !== undefined && (
              <span class="muted">· {Math.round(peer.pingMs * 10) / 10} ms</span>
            )}
          </div>
        )}
        <div>
          <div class="muted">ID</div>
          <code>{id.slice(0, 16)}…</code>
        </div>
        {caps && (
          <div>
            <div class="muted">Hardware</div>
            {caps.os}/{caps.arch} · {caps.cpuModel ?? "CPU"} ({caps.threads}T) ·{" "}
            {caps.memTotalMB ? `${Math.round(caps.memTotalMB / 1024)} GB RAM` : "RAM ?"} ·{" "}
            {caps.gpus.length ? caps.gpus.map((g) => g.name).join(", ") : "no GPU"}
          </div>
        )}
      </div>
      {h && (h.reasons.length > 0 || h.miners.some((m) => m.reasons.length)) && (
        <div class="card" data-testid="rig-reasons">
          <h2>Why</h2>
          <ul>
            {h.reasons.map((r, i) => <li key={`r${i}`}>{r.message}</li>)}
            {h.miners.flatMap((m) =>
              m.reasons.map((r, i) => <li key={`${m.name}${i}`}>{m.name}: {r.message}</li>)
            )}
          </ul>
        </div>
      )}
      {!local && (
        <div class="card row">
          <label>
            Tags
            <input
              name="tags"
              value={tags ?? (peer?.tags ?? []).join(",")}
              placeholder="gpu,room-2"
              onInput={(e) => setTags((e.target as HTMLInputElement).value)}
            />
          </label>
          <button
            type="button"
            disabled={busy !== null || tags === null}
            onClick={() =>
              run("tags", `Tags of ${name} saved`, async () => {
                await api("PUT", `/peers/${id}/tags`, {
                  tags: (tags ?? "").split(",").map((t) => t.trim()).filter(Boolean),
                });
                setTags(null);
              })}
          >
            Save tags
          </button>
        </div>
      )}
      <section class="card">
        <h2>Miners</h2>
        <div class="row">
          <label>
            Profile
            <select
              name="rig-profile"
              value={profile}
              onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}
            >
              <option value="">{profiles === null ? "Loading…" : "Choose a profile"}</option>
              {profiles?.map((p) => (
                <option key={p.id} value={p.id}>{p.name} ({p.minerType})</option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!profile || busy !== null} onClick={start}>
            Start profile
          </button>
          {!local && (
            <button
              type="button"
              disabled={!profile || busy !== null}
              onClick={() => send({ profiles: [profile] })}
            >
              Deploy profile
            </button>
          )}
          {!local && (
            <label>
              Miner bundle (.tar)
              <input ref={file} name="bundle" type="file" accept=".tar,application/x-tar" />
            </label>
          )}
          {!local && (
            <button
              type="button"
              disabled={busy !== null}
              onClick={() => {
                const f = file.current?.files?.[0];
                if (!f) return toast("Choose a bundle file (miner-cli bundle create)", "error");
                send(f);
              }}
            >
              Upload bundle
            </button>
          )}
        </div>
        {deploy && (
          <p
            data-testid="deploy-status"
            data-phase={deploy.phase}
            class={deploy.phase === "error" ? "field-error" : ""}
          >
            Deploy: {deploy.text}
          </p>
        )}
        {stats.length === 0 ? <p class="muted">No miners running.</p> : (
          <div class="table-wrap">
            <table data-testid="rig-miners">
              <thead>
                <tr>
                  <th>Miner</th>
                  <th>State</th>
                  <th>Algorithm</th>
                  <th class="num">Hashrate</th>
                  <th class="num">Shares</th>
                  <th>Pool</th>
                  <th class="num">Uptime</th>
                  <th class="num">Restarts</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {stats.map((m) => {
                  const mh = h?.miners.find((x) => x.name === m.name);
                  return (
                    <tr key={m.name} data-miner={m.name}>
                      <td>
                        <a
                          href={`#/console?${local ? "" : `peer=${id}&`}miner=${
                            encodeURIComponent(m.name)
                          }`}
                        >
                          {m.name}
                        </a>
                      </td>
                      <td class="wrap">
                        <StateBadge state={m.state} />{" "}
                        {mh && <span class={`badge health-${mh.state}`}>{mh.state}</span>}
                        {mh && mh.reasons.length > 0 && (
                          <div class="reason">{mh.reasons.map((r) => r.message).join("; ")}</div>
                        )}
                      </td>
                      <td>{m.algorithm ?? "–"}</td>
                      <td class="num">{hashrate(m.hashrate.now)}</td>
                      <td class="num">{m.shares.accepted}/{m.shares.rejected}</td>
                      <td class="wrap">{m.pool ?? "–"}</td>
                      <td class="num">{duration(m.uptime)}</td>
                      <td class="num">{m.restarts}</td>
                      <td>
                        <div class="row">
                          <button
                            type="button"
                            disabled={busy !== null || !m.profileId}
                            onClick={() => restart(m.name, m.profileId)}
                          >
                            Restart
                          </button>
                          <button
                            type="button"
                            class="danger"
                            disabled={busy !== null}
                            onClick={() => stop(m.name)}
                          >
                            Stop
                          </button>
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card">
        <h2>Devices</h2>
        {devices.length === 0
          ? <p class="muted">No per-device sensors reported (CPU miners report none).</p>
          : (
            <div class="table-wrap">
              <table data-testid="rig-devices">
                <thead>
                  <tr>
                    <th>Device</th>
                    <th>Miner</th>
                    <th>State</th>
                    <th class="num">Hashrate</th>
                    <th class="num">Temp</th>
                    <th class="num">Fan</th>
                    <th class="num">Power</th>
                    <th class="num">Limit</th>
                  </tr>
                </thead>
                <tbody>
                  {devices.map((d) => (
                    <tr
                      key={`${d.miner}/${d.index}`}
                      data-device={`${d.miner}/${d.index}`}
                      data-state={d.state}
                    >
                      <td>{d.name ?? `${d.kind}${d.index}`}</td>
                      <td>{d.miner}</td>
                      <td class="wrap">
                        <span class={`badge health-${d.state}`}>{d.state}</span>
                        {d.reasons.length > 0 && (
                          <div class="reason">{d.reasons.map((r) => r.message).join("; ")}</div>
                        )}
                      </td>
                      <td class="num">{hashrate(d.hashrate)}</td>
                      <td class="num">{d.temp !== null ? `${d.temp} °C` : "–"}</td>
                      <td class="num">
                        {d.fan !== null
                          ? `${d.fan} %`
                          : d.fanRpm !== null
                          ? `${d.fanRpm} rpm`
                          : "–"}
                      </td>
                      <td class="num">{d.power !== null ? `${d.power} W` : "–"}</td>
                      <td class="num">{d.tempLimit} °C</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
      </section>
      <section class="card">
        <h2>Hashrate</h2>
        {stats.length === 0
          ? <p class="muted">No miners.</p>
          : stats.map((m) => (
            <MinerChart key={m.name} series={local ? m.name : `${name}/${m.name}`} title={m.name} />
          ))}
      </section>
      <section class="card">
        <h2>Temperatures and shares</h2>
        {stats.length === 0 ? <p class="muted">No miners.</p> : stats.map((m) => (
          <SensorCharts
            key={m.name}
            series={local ? m.name : `${name}/${m.name}`}
            title={m.name}
          />
        ))}
      </section>
      <section class="card">
        <h2>Alerts</h2>
        {alerts.length === 0 && resolved.length === 0 ? <p class="muted">None.</p> : (
          <ul>
            {alerts.map((a) => (
              <li key={a.id}>
                <span class="badge failed">{a.state}</span> {a.rule}: {a.summary}{" "}
                <span class="muted">{ago(a.activeAt)}</span>
              </li>
            ))}
            {resolved.map((a) => (
              <li key={`${a.id}:${a.resolvedAt}`} class="muted">
                resolved {ago(a.resolvedAt)}: {a.rule} ({a.summary})
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
