/**
 * The alert engine in one process, with the clock in the test's hands: pending → firing →
 * resolved, grouping (30 rigs down together are one message), silences that hold back and
 * expire, acknowledgements that stop repeats, persistence across a restart (no duplicate, a
 * resolve for what resolved meanwhile, nothing resolved for a rig not heard from yet), a failing
 * channel retried with backoff while the others deliver, and each channel's request in the format
 * its documented API expects.
 */
import assert from "node:assert/strict";
import {
  AlertControls,
  AlertEngine,
  type ChannelConfig,
  ChannelStore,
  deliver,
  Dispatcher,
  type Notification,
  RulesStore,
} from "../src/alerts/mod.ts";
import {
  DEFAULT_THRESHOLDS,
  type FleetHealth,
  type HealthReason,
  type RigHealth,
} from "../src/protocol/mod.ts";
import { tempHome, until } from "./helpers.ts";

const T0 = Date.now();
const iso = (t: number) => new Date(t).toISOString();
const id = (n: number) => `rig${String(n).padStart(4, "0")}`.padEnd(32, "f");

function rig(
  n: number,
  reasons: HealthReason[] = [],
  minerReasons: HealthReason[] = [],
): RigHealth {
  return {
    id: id(n),
    name: `rig-${n}`,
    tags: n % 2 ? ["odd"] : [],
    state: reasons.length ? "down" : minerReasons.length ? "degraded" : "ok",
    since: null,
    reasons,
    miners: [{
      name: "cpu",
      state: minerReasons.length ? "degraded" : "ok",
      reasons: minerReasons,
      algorithm: "rx/0",
      hashrate: 1000,
      expected: null,
      expectedSource: null,
      recentRestarts: 0,
      rejectRate: null,
      devices: [],
    }],
    totals: [],
    maxTemp: null,
    updatedAt: null,
  };
}

const offline = (since: number): HealthReason => ({
  code: "rig_offline",
  message: "rig offline",
  since: iso(since),
});
const zero: HealthReason = { code: "hashrate_zero", message: "hashrate 0 H/s", since: null };

function fleet(rigs: RigHealth[], at = T0): FleetHealth {
  return {
    at: iso(at),
    state: "ok",
    counts: { ok: 0, degraded: 0, down: 0, idle: 0, unknown: 0 },
    totals: [],
    rigs,
  };
}

