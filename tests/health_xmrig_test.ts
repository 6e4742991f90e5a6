/**
 * The health model against a real XMRig 6.16.0 (one thread, RandomX light mode, offline
 * benchmark): a worker node running alone alerts for its own miner. Paused through XMRig's own
 * JSON-RPC (`miner-cli pause`), the miner turns the rig degraded and "hashrate 0" fires at the
 * webhook; resumed, it resolves.
 */
import assert from "node:assert/strict";
import {
  cli,
  cliOk,
  initNode,
  installRealXmrig,
  localComponent,
  serve,
  tempHome,
  until,
  XMRIG_BIN,
} from "./helpers.ts";

const XMRIG = localComponent(XMRIG_BIN, "the real-XMRig health test");

Deno.test({
  name:
    "health (real XMRig): a paused miner makes its rig degraded and fires hashrate 0; resumed, it resolves",
  ignore: XMRIG.ignore,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    const got: { status: string; rule: string | null; alerts: { summary: string }[] }[] = [];
    const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      got.push(await req.json());
      return new Response("ok");
    });
    let node: Awaited<ReturnType<typeof serve>> | null = null;
    try {
      await initNode(w, "rig", "worker");
      await installRealXmrig(w);
      await cliOk(w, [
        "profile",
        "add",
        "--type",
        "xmrig",
        "--name",
        "bench",
        "--pool",
        "127.0.0.1:9",
        "--user",
        "44w",
        "--threads",
        "1",
        "--arg",
        "--bench=1M",
        "--arg",
        "--randomx-mode=light",
      ]);
      await cliOk(w, ["health", "set", "zeroForSeconds=3"]);
      await cliOk(w, [
        "alerts",
        "channels",
        "add",
        "hook",
        "--type",
        "webhook",
        "--url",
        `http://127.0.0.1:${hook.addr.port}/`,
      ]);
      node = await serve(w, [
        "--poll-interval",
        "1s",
        "--health-interval",
        "500ms",
        "--alert-group-wait",
        "500ms",
      ]);
      await cliOk(w, ["start", "bench"]);
      const miner = async () => JSON.parse((await cliOk(w, ["status", "--json"])).stdout).miners[0];
      await until(
        async () => ((await miner())?.hashrate.now ?? 0) > 0,
        "XMRig hashing",
        45_000,
        500,
      );
      assert.equal((await miner()).version, "6.16.0");
      await cliOk(w, ["pause", "bench"]);
      await until(
        () => got.some((g) => g.rule === "hashrate_zero" && g.status === "firing"),
        "hashrate 0 fired",
        20_000,
        200,
      );
      const fired = got.find((g) => g.rule === "hashrate_zero")!;
      assert.match(fired.alerts[0].summary, /^hashrate 0 H\/s for \d+ s \(paused\)$/);
      const h = JSON.parse((await cliOk(w, ["alerts", "list", "--json"])).stdout);
      assert.equal(h.firing[0].rule, "hashrate_zero");
      const api = node.api!;
      const token = (await cliOk(w, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
      const health = await (await fetch(`${api}/api/v1/mining/health`, {
        headers: { authorization: `Bearer ${token}` },
      })).json();
      assert.equal(health.rigs[0].state, "degraded");
      assert.equal(health.rigs[0].miners[0].reasons[0].code, "hashrate_zero");
      await cliOk(w, ["resume", "bench"]);
      await until(
        () => got.some((g) => g.rule === "hashrate_zero" && g.status === "resolved"),
        "resolved",
        40_000,
        200,
      );
      assert.equal(got.filter((g) => g.rule === "hashrate_zero").length, 2, JSON.stringify(got));
      assert.equal((await cli(w, ["stop", "bench"])).code, 0);
    } finally {
      await node?.stop();
      await hook.shutdown();
      await Deno.remove(root, { recursive: true });
    }
  },
});
