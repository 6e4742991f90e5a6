import assert from "node:assert/strict";
import { HistoryStore } from "../src/miners/mod.ts";

Deno.test("history: 1,000 samples written and queried back by range; rollups are correct", async () => {
  const dir = await Deno.makeTempDir();
  const h = HistoryStore.open(`${dir}/history.sqlite`);
  try {
    const t0 = Date.now() - 3 * 3_600_000; // within the raw window
    const start = Math.ceil(t0 / 3_600_000) * 3_600_000 - 3_600_000; // align to an hour
    const samples = Array.from({ length: 1000 }, (_, i) => ({
      miner: i % 2 ? "b" : "a",
      ts: start + Math.floor(i / 2) * 10_000,
      hashrate: i % 2 ? 2000 : 1000 + (Math.floor(i / 2) % 6) * 10,
      accepted: Math.floor(i / 2),
      rejected: 0,
    }));
    h.recordMany(samples);
    // raw round trip by range
    const raw = h.query("a", { from: start, to: start + 499 * 10_000, resolution: "raw" });
    assert.equal(raw.points.length, 500);
    const part = h.query("a", { from: start + 100_000, to: start + 199_000, resolution: "raw" });
    assert.equal(part.points.length, 10);
    assert.equal(part.points[0].ts, start + 100_000);
    // 1-minute rollup: six samples per bucket, 1000..1050 → avg 1025, min 1000, max 1050
    const m = h.query("a", { from: start, to: start + 3_599_999, resolution: "1m" });
    assert.equal(m.points.length, 60);
    for (const p of m.points) {
      assert.equal(p.hashrate, 1025);
      assert.equal(p.min, 1000);
      assert.equal(p.max, 1050);
    }
    // 1-hour rollup equals the mean of the raw samples in that hour
    const hourRaw = samples.filter((s) => s.miner === "a" && s.ts < start + 3_600_000);
    const hr = h.query("a", { from: start, to: start + 3_599_999, resolution: "1h" });
    assert.equal(hr.points.length, 1);
    assert.equal(
      hr.points[0].hashrate,
      hourRaw.reduce((x, s) => x + s.hashrate, 0) / hourRaw.length,
    );
    assert.equal(hr.points[0].accepted, hourRaw.at(-1)!.accepted);
    // fleet total sums miners per bucket
    const fleet = h.query(null, { from: start, to: start + 59_999, resolution: "1m" });
    assert.equal(fleet.points[0].hashrate, 1025 + 2000);
    // auto resolution
    assert.equal(h.resolutionFor({ from: Date.now() - 3_600_000, to: Date.now() }), "raw");
    assert.equal(h.resolutionFor({ from: Date.now() - 2 * 86_400_000, to: Date.now() }), "1m");
    assert.equal(h.resolutionFor({ from: Date.now() - 30 * 86_400_000, to: Date.now() }), "1h");
    // retention: raw samples older than 24 h are pruned, rollups kept
    assert.ok(h.prune(start + 86_400_000 + 300 * 10_000) > 0);
    assert.ok(
      h.query("a", { from: start, to: start + 299 * 10_000, resolution: "raw" }).points.length ===
        0,
    );
    assert.equal(
      h.query("a", { from: start, to: start + 3_599_999, resolution: "1m" }).points.length,
      60,
    );
  } finally {
    h.close();
    await Deno.remove(dir, { recursive: true });
  }
});
