/**
 * Farm stratum: a node's proxy in front of a stub pool and a real monerod, miners speaking
 * stratum to it. Bad shares are rejected with their reason, counted, and never reach the pool;
 * a failing upstream moves every miner to the next one within seconds.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import {
  assertPromtoolClean,
  cliOk,
  component,
  freePort,
  initNode,
  ROOT,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "./helpers.ts";
import {
  resultFor,
  scriptedMiner,
  startMonerod,
  startStubPool,
  stubTarget,
  WALLET,
} from "./stratum_stub.ts";
import { parseTemplate, withExtraNonce } from "../src/stratum/mod.ts";

/** The port of a node's miners' endpoint (from its listening line). */
function stratumPort(node: ServeHandle): number {
  return Number(String(node.listening.stratum).replace(/^.*:/, ""));
}

/** A home's API token. */
async function apiToken(home: string): Promise<string> {
  return (await Deno.readTextFile(`${home}/config/api_token`)).trim();
}

// Runs in the page.
declare const location: { hash: string };

const MONEROD = component("monerod", "the stratum tests (a real Monero daemon, regtest)");
const CHROMIUM = component("chromium", "the Pool view check (dashboard)");
const PROMTOOL = component("promtool", "the stratum metrics check (promtool check metrics)");
const ARTIFACTS = `${ROOT}dist/test-artifacts`;

/** Opens the Pool view, checks what it shows, and screenshots it at desktop and phone width. */
async function poolViewShots(base: string, token: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM.path!,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1300, height: 900 } }))
      .newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    // Signed in (the session cookie is set) before going to the view.
    await page.locator("nav.side").waitFor();
    await page.evaluate(() => (location.hash = "#/fleet?view=pool"));
    await page.locator("[data-testid=pool-shares-table]").waitFor({ timeout: 15_000 }).catch(
      async (err) => {
        await page.screenshot({ path: `${ARTIFACTS}/pool-failed.png`, fullPage: true });
        throw new Error(
          `${err.message}\npage: ${await page.locator("body").innerText()}\nerrors: ${errors}`,
        );
      },
    );
    const sizes = [["desktop", 1300, 900], ["phone", 390, 844]] as const;
    for (const [name, width, height] of sizes) {
      await page.setViewportSize({ width, height });
      const text = await page.locator("[data-testid=pool-view]").innerText();
      assert.match(text, /0 block/);
      assert.match(
        await page.locator("[data-testid=pool-shares]").innerText(),
        /3 accepted · 1 stale · 6 rejected/,
      );
      assert.match(await page.locator("[data-testid=pool-reasons]").innerText(), /stale job 1/);
      assert.match(await page.locator("[data-testid=upstreams-table]").innerText(), /active/);
      assert.match(await page.locator("[data-testid=pool-miners-table]").innerText(), /rig-1/);
      assert.ok(!text.includes("s3cret"), "the pool password is never shown");
      await page.screenshot({ path: `${ARTIFACTS}/pool-${name}.png`, fullPage: true });
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
}

