/**
 * The dashboard as an operator meets it, in Debian's Chromium at 1440×900 and 390×844, against a
 * fleet of five worker processes: one stalled at 0 H/s, one down, one with a GPU at 95 °C, one on
 * KawPow beside the others' RandomX. The Overview lists the down and degraded rigs first with
 * their reasons and totals per algorithm; the hot GPU shows on its Fleet row and its rig page; no
 * page scrolls sideways at either size; every table row has as many cells as its header; chart
 * labels fit their axis; a stop asks first, then a toast, and the miner shows "stopped"; a miner
 * bundle is uploaded to a rig from its page with progress and a result. Screenshots of every page
 * at both sizes go to `dist/test-artifacts/`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
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

const CHROMIUM = component("chromium", "the dashboard tests");
const ARTIFACTS = `${ROOT}dist/test-artifacts`;

// Functions passed to page.evaluate run in the page.
declare const document: {
  documentElement: { scrollWidth: number };
  querySelectorAll(s: string): ArrayLike<{
    querySelectorAll(s: string): ArrayLike<{ colSpan?: number; tagName: string }>;
    children: ArrayLike<{ colSpan?: number }>;
  }>;
  querySelector(s: string): { dataset: Record<string, string> } | null;
};
declare const innerWidth: number;

/** Header cells vs row cells (colspans counted) of every table on the page. */
function tableShapes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const tables = document.querySelectorAll("main table");
    for (let t = 0; t < tables.length; t++) {
      const heads = tables[t].querySelectorAll("thead th").length;
      const rows = tables[t].querySelectorAll("tbody tr") as unknown as ArrayLike<
        { children: ArrayLike<{ colSpan?: number }> }
      >;
      for (let i = 0; i < rows.length; i++) {
        let n = 0;
        for (let c = 0; c < rows[i].children.length; c++) n += rows[i].children[c].colSpan || 1;
        if (heads && n !== heads) {
          bad.push(`table ${t} row ${i}: ${n} cells under ${heads} headers`);
        }
      }
    }
    return bad;
  });
}

async function noSideScroll(page: Page, what: string): Promise<void> {
  const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  assert.ok(sw <= iw, `${what}: the page scrolls sideways (${sw} > ${iw})`);
}

