/**
 * The Prometheus text of a fleet: label values a peer chose (its name) are escaped in every
 * series, also those whose label text is built once per rig and shared (peers, rig and miner
 * health), and promtool accepts the result.
 */
import assert from "node:assert/strict";
import { type MetricsSnapshot, renderMetrics } from "../src/api/mod.ts";
import { assertPromtoolClean, component } from "./helpers.ts";

const PROMTOOL = component("promtool", "the metrics rendering test (promtool check metrics)");

const ID_A = "a".repeat(32);
const ID_B = "b".repeat(32);
/** A name with each character the exposition format escapes: `"`, `\` and a newline. */
const HOSTILE = 'rig "one"\\c:\nnext';
const ESCAPED = 'rig \\"one\\"\\\\c:\\nnext';

function snapshot(): MetricsSnapshot {
  return {
    node: { id: "c".repeat(32), name: "boss", role: "controller" },
    version: "test",
    uptimeSeconds: 5,
    localMiners: [],
    fleet: null,
    peers: [
      { id: ID_A, name: HOSTILE, role: "worker", online: true, pingMs: 2, score: 90, sessions: 1 },
      {
        id: ID_B,
        name: "plain",
        role: "worker",
        online: false,
        pingMs: null,
        score: 50,
        sessions: 0,
      },
    ] as unknown as MetricsSnapshot["peers"],
    health: {
      at: new Date(0).toISOString(),
      state: "degraded",
      counts: { ok: 0, degraded: 1, down: 0, idle: 1, unknown: 0 },
      totals: [],
      rigs: [
        {
          id: ID_A,
          name: HOSTILE,
          state: "degraded",
          miners: [{ name: 'x"m', state: "degraded" }],
        },
        { id: ID_B, name: "plain", state: "idle", miners: [] },
      ],
    } as unknown as MetricsSnapshot["health"],
  };
}

Deno.test("metrics: peer and rig names are escaped in every series, shared label texts too", () => {
  const text = renderMetrics(snapshot());
  const lines = text.split("\n");
  const has = (line: string) => assert.ok(lines.includes(line), `missing: ${line}\n${text}`);
  has(`miner_cli_peer_online{peer="${ESCAPED}",peer_id="${ID_A}",role="worker"} 1`);
  has(`miner_cli_peer_rtt_seconds{peer="${ESCAPED}",peer_id="${ID_A}",role="worker"} 0.002`);
  has(`miner_cli_peer_score{peer="${ESCAPED}",peer_id="${ID_A}",role="worker"} 90`);
  has(`miner_cli_peer_sessions{peer="plain",peer_id="${ID_B}",role="worker"} 0`);
  has(`miner_cli_rig_health{rig="${ESCAPED}",rig_id="${ID_A}",state="degraded"} 1`);
  has(`miner_cli_rig_health{rig="${ESCAPED}",rig_id="${ID_A}",state="ok"} 0`);
  has(`miner_cli_rig_health{rig="plain",rig_id="${ID_B}",state="idle"} 1`);
  has(
    `miner_cli_miner_health{node="${ESCAPED}",node_id="${ID_A}",miner="x\\"m",state="degraded"} 1`,
  );
  // A peer that was never checked has no RTT series; each rig has one series per state.
  assert.ok(!lines.some((l) => l.startsWith('miner_cli_peer_rtt_seconds{peer="plain"')));
  assert.equal(lines.filter((l) => l.startsWith("miner_cli_rig_health{")).length, 10);
  // Nothing unescaped leaks: every sample line is one line.
  for (const l of lines) {
    if (l && !l.startsWith("#")) assert.match(l, /^[a-z_]+(\{.*\})? -?[0-9.e+-]+$/, l);
  }
});

Deno.test({
  name: "metrics: promtool accepts the text with escaped names",
  ignore: PROMTOOL.ignore,
  async fn() {
    await assertPromtoolClean(PROMTOOL.path!, renderMetrics(snapshot()));
  },
});
