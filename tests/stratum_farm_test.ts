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
  extraNonce: number;
  accepted: number;
}
interface ShareRow {
  rig: string;
  extraNonce?: number;
  nonce: string;
  verdict: string;
  upstream?: string;
  block?: boolean;
}

Deno.test({
  name:
    "stratum farm: two rigs' real XMRigs mine through the controller's proxy into a real monerod in disjoint nonce ranges; a dead rig frees its range, a new rig gets a free one and finds a block on a blob with another extra nonce",
  ignore: MONEROD.ignore || XMRIG.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const chain = await startMonerod(MONEROD.path!, `${root}/monerod`, {
      difficulty: 30,
      rpcPort: freePort(),
      p2pPort: freePort(),
    });
    const c = `${root}/c`;
    const ctl = await initNode(c, "boss", "controller");
    await cliOk(c, ["stratum", "upstream", "add", chain.url, "--user", WALLET]);
    await cliOk(c, ["stratum", "set", "--difficulty", "10"]);
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

      // The rig holding range 01 dies (its node and, with it, its miner): its range is freed.
      let rows = await miners();
      const gone = rows.find((m) => m.slot === 1)!.rigName;
      const kept = rows.find((m) => m.slot === 0)!.rigName;
      const xmrigOf = (name: string) => `${rigs[name].home}/data/miners/xmrig/current/xmrig`;
      const gonePids = await processesOf(xmrigOf(gone));
      rigs[gone].node!.process.kill("SIGKILL");
      await rigs[gone].node!.process.status;
      await until(
        async () => (await miners()).every((m) => m.rigName !== gone),
        `${gone}'s range freed`,
        20_000,
      );
      assert.equal(
        (await get("/stratum/status")).totals.freeSlots,
        65_535,
        "all but one range free",
      );
      await until(
        async () => (await processesOf(xmrigOf(gone))).length === 0,
        `${gone}'s XMRig (${gonePids}) gone with its node`,
        10_000,
      );

      // One range per blob from now on: rig-d joins and gets a blob of its own, with another
      // extra nonce in the template (its hashing blob recomputed by the proxy); the block it
      // finds there is accepted by monerod, which hashes the block itself.
      await cliOk(c, ["stratum", "set", "--ranges", "1"]);
      // The survivor pauses (it keeps its range): one miner hashing at a time on two cores.
      await cliOk(rigs[kept].home, ["pause", "farm"]);
      const h1 = await chain.height();
      await join("rig-d");
      await until(
        async () => {
          const found = ((await get("/stratum/shares?limit=10000")).shares as ShareRow[])
            .some((s) => s.rig === rigs["rig-d"].id && s.block && s.upstream === "accepted");
          return found && (await miners()).some((m) => m.rigName === "rig-d" && m.accepted > 0);
        },
        "a block found by rig-d on its own blob, accepted by monerod",
        60_000,
      );
      assert.ok((await chain.height()) > h1);
      rows = await miners();
      const d = rows.find((m) => m.rigName === "rig-d")!;
      assert.deepEqual([d.extraNonce, d.slot], [1, 0], "a blob with extra nonce 1");
      assert.deepEqual(
        rows.filter((m) => m.rigName === kept).map((m) => [m.extraNonce, m.slot]),
        [[0, 0]],
        `${kept} kept its range`,
      );
      for (const view of seen) {
        const held = view.map((m) => `${m.extraNonce}:${m.slot}`);
        assert.equal(
          new Set(held).size,
          held.length,
          `a range held twice: ${JSON.stringify(view)}`,
        );
      }
      shares = (await get("/stratum/shares?limit=10000")).shares as ShareRow[];
      assert.ok(
        shares.filter((s) => s.rig === rigs["rig-d"].id && s.verdict !== "rejected")
          .every((s) => s.nonce.endsWith("00") && s.extraNonce === 1),
      );
    } finally {
      for (const r of Object.values(rigs)) await r.node?.stop().catch(() => {});
      await cs.stop();
      await chain.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
