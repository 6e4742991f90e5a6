/**
 * Farm stratum end to end with real components: a controller whose proxy mines into a real
 * monerod (regtest), rigs linked in over the encrypted mesh, each running the real XMRig 6.16
 * through `--pool farm`. Blocks the miners find are accepted by monerod (the chain height rises),
 * each miner hashes its own nonce range, a rig that dies frees its range and a rig that joins
 * gets a free one.
 */
import assert from "node:assert/strict";
import {
  cliOk,
  component,
  freePort,
  initNode,
  installRealXmrig,
  localComponent,
  processesOf,
  serve,
  type ServeHandle,
  tempHome,
  until,
  XMRIG_BIN,
} from "./helpers.ts";
import { startMonerod, WALLET } from "./stratum_stub.ts";

const MONEROD = component("monerod", "the farm stratum test (a real Monero daemon, regtest)");
const XMRIG = localComponent(XMRIG_BIN, "the farm stratum test (a real XMRig)");

interface MinerRow {
  rig: string;
  rigName: string;
  slot: number;
  accepted: number;
}
interface ShareRow {
  rig: string;
  nonce: string;
  verdict: string;
  upstream?: string;
  block?: boolean;
}

Deno.test({
  name:
    "stratum farm: two rigs' real XMRigs mine through the controller's proxy into a real monerod in disjoint nonce ranges; a dead rig frees its range, a new rig gets a free one",
  ignore: MONEROD.ignore || XMRIG.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const chain = await startMonerod(MONEROD.path!, `${root}/monerod`, {
      difficulty: 100,
      rpcPort: freePort(),
      p2pPort: freePort(),
    });
    const c = `${root}/c`;
    const ctl = await initNode(c, "boss", "controller");
    await cliOk(c, ["stratum", "upstream", "add", chain.url, "--user", WALLET]);
    await cliOk(c, ["stratum", "difficulty", "40"]);
    const rigs: Record<string, { home: string; id: string; node?: ServeHandle }> = {};
    for (const name of ["rig-a", "rig-b", "rig-d"]) {
      const home = `${root}/${name}`;
      const info = await initNode(home, name, "worker");
      await installRealXmrig(home);
      await cliOk(home, ["peer", "allow", ctl.id, "--control"]);
      await cliOk(c, ["peer", "allow", info.id]);
      await cliOk(home, [
        "profile",
        "add",
        "--type",
        "xmrig",
        "--name",
        "farm",
        "--pool",
        "farm",
        "--threads",
        "1",
        "--randomx-mode",
        "light",
        "--donate-level",
        "0",
      ]);
      rigs[name] = { home, id: info.id };
    }
    const cs = await serve(c);
    const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
    const get = async (path: string) => {
      const r = await fetch(`${cs.api}/api/v1/mining${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(r.status, 200, path);
      return await r.json();
    };
    // Every view of who holds which range, to check no range is ever held twice.
    const seen: MinerRow[][] = [];
    const miners = async (): Promise<MinerRow[]> => {
      const rows = (await get("/stratum/status")).miners as MinerRow[];
      seen.push(rows);
      return rows;
    };
    const join = async (name: string) => {
      const r = rigs[name];
      r.node = await serve(r.home, ["--connect", cs.address]);
      await cliOk(r.home, ["start", "farm"]);
    };
    try {
      const h0 = await chain.height();
      await Promise.all([join("rig-a"), join("rig-b")]);
      // Within 60 s: both miners have accepted shares and one of them found a block monerod took.
      await until(
        async () => {
          const rows = await miners();
          const blocks = ((await get("/stratum/shares?limit=10000")).shares as ShareRow[])
            .filter((s) => s.block && s.upstream === "accepted");
          return rows.length === 2 && rows.every((m) => m.accepted > 0) && blocks.length > 0 &&
            (await chain.height()) > h0;
        },
        "accepted shares from both miners and a block in monerod",
        60_000,
      );
      let shares = (await get("/stratum/shares?limit=10000")).shares as ShareRow[];
      const byRig = (id: string) =>
        new Set(
          shares.filter((s) => s.rig === id && s.verdict !== "rejected").map((s) =>
            s.nonce.slice(6)
          ),
        );
      const ra = byRig(rigs["rig-a"].id);
      const rb = byRig(rigs["rig-b"].id);
      assert.equal(ra.size, 1, `rig-a's nonces in one range: ${[...ra]}`);
      assert.equal(rb.size, 1, `rig-b's nonces in one range: ${[...rb]}`);
      assert.notDeepEqual([...ra], [...rb], "disjoint ranges");
      const blocksFound = shares.filter((s) => s.block && s.upstream === "accepted").length;
      assert.ok((await chain.height()) - h0 >= 1, "the chain grew");
      assert.ok(blocksFound >= 1);

      // rig-a dies (its node and, with it, its miner): its range is freed.
      const aPids = await processesOf(`${rigs["rig-a"].home}/data/miners/xmrig/current/xmrig`);
      rigs["rig-a"].node!.process.kill("SIGKILL");
      await rigs["rig-a"].node!.process.status;
      await until(
        async () => (await miners()).every((m) => m.rigName !== "rig-a"),
        "rig-a's range freed",
        20_000,
      );
      const status = await get("/stratum/status");
      assert.equal(status.totals.freeSlots, 255);
      await until(
        async () =>
          (await processesOf(`${rigs["rig-a"].home}/data/miners/xmrig/current/xmrig`)).length === 0,
        `rig-a's XMRig (${aPids}) gone with its node`,
        10_000,
      );

      // rig-d joins and mines, in a range nobody else holds.
      await join("rig-d");
      await until(
        async () => {
          const rows = await miners();
          return rows.some((m) => m.rigName === "rig-d" && m.accepted > 0);
        },
        "rig-d's accepted shares",
        60_000,
      );
      const rows = await miners();
      const slotOf = (n: string) => rows.find((m) => m.rigName === n)!.slot;
      assert.notEqual(slotOf("rig-d"), slotOf("rig-b"));
      for (const view of seen) {
        const slots = view.map((m) => m.slot);
        assert.equal(
          new Set(slots).size,
          slots.length,
          `a range held twice: ${JSON.stringify(view)}`,
        );
      }
      shares = (await get("/stratum/shares?limit=10000")).shares as ShareRow[];
      const rd = byRig(rigs["rig-d"].id);
      assert.deepEqual([...rd], [slotOf("rig-d").toString(16).padStart(2, "0")]);
    } finally {
      for (const r of Object.values(rigs)) await r.node?.stop().catch(() => {});
      await cs.stop();
      await chain.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