interface Harness {
  dir: string;
  engine: AlertEngine;
  sent: { channel: string; n: Notification }[];
  controls: AlertControls;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

async function harness(options: { repeatMs?: number } = {}): Promise<Harness> {
  const dir = await tempHome();
  const sent: Harness["sent"] = [];
  const channels = new ChannelStore(`${dir}/channels.json`);
  await channels.add({ name: "hook", type: "webhook", url: "http://127.0.0.1:9/hook" });
  const controls = new AlertControls(`${dir}/silences.json`, `${dir}/acks.json`);
  const open = () =>
    AlertEngine.open({
      statePath: `${dir}/state.json`,
      controls,
      rules: new RulesStore(`${dir}/rules.json`),
      channels,
      dispatcher: new Dispatcher({
        statusPath: null,
        deliver: (c, n) => {
          sent.push({ channel: c.name, n });
          return Promise.resolve();
        },
      }),
      thresholds: () => DEFAULT_THRESHOLDS,
      node: { id: "c".repeat(32), name: "ctl" },
      groupWaitMs: 3_600_000, // the test flushes groups itself
      repeatMs: options.repeatMs,
    });
  const h: Harness = {
    dir,
    engine: await open(),
    sent,
    controls,
    reopen: async () => {
      await h.engine.close();
      h.engine = await open();
    },
    close: async () => {
      await h.engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return h;
}

/** Runs one evaluation at `t` and sends what is due. */
async function step(h: Harness, rigs: RigHealth[], t: number): Promise<void> {
  await h.engine.evaluate(fleet(rigs, t), t);
  h.engine.flushGroups();
  await h.engine.settled();
}

Deno.test("alerts: pending until the for-duration, one grouped message for 30 rigs, one resolve", async () => {
  const h = await harness();
  try {
    const down = T0 - 30_000;
    const rigs = Array.from({ length: 30 }, (_, i) => rig(i, [offline(down)]));
    await step(h, rigs, T0);
    // rig_offline waits 120 s: pending, nothing sent.
    assert.equal(h.engine.view().pending.length, 30);
    assert.equal(h.sent.length, 0);
    await step(h, rigs, down + 121_000);
    assert.equal(h.engine.view(down + 121_000).firing.length, 30);
    assert.equal(h.sent.length, 1, "one message for 30 rigs");
    const n = h.sent[0].n;
    assert.equal(n.status, "firing");
    assert.equal(n.alerts.length, 30);
    assert.match(
      n.title,
      /^\[FIRING:30\] rig offline: rig-0, rig-1, rig-10, rig-11, rig-12 and 25 more$/,
    );
    // Still down at the next evaluation: nothing more.
    await step(h, rigs, down + 130_000);
    assert.equal(h.sent.length, 1);
    // Back: one resolved message.
    await step(h, Array.from({ length: 30 }, (_, i) => rig(i)), down + 140_000);
    assert.equal(h.sent.length, 2);
    assert.equal(h.sent[1].n.status, "resolved");
    assert.equal(h.sent[1].n.alerts.length, 30);
    assert.equal(h.engine.view(down + 140_000).resolved.length, 30);
    assert.equal((await h.engine.history()).length, 30);
    // A reason that vanishes while pending never fires nor resolves.
    await step(h, [rig(99, [offline(down + 139_000)])], down + 140_000);
    await step(h, [rig(99)], down + 141_000);
    assert.equal(h.sent.length, 2);
  } finally {
    await h.close();
  }
});

Deno.test("alerts: a silence holds back delivery and, when it expires, the alert goes out", async () => {
  const h = await harness();
  try {
    const s = await h.controls.addSilence({ rig: "rig-1" }, {
      forMs: 60_000,
      reason: "maintenance",
      by: "test",
      now: T0,
    });
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 1000);
    // rig-2's alert goes out; rig-1's is silenced.
    assert.equal(h.sent.length, 1);
    assert.deepEqual(h.sent[0].n.alerts.map((a) => a.rig), ["rig-2"]);
    const silenced = h.engine.view(T0 + 1000).firing.find((a) => a.rig === "rig-1")!;
    assert.equal(silenced.silencedBy, s.id);
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 30_000);
    assert.equal(h.sent.length, 1, "still silenced");
    // The silence ends: the alert is delivered once.
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 61_000);
    assert.equal(h.sent.length, 2);
    assert.deepEqual(h.sent[1].n.alerts.map((a) => a.rig), ["rig-1"]);
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 62_000);
    assert.equal(h.sent.length, 2);
    // Bad silences are refused and the file keeps the good one.
    await assert.rejects(
      () => h.controls.addSilence({}, { forMs: 60_000, reason: "x", by: "t" }),
      /rig or a rule/,
    );
    await assert.rejects(
      () => h.controls.addSilence({ rule: "nope" }, { forMs: 60_000, reason: "x", by: "t" }),
      /no alert rule "nope"/,
    );
    await assert.rejects(
      () => h.controls.addSilence({ rig: "a" }, { forMs: 1000, reason: "x", by: "t" }),
      /1 minute/,
    );
    assert.equal((await h.controls.silences()).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("alerts: a long-firing alert repeats every repeat interval; an acknowledgement stops the repeats, not the resolve", async () => {
  const h = await harness({ repeatMs: 60_000 });
  try {
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0);
    assert.equal(h.sent.length, 1);
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 61_000);
    assert.equal(h.sent.length, 2);
    assert.equal(h.sent[1].n.status, "repeat");
    assert.match(h.sent[1].n.title, /^\[STILL FIRING:2\]/);
    const a1 = h.engine.view().firing.find((a) => a.rig === "rig-1")!;
    await h.controls.ack([a1], { by: "test", reason: "on it", now: T0 + 62_000 });
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 122_000);
    assert.equal(h.sent.length, 3);
    assert.deepEqual(h.sent[2].n.alerts.map((a) => a.rig), ["rig-2"], "rig-1 is acknowledged");
    assert.equal(h.engine.view().firing.find((a) => a.rig === "rig-1")!.ackedBy, "test");
    await step(h, [rig(1), rig(2, [], [zero])], T0 + 130_000);
    assert.equal(h.sent.length, 4);
    assert.equal(h.sent[3].n.status, "resolved");
    assert.deepEqual(h.sent[3].n.alerts.map((a) => a.rig), ["rig-1"]);
  } finally {
    await h.close();
  }
});

Deno.test("alerts: a restart sends no duplicate, keeps alerts of rigs not heard from yet, resolves what resolved meanwhile", async () => {
  const h = await harness();
  try {
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero]), rig(3, [], [zero])], T0);
    assert.equal(h.sent.length, 1);
    await h.reopen();
    const unknown: RigHealth = { ...rig(3), state: "unknown", miners: [] };
    // After the restart: rig-1 still stalled, rig-2 fine now, rig-3 not heard from yet.
    await step(h, [rig(1, [], [zero]), rig(2), unknown], T0 + 5000);
    assert.equal(h.sent.length, 2, "only the resolve of rig-2");
    assert.equal(h.sent[1].n.status, "resolved");
    assert.deepEqual(h.sent[1].n.alerts.map((a) => a.rig), ["rig-2"]);
    assert.deepEqual(h.engine.view().firing.map((a) => a.rig).sort(), ["rig-1", "rig-3"]);
    // An alert that was pending (not delivered) before the restart is delivered after it.
    await step(h, [rig(1, [], [zero]), rig(3, [], [zero]), rig(4, [offline(T0)])], T0 + 6000);
    await h.reopen();
    await step(h, [rig(1, [], [zero]), rig(3, [], [zero]), rig(4, [offline(T0)])], T0 + 121_000);
    assert.equal(h.sent.length, 3);
    assert.deepEqual(h.sent[2].n.alerts.map((a) => a.rig), ["rig-4"]);
    // The state file parses and holds what is active.
    const state = JSON.parse(await Deno.readTextFile(`${h.dir}/state.json`));
    assert.equal(state.version, 1);
  } finally {
    await h.close();
  }
});