Deno.test({
  name:
    "dashboard: five rigs (stalled, down, hot GPU, two algorithms) at desktop and phone size: Overview, Fleet, rig page, no sideways scroll, table shapes, chart labels, confirmed stop, bundle upload, screenshots",
  ignore: CHROMIUM.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const root = await tempHome("miner-cli-dash-");
    const nodes: ServeHandle[] = [];
    const browser = await chromium.launch({
      executablePath: CHROMIUM.path!,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    try {
      const c = join(root, "c");
      const ctl = await initNode(c, "boss", "dual");
      await installEmulatedMiner(resolvePaths({ home: c }), "xmrig", {
        env: { MINER_EMU_PRINT_MS: "200" },
      });
      await cliOk(c, ["health", "set", "zeroForSeconds=3"]);
      await cliOk(c, ["alerts", "rules", "set", "device_temperature", "--for", "1s"]);
      for (
        const [name, extra] of [["stally", ["--stall-seconds", "5"]], ["cpu", []], [
          "tagged",
          [],
        ]] as const
      ) {
        await cliOk(c, [
          "profile",
          "add",
          "--type",
          "xmrig",
          "--name",
          name,
          "--pool",
          "pool.example.org:3333",
          "--user",
          "44w",
          "--threads",
          "1",
          ...extra,
        ]);
      }
      await cliOk(c, [
        "profile",
        "add",
        "--type",
        "tt-miner",
        "--name",
        "gpu",
        "--pool",
        "pool.example.org:4444",
        "--user",
        "44w",
        "--algo",
        "kawpow",
      ]);
      const EMU = {
        MINER_EMU_PRINT_MS: "200",
        MINER_EMU_SHARE_MS: "300",
        MINER_EMU_WINDOW_MS: "1000",
      };
      const rigs = [
        {
          name: "rig-1",
          kind: "xmrig" as const,
          env: { ...EMU, MINER_EMU_FAULT: "stall-after=2" },
          profile: "stally",
        },
        {
          name: "rig-2",
          kind: "xmrig" as const,
          env: { ...EMU, MINER_EMU_GPUS: "2", MINER_EMU_GPU_TEMPS: "61,95" },
          profile: "cpu",
        },
        { name: "rig-3", kind: "xmrig" as const, env: EMU, profile: "cpu" },
        { name: "rig-4", kind: "tt-miner" as const, env: EMU, profile: "gpu" },
        { name: "rig-5", kind: "xmrig" as const, env: EMU, profile: "cpu" },
      ];
      const byName = new Map<string, ServeHandle>();
      for (const r of rigs) {
        const h = join(root, r.name);
        await initNode(h, r.name, "worker");
        await installEmulatedMiner(resolvePaths({ home: h }), r.kind, { env: r.env });
        await cliOk(h, ["peer", "allow", ctl.id, "--control"]);
        const node = await serve(h, [
          "--listen",
          `127.0.0.1:${freePort()}`,
          "--no-api",
          "--poll-interval",
          "200ms",
        ]);
        nodes.push(node);
        byName.set(r.name, node);
        await cliOk(c, ["peer", "add", "--address", node.address, "--name", r.name]);
      }
      const controller = await serve(c, [
        "--fleet-poll",
        "500ms",
        "--health-interval",
        "300ms",
        "--history-interval",
        "1s",
        "--poll-interval",
        "200ms",
      ]);
      nodes.push(controller);
      for (const r of rigs) await cliOk(c, ["remote", "start", r.name, "--profile", r.profile]);
      byName.get("rig-5")!.process.kill("SIGKILL");
      const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
      const get = async (path: string) =>
        await (await fetch(`${controller.api}/api/v1/mining${path}`, {
          headers: { authorization: `Bearer ${token}` },
        }))
          .json();
      await until(
        async () => {
          const h = await get("/health");
          const st = (n: string) => h.rigs.find((r: { name: string }) => r.name === n)?.state;
          return st("rig-5") === "down" && st("rig-1") === "degraded" &&
            st("rig-2") === "degraded" &&
            h.totals.some((t: { algorithm: string }) => t.algorithm === "kawpow");
        },
        "the fleet's states",
        40_000,
        250,
      );
      const bundle = join(root, "xmrig.tar");
      await cliOk(c, ["bundle", "create", "--miner", "xmrig", "--output", bundle]);

      for (const [w, hgt, tag] of [[1440, 900, "desktop"], [390, 844, "phone"]] as const) {
        const context = await browser.newContext({ viewport: { width: w, height: hgt } });
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("dialog", (d) => d.accept());
        await page.goto(`${controller.api}/`);
        await page.fill("input[name=token]", token);
        await page.click("button[type=submit]");
        // ---- Overview: down and degraded first, with reasons; totals per algorithm
        await page.locator("[data-testid=attention] tr[data-rig]").first().waitFor();
        await page.locator('[data-testid=attention] tr[data-rig="rig-1"]').waitFor();
        const order = await page.locator("[data-testid=attention] tr[data-rig]").evaluateAll((
          rows,
        ) =>
          rows.map((r) =>
            `${(r as unknown as { dataset: Record<string, string> }).dataset.rig}:${
              (r as unknown as { dataset: Record<string, string> }).dataset.state
            }`
          )
        );
        assert.equal(order[0], "rig-5:down", order.join(" "));
        assert.ok(
          order.includes("rig-1:degraded") && order.includes("rig-2:degraded"),
          order.join(" "),
        );
        assert.match(
          await page.locator('[data-testid=attention] tr[data-rig="rig-1"]').innerText(),
          /hashrate 0 H\/s/,
        );
        assert.match(
          await page.locator('[data-testid=attention] tr[data-rig="rig-2"]').innerText(),
          /95 °C/,
        );
        assert.match(
          await page.locator('[data-testid=attention] tr[data-rig="rig-5"]').innerText(),
          /rig offline/,
        );
        await page.locator('[data-testid=totals] tr[data-algorithm="kawpow"]').waitFor();
        await page.locator('[data-testid=totals] tr[data-algorithm="rx/0"]').waitFor();
        await noSideScroll(page, `overview ${tag}`);
        assert.deepEqual(await tableShapes(page), []);
        await page.screenshot({
          path: `${ARTIFACTS}/dashboard-overview-${tag}.png`,
          fullPage: true,
        });

        // ---- Fleet: the hot GPU on its row
        await page.goto(`${controller.api}/#/fleet`);
        const rig2 = page.locator('tr[data-group="rig-2"]');
        await rig2.waitFor();
        await until(
          async () => /95 °C/.test(await rig2.innerText()),
          "95 °C on rig-2's row",
          10_000,
        );
        assert.deepEqual(await tableShapes(page), []);
        await noSideScroll(page, `fleet ${tag}`);
        await page.screenshot({ path: `${ARTIFACTS}/dashboard-fleet-${tag}.png`, fullPage: true });

        // ---- rig page: the hot GPU in its device table
        await page.goto(
          `${controller.api}/#/rig?id=${
            (await get("/peers")).peers.find((p: { name: string }) => p.name === "rig-2").id
          }`,
        );
        const hot = page.locator('[data-testid=rig-devices] tr[data-state="degraded"]');
        await hot.waitFor();
        assert.match(await hot.innerText(), /95 °C/);
        await noSideScroll(page, `rig page ${tag}`);
        assert.deepEqual(await tableShapes(page), []);
        if (tag === "desktop") {
          // its GPUs' temperatures over time, from the node's history
          await page.locator("[data-testid=rig-temps] canvas").first().waitFor({ timeout: 15_000 });
          const rig2id = (await get("/peers")).peers.find((p: { name: string }) =>
            p.name === "rig-2"
          ).id;
          void rig2id;
          const temps = await get(
            `/history/devices?miner=${encodeURIComponent("rig-2/cpu")}&from=${
              Date.now() - 600_000
            }&to=${Date.now()}`,
          );
          assert.ok(
            temps.devices.some((d: { device: number; points: { temp: number | null }[] }) =>
              d.device === 1 && d.points.some((p) => p.temp === 95)
            ),
            JSON.stringify(temps).slice(0, 300),
          );
          // a miner bundle uploaded from a rig's page (rig-3: rig-2 keeps its GPU-emulating
          // miner), with progress and a result
          await page.locator("[data-testid=rig-chart] canvas").first().waitFor({ timeout: 15_000 });
          await page.screenshot({ path: `${ARTIFACTS}/dashboard-rig-${tag}.png`, fullPage: true });
          await page.goto(
            `${controller.api}/#/rig?id=${
              (await get("/peers")).peers.find((p: { name: string }) => p.name === "rig-3").id
            }`,
          );
          await page.locator("input[name=bundle]").waitFor();
          await page.setInputFiles("input[name=bundle]", bundle);
          await page.click("button:has-text('Upload bundle')");
          const status = page.locator('[data-testid=deploy-status][data-phase="done"]');
          await status.waitFor({ timeout: 30_000 });
          assert.match(await status.innerText(), /deployed xmrig/);
          await page.locator(".toast", { hasText: "Deployed to rig-3" }).waitFor();
        }
        await page.locator("[data-testid=rig-chart] canvas").first().waitFor({ timeout: 15_000 });
        await page.screenshot({
          path: `${ARTIFACTS}/dashboard-rig${tag === "desktop" ? "-upload" : ""}-${tag}.png`,
          fullPage: true,
        });

        // ---- Graphs: labels fit the axis
        await page.goto(`${controller.api}/#/graphs`);
        await page.locator("[data-testid=chart] canvas").waitFor({ timeout: 15_000 });
        const axis = await page.evaluate(() =>
          document.querySelector("[data-testid=chart]")?.dataset ?? {}
        );
        assert.ok(
          Number(axis.axisSize) >= Number(axis.labelWidth) + 16,
          `axis ${JSON.stringify(axis)}`,
        );
        await page.locator("[data-testid=shares-chart] canvas").waitFor();
        await page.check("input[name=overlay]");
        await page.locator("[data-testid=overlay-chart] canvas").waitFor({ timeout: 15_000 });
        await noSideScroll(page, `graphs ${tag}`);
        await page.screenshot({ path: `${ARTIFACTS}/dashboard-graphs-${tag}.png`, fullPage: true });

        // ---- every other page: no sideways scroll, table shapes
        for (const p of ["workers", "nodes", "profiles", "console", "alerts", "audit"]) {
          await page.goto(`${controller.api}/#/${p}`);
          await page.locator("main h1").waitFor();
          await page.waitForTimeout(300);
          await noSideScroll(page, `${p} ${tag}`);
          assert.deepEqual(await tableShapes(page), [], p);
          await page.screenshot({ path: `${ARTIFACTS}/dashboard-${p}-${tag}.png`, fullPage: true });
        }
        // ---- a profile through the form: a refused placeholder wallet beside its field
        if (tag === "desktop") {
          await page.goto(`${controller.api}/#/profiles`);
          await page.click("text=New profile");
          await page.fill("input[name=name]", "rx-form");
          await page.fill("input[name='pools.0.url']", "stratum+tcp://pool.example.org:3333");
          await page.fill("input[name='pools.0.user']", "WALLET_ADDRESS");
          await page.fill("input[name='pools.0.algo']", "rx/0");
          await page.click("[data-testid=profile-form] button[type=submit]");
          const beside = page.locator('[data-testid=pools] [data-field-error="pools.0.user"]');
          await beside.waitFor();
          assert.match(await beside.innerText(), /placeholder/);
          // the message sits inside the wallet field's own label
          assert.equal(
            await page.locator("label", { has: page.locator("input[name='pools.0.user']") })
              .locator(
                "[data-field-error]",
              ).count(),
            1,
          );
          await page.fill("input[name='pools.0.user']", "44realWalletAddress");
          await page.click("text=Add a failover pool");
          await page.fill("input[name='pools.1.url']", "pool2.example.org:3333");
          await page.fill("input[name='pools.1.user']", "44realWalletAddress");
          await page.fill("input[name=tempLimit]", "80");
          await page.click("[data-testid=profile-form] button[type=submit]");
          await page.locator(".toast", { hasText: "Saved profile rx-form" }).waitFor();
          // its health threshold: an override of the fleet default for this profile's miners
          const th = await get("/health/thresholds");
          const rxForm = (await get("/profiles")).profiles.find((x: { name: string }) =>
            x.name === "rx-form"
          );
          assert.equal(th.config.profiles[rxForm.id]?.gpuTempLimit, 80, JSON.stringify(th.config));
          const prow = page.locator('tr[data-profile="rx-form"]');
          await prow.waitFor();
          const ptext = await prow.innerText();
          assert.match(ptext, /stratum\+tcp:\/\/pool\.example\.org:3333/);
          assert.match(ptext, /\+1 failover/);
          assert.match(ptext, /rx\/0/);
          await page.screenshot({
            path: `${ARTIFACTS}/dashboard-profiles-form-${tag}.png`,
            fullPage: true,
          });
        }
        // ---- tags and a profile assigned to a tag: two tagged rigs start it, a third tagged later
        // starts it too, and a bulk stop by tag stops them
        if (tag === "desktop") {
          const idOf = async (n: string) =>
            (await get("/peers")).peers.find((p: { name: string }) => p.name === n).id;
          const runs = async (n: string, miner: string) => {
            const st = await get(`/remote/stats?maxAge=0`);
            const row = st.peers.find((p: { name: string }) => p.name === n);
            return row?.miners.some((m: { name: string; state: string }) =>
              m.name === miner && m.state === "running"
            ) ?? false;
          };
          await page.goto(`${controller.api}/#/rig?id=${await idOf("rig-2")}`);
          await page.fill("input[name=tags]", "gpu,room-2");
          await page.click("button:has-text('Save tags')");
          await page.locator(".toast", { hasText: "Tags of rig-2 saved" }).waitFor();
          await cliOk(c, ["peer", "tag", "rig-3", "gpu"]);
          await page.goto(`${controller.api}/#/profiles`);
          await page.selectOption("select[name=assign-profile]", { label: "tagged" });
          await page.fill("input[name=assign-tag]", "gpu");
          await page.click("[data-testid=assignments] button:has-text('Assign')");
          await page.locator(".toast", { hasText: "Rigs tagged gpu run tagged" }).waitFor();
          await until(
            async () => (await runs("rig-2", "tagged")) && (await runs("rig-3", "tagged")),
            "both tagged rigs run it",
            30_000,
            300,
          );
          await page.locator(
            '[data-testid=assignments-table] tr[data-tag="gpu"] [data-outcome="started"]',
          ).nth(1)
            .waitFor({ timeout: 10_000 });
          await cliOk(c, ["peer", "tag", "rig-1", "gpu"]);
          await until(() => runs("rig-1", "tagged"), "a rig tagged later runs it", 30_000, 300);
          await page.screenshot({
            path: `${ARTIFACTS}/dashboard-assignments-${tag}.png`,
            fullPage: true,
          });
          // bulk stop by tag: filter the Fleet by the tag, select every rig shown, stop
          await page.goto(`${controller.api}/#/fleet`);
          await page.selectOption("select[name=tag]", "gpu");
          await page.locator("text=3 of 6 rigs shown").waitFor();
          await page.check("input[aria-label='select every rig shown']");
          await page.locator("[data-testid=bulk-bar]", { hasText: "3 rig(s) selected" }).waitFor();
          await page.click("[data-testid=bulk-bar] button:has-text('Stop miners')");
          // Whatever the bulk stop ends with is shown (a failure or "no running miners" too), so
          // a failure says which. The wait outlasts a stop request's own 30 s timeout: a stop left
          // unanswered (it happened twice under the parallel suite) ends in a toast that says why
          // instead of a timeout here that says nothing.
          const stopToast = page.locator(".toast", {
            hasText: /^(Stopped |No running miners|\d+ of \d+ stops failed)/,
          });
          await stopToast.first().waitFor({ timeout: 40_000 });
          assert.match((await stopToast.first().textContent()) ?? "", /^Stopped /);
          await until(
            async () =>
              !(await runs("rig-1", "tagged")) && !(await runs("rig-2", "tagged")) &&
              !(await runs("rig-3", "tagged")),
            "the tagged rigs stopped",
            15_000,
            300,
          );
          // ... and the assignment does not start them again behind the operator's back
          await page.waitForTimeout(6000);
          assert.equal(await runs("rig-3", "tagged"), false, "a stopped miner stays stopped");
          // start the rigs' usual miners again for what follows
          await cliOk(c, ["remote", "start", "rig-3", "--profile", "cpu"]);
          await cliOk(c, ["remote", "start", "rig-2", "--profile", "cpu"]);
          await cliOk(c, ["remote", "start", "rig-1", "--profile", "stally"]);
        }
        // ---- a stop asks first, then a toast, and the miner shows "stopped"
        if (tag === "desktop") {
          await page.goto(`${controller.api}/#/fleet`);
          const row = page.locator('tr[data-node="rig-3"][data-miner="cpu"]');
          await row.locator(".badge", { hasText: "running" }).waitFor();
          let asked = "";
          page.removeAllListeners("dialog");
          page.on("dialog", (d) => {
            asked = d.message();
            d.accept();
          });
          await row.locator("button", { hasText: "Stop" }).click();
          await page.locator(".toast", { hasText: "Stopped cpu on rig-3" }).waitFor();
          assert.equal(asked, "Stop 1 miner(s) on 1 rig(s)?");
          await row.locator(".badge", { hasText: "stopped" }).waitFor({ timeout: 15_000 });
          await page.screenshot({
            path: `${ARTIFACTS}/dashboard-fleet-stopped-${tag}.png`,
            fullPage: true,
          });
          // start it again from the UI, then stop and start it from the CLI (through the node)
          await page.selectOption("select[name=fleet-profile]", { label: "cpu (xmrig)" });
          await page.locator('tr[data-group="rig-3"] button', { hasText: "Start profile" }).click();
          await page.locator(".toast", { hasText: "Started cpu on rig-3" }).waitFor();
          await cliOk(c, ["remote", "stop", "rig-3", "cpu"]);
          await cliOk(c, ["remote", "start", "rig-3", "--profile", "cpu"]);

          // ---- Audit: the operator's start and stop, from the UI and from the CLI, with source
          await page.goto(`${controller.api}/#/audit`);
          for (const src of ["ui", "cli"]) {
            for (const act of ["start", "stop"]) {
              await page.locator(
                `[data-testid=audit-table] tr[data-source="${src}"][data-action="POST /remote/{peer}/${act}"]`,
              ).first().waitFor();
            }
          }
          assert.equal(
            await page.locator('[data-testid=audit-table] tr[data-action="peer_online"]').count(),
            0,
            "online/offline churn is on its own tab",
          );
          await page.screenshot({
            path: `${ARTIFACTS}/dashboard-audit-${tag}.png`,
            fullPage: true,
          });
          // the worker's own records, read over the mesh: what it accepted
          const rig3 = (await get("/peers")).peers.find((p: { name: string }) =>
            p.name === "rig-3"
          ).id;
          await page.selectOption("select[name=audit-node]", rig3);
          await page.locator(
            '[data-testid=audit-table] tr[data-action="stop_miner"][data-outcome="ok"]',
          )
            .first().waitFor();
          assert.match(
            await page.locator('[data-testid=audit-table] tr[data-action="stop_miner"]').first()
              .innerText(),
            /boss/,
          );

          // ---- Alerts: silence an alert from the page
          await page.goto(`${controller.api}/#/alerts`);
          const hotAlert = page.locator(
            '[data-testid=alerts-table] tr[data-alert="device_temperature"][data-rig="rig-2"]',
          );
          await hotAlert.waitFor({ timeout: 15_000 });
          await hotAlert.locator("button", { hasText: "Silence 1 h" }).click();
          await page.locator(".toast", {
            hasText: "silenced device_temperature on rig-2 for 1 hour",
          })
            .waitFor();
          await page.locator("li", { hasText: "silenced from the dashboard" }).waitFor();
          await until(
            async () => {
              const v = await get("/alerts");
              return v.firing.some((a: { rule: string; rig: string; silencedBy: string | null }) =>
                a.rule === "device_temperature" && a.rig === "rig-2" && a.silencedBy
              );
            },
            "the alert silenced",
            10_000,
            200,
          );
          await page.screenshot({
            path: `${ARTIFACTS}/dashboard-alerts-silenced-${tag}.png`,
            fullPage: true,
          });
        }
        assert.deepEqual(errors, []);
        await context.close();
      }
    } finally {
      await browser.close();
      await Promise.all(nodes.map((n) => n.stop().catch(() => 0)));
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

/** A synthetic fleet of `n` rigs (health and stats), as the node's API would answer. */
function syntheticFleet(n: number): { health: unknown; stats: unknown } {
  const rigs = [];
  const peers = [];
  for (let i = 0; i < n; i++) {
    const id = `${i.toString(16).padStart(8, "0")}${"ab".repeat(12)}`;
    const name = `rig-${String(i).padStart(4, "0")}`;
    const state = i % 50 === 0 ? "down" : i % 17 === 0 ? "degraded" : "ok";
    const algorithm = i % 3 ? "rx/0" : "kawpow";
    const hr = algorithm === "rx/0" ? 1000 + (i * 37) % 900 : 30e6 + (i * 7919) % 9e6;
    const miner = {
      name: "m",
      type: algorithm === "rx/0" ? "xmrig" : "tt-miner",
      profileId: null,
      state: state === "down" ? "stopped" : "running",
      pid: 100 + i,
      hashrate: { now: hr, avg60: hr, avg15m: hr },
      shares: { accepted: 100 + i, rejected: i % 7 },
      pool: "pool.example.org:3333",
      algorithm,
      difficulty: null,
      uptime: 3600 + i,
      paused: false,
      version: null,
      threads: [],
      devices: [],
      restarts: i % 4,
      restartLog: [],
      startedAt: null,
      lastError: null,
    };
    peers.push({
      id,
      name,
      address: `10.0.${i >> 8}.${i & 255}:9091`,
      online: state !== "down",
      ms: 3,
      miners: state === "down" ? [] : [miner],
    });
    rigs.push({
      id,
      name,
      tags: [i % 2 ? "odd" : "even"],
      state,
      since: null,
      reasons: state === "down"
        ? [{ code: "rig_offline", message: "rig offline for 3 min", since: null }]
        : [],
      miners: state === "down" ? [] : [{
        name: "m",
        state: state === "degraded" ? "degraded" : "ok",
        reasons: state === "degraded"
          ? [{ code: "hashrate_zero", message: "hashrate 0 H/s for 2 min", since: null }]
          : [],
        algorithm,
        hashrate: hr,
        expected: null,
        expectedSource: null,
        recentRestarts: 0,
        rejectRate: null,
        devices: [],
      }],
      totals: [],
      maxTemp: 60 + (i % 25),
      updatedAt: null,
    });
  }
  return {
    health: {
      at: new Date().toISOString(),
      state: "down",
      counts: { ok: 0, degraded: 0, down: 0, idle: 0, unknown: 0 },
      totals: [],
      rigs,
    },
    stats: {
      totals: [],
      nodes: n,
      online: n,
      offline: 0,
      peers,
      cachedAt: new Date().toISOString(),
    },
  };
}

Deno.test({
  name: "dashboard: the Fleet page renders and sorts 1,000 rigs (paged, 50 a page); times reported",
  ignore: CHROMIUM.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome("miner-cli-dash1k-");
    const browser = await chromium.launch({
      executablePath: CHROMIUM.path!,
      args: ["--no-sandbox", "--disable-gpu"],
    });
    let node: ServeHandle | null = null;
    try {
      const home = join(root, "c");
      await initNode(home, "boss", "controller");
      node = await serve(home, ["--health-interval", "60s"]);
      const token = (await cliOk(home, ["node", "info", "--token"])).stdout.trim().split("\n").at(
        -1,
      )!;
      const fleet = syntheticFleet(1000);
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      // The node's answers about its fleet, replaced by 1,000 synthetic rigs.
      await page.route("**/api/v1/mining/health", (r) => r.fulfill({ json: fleet.health }));
      await page.route("**/api/v1/mining/remote/stats*", (r) => r.fulfill({ json: fleet.stats }));
      await page.goto(`${node.api}/`);
      await page.fill("input[name=token]", token);
      await page.click("button[type=submit]");
      await page.locator("nav.side").waitFor();
      const t0 = performance.now();
      await page.goto(`${node.api}/#/fleet`);
      await page.locator("[data-testid=pager]", { hasText: "page 1 of 20 (1000 rigs)" }).waitFor();
      const renderMs = performance.now() - t0;
      const firstRig = () => page.locator("tr.group").first().getAttribute("data-group");
      assert.equal(await firstRig(), "rig-0000", "down rigs first (state order)");
      const t1 = performance.now();
      await page.click("th[data-sort=name]");
      await until(async () => (await firstRig()) === "rig-0000", "sorted by name", 5000, 10);
      await page.click("th[data-sort=name]");
      await until(
        async () => (await firstRig()) === "rig-0999",
        "sorted by name, descending",
        5000,
        10,
      );
      const sortMs = (performance.now() - t1) / 2;
      await page.click("th[data-sort=hashrate]");
      await page.fill("input[name=search]", "rig-05");
      await page.locator("text=100 of 1000 rigs shown").waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-fleet-1000-desktop.png` });
      console.error(
        `1,000 rigs: Fleet page rendered in ${Math.round(renderMs)} ms, sorted in ${
          Math.round(sortMs)
        } ms`,
      );
    } finally {
      await browser.close();
      await node?.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
