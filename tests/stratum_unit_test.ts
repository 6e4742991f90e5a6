/**
 * Farm stratum's pieces: targets and the 256-bit share check, Monero's tree hash (its own test
 * vectors), the RandomX mode a farm miner is started in, the pool set, TLS both ways, and the
 * emulator's stratum client mode.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import {
  freePort,
  installEmulatedMiner,
  xmrigConfig,
  XmrigConfigSchema,
} from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  createUpstream,
  hashValue,
  meetsDifficulty,
  shareDifficulty,
  startMinerServer,
  StratumConfigStore,
  StratumProxy,
  targetDifficulty,
  targetHex,
  treeHash,
} from "../src/stratum/mod.ts";
import { resultFor, startStubPool } from "./stratum_stub.ts";
import { component, tempHome, until } from "./helpers.ts";

const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("stratum targets: XMRig's 64-bit target, and shares checked with the full 256-bit hash", () => {
  assert.equal(targetHex(1000n), "efa7c64b37894100");
  assert.equal(targetDifficulty(targetHex(1000n)), 1000n);
  assert.equal(targetDifficulty("b88d0600"), 0xffffffffn / 0x00068db8n, "4-byte compact target");
  // A hash just meeting 10^6 meets it, one just above does not — including when only the low
  // bytes differ (XMRig's 64-bit check would not see them).
  const at = resultFor(1_000_000n);
  assert.ok(meetsDifficulty(at, 1_000_000n));
  const above = ((1n << 256n) / 1_000_000n) + 1n;
  const aboveHex = hex(unhex(above.toString(16).padStart(64, "0")).reverse());
  assert.ok(!meetsDifficulty(aboveHex, 1_000_000n));
  assert.equal(hashValue(aboveHex), above);
  assert.ok(shareDifficulty(at) >= 1_000_000);
  assert.throws(() => targetDifficulty("xyz"), RangeError);
});

// The first lines of Monero's tests/hash/tests-tree.txt: root, then the hashes.
const TREE_VECTORS = [
  "676567f8b1b470207c20d8efbaacfa64b2753301b46139562111636f36304bb8 676567f8b1b470207c20d8efbaacfa64b2753301b46139562111636f36304bb8",
  "5077570fed2363a14fa978218185b914059e23517faf366f08a87cf3c47fd58e 3124758667bc8e76e25403eee75a1044175d58fcd3b984e0745d0ab18f473984975ce54240407d80eedba2b395bcad5be99b5c920abc2423865e3066edd4847a",
  "f8e26aaa7c36523cea4c5202f2df159c62bf70d10670c96aed516dbfd5cb5227 decc1e0aa505d7d5fbe8ed823d7f5da55307c4cc7008e306da82dbce492a0576dbcf0c26646d36b36a92408941f5f2539f7715bcb1e2b1309cedb86ae4211554f56f5e6b2fce16536e44c851d473d1f994793873996ba448dd59b3b4b922b183",
  "45f6e06fc0263e667caddd8fba84c9fb723a961a01a5b115f7cab7fe8f2c7e44 53edbbf98d3fa50a85fd2d46c42502aafad3fea30bc25ba4f16ec8bf4a475c4d87da8ad3e5c90aae0b10a559a77a0985608eaa3cc3dd338239be52572c3bdf4ba403d27466991997b3cf4e8d238d002a1451ccc9c4790269d0f0085d9382d60fef37717f59726e4cc8787d5d2d75238ba9adb9627a8f4aeeec8d80465ed3f5fb",
  "e678fb87749ec082a9f92537716de8e19d8bd5bc4c4d832bd3fcfd42498dac83 051a082e670c688e6a0fc2c8fd5b66b7a23cd380c7c49bd0cfffb0e80fb8c2334bb717c5e90db0ac353dfc0750c8b43a07edae0be99d6e820acc6da9f113123ae084c38ccdbf9c6730e228b5d98e7beb9843cfb523747cc32f09f2b16def67f76765cee044883827b9af31c179d3135b16c30f04453943d9676a59b907a6439658f6c98159b8fa1b152f1bcf748740754ca31c918501dbd577faf602c641df59",
];

Deno.test("stratum template: Monero's tree hash passes Monero's own vectors (1 to 5 hashes)", () => {
  for (const line of TREE_VECTORS) {
    const [root, all] = line.split(" ");
    const hashes = all.match(/.{64}/g)!.map(unhex);
    assert.equal(hex(treeHash(hashes)), root, `${hashes.length} hashes`);
  }
});

Deno.test("stratum capabilities: a farm miner on a rig with little free memory hashes in light mode, with enough in fast mode; the profile's choice wins", () => {
  const config = XmrigConfigSchema.parse({ pools: [{ url: "farm" }], threads: 1 });
  const ctx = (free: number | null) => ({
    binary: "/x/xmrig",
    workDir: "/tmp/w",
    apiPort: 1,
    apiToken: "t",
    minerName: "farm",
    cpuThreads: 2,
    farmUrl: "stratum+tcp://127.0.0.1:3333",
    freeMemoryBytes: free,
  });
  const low = xmrigConfig(config, ctx(1.5 * 1024 ** 3)) as {
    randomx: { mode: string };
    pools: Record<string, unknown>[];
  };
  assert.equal(low.randomx.mode, "light");
  assert.deepEqual(low.pools, [{
    url: "127.0.0.1:3333",
    user: "farm",
    pass: "x",
    "rig-id": "farm",
    keepalive: true,
    nicehash: true,
    tls: false,
  }]);
  assert.equal(
    (xmrigConfig(config, ctx(16 * 1024 ** 3)) as { randomx: { mode: string } }).randomx.mode,
    "fast",
  );
  const chosen = XmrigConfigSchema.parse({ pools: [{ url: "farm" }], randomxMode: "light" });
  assert.equal(
    (xmrigConfig(chosen, ctx(16 * 1024 ** 3)) as { randomx: { mode: string } }).randomx.mode,
    "light",
  );
  // A pool of one's own: XMRig decides, as before.
  const own = XmrigConfigSchema.parse({ pools: [{ url: "pool.example.org:3333", user: "44w" }] });
  assert.equal(
    (xmrigConfig(own, ctx(1024 ** 3)) as { randomx: { mode: string } }).randomx.mode,
    "auto",
  );
  // No endpoint on this node: a clear error, not a miner pointed nowhere.
  assert.throws(() => xmrigConfig(config, { ...ctx(null), farmUrl: null }), /no stratum endpoint/);
  // A wallet is still required for a real pool.
  assert.throws(
    () => XmrigConfigSchema.parse({ pools: [{ url: "pool.example.org:3333" }] }),
    /wallet/,
  );
});

Deno.test("stratum pool set: stored 0600, bad input refused without losing what is stored", async () => {
  const home = await tempHome();
  const store = new StratumConfigStore(join(home, "stratum.json"));
  await store.addUpstream({ url: "daemon+http://127.0.0.1:18081", user: "44w" });
  await store.addUpstream({ url: "stratum+ssl://pool.example.org:443", user: "44w", pass: "p" }, {
    position: 0,
  });
  assert.equal((await Deno.stat(join(home, "stratum.json"))).mode! & 0o777, 0o600);
  for (
    const [bad, text] of [
      [{ url: "http://x:1", user: "w" }, /unsupported upstream/],
      [{ url: "stratum+tcp://x:99999", user: "w" }, /unsupported upstream/],
      [{ url: "stratum+tcp://x:1", user: "w;rm" }, /wallet\/login/],
      [{ url: "daemon+http://127.0.0.1:18081", user: "44w" }, /already an upstream/],
    ] as const
  ) {
    await assert.rejects(() => store.addUpstream(bad), text);
  }
  await assert.rejects(() => store.removeUpstream("7"), /no upstream 7/);
  await assert.rejects(() => store.setSettings({ ranges: 300 }), /ranges must be/);
  await assert.rejects(() => store.setSettings({ difficulty: 0 }), /difficulty must be/);
  const c = await store.load();
  assert.deepEqual(c.upstreams.map((u) => u.url), [
    "stratum+ssl://pool.example.org:443",
    "daemon+http://127.0.0.1:18081",
  ]);
  assert.deepEqual([c.difficulty, c.ranges], [5000, 256]);
  await Deno.remove(home, { recursive: true });
});

const OPENSSL = component("openssl", "the stratum TLS test (a test certificate)");

/** A self-signed certificate for 127.0.0.1 and localhost. */
async function testCert(dir: string): Promise<{ cert: string; key: string }> {
  const out = await new Deno.Command(OPENSSL.path!, {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

Deno.test({
  name:
    "stratum TLS: a stratum+ssl pool's certificate is checked (untrusted: down with the reason; its CA given: up), and miners reach their endpoint over TLS",
  ignore: OPENSSL.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await tempHome();
    const tls = await testCert(home);
    const pool = await startStubPool(1000n, { tls });
    const watch = (ca?: string) => {
      const states: string[] = [];
      let job: string | null = null;
      const u = createUpstream({ url: pool.url, user: "w" }, {
        ca,
        onJob: (_u, j) => void (job = j.id),
        onState: (u) => void states.push(u.view(0, false).state),
      });
      return { u, states, job: () => job };
    };
    const untrusted = watch();
    const trusted = watch(tls.cert);
    try {
      untrusted.u.start();
      await until(() => untrusted.states.includes("down"), "the untrusted pool down");
      const reason = untrusted.u.view(0, false).lastError ?? "";
      assert.match(reason, /certificate|self[- ]signed|verify/i, reason);
      assert.equal(pool.logins.length, 0, "no login (no credential) sent to an unverified pool");
      trusted.u.start();
      await until(() => trusted.job() !== null, "a job from the pool with its CA trusted");
      assert.equal(trusted.u.up, true);
      assert.equal(pool.logins[0].login, "w");

      // The miners' endpoint with a certificate: a TLS miner logs in and gets its job.
      const server = await startMinerServer({
        port: 0,
        tls,
        handler: {
          login: () =>
            Promise.resolve({
              jobId: "j1",
              blob: "00".repeat(76),
              target: "b88d0600",
              algo: "rx/0",
              height: 1,
            }),
          submit: () => Promise.resolve(),
          closed: () => {},
        },
      });
      assert.match(server.url, /^stratum\+ssl:\/\/127\.0\.0\.1:\d+$/);
      const socket = tlsConnect({ host: "127.0.0.1", port: server.port, ca: tls.cert });
      const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
        socket.once("error", reject);
        socket.setEncoding("utf8");
        socket.on("data", (d: string) => resolve(JSON.parse(d.split("\n")[0])));
        socket.write(
          JSON.stringify({
            id: 1,
            method: "login",
            params: { login: "x", pass: "x", agent: "t" },
          }) + "\n",
        );
      });
      socket.destroy();
      await server.close();
      assert.equal((answer.result as { job: { job_id: string } }).job.job_id, "j1");
    } finally {
      untrusted.u.stop();
      trusted.u.stop();
      await pool.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "emulator stratum mode: an emulated XMRig logs in to a pool, takes its job, submits shares at the configured rate and counts the pool's answers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await tempHome();
    const pool = await startStubPool(1000n);
    const bin = await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
      env: { MINER_EMU_STRATUM: "1", MINER_EMU_SHARE_MS: "100", MINER_EMU_PRINT_MS: "200" },
    });
    const port = freePort();
    const child = new Deno.Command(bin, {
      args: [
        "-o",
        pool.url.replace("stratum+tcp://", ""),
        "-u",
        "rig-x",
        "--http-host",
        "127.0.0.1",
        "--http-port",
        String(port),
        "--http-access-token",
        "t",
        "-t",
        "1",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await until(() => pool.shares.length >= 5, "five shares at the pool", 15_000);
      assert.equal(pool.logins[0].login, "rig-x");
      assert.ok(pool.shares.every((s) => s.jobId === "stub1" && /^[0-9a-f]{8}$/.test(s.nonce)));
      // Every share meets the job's target (its top 8 bytes under the 64-bit target).
      for (const s of pool.shares) assert.ok(meetsDifficulty(s.result, 900n), s.result);
      await until(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/2/summary`, {
          headers: { authorization: "Bearer t" },
        });
        const body = await r.json();
        return body.results.shares_good >= 5;
      }, "the accepted shares in its API");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await pool.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stratum proxy: one rig cannot hold more than its share of miners (a compromised rig cannot starve the others)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pool = await startStubPool(1000n);
    let issued = 0;
    const proxy = new StratumProxy({
      maxPerRig: 2,
      onEvent: (e) => void (e.kind === "job" && issued++),
    });
    proxy.setUpstreams([{ url: pool.url, user: "w" }]);
    const login = (rig: string, miner: string) =>
      proxy.login({ rig, rigName: rig, miner, login: miner, agent: "", sink: () => {} });
    await until(() => proxy.status().upstreams[0]?.state === "up", "the pool up");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(issued, 1, "the pool's first job is issued once (up, then its job)");
    try {
      await login("rig-a", "m1");
      await login("rig-a", "m2");
      await assert.rejects(() => login("rig-a", "m3"), /already has 2 miners/);
      const other = await login("rig-b", "m1");
      assert.equal(other.slot, 2, "the next free range");
      // A miner logging in again keeps within the cap (its old range is freed first), and gets
      // a range nobody hashed in this job (the freed one waits for the next job).
      const again = await login("rig-a", "m2");
      assert.equal(proxy.status().totals.miners, 3);
      assert.equal(again.slot, 3);
      // Each upstream job reaches a rig once (the pool coming up reported it only once).
      let sent = 0;
      await proxy.login({
        rig: "rig-c",
        rigName: "rig-c",
        miner: "m1",
        login: "m1",
        agent: "",
        sink: () => sent++,
      });
      assert.equal(sent, 0, "the login carries the job");
      pool.newJob();
      await until(() => sent === 1, "the new job at rig-c");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(sent, 1, "once");
    } finally {
      proxy.close();
      await pool.close();
    }
  },
});
