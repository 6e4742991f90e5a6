/**
 * Push, not poll: workers linked in with `--connect` push their stats; the controller's view is
 * kept from the pushes (per-rig `updatedAt`, `source: "push"`), without asking those rigs, and
 * the SSE stream carries only the rows that changed.
 */
import assert from "node:assert/strict";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  cli,
  cliOk,
  collectEvents,
  initNode,
  processesMentioning,
  serve,
  tempHome,
  until,
} from "./helpers.ts";

const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };

interface Row {
  id: string;
  online: boolean;
  updatedAt?: string;
  source?: string;
  miners: { name: string; state: string; pid: number | null; restarts: number }[];
}

Deno.test({
  name:
    "push: linked rigs' stats reach the controller within one interval plus jitter, a miner start and a crash at once, without the controller asking; SSE sends changed rows only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const c = `${root}/c`;
    const a = `${root}/a`;
    const b = `${root}/b`;
    const ctl = await initNode(c, "boss", "controller");
    const ra = await initNode(a, "rig-a", "worker");
    const rb = await initNode(b, "rig-b", "worker");
    for (const [home, rig] of [[a, ra], [b, rb]] as const) {
      await installEmulatedMiner(resolvePaths({ home }), "xmrig", { env: EMU });
      await cliOk(home, ["peer", "allow", ctl.id, "--control"]);
      await cliOk(c, ["peer", "allow", rig.id]);
    }
    // The fleet poll is an hour: whatever reaches the controller after the first round came
    // as a push.
    const cs = await serve(c, ["--fleet-poll", "1h"]);
    const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
    const abort = new AbortController();
    const events = collectEvents(`${cs.api}/api/v1/mining/events`, token, abort.signal);
    const get = async (path: string) => {
      const r = await fetch(`${cs.api}/api/v1/mining${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(r.status, 200, path);
      return await r.json();
    };
    const pushes = async () => {
      const text = await (await fetch(`${cs.api}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      })).text();
      return Number(/^miner_cli_fleet_stats_pushes_total (\d+)/m.exec(text)?.[1] ?? NaN);
    };
    const rowsOf = (id: string): Row[] =>
      events.filter((e) => e.type === "fleet_rows").flatMap((e) => e.data.rows as Row[])
        .filter((r) => r.id === id);
    // rig-a pushes every second; rig-b only on a change (its interval is an hour).
    const wa = await serve(a, ["--connect", cs.address, "--stats-push", "1s"]);
    const wb = await serve(b, [
      "--poll-interval",
      "200ms",
      "--connect",
      cs.address,
      "--stats-push",
      "1h",
    ]);
    try {
      await until(
        () => rowsOf(ra.id).some((r) => r.source === "push") && rowsOf(rb.id).length > 0,
        "both rigs' first pushes (on linking)",
        15_000,
      );
      // The controller's metrics count the two links in, authenticated.
      const metrics = await (await fetch(`${cs.api}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      })).text();
      assert.match(metrics, /^miner_cli_mesh_connections\{state="established"\} 2$/m, metrics);
      assert.match(metrics, /^miner_cli_mesh_connections\{state="handshaking"\} 0$/m);
      const accepted = /^miner_cli_mesh_connections_total\{outcome="accepted"\} (\d+)$/m.exec(
        metrics,
      );
      assert.ok(accepted && Number(accepted[1]) >= 2, metrics);
      const lag = /^miner_cli_event_loop_lag_seconds ([\d.e-]+)$/m.exec(metrics);
      assert.ok(lag && Number(lag[1]) >= 0 && Number(lag[1]) < 60, metrics);

      // Interval: rig-a's row is renewed about every second, each time from a push.
      await until(
        () => new Set(rowsOf(ra.id).map((r) => r.updatedAt)).size >= 6,
        "six pushes from rig-a",
        20_000,
      );
      const times = [...new Set(rowsOf(ra.id).map((r) => Date.parse(r.updatedAt!)))].sort();
      const gaps = times.slice(1).map((t, i) => t - times[i]).slice(1); // after the link push
      // One interval (1 s) plus its jitter (10 %) plus the event batching (250 ms), with room
      // for a loaded machine; never a poll's 1 h.
      assert.ok(gaps.every((g) => g <= 2500), `gaps between pushes: ${gaps}`);
      assert.ok(rowsOf(ra.id).every((r) => r.source === "push"));
      const cached = await get("/remote/stats");
      const rowA = cached.peers.find((p: Row) => p.id === ra.id);
      assert.equal(rowA.source, "push");
      assert.equal(rowA.stale, false, "a pushing rig is fresh for a plain read");
      assert.ok(Date.now() - Date.parse(rowA.updatedAt) < 5000, rowA.updatedAt);

      // Forced fresh reads back to back for 3 s: the controller asks rig-a at most about four
      // times a second (a row that came in within 250 ms is fresh enough), so the link is not
      // closed for flooding (it was, at ~50 reads a second); and a rig that has just answered
      // pushes an interval after that answer, not on its old schedule (each answer starts rig-a's
      // 1 s again), so at most one push comes meanwhile (three or more without that).
      const beforeReads = await pushes();
      const readsStart = performance.now();
      let reads = 0;
      while (performance.now() - readsStart < 3000 && reads < 20_000) {
        const fresh = await get("/remote/stats?maxAge=0");
        const row = fresh.peers.find((p: Row) => p.id === ra.id);
        assert.equal(row?.online, true, `read ${reads}: ${JSON.stringify(row)}`);
        reads++;
      }
      assert.ok(reads >= 10, `${reads} forced reads in 3 s`);
      const duringReads = (await pushes()) - beforeReads;
      assert.ok(duringReads <= 1, `${duringReads} pushes during ${reads} forced reads in 3 s`);
      // Then it pushes again, on the interval its last answer started, and its row stays a
      // pushing rig's: fresh for a plain read, not overdue and asked instead.
      const afterReads = beforeReads + duringReads;
      await until(
        async () => (await pushes()) > afterReads,
        "rig-a pushing after the reads",
        10_000,
      );
      const plain = (await get("/remote/stats")).peers.find((p: Row) => p.id === ra.id);
      assert.equal(plain.source, "push");
      assert.equal(plain.stale, false);

      // `peer list` asks the running node (its live links), not a dial from the CLI: rigs that
      // only link in have no address to dial, yet they are online.
      const listed = JSON.parse((await cliOk(c, ["peer", "list", "--json"])).stdout);
      assert.deepEqual(
        listed.map((p: { name: string; online: boolean; address: string | null }) => [
          p.name,
          p.online,
          p.address,
        ]),
        [["rig-a", true, null], ["rig-b", true, null]],
      );
      const direct = JSON.parse(
        (await cliOk(c, ["peer", "list", "--json", "--direct", "--timeout", "1s"])).stdout,
      );
      assert.ok(direct.every((p: { online: boolean }) => p.online === false), "no address to dial");

      // A change: rig-b's miner starts; its row shows it running without waiting an hour.
      await addXmrigProfile(c, "cpu", ["--threads", "1"]);
      await cliOk(c, ["remote", "deploy", "rig-b", "--profile", "cpu"]);
      const before = await pushes();
      await cliOk(c, ["remote", "start", "rig-b", "--profile", "cpu"]);
      await until(
        () => rowsOf(rb.id).some((r) => r.miners[0]?.state === "running"),
        "rig-b's start pushed",
        15_000,
      );
      assert.ok((await pushes()) > before, "it came as a push");
      // A crash: the miner is killed; the push says so (restarts, not running) at once.
      const live = rowsOf(rb.id).findLast((r) => r.miners[0]?.pid)!;
      const pid = live.miners[0].pid!;
      const seen = rowsOf(rb.id).length;
      Deno.kill(pid, "SIGKILL");
      await until(
        () =>
          rowsOf(rb.id).slice(seen).some((r) =>
            r.miners[0] && (r.miners[0].state !== "running" || r.miners[0].restarts > 0 ||
              r.miners[0].pid !== pid)
          ),
        "the crash pushed",
        15_000,
      );

      // The SSE stream sends rows that changed, never the whole fleet: every fleet_rows event
      // carries at most the two rigs, and no whole-fleet event is sent.
      assert.ok(events.some((e) => e.type === "fleet_rows"));
      assert.ok(
        events.filter((e) => e.type === "fleet_rows").every((e) =>
          (e.data.rows as Row[]).length <= 2 && typeof e.data.online === "number"
        ),
      );
      assert.ok(!events.some((e) => e.type === "fleet"));

      // A forced fresh read still asks every rig.
      const fresh = await get("/remote/stats?maxAge=0");
      assert.equal(fresh.online, 2);
      assert.ok(fresh.peers.every((p: Row & { stale: boolean }) => !p.stale));

      // A rig that stops pushing (its node stopped) is offline at once, from its link.
      await wa.stop();
      await until(async () => {
        const s = await get("/remote/stats");
        return s.peers.find((p: Row) => p.id === ra.id)?.online === false;
      }, "rig-a offline");
      // The events' counts and totals are kept change by change (no pass over the fleet per
      // event): they agree with a read of the rows.
      type Total = { algorithm: string; hashrate: number; expected: number | null; miners: number };
      const tallyOf = (e: { data: Record<string, unknown> } | undefined) =>
        e && JSON.stringify([
          e.data.nodes,
          e.data.online,
          e.data.offline,
          // Sums kept by adding and taking away differ from a fresh sum in the last bits only.
          (e.data.totals as Total[]).map((t) => [
            t.algorithm,
            t.hashrate.toFixed(3),
            t.expected?.toFixed(3),
            t.miners,
          ]),
        ]);
      await until(async () => {
        const s = await get("/remote/stats");
        return s.online === 1 &&
          tallyOf(events.findLast((e) => e.type === "fleet_rows")) ===
            tallyOf({ data: s });
      }, "the events' summary agrees with the rows");
      const r = await cli(c, ["remote", "status", "--json"]);
      assert.equal(r.code, 2);

      // ETags: a quiet fleet read again is a 304 without a body; a change makes it a 200.
      const read = (etag?: string) =>
        fetch(`${cs.api}/api/v1/mining/remote/stats?limit=10`, {
          headers: {
            authorization: `Bearer ${token}`,
            ...(etag ? { "if-none-match": etag } : {}),
          },
        });
      let etag = "";
      await until(async () => {
        const first = await read();
        await first.body?.cancel();
        etag = first.headers.get("etag") ?? "";
        assert.match(etag, /^W\/"/);
        const again = await read(etag);
        const body = await again.text();
        return again.status === 304 && body === "";
      }, "a 304 for an unchanged fleet");
      await wb.stop();
      await until(async () => {
        const res = await read(etag);
        const body = await res.text();
        return res.status === 200 && JSON.parse(body).online === 0;
      }, "a 200 once rig-b went offline");
    } finally {
      abort.abort();
      await wa.stop();
      await wb.stop();
      await cs.stop();
      assert.deepEqual(await processesMentioning(b), []);
      await Deno.remove(root, { recursive: true });
    }
  },
});
