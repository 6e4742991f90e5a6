/**
 * Graphs: hashrate over time (uPlot) for the fleet (one series per algorithm: H/s of RandomX and
 * MH/s of KawPow never add up) or one miner, ranges 1h/24h/7d/30d,
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
  points: { ts: number; hashrate: number; min: number; max: number }[];
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
    return () => plot.destroy();
  }, [data]);

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
    </>
  );
}
