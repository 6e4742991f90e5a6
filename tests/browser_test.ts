/**
 * Issue 5: the dashboard in real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a live fleet: a dual controller and two workers with emulated miners.
 * Screenshots of every page go to `dist/test-artifacts/`.
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { cliOk, component, discoverFlags, freeUdpPorts, initNode, ROOT, serve } from "./helpers.ts";
import { startFleet } from "./fleet_fixture.ts";

// Functions passed to page.waitForFunction run in the page (CSP forbids string evaluation).
declare const document: {
  querySelector(s: string): { textContent: string | null } | null;
  querySelectorAll(s: string): { length: number };
  cookie: string;
};

const CHROMIUM = component("chromium", "the browser tests (dashboard)");
const ARTIFACTS = `${ROOT}dist/test-artifacts`;

function parseRate(text: string): number {
  const m = /([\d.]+)\s*(H|kH|MH|GH)\/s/.exec(text);
  if (!m) throw new Error(`not a hashrate: ${text}`);
  return Number(m[1]) * { H: 1, kH: 1e3, MH: 1e6, GH: 1e9 }[m[2] as "H"];
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

Deno.test({
  name:
    "browser: login, Nodes, Fleet (total, stop/start remote), Console follow, add/remove peer, error toast, no external requests",
  ignore: CHROMIUM.ignore,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    // The controller runs discovery on loopback ports (a test never broadcasts on the host's
    // network): it listens on `udp[0]` and beacons to `udp[1]`, where the third worker listens.
    const udp = freeUdpPorts(2);
    const fleet = await startFleet({ controllerFlags: discoverFlags(udp[0], [udp[1]]) });
    const origin = new URL(fleet.api).origin;
    const browser = await chromium.launch({
      executablePath: CHROMIUM.path!,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const requests: string[] = [];
    const pageErrors: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1300, height: 850 } });
      const page = await context.newPage();
      page.on("request", (r) => requests.push(r.url()));
      page.on("pageerror", (e) => pageErrors.push(e.message));
      page.on("dialog", (d) => d.accept());

      // ---- login: a wrong token is refused with a hint, the right one opens the dashboard
      await page.goto(`${fleet.api}/`);
      await page.fill("input[name=token]", "wrong-token");
      await page.click("button[type=submit]");
      await page.getByText("Wrong token").waitFor();
      await shot(page, "0-login");
      await page.fill("input[name=token]", fleet.token);
      await page.click("button[type=submit]");
      await page.locator("nav.side").waitFor();
      const nav = await page.locator("nav.side a").allTextContents();
      assert.deepEqual(nav.slice(0, 8), [
        "Overview",
        "This node",
        "Nodes",
        "Fleet",
        "Graphs",
        "Profiles",
        "Console",
        "Alerts",
      ]);
      // a controller lands on the Overview
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.getByText("live", { exact: true }).waitFor();

      // ---- Nodes: both workers online, own ID shown
      await page.click("nav.side >> text=Nodes");
      await page.locator("[data-testid=node-id]", { hasText: fleet.id }).waitFor();
      for (const w of fleet.workers) {
        await page.locator(`tr[data-peer="${w.name}"] [aria-label=online]`).waitFor();
      }
      await page.locator("[data-testid=peers-online]", { hasText: "2/2" }).waitFor();
      // Each worker's capabilities, from its handshake.
      const caps = await page.locator(`tr[data-peer="${fleet.workers[0].name}"] [data-testid=caps]`)
        .textContent();
      assert.match(
        caps ?? "",
        new RegExp(
          `^${Deno.build.os}/${Deno.build.arch} · ${navigator.hardwareConcurrency}T · \\d+ GB`,
        ),
      );
      await shot(page, "2-nodes");

      // ---- Fleet: every miner and the right total
      await page.click("nav.side >> text=Fleet");
      for (const w of fleet.workers) {
        await page.locator(`tr[data-node="${w.name}"][data-miner=cpu] .badge`, {
          hasText: "running",
        })
          .waitFor();
      }
      // The total is per algorithm (every miner here mines rx/0), as the health model sums it.
      const rx = page.locator('[data-testid=fleet-total] [data-algorithm="rx/0"]');
      await rx.waitFor();
      const expected =
        ((await (await fleet.call("GET", "/api/v1/mining/health")).json()).totals as {
          algorithm: string;
          hashrate: number;
        }[]).find((t) => t.algorithm === "rx/0")!.hashrate;
      const shown = parseRate(await rx.innerText());
      assert.ok(Math.abs(shown - expected) / expected < 0.1, `total ${shown} vs ${expected}`);
      assert.equal(await page.locator("[data-testid=fleet-miner-count]").innerText(), "2");
      await shot(page, "3-fleet");

      // stop rig-1's miner from its row, then start it again from the node's group
      await page.locator('tr[data-node="rig-1"][data-miner=cpu] button', { hasText: "Stop" })
        .click();
      await page.waitForFunction(() => {
        const badge = document.querySelector('tr[data-node="rig-1"][data-miner="cpu"] .badge');
        return !badge || badge.textContent !== "running";
      });
      const afterStop = await (await fleet.call("GET", "/api/v1/mining/remote/rig-1/stats")).json();
      assert.ok(afterStop.peers[0].miners.every((m: { state: string }) => m.state !== "running"));
      await page.selectOption("select[name=fleet-profile]", { label: "cpu (xmrig)" });
      await page.locator('tr[data-group="rig-1"] button', { hasText: "Start profile" }).click();
      await page.locator('tr[data-node="rig-1"][data-miner=cpu] .badge', { hasText: "running" })
        .waitFor({ timeout: 15_000 });

      // ---- Console: follow rig-2's miner live
      await page.click("nav.side >> text=Console");
      await page.selectOption("select[name=target]", { label: "cpu on rig-2" });
      await page.locator("[data-testid=console] .line", { hasText: "speed" }).first().waitFor();
      const before = await page.locator("[data-testid=console] .line").count();
      await page.waitForFunction(
        (n) => document.querySelectorAll("[data-testid=console] .line").length > n,
        before,
      );
      await shot(page, "6-console");

      // ---- Nodes: a third worker discovered on the LAN is pending (untrusted) until approved;
      // approving registers it; then it is removed and added again by address.
      const h = `${fleet.root}/w3`;
      const w3info = await initNode(h, "rig-3", "worker");
      await cliOk(h, ["peer", "allow", fleet.id, "--control"]);
      const w3 = await serve(h, discoverFlags(udp[1], [udp[0]]));
      try {
        await page.click("nav.side >> text=Nodes");
        const row = page.locator(`tr[data-pending="${w3info.id}"]`);
        await row.waitFor();
        assert.match(await row.innerText(), new RegExp(`worker[^]*${w3.address}`));
        assert.equal(await page.locator('tr[data-peer="rig-3"]').count(), 0);
        await shot(page, "2-nodes-discovered");
        await row.locator("button", { hasText: "Approve" }).click();
        await page.locator('tr[data-peer="rig-3"]').waitFor();
        await row.waitFor({ state: "detached" });
        // the approved worker may do nothing on this controller until its operator says so
        const grants = page.locator('tr[data-peer="rig-3"] [data-testid=grants]');
        assert.equal(await grants.innerText(), "nothing");
        await page.locator('tr[data-peer="rig-3"] button', { hasText: "Grant control" }).click();
        await page.locator('tr[data-peer="rig-3"] [data-testid=grants]', { hasText: "control" })
          .waitFor();
        await page.locator('tr[data-peer="rig-3"] button', { hasText: "Revoke control" }).click();
        await page.locator('tr[data-peer="rig-3"] [data-testid=grants]', { hasText: "nothing" })
          .waitFor();
        await page.locator('tr[data-peer="rig-3"] button', { hasText: "Remove" }).click();
        await page.locator('tr[data-peer="rig-3"]').waitFor({ state: "detached" });
        await page.fill("input[name=address]", w3.address);
        await page.click("[data-testid=add-peer] button[type=submit]");
        await page.locator('tr[data-peer="rig-3"]').waitFor();
        await page.locator('tr[data-peer="rig-3"] button', { hasText: "Remove" }).click();
        await page.locator('tr[data-peer="rig-3"]').waitFor({ state: "detached" });
        const peers = (await (await fleet.call("GET", "/api/v1/mining/peers")).json()).peers;
        assert.deepEqual(peers.map((p: { name: string }) => p.name).sort(), ["rig-1", "rig-2"]);
      } finally {
        await w3.stop();
      }

      // ---- an API failure is shown to the user as an error toast
      await page.fill("input[name=address]", "127.0.0.1:1");
      await page.click("[data-testid=add-peer] button[type=submit]");
      const toast = page.locator(".toast.error", { hasText: "Add peer failed" });
      await toast.waitFor();
      assert.match(await toast.innerText(), /127\.0\.0\.1:1/);
      await shot(page, "2-nodes-error-toast");

      // ---- the remaining pages render with their data
      await page.click("nav.side >> text=This node");
      await page.getByRole("heading", { name: "This node" }).waitFor();
      await shot(page, "1-workers");
      await page.click("nav.side >> text=Graphs");
      await page.locator("[data-testid=chart] canvas").waitFor({ timeout: 15_000 });
      await shot(page, "4-graphs");
      await page.click("nav.side >> text=Profiles");
      await page.locator('tr[data-profile="cpu"]').waitFor();
      // a bad profile gets the node's validation message next to the form
      await page.click("text=New profile");
      await page.fill("input[name=name]", "bad one!");
      await page.click("[data-testid=profile-form] button[type=submit]");
      await page.locator("[data-testid=profile-error]", { hasText: "name" }).waitFor();
      await shot(page, "5-profiles");

      // ---- a second tab is signed in (session cookie), the token is kept nowhere a script reads
      const tab2 = await page.context().newPage();
      await tab2.goto(`${fleet.api}/#/alerts`);
      await tab2.locator("nav.side").waitFor();
      assert.equal(await tab2.locator("input[name=token]").count(), 0, "no token prompt");
      const stored = await tab2.evaluate(() =>
        JSON.stringify({ s: { ...sessionStorage }, l: { ...localStorage }, c: document.cookie })
      );
      assert.ok(!stored.includes(fleet.token), `token stored in the page: ${stored}`);
      assert.ok(!stored.includes("mcli_session"), "the session cookie is HttpOnly");
      // sign out in the second tab: the first is signed out too
      await tab2.click("nav.side >> text=Sign out");
      await tab2.locator("input[name=token]").waitFor();
      await page.locator("input[name=token]").waitFor({ timeout: 15_000 });
      await tab2.close();

      // ---- nothing left the node: every request went to its own origin
      const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
      assert.deepEqual(foreign, [], `external requests: ${foreign.join(", ")}`);
      assert.ok(requests.some((u) => u.endsWith("/app.js")));
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await fleet.close();
    }
  },
});