Deno.test("alerts: rules change severity, for-duration and scope (rigs, tags); disabled rules never fire", async () => {
  const h = await harness();
  try {
    const rules = new RulesStore(`${h.dir}/rules.json`);
    await rules.set("hashrate_zero", { tags: ["odd"], severity: "warning" });
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0);
    assert.deepEqual(h.engine.view().firing.map((a) => [a.rig, a.severity]), [[
      "rig-1",
      "warning",
    ]]);
    await rules.set("hashrate_zero", { enabled: false });
    await step(h, [rig(1, [], [zero]), rig(2, [], [zero])], T0 + 1000);
    assert.equal(h.engine.view().firing.length, 0);
    await assert.rejects(() => rules.set("nope", {}), /no alert rule "nope"/);
    await assert.rejects(
      () => rules.set("hashrate_zero", { forSeconds: -1 }),
      /invalid rule change/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("alerts: a channel that fails is retried with backoff and reported; the others deliver meanwhile", async () => {
  const good: Notification[] = [];
  let badCalls = 0;
  const dir = await tempHome();
  const dispatcher = new Dispatcher({
    statusPath: `${dir}/deliveries.json`,
    retryBaseMs: 20,
    retryMaxMs: 80,
    maxAttempts: 4,
    deliver: (c, n) => {
      if (c.name === "bad") {
        badCalls++;
        return Promise.reject(new Error("connection refused"));
      }
      good.push(n);
      return Promise.resolve();
    },
  });
  try {
    const n = { status: "firing", title: "t", text: "x", alerts: [] } as unknown as Notification;
    const bad = { name: "bad", type: "webhook", url: "http://127.0.0.1:9/" } as ChannelConfig;
    const ok = { name: "ok", type: "webhook", url: "http://127.0.0.1:9/" } as ChannelConfig;
    dispatcher.send(bad, n);
    dispatcher.send(ok, n);
    dispatcher.send(ok, n);
    // The good channel is done while the bad one is still retrying.
    await until(() => good.length === 2, "good channel delivered", 2000);
    assert.ok(badCalls < 4, `bad channel still retrying (${badCalls} calls)`);
    assert.equal(dispatcher.status("bad").ok, false);
    assert.equal(dispatcher.status("bad").queued, 1);
    await dispatcher.idle();
    assert.equal(badCalls, 4);
    const st = dispatcher.status("bad");
    assert.deepEqual([st.ok, st.error, st.attempts, st.failed, st.delivered], [
      false,
      "connection refused",
      4,
      1,
      0,
    ]);
    assert.deepEqual([dispatcher.status("ok").delivered, dispatcher.status("ok").failed], [2, 0]);
    await dispatcher.close();
    const file = JSON.parse(await Deno.readTextFile(`${dir}/deliveries.json`));
    assert.equal(file.channels.bad.failed, 1);
  } finally {
    await dispatcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("alerts: each channel's request follows its documented API (webhook with HMAC, Alertmanager, Telegram, Discord, ntfy, Pushover)", async () => {
  const got: { method: string; path: string; headers: Headers; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    got.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.text(),
    });
    return new Response(new URL(req.url).pathname.endsWith("/fail") ? "nope" : "{}", {
      status: new URL(req.url).pathname.endsWith("/fail") ? 500 : 200,
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const alert = {
    id: "abc",
    key: "k",
    rule: "rig_offline" as const,
    severity: "critical" as const,
    state: "firing" as const,
    rigId: id(1),
    rig: "rig-1",
    miner: null,
    device: null,
    summary: "rig offline for 3 min",
    activeAt: iso(T0),
    firedAt: iso(T0),
    resolvedAt: null,
    notifiedAt: null,
    lastNotifiedAt: null,
    ackedAt: null,
    ackedBy: null,
    silencedBy: null,
  };
  const n: Notification = {
    status: "firing",
    rule: "rig_offline",
    severity: "critical",
    title: "[FIRING:1] rig offline: rig-1",
    text: "- rig-1: rig offline for 3 min",
    alerts: [alert],
    node: { id: "c".repeat(32), name: "ctl" },
    sentAt: iso(T0),
  };
  try {
    const dir = await tempHome();
    const store = new ChannelStore(`${dir}/ch.json`);
    const chans = [
      {
        name: "hook",
        type: "webhook",
        url: `${base}/hook`,
        secret: "s3cret-key",
        headers: { "X-Farm": "north" },
      },
      { name: "am", type: "alertmanager", url: base },
      {
        name: "tg",
        type: "telegram",
        baseUrl: base,
        token: "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345",
        chatId: "-1001",
      },
      { name: "dc", type: "discord", url: `${base}/api/webhooks/42/tok3n` },
      { name: "nt", type: "ntfy", baseUrl: base, topic: "farm-alerts", token: "tk_abc" },
      { name: "po", type: "pushover", baseUrl: base, token: "a".repeat(30), user: "u".repeat(30) },
    ];
    for (const c of chans) await store.add(c);
    // Stored 0600; views mask secrets.
    assert.equal((await Deno.stat(`${dir}/ch.json`)).mode! & 0o777, 0o600);
    for (const c of await store.list()) await deliver(c, n);
    const [hook, am, tg, dc, nt, po] = got;
    // Webhook: JSON body, HMAC-SHA256 of the body, custom header.
    assert.equal(hook.path, "/hook");
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode("s3cret-key"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const sig = new Uint8Array(
      await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(hook.body)),
    );
    assert.equal(
      hook.headers.get("x-miner-cli-signature"),
      `sha256=${[...sig].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
    );
    assert.equal(hook.headers.get("x-farm"), "north");
    const body = JSON.parse(hook.body);
    assert.deepEqual(
      [body.version, body.source, body.status, body.rule, body.alerts[0].rig],
      [1, "miner-cli", "firing", "rig_offline", "rig-1"],
    );
    // Alertmanager: POST /api/v2/alerts, an array of {labels, annotations, startsAt, endsAt}.
    assert.equal(am.path, "/api/v2/alerts");
    const amBody = JSON.parse(am.body);
    assert.equal(amBody[0].labels.alertname, "rig_offline");
    assert.equal(amBody[0].labels.rig, "rig-1");
    assert.ok(Date.parse(amBody[0].endsAt) > Date.now());
    // Telegram: POST /bot<token>/sendMessage with chat_id and text.
    assert.equal(tg.path, "/bot123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345/sendMessage");
    assert.deepEqual(
      [JSON.parse(tg.body).chat_id, JSON.parse(tg.body).text.split("\n")[0]],
      ["-1001", n.title],
    );
    // Discord: the webhook URL, JSON with content, no mentions.
    assert.equal(dc.path, "/api/webhooks/42/tok3n");
    assert.match(JSON.parse(dc.body).content, /^\*\*\[FIRING:1\] rig offline: rig-1\*\*/);
    assert.deepEqual(JSON.parse(dc.body).allowed_mentions, { parse: [] });
    // ntfy: POST /<topic>, the message as body, title/priority/tags headers, bearer token.
    assert.equal(nt.path, "/farm-alerts");
    assert.equal(nt.body, n.text);
    assert.deepEqual(
      [nt.headers.get("title"), nt.headers.get("priority"), nt.headers.get("authorization")],
      [n.title, "5", "Bearer tk_abc"],
    );
    // Pushover: POST /1/messages.json, form-encoded token, user, message, title.
    assert.equal(po.path, "/1/messages.json");
    assert.match(po.headers.get("content-type") ?? "", /application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(po.body);
    assert.deepEqual(
      [form.get("token"), form.get("user"), form.get("message"), form.get("priority")],
      ["a".repeat(30), "u".repeat(30), n.text, "1"],
    );
    // A channel answering 500 is an error naming the status (and no token in the message).
    await assert.rejects(
      () =>
        deliver({
          name: "x",
          type: "discord",
          url: `${base}/api/webhooks/1/secret/fail`,
          minSeverity: "info",
        }, n),
      (e: Error) => /answered 500/.test(e.message) && !e.message.includes("secret"),
    );
    // Bad settings are refused with the field named; nothing stored changes.
    const before = await Deno.readTextFile(`${dir}/ch.json`);
    await assert.rejects(
      () => store.add({ name: "bad", type: "telegram", token: "x", chatId: "1" }),
      /token/,
    );
    await assert.rejects(
      () => store.add({ name: "hook", type: "webhook", url: `${base}/x` }),
      /exists/,
    );
    await assert.rejects(
      () => store.add({ name: "w", type: "webhook", url: "file:///etc/passwd" }),
      /http/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/ch.json`), before);
    await Deno.remove(dir, { recursive: true });
  } finally {
    await server.shutdown();
  }
});
