/**
 * Console: a local or remote miner's output, live (follow) with ANSI colours, and a stdin box
 * for local miners (XMRig's `h`, `p`, `r` keys...).
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, sse } from "../api.ts";
import { parseAnsi } from "../ansi.ts";
import { attempt, useStore } from "../store.ts";

interface Line {
  seq: number;
  text: string;
  stream?: string;
}

const MAX_LINES = 5000;

/** The Console page. */
export function ConsolePage(props: { params: URLSearchParams }): JSX.Element {
  const s = useStore();
  const targets = [
    ...s.miners.map((m) => ({
      key: `local:${m.name}`,
      label: `${m.name} (this node)`,
      peer: null as string | null,
      miner: m.name,
    })),
    ...(s.fleet?.peers ?? []).flatMap((p) =>
      p.miners.map((m) => ({
        key: `${p.id}:${m.name}`,
        label: `${m.name} on ${p.name}`,
        peer: p.id as string | null,
        miner: m.name,
      }))
    ),
  ];
  const initial = props.params.get("miner")
    ? `${props.params.get("peer") ?? "local"}:${props.params.get("miner")}`
    : targets[0]?.key ?? "";
  const [target, setTarget] = useState(initial);
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<Line[]>([]);
  const [status, setStatus] = useState<string>("");
  const [stdin, setStdin] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const chosen = targets.find((t) => t.key === target) ??
    (target
      ? {
        key: target,
        label: target,
        peer: target.startsWith("local:") ? null : target.split(":")[0],
        miner: target.slice(target.indexOf(":") + 1),
      }
      : null);

  useEffect(() => {
    if (!chosen) return;
    setLines([]);
    const ac = new AbortController();
    const base = chosen.peer
      ? `/remote/${chosen.peer}/logs`
      : `/miners/${encodeURIComponent(chosen.miner)}/logs`;
    const q = chosen.peer ? `miner=${encodeURIComponent(chosen.miner)}&lines=200` : "lines=200";
    (async () => {
      try {
        if (!follow) {
          setStatus("loading…");
          const r = await api<{ lines: Line[] }>("GET", `${base}?${q}`, undefined, {
            signal: ac.signal,
          });
          setLines(r.lines);
          setStatus(`${r.lines.length} lines`);
          return;
        }
        setStatus("following…");
        for await (const e of sse(`${base}/follow?${q}`, ac.signal)) {
          if (e.event === "line") {
            const l = e.data as Line;
            setLines((prev) => {
              const next = prev.length >= MAX_LINES ? prev.slice(-MAX_LINES + 1) : prev.slice();
              next.push(l);
              return next;
            });
          } else if (e.event === "end") {
            setStatus(`ended: ${(e.data as { reason?: string }).reason ?? "stream closed"}`);
            return;
          } else if (e.event === "error") {
            setStatus(`error: ${(e.data as { message?: string }).message}`);
            return;
          }
        }
        setStatus("stream closed");
      } catch (err) {
        if (!ac.signal.aborted) setStatus(`error: ${(err as Error).message}`);
      }
    })();
    return () => ac.abort();
  }, [chosen?.key, follow]);

  useEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!chosen || chosen.peer || !stdin) return;
    if (
      await attempt(
        "stdin",
        () =>
          api("POST", `/miners/${encodeURIComponent(chosen.miner)}/stdin`, { text: stdin + "\n" }),
      )
    ) {
      setStdin("");
    }
  };

  return (
    <>
      <h1>Console</h1>
      <div class="card row">
        <label>
          Miner
          <select
            name="target"
            value={target}
            onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
          >
            {!targets.some((t) => t.key === target) && (
              <option value={target}>{target ? chosen?.label : "Choose a miner"}</option>
            )}
            {targets.map((t) => <option key={t.key} value={t.key}>{t.label}</option>)}
          </select>
        </label>
        <label style={{ flexDirection: "row", alignItems: "center" }}>
          <input
            type="checkbox"
            name="follow"
            checked={follow}
            onChange={(e) => setFollow((e.target as HTMLInputElement).checked)}
          />
          follow
        </label>
        <span class="muted" data-testid="console-status">{status}</span>
      </div>
      {!chosen
        ? <div class="card empty">No miner to show: start one on the Workers or Fleet page.</div>
        : (
          <>
            <div class="console" ref={box} data-testid="console" role="log" aria-live="off">
              {lines.map((l) => (
                <div key={l.seq} class={`line ${l.stream ?? ""}`}>
                  {parseAnsi(l.text).map((seg, i) => (
                    <span key={i} class={seg.classes || undefined}>{seg.text}</span>
                  ))}
                </div>
              ))}
            </div>
            <form class="row" style={{ marginTop: "8px" }} onSubmit={send}>
              <label style={{ flex: 1 }}>
                Send to the miner's stdin
                <input
                  name="stdin"
                  value={stdin}
                  disabled={chosen.peer !== null}
                  placeholder={chosen.peer
                    ? "stdin is available for this node's miners only"
                    : "h (hashrate), p (pause), r (resume)…"}
                  onInput={(e) => setStdin((e.target as HTMLInputElement).value)}
                />
              </label>
              <button type="submit" disabled={chosen.peer !== null || !stdin}>Send</button>
            </form>
          </>
        )}
    </>
  );
}
