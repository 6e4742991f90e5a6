/**
 * Health and alerts end to end, as an operator meets them: a controller and four worker nodes
 * as real processes, a real Alertmanager (Debian's prometheus-alertmanager) and a real SMTP
 * server (aiosmtpd) on loopback, and a webhook receiver that checks the HMAC signature.
 *
 * - rig-1's miner stalls at 0 H/s and the watchdog restarts it: `degraded` with the reason and
 *   the restarts in `remote status` (text and --json), the API, the metrics and `/events`, and
 *   "hashrate 0" fires;
 * - rig-2 has a GPU at 95 °C: the devices show in the CLI and the metrics (promtool accepts
 *   them), and the temperature alert fires;
 * - rig-4 mines KawPow beside the others' RandomX: totals per algorithm everywhere;
 * - rig-2, rig-3 and rig-4 are killed with SIGKILL together: each channel receives one grouped
 *   "rig offline" message for the three; the controller restarts while it fires and sends no
 *   duplicate; the rigs come back and each channel receives one resolve.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  cli,
  cliOk,
  collectEvents,
  component,
  freePort,
  initNode,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "./helpers.ts";

const AM = component("prometheus-alertmanager", "the alert tests (a real Alertmanager)");
const SMTP = component("aiosmtpd", "the alert tests (a real SMTP server)");
const PROMTOOL = component("promtool", "the metrics check");

interface Hook {
  status: string;
  rule: string | null;
  title: string;
  alerts: { rig: string; summary: string }[];
}

Deno.test({
  name:
    "alerts e2e: a stalled miner is degraded with reason and restarts everywhere, three rigs killed together are one message per channel (webhook, Alertmanager, SMTP), no duplicate after a controller restart, one resolve",
  ignore: AM.ignore || SMTP.ignore || PROMTOOL.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await tempHome("miner-cli-alerts-");
    const procs: Deno.ChildProcess[] = [];
    const nodes = new Map<string, ServeHandle>();
    const abort = new AbortController();
    // --- receivers
    const hooks: Hook[] = [];
    const secret = "hook-secret-0123456789";
    const hookServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        const body = await req.text();
        const key = await crypto.subtle.importKey(
          "raw",
          new TextEncoder().encode(secret),
          { name: "HMAC", hash: "SHA-256" },
          false,
          ["verify"],
        );
        const sig = (req.headers.get("x-miner-cli-signature") ?? "").replace(/^sha256=/, "");
        const bytes = new Uint8Array((sig.match(/../g) ?? []).map((h) => parseInt(h, 16)));
        const ok = await crypto.subtle.verify("HMAC", key, bytes, new TextEncoder().encode(body));
        if (!ok) return new Response("bad signature", { status: 401 });
        hooks.push(JSON.parse(body));
        return new Response("ok");
      },
    );
    const amPort = freePort();
    const amDir = join(root, "am");
    await Deno.mkdir(amDir);
    await Deno.writeTextFile(
      join(amDir, "am.yml"),
      'route:\n  receiver: "none"\n  group_wait: 1s\nreceivers:\n  - name: "none"\n',
    );
    const am = new Deno.Command(AM.path!, {
      args: [
        `--config.file=${join(amDir, "am.yml")}`,
        `--storage.path=${amDir}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        "--cluster.listen-address=",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    procs.push(am);
    const smtpPort = freePort();
    const maildir = join(root, "mail");
    const smtp = new Deno.Command(SMTP.path!, {
      args: ["-n", "-l", `127.0.0.1:${smtpPort}`, "-c", "aiosmtpd.handlers.Mailbox", maildir],
      stdout: "null",
      stderr: "null",
    }).spawn();
    procs.push(smtp);
    const amUrl = `http://127.0.0.1:${amPort}`;
    const amAlerts = async (name = "rig_offline"): Promise<
      { labels: Record<string, string>; status: { state: string } }[]
    > =>
      await (await fetch(
        `${amUrl}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${name}"`)}`,
      )).json();
    const mails = async (): Promise<{ subject: string; body: string }[]> => {
      const out = [];
      let entries: Deno.DirEntry[] = [];
      try {
        entries = await Array.fromAsync(Deno.readDir(join(maildir, "new")));
      } catch { /* no mail yet */ }
      for (const e of entries) {
        const text = await Deno.readTextFile(join(maildir, "new", e.name));
        out.push({
          subject: /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? "",
          body: text.split(/\r?\n\r?\n/).slice(1).join("\n\n"),
        });
      }
      return out;
    };
    try {
      await until(
        async () => (await fetch(`${amUrl}/-/ready`).catch(() => null))?.ok === true,
        "alertmanager ready",
        20_000,
      );
      await until(
        async () => {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port: smtpPort })).close();
            return true;
          } catch {
            return false;
          }
        },
        "SMTP server listening",
        20_000,
      );

      // --- the controller and its configuration (before it runs: files it reads)
      const c = join(root, "c");
      const ctl = await initNode(c, "boss", "controller");
      await cliOk(c, ["health", "set", "zeroForSeconds=4"]);
      await cliOk(c, ["alerts", "rules", "set", "rig_offline", "--for", "2s"]);
      await cliOk(c, ["alerts", "rules", "set", "device_temperature", "--for", "1s"]);
      await Deno.writeTextFile(join(root, "hook.key"), secret);
      await cliOk(c, [
        "alerts",
        "channels",
        "add",
        "hook",
        "--type",
        "webhook",
        "--url",
        `http://127.0.0.1:${hookServer.addr.port}/hook`,
        "--secret-file",
        join(root, "hook.key"),
      ]);
      await cliOk(c, ["alerts", "channels", "add", "am", "--type", "alertmanager", "--url", amUrl]);
      // A channel whose receiver is down: retried, reported failing, delaying no other channel.
      const deadPort = freePort();
      await cliOk(c, [
        "alerts",
        "channels",
        "add",
        "dead",
        "--type",
        "webhook",
        "--url",
        `http://127.0.0.1:${deadPort}/hook`,
      ]);
      await cliOk(c, [
        "alerts",
        "channels",
        "add",
        "mail",
        "--type",
        "email",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        String(smtpPort),
        "--smtp-security",
        "none",
        "--from",
        "miner-cli@example.com",
        "--to",
        "ops@example.com",
      ]);
      // A channel test reaches the real SMTP server.
      assert.match(
        (await cliOk(c, ["alerts", "channels", "test", "mail"])).stdout,
        /delivered to mail/,
      );
      await until(async () => (await mails()).length === 1, "the test mail", 10_000);
      assert.match((await mails())[0].subject, /^\[TEST\] miner-cli alerts from boss/);
      // Secrets never come back.
      const listed = (await cliOk(c, ["alerts", "channels", "list", "--json"])).stdout;
      assert.ok(!listed.includes(secret), "the webhook secret is masked");
      await cliOk(c, [
        "profile",
        "add",
        "--type",
        "xmrig",
        "--name",
        "stally",
        "--pool",
        "pool.example.org:3333",
        "--user",
        "44w",
        "--threads",
        "1",
        "--stall-seconds",
        "8",
      ]);
      await cliOk(c, [
        "profile",
        "add",
        "--type",
        "xmrig",
        "--name",
        "cpu",
        "--pool",
        "pool.example.org:3333",
        "--user",
        "44w",
        "--threads",
        "1",
      ]);
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

      // --- four workers
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
      ];
      const ports = new Map<string, number>();
      const startRig = async (name: string) => {
        const node = await serve(join(root, name), [
          "--listen",
          `127.0.0.1:${ports.get(name)}`,
          "--no-api",
          "--poll-interval",
          "200ms",
        ]);
        nodes.set(name, node);
      };
      for (const r of rigs) {
        const h = join(root, r.name);
        await initNode(h, r.name, "worker");
        await installEmulatedMiner(resolvePaths({ home: h }), r.kind, { env: r.env });
        await cliOk(h, ["peer", "allow", ctl.id, "--control"]);
        ports.set(r.name, freePort());
        await startRig(r.name);
        await cliOk(c, [
          "peer",
          "add",
          "--address",
          `127.0.0.1:${ports.get(r.name)}`,
          "--name",
          r.name,
        ]);
      }
      const controllerFlags = [
        "--fleet-poll",
        "500ms",
        "--health-interval",
        "300ms",
        "--alert-group-wait",
        "1500ms",
        "--history-interval",
        "1s",
      ];
      nodes.set("c", await serve(c, controllerFlags));
      const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
      const api = () => nodes.get("c")!.api!;
      const get = async <T>(path: string): Promise<T> =>
        await (await fetch(`${api()}/api/v1/mining${path}`, {
          headers: { authorization: `Bearer ${token}` },
        })).json();
      const events = collectEvents(`${api()}/api/v1/mining/events`, token, abort.signal);
      for (const r of rigs) await cliOk(c, ["remote", "start", r.name, "--profile", r.profile]);

      // --- 1. the stalled rig: degraded, with the reason and the restarts
      type H = {
        rigs: {
          name: string;
          state: string;
          since: string | null;
          reasons: { code: string; message: string }[];
          miners: {
            name: string;
            state: string;
            recentRestarts: number;
            reasons: { code: string; message: string }[];
          }[];
        }[];
        totals: { algorithm: string; hashrate: number }[];
      };
      await until(
        async () => {
          const h = await get<H>("/health");
          const m = h.rigs.find((r) => r.name === "rig-1")?.miners[0];
          return !!m && m.state === "degraded" && m.recentRestarts >= 1 &&
            m.reasons.some((x) =>
              x.code === "hashrate_zero" && /restarted \d+× \(stall\)/.test(x.message)
            );
        },
        "rig-1 degraded: hashrate 0, restarted (stall)",
        40_000,
        200,
      );
      const status = await cli(c, ["remote", "status"]);
      assert.equal(status.code, 2, "degraded: exit 2");
      const line = status.stdout.split("\n").find((l) => l.startsWith("rig-1"))!;
      assert.match(
        line,
        /◐ degraded .*hashrate 0 H\/s for \d+ s.*restarted \d+× \(stall\)/,
        status.stdout,
      );
      // What needs attention first.
      const order = status.stdout.split("\n").filter((l) => /^rig-\d/.test(l)).map((l) =>
        l.split(/\s+/)[0]
      );
      assert.ok(order.indexOf("rig-3") > order.indexOf("rig-1"), status.stdout);
      assert.equal(
        (await cli(c, ["remote", "status", "--fail-on", "down"])).code,
        0,
        "nothing is down",
      );
      const doc = JSON.parse((await cli(c, ["remote", "status", "--json"])).stdout);
      const row1 = doc.peers.find((p: { name: string }) => p.name === "rig-1");
      assert.equal(row1.health.state, "degraded");
      assert.ok(
        row1.health.miners[0].reasons.some((r: { code: string }) => r.code === "hashrate_zero"),
      );
      const metrics =
        await (await fetch(`${api()}/metrics`, { headers: { authorization: `Bearer ${token}` } }))
          .text();
      assert.match(
        metrics,
        /miner_cli_miner_health\{node="rig-1",node_id="[0-9a-f]+",miner="[^"]+",state="degraded"\} 1/,
      );
      assert.match(
        metrics,
        /miner_cli_rig_health\{rig="rig-1",rig_id="[0-9a-f]+",state="degraded"\} 1/,
      );
      assert.match(metrics, /miner_cli_miner_restarts_total\{node="rig-1"[^}]*\} [1-9]/);
      await until(
        () =>
          events.some((e) =>
            e.type === "alert" && e.data.kind === "firing" &&
            (e.data.alert as { rule: string }).rule === "hashrate_zero"
          ),
        "alert event on /events",
        10_000,
      );
      assert.ok(events.some((e) => e.type === "health"), "health events on /events");
      // A health event carries the rigs whose health changed, not the fleet (the rig whose miner
      // stalled changed alone at least once), with the fleet's counts over all of them.
      const healthEvents = events.filter((e) => e.type === "health").map((e) =>
        e.data.health as { rigs: { name: string }[]; removed: string[]; counts: object }
      );
      const fleetSize = (await get<H>("/health")).rigs.length;
      assert.ok(
        healthEvents.some((h) => h.rigs.length > 0 && h.rigs.length < fleetSize),
        `health events' rigs: ${healthEvents.map((h) => h.rigs.length)} of ${fleetSize}`,
      );
      assert.ok(healthEvents.every((h) => Array.isArray(h.removed)));
      assert.ok(
        healthEvents.every((h) =>
          Object.values(h.counts).reduce((a: number, n) => a + (n as number), 0) === fleetSize
        ),
        "counts are the fleet's",
      );
      await until(
        () => hooks.some((h) => h.rule === "hashrate_zero" && h.status === "firing"),
        "hashrate 0 at the webhook",
        10_000,
      );
      // ... and at the Alertmanager and by mail, naming the rig and the reason.
      await until(
        async () => (await amAlerts("hashrate_zero")).some((a) => a.labels.rig === "rig-1"),
        "hashrate 0 in Alertmanager",
        20_000,
        200,
      );
      await until(
        async () => (await mails()).some((m) => /^\[FIRING:1\] hashrate 0: rig-1$/.test(m.subject)),
        "the hashrate 0 mail",
        20_000,
        200,
      );
      const zeroMail = (await mails()).find((m) => /hashrate 0: rig-1/.test(m.subject))!;
      assert.match(zeroMail.body, /- rig-1\/\S+: hashrate 0 H\/s for \d+ s/);
      // The dead channel failed and is being retried; the others delivered all the same.
      const failing = await cliOk(c, ["alerts", "channels", "list"]);
      assert.match(failing.stdout, /dead +webhook .* FAILING .*\(\d+ attempts\): .*refused/i);
      assert.match(failing.stdout, /hook +webhook .* ok /);

      // --- 2. devices and the temperature alert; 3. totals per algorithm
      const dev = await cli(c, ["remote", "status", "--devices"]);
      assert.match(
        dev.stdout,
        /rig-2 +\S+ +gpu1 +Radeon RX 6800 #1 +◐ degraded .* 95 °C .* 85 °C +Radeon RX 6800 #1 at 95 °C \(limit 85 °C\)/,
        dev.stdout,
      );
      await until(
        () => hooks.some((h) => h.rule === "device_temperature" && h.status === "firing"),
        "temperature alert at the webhook",
        10_000,
      );
      assert.match(
        metrics,
        /miner_cli_device_temperature_celsius\{node="rig-2",[^}]*device="1",[^}]*\} 95/,
      );
      const check = await new Deno.Command(PROMTOOL.path!, {
        args: ["check", "metrics"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = check.stdin.getWriter();
      await w.write(new TextEncoder().encode(metrics));
      await w.close();
      const checked = await check.output();
      assert.equal(
        checked.code,
        0,
        new TextDecoder().decode(checked.stderr) + new TextDecoder().decode(checked.stdout),
      );
      await until(
        async () => {
          const t = (await get<H>("/health")).totals.map((x) => x.algorithm);
          return t.includes("rx/0") && t.includes("kawpow");
        },
        "two algorithms in the totals",
        10_000,
      );
      const text = (await cli(c, ["remote", "status"])).stdout;
      assert.match(text, /^kawpow: [\d.]+ MH\/s on 1 rig$/m, text);
      assert.match(text, /^rx\/0: [\d.]+ [kM]?H\/s on \d rigs?$/m, text);
      assert.match(metrics, /miner_cli_fleet_hashrate_hashes_per_second\{algorithm="rx\/0"\}/);
      assert.match(metrics, /miner_cli_fleet_hashrate_hashes_per_second\{algorithm="kawpow"\}/);
      assert.doesNotMatch(
        metrics,
        /miner_cli_fleet_hashrate_hashes_per_second [\d]/,
        "no unlabelled total",
      );
      const statsDoc = await get<{ totals: { algorithm: string }[]; totalHashrate?: number }>(
        "/remote/stats",
      );
      assert.deepEqual(statsDoc.totals.map((t) => t.algorithm), ["kawpow", "rx/0"]);
      assert.equal(statsDoc.totalHashrate, undefined);
      await until(
        async () => {
          const hist = await get<
            { series?: { algorithm: string; points: unknown[] }[]; points: unknown[] }
          >(
            `/history?from=${Date.now() - 600_000}&to=${Date.now()}`,
          );
          return hist.points.length === 0 &&
            (hist.series ?? []).filter((s) => s.points.length > 0).map((s) => s.algorithm).sort()
                .join(",") === "kawpow,rx/0";
        },
        "history per algorithm",
        15_000,
        500,
      );

      // --- 4. three rigs down at once: one grouped message per channel
      const killed = ["rig-2", "rig-3", "rig-4"];
      for (const n of killed) nodes.get(n)!.process.kill("SIGKILL");
      await Promise.all(killed.map((n) => nodes.get(n)!.process.status));
      const offlineHooks = () => hooks.filter((h) => h.rule === "rig_offline");
      await until(
        () => offlineHooks().some((h) => h.status === "firing"),
        "rig offline at the webhook",
        30_000,
        100,
      );
      await until(
        async () => (await amAlerts()).length === 3,
        "three rig_offline alerts in Alertmanager",
        30_000,
        200,
      );
      await until(
        async () =>
          (await mails()).some((m) =>
            /^\[FIRING:3\] rig offline: rig-2, rig-3, rig-4$/.test(m.subject)
          ),
        "the grouped mail",
        30_000,
        200,
      );
      const firing = offlineHooks().filter((h) => h.status === "firing");
      assert.equal(firing.length, 1, JSON.stringify(offlineHooks()));
      assert.deepEqual(firing[0].alerts.map((a) => a.rig), killed);
      assert.match(firing[0].title, /^\[FIRING:3\] rig offline: rig-2, rig-3, rig-4$/);
      const am1 = await amAlerts();
      assert.deepEqual(am1.map((a) => a.labels.rig).sort(), killed);
      assert.ok(
        am1.every((a) =>
          a.status.state === "active" && a.labels.severity === "critical" &&
          a.labels.controller === "boss"
        ),
      );
      const mail = (await mails()).find((m) => /rig offline: rig-2/.test(m.subject))!;
      assert.match(mail.body, /- rig-2: rig offline for \d+ s/);
      const down = await cli(c, ["remote", "status"]);
      assert.equal(down.code, 2);
      assert.match(
        down.stdout.split("\n").find((l) => l.startsWith("rig-3"))!,
        /○ down .*rig offline for \d+ s/,
      );
      const alertsList = await cliOk(c, ["alerts", "list"]);
      assert.match(alertsList.stdout, /firing +critical +rig_offline +rig-2/);

      // --- the controller restarts while they fire: nothing is sent again
      await nodes.get("c")!.stop();
      nodes.set("c", await serve(c, controllerFlags));
      await until(
        async () => {
          const h = await get<H>("/health");
          return killed.every((n) => h.rigs.find((r) => r.name === n)?.state === "down");
        },
        "the restarted controller sees the rigs down",
        30_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2500)); // longer than the group wait
      assert.equal(
        offlineHooks().length,
        1,
        `no duplicate after the restart: ${JSON.stringify(offlineHooks())}`,
      );
      assert.equal((await mails()).filter((m) => /rig offline/.test(m.subject)).length, 1);
      const zeroBefore = hooks.filter((h) =>
        h.rule === "hashrate_zero" && h.status === "firing"
      ).length;
      assert.equal(
        zeroBefore,
        1,
        "the stall was announced once, through restarts of miner and controller",
      );

      // --- they come back: one resolve per channel
      await Promise.all(killed.map(startRig));
      await until(
        () => offlineHooks().some((h) => h.status === "resolved"),
        "resolve at the webhook",
        30_000,
        100,
      );
      await until(
        async () => (await amAlerts()).length === 0,
        "resolved in Alertmanager",
        30_000,
        200,
      );
      await until(
        async () => (await mails()).some((m) => /^\[RESOLVED:3\] rig offline/.test(m.subject)),
        async () =>
          `the resolve mail; mails: ${
            JSON.stringify((await mails()).map((m) => m.subject))
          }; webhook: ${JSON.stringify(offlineHooks())}`,
        30_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2000));
      const resolved = offlineHooks().filter((h) => h.status === "resolved");
      assert.equal(resolved.length, 1, JSON.stringify(offlineHooks()));
      assert.deepEqual(resolved[0].alerts.map((a) => a.rig), killed);
      assert.equal(offlineHooks().length, 2);
      assert.equal((await mails()).filter((m) => /rig offline/.test(m.subject)).length, 2);
      const history = await cliOk(c, ["alerts", "history"]);
      assert.match(history.stdout, /resolved +critical +rig_offline +rig-2/);
      const chans = await cliOk(c, ["alerts", "channels", "list"]);
      assert.match(chans.stdout, /hook +webhook .* ok /);
      assert.equal(
        (await mails()).filter((m) => /hashrate 0: rig-1/.test(m.subject)).length,
        1,
        "the stall reached the mailbox once",
      );
    } finally {
      abort.abort();
      await Promise.all([...nodes.values()].map((n) => n.stop().catch(() => 0)));
      for (const p of procs) {
        try {
          p.kill("SIGTERM");
        } catch { /* gone */ }
        await p.status;
      }
      await hookServer.shutdown();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
