/**
 * Graphs: hashrate over time (uPlot) for the fleet (one series per algorithm: H/s of RandomX and
 * MH/s of KawPow never add up) or one miner with its shares, every miner overlaid to compare rigs,
 * ranges 1h/24h/7d/30d,
 * from the node's history (local miners by name, workers' miners as `node/miner`).
 * @module
 */
import type { JSX } from "preact";
import uPlot from "uplot";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.ts";
import { hashrate } from "../format.ts";
import { hashrateAxis } from "../chart.ts";

const RANGES = [
  { label: "1h", ms: 3600_000 },
  { label: "24h", ms: 86_400_000 },
  { label: "7d", ms: 7 * 86_400_000 },
  { label: "30d", ms: 30 * 86_400_000 },
];

interface Series {
  resolution: string;
  points: {
    ts: number;
    hashrate: number;
    min: number;
    max: number;
    accepted: number;
    rejected: number;
  }[];
}

/** The Graphs page. */
export function GraphsPage(): JSX.Element {
  const [range, setRange] = useState(RANGES[0]);
  const [miner, setMiner] = useState("");
  const [miners, setMiners] = useState<string[] | null>(null);
  const [algorithms, setAlgorithms] = useState<string[]>([]);
  const [data, setData] = useState<(Series & { from: number; to: number }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const el = useRef<HTMLDivElement>(null);
  const sharesEl = useRef<HTMLDivElement>(null);
  const overlayEl = useRef<HTMLDivElement>(null);
  const [overlay, setOverlay] = useState(false);

  useEffect(() => {
    api<{ miners: string[]; algorithms: string[] }>("GET", "/history/miners")
      .then((r) => {
        setMiners(r.miners);
        setAlgorithms(r.algorithms);
        if (!miner && r.algorithms.length) setMiner(`fleet:${r.algorithms[0]}`);
      })
      .catch((err) => setError((err as Error).message));
  }, []);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 15_000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    const to = Date.now();
    const q = new URLSearchParams({
      from: String(to - range.ms),
      to: String(to),
      resolution: "auto",
    });
    if (!miner) return;
    if (miner.startsWith("fleet:")) q.set("algorithm", miner.slice(6));
    else q.set("miner", miner.slice(6));
    api<Series>("GET", `/history?${q}`)
      .then((r) => {
        setData({ ...r, from: to - range.ms, to });
        setError(null);
      })
      .catch((err) => setError((err as Error).message));
  }, [range, miner, tick]);
  useEffect(() => {
    if (!el.current || !data || data.points.length === 0) return;
    const xs = data.points.map((p) => p.ts / 1000);
    const plot = new uPlot({
      width: Math.max(320, el.current.clientWidth - 16),
      height: 320,
      scales: { x: { time: true, range: [data.from / 1000, data.to / 1000] } },
      axes: [{}, hashrateAxis(() => el.current)],
      series: [
        {},
        {
          label: "hashrate",
          stroke: "#1f6f5c",
          width: 2,
          fill: "rgba(31,111,92,.08)",
          value: (_u, v) => hashrate(v),
        },
        { label: "min", stroke: "#9bb8ae", width: 1, dash: [4, 4], value: (_u, v) => hashrate(v) },
        { label: "max", stroke: "#9bb8ae", width: 1, dash: [4, 4], value: (_u, v) => hashrate(v) },
      ],
    }, [
      xs,
      data.points.map((p) => p.hashrate),
      data.points.map((p) => p.min),
      data.points.map((p) => p.max),
    ], el.current);
    // Shares of the same series: accepted and rejected (cumulative, as the miners count them).
    let shares: uPlot | null = null;
    if (sharesEl.current) {
      shares = new uPlot({
        width: Math.max(320, sharesEl.current.clientWidth - 16),
        height: 160,
        scales: { x: { time: true, range: [data.from / 1000, data.to / 1000] } },
        axes: [{}, { size: 60 }],
        series: [
          {},
          { label: "accepted", stroke: "#1f6f5c", width: 2 },
          { label: "rejected", stroke: "#c8372d", width: 2 },
        ],
      }, [
        xs,
        data.points.map((p) => p.accepted),
        data.points.map((p) => p.rejected),
      ], sharesEl.current);
    }
    return () => {
      plot.destroy();
      shares?.destroy();
    };
  }, [data]);
  // Every miner overlaid (up to 12), to compare rigs.
  useEffect(() => {
    if (!overlay || !overlayEl.current || !miners?.length) return;
    let plot: uPlot | null = null;
    const to = Date.now();
    const from = to - range.ms;
    const list = miners.slice(0, 12);
    Promise.all(
      list.map((m) =>
        api<Series>(
          "GET",
          `/history?${new URLSearchParams({
            miner: m,
            from: String(from),
            to: String(to),
            resolution: "auto",
          })}`,
        )
      ),
    ).then((all) => {
      if (!overlayEl.current) return;
      const xs = [...new Set(all.flatMap((r) => r.points.map((p) => p.ts)))].sort((a, b) => a - b);
      const ys = all.map((r) => {
        const by = new Map(r.points.map((p) => [p.ts, p.hashrate]));
        return xs.map((x) => by.get(x) ?? null);
      });
      const colors = [
        "#1f6f5c",
        "#c8372d",
        "#b7791f",
        "#3b5bdb",
        "#7b2cbf",
        "#2b8a3e",
        "#e8590c",
        "#495057",
      ];
      plot = new uPlot(
        {
          width: Math.max(320, overlayEl.current.clientWidth - 16),
          height: 280,
          scales: { x: { time: true, range: [from / 1000, to / 1000] } },
          axes: [{}, hashrateAxis(() => overlayEl.current)],
          series: [
            {},
            ...list.map((m, i) => ({
              label: m,
              stroke: colors[i % colors.length],
              width: 1.5,
              value: (_u: uPlot, v: number | null) => hashrate(v),
            })),
          ],
        },
        [xs.map((x) => x / 1000), ...ys],
        overlayEl.current,
      );
    }).catch((err) => setError((err as Error).message));
    return () => plot?.destroy();
  }, [overlay, miners, range, tick]);

  return (
    <>
      <h1>Graphs</h1>
      <div class="card row">
        <label>
          Series
          <select
            name="series"
            value={miner}
            onChange={(e) => setMiner((e.target as HTMLSelectElement).value)}
          >
            {algorithms.length === 0 && <option value="">No history yet</option>}
            {algorithms.map((a) => <option key={a} value={`fleet:${a}`}>Fleet · {a}</option>)}
            {miners?.map((m) => <option key={m} value={`miner:${m}`}>{m}</option>)}
          </select>
        </label>
        <div class="tabs" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button
              key={r.label}
              type="button"
              aria-pressed={r === range}
              onClick={() => setRange(r)}
            >
              {r.label}
            </button>
          ))}
        </div>
        {data && (
          <span class="muted">resolution: {data.resolution}, {data.points.length} points</span>
        )}
      </div>
      {error && <div class="error-box" role="alert">History: {error}</div>}
      {!error && data === null && <p class="muted">Loading…</p>}
      {data && data.points.length === 0 && (
        <div class="card empty">
          No samples in this range yet: the node records one every 10 seconds while miners run.
        </div>
      )}
      <div class="chart" ref={el} data-testid="chart" hidden={!data || data.points.length === 0} />
      {data && data.points.length > 0 && <h2>Shares</h2>}
      <div
        class="chart"
        ref={sharesEl}
        data-testid="shares-chart"
        hidden={!data || data.points.length === 0}
      />
      <label style={{ flexDirection: "row", alignItems: "center", marginTop: "12px" }}>
        <input
          type="checkbox"
          name="overlay"
          checked={overlay}
          onChange={(e) => setOverlay((e.target as HTMLInputElement).checked)}
        />
        Overlay every miner (up to 12), to compare rigs
      </label>
      {overlay && <div class="chart" ref={overlayEl} data-testid="overlay-chart" />}
    </>
  );
}