const api = (base: string, token: string) => async (path: string) => {
  const r = await fetch(`${base}/api/v1/mining${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
};

/** The nonce a miner owning `slot` would submit (its high byte is the slot). */
const nonceIn = (slot: number, n: number) =>
  (n & 0xffffff).toString(16).padStart(6, "0").match(/../g)!.reverse().join("") +
  slot.toString(16).padStart(2, "0");

Deno.test({
  name:
    "stratum: wrong job, stale job, nonce out of range, duplicate and low-difficulty shares are rejected with their reason, counted, and never sent to the pool",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pool = await startStubPool(1_000_000n);
    const home = await tempHome();
    await initNode(home, "farm", "dual");
    await cliOk(home, [
      "stratum",
      "upstream",
      "add",
      pool.url,
      "--user",
      "wallet-1",
      "--pass",
      "s3cret",
    ]);
    await cliOk(home, ["stratum", "set", "--difficulty", "1000"]);
    const node = await serve(home);
    const token = await apiToken(home);
    const get = api(node.api!, token);
    const port = stratumPort(node);
    const miner = await scriptedMiner(port);
    try {
      const { job } = await miner.login("rig-1");
      // The pool got the farm's credentials; the miner got none, only its work.
      await until(() => pool.logins.length === 1, "the proxy's pool login");
      assert.equal(pool.logins[0].login, "wallet-1");
      assert.equal(pool.logins[0].pass, "s3cret");
      assert.ok(
        !JSON.stringify(job).includes("s3cret") && !JSON.stringify(job).includes("wallet-1"),
      );
      const set = await get("/stratum/upstreams");
      assert.deepEqual(set.upstreams, [{
        index: 0,
        url: pool.url,
        user: "wallet-1",
        hasPass: true,
      }]);
      assert.ok(!JSON.stringify(set).includes("s3cret"), "the password is never returned");
      assert.equal(job.target, stubTarget(1000n), "the miner's difficulty");
      const slot = parseInt(String(job.blob).slice(84, 86), 16);
      const j1 = String(job.job_id);

      const ok = async (share: { jobId: string; nonce: string; result: string }) => {
        const r = await miner.submit(share);
        assert.equal(r.error, null, JSON.stringify(r.error));
      };
      const refused = async (
        share: { jobId: string; nonce: string; result: string },
        text: RegExp,
      ) => {
        const r = await miner.submit(share);
        assert.ok(r.error, `expected a rejection matching ${text}`);
        assert.match(r.error.message, text);
      };
      // One share meets the pool's target (it goes upstream), one only the miner's.
      const block = { jobId: j1, nonce: nonceIn(slot, 1), result: resultFor(2_000_000n) };
      await ok(block);
      await ok({ jobId: j1, nonce: nonceIn(slot, 2), result: resultFor(2_000n) });
      await until(() => pool.shares.length === 1, "the pool-meeting share upstream");

      await refused(
        { jobId: "j999", nonce: nonceIn(slot, 3), result: resultFor(2_000_000n) },
        /Invalid job id/,
      );
      await refused(block, /Duplicate share/);
      await refused(
        { jobId: j1, nonce: nonceIn((slot + 1) % 256, 4), result: resultFor(2_000_000n) },
        /outside this miner's range/,
      );
      await refused(
        { jobId: j1, nonce: nonceIn(slot, 5), result: resultFor(500n) },
        /Low difficulty/,
      );
      await refused({ jobId: j1, nonce: "zz", result: resultFor(2_000_000n) }, /Malformed share/);

      // Two new pool jobs: the first job is now two behind (stale), the second one behind (its
      // shares still count, as stale).
      const next1 = miner.nextJob();
      pool.newJob();
      const j2 = String((await next1).job_id);
      const next2 = miner.nextJob();
      pool.newJob();
      const j3 = String((await next2).job_id);
      assert.equal(parseInt(String((await next1).blob).slice(84, 86), 16), slot, "same range");
      await refused(
        { jobId: j1, nonce: nonceIn(slot, 6), result: resultFor(2_000_000n) },
        /Stale job/,
      );
      await ok({ jobId: j2, nonce: nonceIn(slot, 7), result: resultFor(2_000n) });
      await ok({ jobId: j3, nonce: nonceIn(slot, 8), result: resultFor(2_000n) });

      // None of the bad ones reached the pool.
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(pool.shares, [{ jobId: "stub1", nonce: block.nonce, result: block.result }]);

      const status = await get("/stratum/status");
      assert.deepEqual(status.rejectReasons, {
        invalid_job: 1,
        duplicate: 1,
        nonce_out_of_range: 1,
        low_difficulty: 1,
        malformed: 1,
        stale_job: 1,
      });
      const m = status.miners[0];
      assert.equal(m.login, "rig-1");
      assert.equal(m.slot, slot);
      assert.deepEqual([m.accepted, m.stale, m.rejected, m.upstreamAccepted], [3, 1, 6, 1]);
      assert.ok(m.bestDifficulty >= 2_000_000, String(m.bestDifficulty));
      assert.equal(status.upstreams[0].accepted, 1);
      const log = (await get("/stratum/shares")).shares;
      assert.deepEqual(
        log.map((r: { verdict: string; reason?: string; upstream?: string }) =>
          r.reason ?? r.verdict
        ),
        [
          "accepted",
          "accepted",
          "invalid_job",
          "duplicate",
          "nonce_out_of_range",
          "low_difficulty",
          "malformed",
          "stale_job",
          "stale",
          "accepted",
        ],
      );
      assert.equal(log[0].upstream, "accepted");

      // The CLI and the metrics say the same.
      const cliStatus = JSON.parse((await cliOk(home, ["stratum", "status", "--json"])).stdout);
      assert.deepEqual(cliStatus.totals, { ...status.totals, hashrate: cliStatus.totals.hashrate });
      const table = (await cliOk(home, ["stratum", "status"])).stdout;
      assert.match(table, /rig-1/);
      assert.match(table, /stale_job 1/);
      const metrics = await (await fetch(`${node.api}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      }))
        .text();
      assert.match(metrics, /^miner_cli_stratum_shares_total\{verdict="rejected"\} 6$/m);
      assert.match(metrics, /^miner_cli_stratum_shares_total\{verdict="upstream_accepted"\} 1$/m);
      if (!PROMTOOL.ignore) await assertPromtoolClean(PROMTOOL.path!, metrics);

      // The Fleet page's Pool view shows the same, at desktop and phone width.
      if (!CHROMIUM.ignore) await poolViewShots(node.api!, token);
    } finally {
      miner.close();
      await node.stop();
      await pool.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stratum: when the first upstream (a real monerod) stops, miners get the next upstream's job within 10 s and their shares keep being accepted",
  ignore: MONEROD.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await tempHome();
    const chain = await startMonerod(MONEROD.path!, `${home}/monerod`, {
      difficulty: 100,
      rpcPort: freePort(),
      p2pPort: freePort(),
    });
    // monerod's own vector for the hashing blob of a template with an extra nonce (what the
    // proxy recomputes for miners beyond 256): ours matches, from the template alone.
    const given = await chain.rpc("get_block_template", {
      wallet_address: WALLET,
      extra_nonce: "00000000000001a5",
    });
    const parsed = parseTemplate(
      String(given.blocktemplate_blob),
      Number(given.reserved_offset),
      8,
    );
    assert.equal(withExtraNonce(parsed, 0).hashing, given.blockhashing_blob);
    const plain = await chain.rpc("get_block_template", {
      wallet_address: WALLET,
      reserve_size: 8,
    });
    const at = Number(plain.reserved_offset);
    const written = withExtraNonce(
      parseTemplate(String(plain.blocktemplate_blob), at, 8),
      0x1a5,
    );
    assert.equal(
      written.template.slice(at * 2, at * 2 + 16),
      "00000000000001a5",
      "where monerod puts it",
    );
    assert.notEqual(written.hashing, plain.blockhashing_blob);

    const pool = await startStubPool(1_000_000n);
    await initNode(home, "farm", "dual");
    await cliOk(home, ["stratum", "upstream", "add", chain.url, "--user", WALLET]);
    await cliOk(home, ["stratum", "upstream", "add", pool.url, "--user", "wallet-2"]);
    await cliOk(home, ["stratum", "set", "--difficulty", "50"]);
    const node = await serve(home);
    const token = await apiToken(home);
    const get = api(node.api!, token);
    const port = stratumPort(node);
    const miners = [await scriptedMiner(port), await scriptedMiner(port)];
    try {
      const first = await Promise.all(miners.map((m, i) => m.login(`m${i}`)));
      const slots = first.map((f) => parseInt(String(f.job.blob).slice(84, 86), 16));
      assert.notEqual(slots[0], slots[1], "disjoint ranges");
      assert.equal(first[0].job.height, await chain.height(), "work from the daemon");
      let status = await get("/stratum/status");
      assert.deepEqual(
        status.upstreams.map((u: { state: string; active: boolean }) => [u.state, u.active]),
        [
          ["up", true],
          ["up", false],
        ],
      );

      const jobs = miners.map((m) => m.nextJob(10_000));
      const stoppedAt = Date.now();
      await chain.stop();
      const moved = await Promise.all(jobs);
      const took = Date.now() - stoppedAt;
      assert.ok(took < 10_000, `failover took ${took} ms`);
      for (const [i, j] of moved.entries()) {
        // The pool's blob, with the miner's byte in the nonce's high byte.
        const b = pool.blob();
        assert.equal(
          String(j.blob),
          b.slice(0, 84) + slots[i].toString(16).padStart(2, "0") + b.slice(86),
        );
        assert.equal(parseInt(String(j.blob).slice(84, 86), 16), slots[i], "each keeps its range");
      }
      status = await get("/stratum/status");
      assert.deepEqual(
        status.upstreams.map((u: { state: string; active: boolean }) => [u.state, u.active]),
        [
          ["down", false],
          ["up", true],
        ],
      );
      // Shares keep being accepted, and the pool-meeting ones reach the second upstream.
      for (const [i, m] of miners.entries()) {
        const share = {
          jobId: String(moved[i].job_id),
          nonce: nonceIn(slots[i], 9),
          result: resultFor(2_000_000n),
        };
        const r = await m.submit(share);
        assert.equal(r.error, null, JSON.stringify(r.error));
      }
      await until(() => pool.shares.length === 2, "both shares at the second upstream");
      assert.deepEqual(
        new Set(pool.shares.map((s) => s.nonce.slice(6))),
        new Set(slots.map((s) => s.toString(16).padStart(2, "0"))),
      );
    } finally {
      for (const m of miners) m.close();
      await node.stop();
      await chain.stop();
      await pool.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stratum: a rig's miners stay connected while the controller restarts, are refused shares with the reason meanwhile, and get work again when it is back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome();
    const pool = await startStubPool(1_000_000n);
    const c = `${root}/c`;
    const w = `${root}/w`;
    const ctl = await initNode(c, "boss", "controller");
    const rig = await initNode(w, "rig-1", "worker");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    await cliOk(c, ["peer", "allow", rig.id]);
    await cliOk(c, ["stratum", "upstream", "add", pool.url, "--user", "wallet-1"]);
    await cliOk(c, ["stratum", "set", "--difficulty", "1000"]);
    const listen = `127.0.0.1:${freePort()}`;
    let cs = await serve(c, ["--listen", listen]);
    const ws = await serve(w, ["--connect", listen]);
    const port = stratumPort(ws);
    const miner = await scriptedMiner(port);
    try {
      const { job } = await miner.login("m1");
      const slot = parseInt(String(job.blob).slice(84, 86), 16);
      const share = (jobId: string, n: number) => ({
        jobId,
        nonce: nonceIn(slot, n),
        result: resultFor(2_000_000n),
      });
      assert.equal((await miner.submit(share(String(job.job_id), 1))).error, null);

      await cs.stop();
      await ws.waitForLog("stratum_controller_lost", 15_000);
      const meanwhile = await miner.submit(share(String(job.job_id), 2));
      assert.match(meanwhile.error?.message ?? "", /not linked right now/);

      // Back on the same address: the rig relinks, logs its miner in again, the miner (still on
      // the same connection) gets a job and its shares count.
      const next = miner.nextJob(30_000);
      cs = await serve(c, ["--listen", listen]);
      const again = await next;
      assert.notEqual(again.job_id, job.job_id, "a new proxy's job IDs are its own");
      assert.equal((await miner.submit(share(String(again.job_id), 3))).error, null);
      await until(() => pool.shares.length === 2, "both accepted shares at the pool");
    } finally {
      miner.close();
      await ws.stop();
      await cs.stop().catch(() => {});
      await pool.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
