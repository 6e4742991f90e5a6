/**
 * The `alerts` and `health` commands and their API as a user meets them: every bad input is a
 * clear error with exit 1 (or a 4xx) and loses nothing stored; silences, acknowledgements,
 * rules, thresholds, tags and channels work from the CLI and the API alike; secrets never come
 * back; the dead man's switch is requested while the node runs.
 */
import assert from "node:assert/strict";
import { cli, cliOk, freePort, initNode, serve, tempHome, until } from "./helpers.ts";

Deno.test("alerts/health CLI: bad input is refused with the reason and nothing stored changes", async () => {
  const home = await tempHome();
  try {
    await initNode(home, "boss", "controller");
    const bad = async (args: string[], re: RegExp) => {
      const r = await cli(home, args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
    };
    assert.equal((await cli(home, ["health", "set", "zeroForSeconds=30"])).code, 0);
    assert.equal(
      (await cli(home, ["alerts", "rules", "set", "rig_offline", "--for", "5m"])).code,
      0,
    );
    const files = async () =>
      await Promise.all(
        ["config/health.json", "config/alert_rules.json"].map((f) =>
          Deno.readTextFile(`${home}/${f}`)
        ),
      );
    const before = await files();
    await bad(["health", "set", "nope=1"], /unknown threshold nope: one of expectedFraction/);
    await bad(["health", "set", "expectedFraction=2"], /expectedFraction: .*<=1/);
    await bad(["health", "set", "zeroForSeconds"], /expected KEY=VALUE/);
    await bad(
      ["health", "set", "gpuTempLimit=80", "--rig", "a", "--profile", "b"],
      /--rig or --profile, not both/,
    );
    await bad(["health", "unset", "nope"], /unknown threshold nope/);
    await bad(["alerts", "rules", "set", "nope", "--enabled", "false"], /no alert rule "nope"/);
    await bad(["alerts", "rules", "set", "hashrate_zero"], /nothing to change/);
    await bad(
      ["alerts", "rules", "set", "hashrate_zero", "--enabled", "maybe"],
      /--enabled must be true or false/,
    );
    await bad(
      ["alerts", "rules", "set", "hashrate_zero", "--severity", "huge"],
      /--severity must be one of critical, warning, info/,
    );
    await bad(
      ["alerts", "rules", "set", "rig_offline", "--threshold", "3"],
      /rule rig_offline has no threshold/,
    );
    await bad(["alerts", "rules", "set", "hashrate_zero", "--for", "soon"], /--for/);
    await bad(["alerts", "silence", "rig-1"], /--reason is required/);
    await bad(["alerts", "silence", "--reason", "x"], /silence what\?/);
    await bad(["alerts", "silence", "rig-1", "--for", "10s", "--reason", "x"], /--for/);
    await bad(["alerts", "unsilence", "nope"], /no silence "nope"/);
    await bad(["alerts", "ack", "abcd"], /no firing alert matches "abcd"/);
    await bad(["alerts", "channels", "add", "w", "--type", "webhook", "--url", "ftp://x"], /url/);
    await bad(
      ["alerts", "channels", "add", "w", "--type", "fax"],
      /--type must be one of webhook, alertmanager, email/,
    );
    await bad(
      ["alerts", "channels", "add", "t", "--type", "telegram", "--chat-id", "1"],
      /--secret-file/,
    );
    await bad(
      ["alerts", "channels", "add", "m", "--type", "email", "--smtp-host", "h"],
      /--from is required/,
    );
    await bad([
      "alerts",
      "channels",
      "add",
      "w",
      "--type",
      "webhook",
      "--url",
      "http://x",
      "--secret-file",
      `${home}/none`,
    ], /cannot read --secret-file/);
    await bad(["alerts", "channels", "remove", "nope"], /no alert channel "nope"/);
    await bad(["alerts", "channels", "test", "nope"], /no alert channel "nope"/);
    await bad(
      ["alerts", "channels", "lst"],
      /alerts channels has no command "lst"; did you mean `alerts channels list`\?/,
    );
    await bad(["alerts", "lst"], /did you mean `alerts list`\?/);
    await bad(["peer", "set", "x", "--tags", "Bad Tag"], /bad tag "Bad Tag"/);
    await bad(["remote", "start", "--tag", "gpu", "--profile", "x"], /no rig is tagged gpu/);
    await bad(["remote", "stop", "rig-1", "--tag", "gpu"], /no rig is tagged gpu|usage/);
    await bad(["remote", "deploy", "--tag", "gpu", "--miner", "xmrig"], /no rig is tagged gpu/);
    await bad(["profile", "assign", "nope", "--tag", "gpu"], /no profile matches "nope"/);
    await bad(["profile", "unassign", "--tag", "gpu"], /no profile is assigned to tag "gpu"/);
    assert.deepEqual(await files(), before, "nothing stored changed");
    // The rule's threshold is the health model's fleet default: one number.
    assert.equal(
      (await cli(home, ["alerts", "rules", "set", "hashrate_zero", "--threshold", "45"])).code,
      0,
    );
    const t = JSON.parse((await cli(home, ["health", "thresholds", "--json"])).stdout);
    assert.equal(t.effective.zeroForSeconds, 45);
    const rules = JSON.parse((await cli(home, ["alerts", "rules", "list", "--json"])).stdout).rules;
    const rz = rules.find((r: { id: string }) => r.id === "hashrate_zero");
    assert.deepEqual([rz.thresholdKey, rz.threshold], ["zeroForSeconds", 45]);
    assert.equal(rules.find((r: { id: string }) => r.id === "rig_offline").forSeconds, 300);
    // Silences: added, listed, ended.
    const s = JSON.parse(
      (await cli(home, [
        "alerts",
        "silence",
        "rig-1",
        "--for",
        "2h",
        "--reason",
        "maintenance",
        "--json",
      ])).stdout,
    );
    assert.equal(s.rig, "rig-1");
    assert.match(
      (await cli(home, ["alerts", "list"])).stdout,
      new RegExp(`silences: ${s.id} until`),
    );
    assert.equal((await cli(home, ["alerts", "unsilence", s.id])).code, 0);
    assert.doesNotMatch((await cli(home, ["alerts", "list"])).stdout, /silences:/);
    // A channel to a closed port: its test fails with exit 1 and the reason.
    const port = freePort();
    assert.equal(
      (await cli(home, [
        "alerts",
        "channels",
        "add",
        "dead",
        "--type",
        "webhook",
        "--url",
        `http://127.0.0.1:${port}/x`,
      ])).code,
      0,
    );
    const test = await cli(home, ["alerts", "test", "dead"]);
    assert.equal(test.code, 1);
    assert.match(
      test.stderr,
      new RegExp(`test message to dead failed: http://127\\.0\\.0\\.1:${port}/x: .*refused`, "i"),
    );
    assert.equal(
      (await cli(home, [
        "alerts",
        "channels",
        "add",
        "dead",
        "--type",
        "webhook",
        "--url",
        "http://x.example/",
      ])).code,
      1,
    );
    assert.equal(
      (await cli(home, [
        "alerts",
        "channels",
        "add",
        "dead",
        "--type",
        "webhook",
        "--url",
        "http://127.0.0.1:9/y",
        "--replace",
      ]))
        .code,
      0,
    );
    assert.equal((await Deno.stat(`${home}/data/alert_channels.json`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("alerts API: health, alerts, rules, channels (secrets masked), silences, thresholds; 401 and 4xx with the reason; the dead man's switch", async () => {
  const home = await tempHome();
  const beats: string[] = [];
  const hb = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    beats.push(new URL(req.url).pathname);
    return new Response("OK");
  });
  let node: Awaited<ReturnType<typeof serve>> | null = null;
  try {
    await initNode(home, "boss", "dual");
    node = await serve(home, [
      "--health-interval",
      "300ms",
      "--heartbeat-url",
      `http://127.0.0.1:${hb.addr.port}/ping/abc`,
      "--heartbeat-interval",
      "1s",
    ]);
    const token = (await cliOk(home, ["node", "info", "--token"])).stdout.trim().split("\n").at(
      -1,
    )!;
    const base = `${node.api}/api/v1/mining`;
    const call = (method: string, path: string, body?: unknown, auth = true) =>
      fetch(`${base}${path}`, {
        method,
        headers: {
          ...(auth ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const ok = async (method: string, path: string, body?: unknown, status = 200) => {
      const r = await call(method, path, body);
      const text = await r.text();
      assert.equal(r.status, status, `${method} ${path}: ${text}`);
      return JSON.parse(text);
    };
    const fails = async (
      method: string,
      path: string,
      body: unknown,
      status: number,
      re: RegExp,
    ) => {
      const r = await call(method, path, body);
      const text = await r.text();
      assert.equal(r.status, status, `${method} ${path}: ${text}`);
      assert.match(text, re, `${method} ${path}`);
    };
    // The node judges itself: a dual node with no miner is idle.
    const h = await ok("GET", "/health");
    assert.equal(h.rigs[0].name, "boss");
    assert.equal(h.rigs[0].state, "idle");
    assert.equal((await call("GET", "/health", undefined, false)).status, 401);
    assert.equal((await call("GET", "/alerts", undefined, false)).status, 401);
    assert.deepEqual(Object.keys(await ok("GET", "/alerts")).sort(), [
      "firing",
      "pending",
      "resolved",
      "silences",
    ]);
    assert.equal((await ok("GET", "/alerts/rules")).rules.length, 12);
    const rule = await ok("PATCH", "/alerts/rules/below_expected", {
      threshold: 0.7,
      forSeconds: 60,
    });
    assert.deepEqual([rule.threshold, rule.forSeconds], [0.7, 60]);
    await fails("PATCH", "/alerts/rules/nope", { enabled: true }, 404, /no alert rule/);
    await fails("PATCH", "/alerts/rules/below_expected", { forSeconds: -5 }, 400, /forSeconds/);
    const added = await ok("POST", "/alerts/channels", {
      channel: {
        name: "tg",
        type: "telegram",
        token: "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345",
        chatId: "42",
      },
    }, 201);
    assert.equal(added.settings.token, "***");
    const listed = JSON.stringify(await ok("GET", "/alerts/channels"));
    assert.ok(!listed.includes("ABCdefGHI"), "no token in the API");
    await fails(
      "POST",
      "/alerts/channels",
      { channel: { name: "tg", type: "telegram", token: "1:x", chatId: "1" } },
      400,
      /token/,
    );
    await fails(
      "POST",
      "/alerts/channels",
      { channel: { name: "x", type: "nope" } },
      400,
      /invalid channel/,
    );
    await fails("DELETE", "/alerts/channels/none", undefined, 404, /no alert channel/);
    assert.deepEqual(await ok("DELETE", "/alerts/channels/tg"), { removed: "tg" });
    const sil = await ok("POST", "/alerts/silences", {
      rig: "boss",
      seconds: 600,
      reason: "upgrade",
    }, 201);
    assert.equal((await ok("GET", "/alerts")).silences[0].id, sil.id);
    await fails("POST", "/alerts/silences", { seconds: 600, reason: "x" }, 400, /rig or a rule/);
    await fails(
      "POST",
      "/alerts/silences",
      { rig: "boss", seconds: 5, reason: "x" },
      400,
      /seconds/,
    );
    await ok("DELETE", `/alerts/silences/${sil.id}`);
    await fails("DELETE", "/alerts/silences/nope", undefined, 404, /no silence/);
    await fails("POST", "/alerts/ack", { ref: "zzzz" }, 404, /no firing alert/);
    const th = await ok("PUT", "/health/thresholds", {
      scope: "rig",
      ref: "boss",
      set: { gpuTempLimit: 80 },
    });
    assert.equal(th.rigs.boss.gpuTempLimit, 80);
    await fails(
      "PUT",
      "/health/thresholds",
      { scope: "rig", set: { gpuTempLimit: 80 } },
      400,
      /needs ref/,
    );
    await fails(
      "PUT",
      "/health/thresholds",
      { scope: "defaults", set: { gpuTempLimit: 999 } },
      400,
      /gpuTempLimit/,
    );
    assert.equal((await ok("GET", "/health/thresholds")).config.rigs.boss.gpuTempLimit, 80);
    // Dashboard sessions: the token is exchanged for an HttpOnly, SameSite=Strict cookie.
    const wrong = await fetch(`${base}/session`, {
      method: "POST",
      body: JSON.stringify({ token: "nope" }),
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const signIn = await fetch(`${base}/session`, {
      method: "POST",
      body: JSON.stringify({ token }),
    });
    assert.equal(signIn.status, 201);
    await signIn.body?.cancel();
    const setCookie = signIn.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^mcli_session=[A-Za-z0-9_-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Max-Age=43200/);
    const cookie = setCookie.split(";")[0];
    const withCookie = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { cookie, ...(init.headers ?? {}) } });
    const viaCookie = await withCookie("/alerts/rules");
    assert.equal(viaCookie.status, 200);
    await viaCookie.body?.cancel();
    // another site's page cannot use it (and browsers would not even send it: SameSite=Strict)
    const foreign = await withCookie("/alerts/silences", {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ rig: "boss", seconds: 600, reason: "x" }),
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    const out = await withCookie("/session", { method: "DELETE" });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    const after = await withCookie("/alerts/rules");
    assert.equal(after.status, 401, "the session ended");
    await after.body?.cancel();

    // The dead man's switch: a GET every interval while the node is healthy.
    await until(() => beats.length >= 2, "two heartbeats", 10_000);
    assert.deepEqual([...new Set(beats)], ["/ping/abc"]);
    const metrics =
      await (await fetch(`${node.api}/metrics`, { headers: { authorization: `Bearer ${token}` } }))
        .text();
    assert.match(metrics, /miner_cli_heartbeat_last_success_timestamp_seconds \d+/);
    assert.match(metrics, /miner_cli_rig_health\{rig="boss",rig_id="[0-9a-f]+",state="idle"\} 1/);
    // A bad URL is a usage error.
    const r = await cli(home, [
      "node",
      "serve",
      "--heartbeat-url",
      "ftp://x",
      "--no-api",
      "--listen",
      "127.0.0.1:0",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--heartbeat-url must be an http/);
  } finally {
    await node?.stop();
    await hb.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
