// deno-lint-ignore-file no-explicit-any -- the tests probe untyped JSON documents
/**
 * Issue 5: the REST API against a live fleet (a dual controller and two workers as real
 * processes): every endpoint's happy path, 401 without a token (derived from the OpenAPI
 * document, so a new route cannot skip it), 400 with a clear message for each kind of bad body,
 * 404 for unknown peers, miners and profiles; live events; Prometheus metrics (promtool).
 */
import assert from "node:assert/strict";
import {
  addXmrigProfile,
  assertPromtoolClean,
  initNode,
  serve,
  tempHome,
  until,
} from "./helpers.ts";
import { startFleet } from "./fleet_fixture.ts";
import { cliOk, component } from "./helpers.ts";
import { EventSourceParserStream } from "eventsource-parser/stream";

const B = "/api/v1/mining";

const PROMTOOL = component("promtool", "the metrics test (promtool check metrics)");

/** Reads SSE events from a response until `stop` returns true. */
async function readEvents(
  res: Response,
  stop: (events: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  const events: { event: string; data: unknown }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream()).getReader();
  try {
    while (!stop(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.event) events.push({ event: value.event, data: JSON.parse(value.data) });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

Deno.test("api: every endpoint — happy path, 401, 400 per bad body, 404; events; metrics", async (t) => {
  const fleet = await startFleet();
  const { call } = fleet;
  const json = async (
    method: string,
    path: string,
    body?: unknown,
    status = 200,
  ): Promise<Record<string, any>> => {
    const res = await call(method, `${B}${path}`, body);
    const text = await res.text();
    assert.equal(res.status, status, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const fails = async (
    method: string,
    path: string,
    body: unknown,
    status: number,
    message: RegExp,
  ) => {
    const doc = await json(method, path, body, status);
    assert.ok(doc.error?.code, `${method} ${path}: error code`);
    assert.match(doc.error.message, message, `${method} ${path}`);
  };
  try {
    await t.step("401 on every route of the OpenAPI document without a token", async () => {
      const doc = await (await fetch(`${fleet.api}${B}/openapi.json`)).json();
      let checked = 0;
      for (const [path, methods] of Object.entries(doc.paths as Record<string, object>)) {
        const url = path.replace(/\{[^}]+\}/g, "x");
        for (const method of Object.keys(methods)) {
          const res = await fetch(`${fleet.api}${url}`, {
            method: method.toUpperCase(),
            headers: { "content-type": "application/json" },
            body: method === "get" ? undefined : "{}",
          });
          const body = await res.json();
          assert.equal(res.status, 401, `${method} ${path}`);
          assert.match(body.error.message, /node info --token/);
          checked++;
        }
      }
      assert.ok(checked >= 35, `only ${checked} routes in the OpenAPI document`);
      for (const p of ["/metrics", `${B}/events`]) {
        const res = await fetch(`${fleet.api}${p}`, { headers: { authorization: "Bearer nope" } });
        await res.body?.cancel();
        assert.equal(res.status, 401, p);
      }
      const health = await fetch(`${fleet.api}/health`);
      assert.equal((await health.json()).id, fleet.id);
    });

    await t.step("the OpenAPI document lists the seed's endpoints", async () => {
      const doc = await (await fetch(`${fleet.api}${B}/openapi.json`)).json();
      for (
        const [m, p] of [
          ["get", "/node/info"],
          ["post", "/node/init"],
          ["get", "/peers"],
          ["post", "/peers"],
          ["delete", "/peers/{id}"],
          ["post", "/peers/{id}/ping"],
          ["get", "/remote/stats"],
          ["get", "/remote/{peer}/stats"],
          ["post", "/remote/{peer}/start"],
          ["post", "/remote/{peer}/stop"],
          ["post", "/remote/{peer}/deploy"],
          ["get", "/remote/{peer}/logs/{miner}"],
          ["get", "/events"],
        ]
      ) assert.ok(doc.paths[`${B}${p}`]?.[m], `${m} ${p} missing`);
    });

    await t.step(
      "generic bad requests: malformed JSON, wrong type, oversize, foreign origin",
      async () => {
        const raw = (body: string, type = "application/json") =>
          fetch(`${fleet.api}${B}/peers`, {
            method: "POST",
            headers: { authorization: `Bearer ${fleet.token}`, "content-type": type },
            body,
          });
        let res = await raw("{not json");
        assert.equal(res.status, 400);
        assert.match((await res.json()).error.message, /JSON/i);
        res = await raw("address=x", "text/plain");
        assert.equal(res.status, 415);
        await res.body?.cancel();
        res = await raw(JSON.stringify({ address: "x".repeat(2 * 1024 * 1024) }));
        assert.equal(res.status, 413);
        assert.match((await res.json()).error.message, /1 MiB/);
        res = await fetch(`${fleet.api}${B}/node/info`, {
          headers: { authorization: `Bearer ${fleet.token}`, origin: "http://evil.example" },
        });
        assert.equal(res.status, 403);
        assert.match((await res.json()).error.message, /cross-origin/);
      },
    );

    await t.step("node: info, init (idempotent / 409), pair-code", async () => {
      const info = await json("GET", "/node/info");
      assert.equal(info.id, fleet.id);
      assert.equal(info.role, "dual");
      const same = await json("POST", "/node/init", { name: "control", role: "dual" });
      assert.equal(same.created, false);
      assert.equal(same.id, fleet.id);
      await fails("POST", "/node/init", { name: "other" }, 409, /already initialized/);
      await fails("POST", "/node/init", { name: "-bad name-" }, 400, /name/);
      await fails("POST", "/node/init", {}, 400, /name/);
      await fails("POST", "/node/init", { name: "control", role: "boss" }, 400, /role/);
      const code = await json("POST", "/node/pair-code", { ttl: 60 }, 201);
      assert.match(code.code, /^MC1-[0-9a-f]{32}-/);
      assert.equal(code.nodeId, fleet.id);
      await fails("POST", "/node/pair-code", { ttl: 0 }, 400, /ttl/);
      await fails("POST", "/node/pair-code", { ttl: "1h" }, 400, /ttl/);
    });

    await t.step("peers: list with live state, get, ping, add, remove", async () => {
      await until(
        async () => {
          const doc = await json("GET", "/peers");
          return doc.peers.length === 2 && doc.peers.every((p: any) => p.online === true);
        },
        "both workers online",
        10_000,
      );
      const one = await json("GET", "/peers/rig-1");
      assert.equal(one.id, fleet.workers[0].id);
      assert.equal((await json("GET", `/peers/${fleet.workers[0].id.slice(0, 8)}`)).name, "rig-1");
      await fails("GET", "/peers/nope", undefined, 404, /no peer matches/);
      const ping = await json("POST", "/peers/rig-1/ping", { count: 2 });
      assert.equal(ping.received, 2);
      assert.ok(ping.avgMs > 0);
      await fails("POST", "/peers/rig-1/ping", { count: 0 }, 400, /count/);
      await fails("POST", "/peers/nope/ping", { count: 1 }, 404, /no peer matches/);

      await fails("POST", "/peers", {}, 400, /address/);
      await fails("POST", "/peers", { address: "not an address" }, 400, /address must be/);
      await fails(
        "POST",
        "/peers",
        { address: "127.0.0.1:1", color: "red" },
        400,
        /color|unrecognized/i,
      );
      await fails("POST", "/peers", { address: "127.0.0.1:1", lat: 10 }, 400, /both lat and lon/);
      await fails("POST", "/peers", { address: "127.0.0.1:1", code: "garbage-code" }, 400, /code/);
      const closed = await json("POST", "/peers", { address: "127.0.0.1:1" }, 502);
      assert.match(closed.error.message, /127\.0\.0\.1:1/);

      // a third worker: added (201), added again (200, updated), removed, removed again (404)
      const h = `${fleet.root}/w3`;
      const info = await initNode(h, "rig-3", "worker");
      await cliOk(h, ["peer", "allow", fleet.id, "--control"]);
      const w3 = await serve(h);
      try {
        const added = await json("POST", "/peers", { address: w3.address }, 201);
        assert.equal(added.peer.id, info.id);
        assert.equal(added.peer.name, "rig-3");
        const again = await json("POST", "/peers", { address: w3.address, name: "rig-three" });
        assert.equal(again.added, false);
        assert.equal(again.peer.name, "rig-three");
        await fails("POST", "/peers", { address: w3.address, name: "rig-1" }, 409, /already used/);
        assert.equal((await json("GET", "/peers")).peers.length, 3);
        const withThree = (await json("GET", "/remote/stats")).peers.map((p: any) => p.name);
        assert.ok(withThree.includes("rig-three"), `cache not refreshed: ${withThree}`);
        assert.equal((await json("DELETE", "/peers/rig-three")).removed, info.id);
        await fails("DELETE", "/peers/rig-three", undefined, 404, /no peer matches/);
        assert.equal((await json("GET", "/peers")).peers.length, 2);
        // the fleet cache forgets a removed peer at once (no stale row until the next poll)
        const names = (await json("GET", "/remote/stats")).peers.map((p: any) => p.name);
        assert.deepEqual(names.sort(), ["rig-1", "rig-2"]);
      } finally {
        await w3.stop();
      }
    });

    await t.step("discovery: 409 when off, 400 per bad selection", async () => {
      const off = await json("GET", "/peers/pending", undefined, 409);
      assert.equal(off.error.code, "discovery_off");
      assert.match(off.error.message, /node serve --discover/);
      await fails("POST", "/peers/pending/approve", { ids: ["abcd1234"] }, 409, /--discover/);
      await fails("POST", "/peers/pending/approve", {}, 400, /either ids or role/);
      await fails(
        "POST",
        "/peers/pending/approve",
        { ids: ["abcd1234"], role: "worker" },
        400,
        /either ids or role/,
      );
      await fails("POST", "/peers/pending/approve", { ids: ["not-hex!"] }, 400, /node ID/);
      await fails("POST", "/peers/pending/reject", { role: "boss" }, 400, /role/);
      await fails("POST", "/peers/pending/unreject", { ids: [] }, 400, /ids/);
    });

    await t.step("auth: mode and allowlist", async () => {
      assert.equal((await json("GET", "/auth")).mode, "allowlist");
      assert.equal((await json("PUT", "/auth/mode", { mode: "open" })).mode, "open");
      assert.equal((await json("PUT", "/auth/mode", { mode: "allowlist" })).mode, "allowlist");
      await fails("PUT", "/auth/mode", { mode: "everyone" }, 400, /mode/);
      const id = "ab".repeat(16);
      const allowed = await json("POST", "/auth/allow", { targets: [id] });
      assert.deepEqual(allowed.results, [{ id, added: true }]);
      assert.ok((await json("GET", "/auth")).allow.some((a: any) => a.id === id));
      await fails("POST", "/auth/allow", { targets: ["xyz"] }, 400, /node ID|public key/);
      await fails("POST", "/auth/allow", { targets: [] }, 400, /targets/);
      const revoked = await json("DELETE", `/auth/allow/${id}`);
      assert.equal(revoked.revoked, true);
      await fails("DELETE", `/auth/allow/${"cd".repeat(16)}`, undefined, 404, /no peer matches/);
    });

    await t.step("local miners and profiles", async () => {
      assert.deepEqual((await json("GET", "/miners")).miners, []);
      assert.ok((await json("GET", "/miners/installed")).miners.length >= 1);
      await fails("POST", "/miners", {}, 400, /profile/);
      await fails("POST", "/miners", { profile: "nope" }, 404, /no profile matches/);
      const started = await json("POST", "/miners", { profile: "cpu" }, 201);
      assert.equal(started.name, "cpu");
      const again = await json("POST", "/miners", { profile: "cpu" }, 200);
      assert.equal(again.already, true);
      assert.equal(again.pid, started.pid, "no second miner");
      assert.equal((await json("GET", "/miners/cpu")).name, "cpu");
      await fails("GET", "/miners/nope", undefined, 404, /nope/);
      assert.ok((await json("POST", "/miners/cpu/stdin", { text: "h" })).written > 0);
      await fails("POST", "/miners/cpu/stdin", { text: "" }, 400, /text/);
      await fails("POST", "/miners/nope/stdin", { text: "h" }, 404, /nope/);
      await until(
        async () => (await json("GET", "/miners/cpu/logs?lines=5")).lines.length > 0,
        "logs",
      );
      await fails("GET", "/miners/cpu/logs?lines=0", undefined, 400, /lines/);

      const profiles = (await json("GET", "/profiles")).profiles;
      assert.equal(profiles.length, 1);
      const body = {
        name: "gpu",
        minerType: "tt-miner",
        config: { pool: "stratum+tcp://pool.example.org:4444", user: "44kawpow", algo: "KAWPOW" },
      };
      const created = await json("POST", "/profiles", body, 201);
      assert.equal((await json("GET", `/profiles/${created.id}`)).name, "gpu");
      assert.equal((await json("GET", "/profiles/gpu")).id, created.id);
      await fails("GET", "/profiles/nope", undefined, 404, /no profile matches/);
      await fails("POST", "/profiles", body, 400, /already|exists|duplicate/i);
      await fails(
        "POST",
        "/profiles",
        { ...body, name: "gpu2", config: { ...body.config, pool: "not a url;rm -rf" } },
        400,
        /pool/,
      );
      await fails(
        "POST",
        "/profiles",
        { ...body, name: "gpu3", minerType: "cgminer" },
        400,
        /type/,
      );
      const updated = await json("PUT", `/profiles/${created.id}`, { ...body, name: "gpu-main" });
      assert.equal(updated.name, "gpu-main");
      await fails("PUT", "/profiles/nope", body, 404, /no profile matches/);
      await fails("DELETE", "/profiles/cpu", undefined, 400, /in use/);
      assert.equal((await json("DELETE", "/profiles/gpu-main")).id, created.id);
      await fails("DELETE", "/profiles/gpu-main", undefined, 404, /no profile matches/);

      const now = Date.now();
      const hist = await json("GET", `/history?from=${now - 3600_000}&to=${now}`);
      assert.ok(Array.isArray(hist.points));
      await fails("GET", `/history?from=${now}&to=${now - 1}`, undefined, 400, /before/);
      await fails("GET", "/history?to=1", undefined, 400, /from/);
      // the controller records its workers' miners as node/miner
      await until(
        async () => (await json("GET", "/history/miners")).miners.includes("rig-1/cpu"),
        "remote series in history",
        10_000,
      );
      assert.equal((await json("POST", "/miners/cpu/stop")).name, "cpu");
      await fails("POST", "/miners/nope/stop", undefined, 404, /nope/);
    });

    await t.step("remote: stats (cached and fresh), logs, stop, start, deploy", async () => {
      const stats = await json("GET", "/remote/stats");
      assert.equal(stats.nodes, 2);
      assert.ok(stats.cachedAt);
      const fresh = await json("GET", "/remote/stats?maxAge=0");
      assert.ok(Date.parse(fresh.cachedAt) >= Date.parse(stats.cachedAt));
      // Totals per algorithm, no summed figure; every row judged by the health model.
      assert.equal(fresh.totalHashrate, undefined);
      const rx = fresh.totals.find((t: { algorithm: string }) => t.algorithm === "rx/0");
      assert.ok(rx.hashrate > 2000, `rx/0 total ${rx.hashrate}`);
      assert.equal(rx.rigs, 2);
      assert.ok(
        fresh.peers.every((p: { health?: { state: string } }) => p.health?.state),
        "rows have health",
      );
      // Paging and filters: rows cut, totals and counts stay the fleet's.
      const page = await json("GET", "/remote/stats?limit=1&offset=1");
      assert.equal(page.peers.length, 1);
      assert.deepEqual(page.page, { matched: 2, offset: 1, limit: 1 });
      assert.equal(page.nodes, 2);
      const one = await json("GET", "/remote/stats?q=rig-2");
      assert.deepEqual(one.peers.map((p: { name: string }) => p.name), ["rig-2"]);
      assert.equal((await json("GET", "/remote/stats?state=down")).peers.length, 0);
      assert.equal((await json("GET", "/remote/stats?algorithm=rx/0")).peers.length, 2);
      const summary = await json("GET", "/remote/summary");
      assert.equal(summary.peers, undefined);
      assert.equal(summary.nodes, 2);
      // The summary's health counts (kept per evaluation) are those of the rows' health.
      assert.deepEqual(summary.health, (await json("GET", "/remote/stats")).health);
      assert.ok(summary.totals.some((t: { algorithm: string }) => t.algorithm === "rx/0"));
      const peersPage = await json("GET", "/peers?limit=1&role=worker");
      assert.equal(peersPage.peers.length, 1);
      assert.equal(peersPage.matched, 2);
      assert.equal((await json("GET", "/peers?q=rig-1")).peers[0].name, "rig-1");
      const rig1 = (await json("GET", "/peers?q=rig-1")).peers[0];
      assert.deepEqual((await json("PUT", `/peers/${rig1.id}/tags`, { tags: ["gpu"] })).tags, [
        "gpu",
      ]);
      await fails("PUT", `/peers/${rig1.id}/tags`, { tags: ["Not A Tag"] }, 400, /tag/);
      assert.deepEqual(
        (await json("GET", "/remote/stats?tag=gpu")).peers.map((p: { name: string }) => p.name),
        ["rig-1"],
      );
      assert.deepEqual(
        (await json("GET", "/peers?tag=gpu")).peers.map((p: { name: string }) => p.name),
        ["rig-1"],
      );
      await fails("GET", "/peers?limit=0", undefined, 400, /limit/);
      await fails("GET", "/remote/stats?state=purple", undefined, 400, /state/);
      await fails("GET", "/remote/stats?maxAge=-1", undefined, 400, /maxAge/);
      assert.equal((await json("GET", "/remote/rig-2/stats")).peers[0].name, "rig-2");
      await fails("GET", "/remote/nope/stats", undefined, 404, /no peer matches/);

      const logs = await json("GET", "/remote/rig-1/logs/cpu?lines=3");
      assert.equal(logs.minerName, "cpu");
      assert.ok(logs.lines.length > 0);
      assert.ok((await json("GET", "/remote/rig-1/logs?miner=cpu")).lines.length > 0);
      await fails("GET", "/remote/nope/logs/cpu", undefined, 404, /no peer matches/);
      await fails("GET", "/remote/rig-1/logs", undefined, 400, /miner/);

      await fails("POST", "/remote/rig-1/stop", { minerName: 5 }, 400, /minerName/);
      await fails("POST", "/remote/nope/stop", {}, 404, /no peer matches/);
      assert.deepEqual((await json("POST", "/remote/rig-1/stop", { minerName: "cpu" })).stopped, [
        "cpu",
      ]);
      await fails("POST", "/remote/rig-1/start", {}, 400, /profileId/);
      await fails("POST", "/remote/nope/start", { profileId: "cpu" }, 404, /no peer matches/);
      assert.equal((await json("POST", "/remote/rig-1/start", { profileId: "cpu" })).success, true);

      await fails("POST", "/remote/rig-2/deploy", { profiles: [] }, 400, /profiles/);
      await fails("POST", "/remote/rig-2/deploy", { profiles: ["nope"] }, 404, /no profile/);
      const res = await call("POST", `${B}/remote/rig-2/deploy`, { profiles: ["cpu"] });
      assert.equal(res.status, 200);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      const done = lines.at(-1);
      assert.equal(done.event, "done");
      assert.equal(done.ack.success, true);
    });

    await t.step(
      "events: snapshot first, then stats, fleet rows and peer/deploy events",
      async () => {
        const ac = new AbortController();
        // Bounded: events that never come fail the step instead of hanging it.
        const bound = setTimeout(() => ac.abort(), 60_000);
        const res = await fetch(`${fleet.api}${B}/events`, {
          headers: { authorization: `Bearer ${fleet.token}` },
          signal: ac.signal,
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
        const pending = readEvents(
          res,
          (ev) =>
            ["stats", "fleet_rows", "peer"].every((k) => ev.some((e) => e.event === k)) &&
            ev.some((e) =>
              e.event === "deploy" && (e.data as { phase: string }).phase !== "progress"
            ),
        );
        // provoke a peer transition and a deploy while listening
        await fleet.workers[1].node.stop();
        await until(
          async () => {
            const p = await json("GET", "/peers/rig-2");
            return p.online === false;
          },
          "rig-2 offline",
          10_000,
        );
        const dep = await call("POST", `${B}/remote/rig-1/deploy`, { profiles: ["cpu"] });
        await dep.text();
        const events = await pending;
        clearTimeout(bound);
        ac.abort();
        assert.equal(events[0].event, "snapshot");
        const snap = events[0].data as any;
        assert.equal(snap.node.id, fleet.id);
        assert.equal(snap.peers.length, 2);
        const off = events.find((e) => e.event === "peer") as any;
        assert.equal(off.data.kind, "offline");
        assert.equal(off.data.name, "rig-2");
        assert.ok(Date.parse(off.data.at) > 0);
        const deploy = events.filter((e) => e.event === "deploy").map((e) => e.data as any);
        assert.ok(deploy.some((d) => d.phase === "done" && d.name), JSON.stringify(deploy));
        // Fleet changes come as the rows that changed, with the fleet's counts.
        const fleetEv = events.find((e) => e.event === "fleet_rows") as any;
        assert.ok(fleetEv.data.rows.length >= 1 && fleetEv.data.rows.length <= 2);
        assert.equal(fleetEv.data.nodes, 2);
        assert.ok(!events.some((e) => e.event === "fleet"), "never the whole fleet");
      },
    );

    await t.step({
      name: "metrics: Prometheus text that promtool accepts, with the expected series",
      ignore: PROMTOOL.ignore,
      fn: async () => {
        const res = await call("GET", "/metrics");
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
        const text = await res.text();
        for (
          const name of [
            "miner_cli_miner_hashrate_hashes_per_second",
            "miner_cli_miner_shares_total",
            "miner_cli_miner_uptime_seconds",
            "miner_cli_miner_restarts_total",
            "miner_cli_peer_online",
            "miner_cli_peer_rtt_seconds",
            "miner_cli_peer_score",
            "miner_cli_fleet_hashrate_hashes_per_second",
            "miner_cli_mesh_connections",
            "miner_cli_mesh_connections_total",
            "miner_cli_event_loop_lag_seconds",
          ]
        ) assert.match(text, new RegExp(`^${name}`, "m"), name);
        assert.match(text, /^miner_cli_peer_online\{peer="rig-2".*\} 0$/m);
        assert.match(
          text,
          /^miner_cli_miner_hashrate_hashes_per_second\{node="rig-1",.*miner="cpu"/m,
        );
        await assertPromtoolClean(PROMTOOL.path!, text, text);
      },
    });
  } finally {
    await fleet.close();
  }
});

Deno.test("api: --metrics-listen serves /metrics without auth on loopback only", async () => {
  const home = await tempHome();
  try {
    await initNode(home, "solo", "dual");
    const refused = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "--home",
        home,
        "node",
        "serve",
        "--metrics-listen",
        "0.0.0.0:0",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(refused.code, 1);
    assert.match(new TextDecoder().decode(refused.stderr), /loopback/);
    const node = await serve(home, ["--metrics-listen", "127.0.0.1:0"]);
    try {
      const url = node.listening.metrics as string;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^miner_cli_node_info\{/m);
      // no auth on this listener, so a rebinding attack's foreign Host is refused
      const port = new URL(url).port;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      await conn.write(
        new TextEncoder().encode(
          "GET /metrics HTTP/1.1\r\nHost: evil.example:" + port + "\r\nConnection: close\r\n\r\n",
        ),
      );
      const raw = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
      assert.match(raw, /^HTTP\/1\.1 403/);
    } finally {
      await node.stop();
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("api: a controller-role node serves profiles; a worker sees its controller go offline", async () => {
  const root = await tempHome();
  try {
    const c = `${root}/c`;
    const w = `${root}/w`;
    const ctl = await initNode(c, "boss", "controller");
    await initNode(w, "rig", "worker");
    await addXmrigProfile(c, "cpu");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    const worker = await serve(w, ["--fleet-poll", "1s"]);
    const controller = await serve(c, ["--fleet-poll", "1s"]);
    try {
      await cliOk(c, ["peer", "add", "--address", worker.address, "--name", "rig"]);
      const token = (await cliOk(c, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
      const res = await fetch(`${controller.api}${B}/profiles`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).profiles.map((p: { name: string }) => p.name), ["cpu"]);
      // the worker learns about the controller from its session; when it ends, offline
      const wToken = (await cliOk(w, ["node", "info", "--token"])).stdout.trim().split("\n").at(
        -1,
      )!;
      const peerState = async () =>
        (await (await fetch(`${worker.api}${B}/peers`, {
          headers: { authorization: `Bearer ${wToken}` },
        })).json()).peers;
      await cliOk(w, ["peer", "add", "--address", controller.address, "--name", "boss"]);
      await fetch(`${controller.api}${B}/remote/stats?maxAge=0`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.body?.cancel());
      await controller.stop();
      await until(
        async () => (await peerState())[0]?.online === false,
        "controller offline",
        10_000,
      );
    } finally {
      await controller.stop();
      await worker.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});
