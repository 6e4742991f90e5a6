/**
 * `deno task bench --only stratum`: the farm's stratum proxy with 1,000 and 10,000 emulated
 * miners (`--stratum-sizes`). A controller (`node serve`, controller permission set) mines into a
 * daemon upstream; 10 or 20 real worker nodes link in
 * with `--connect`; host processes run the emulated miners (`EmulatedStratumClient`, the
 * emulator's stratum client mode), each logged in to a worker's endpoint. Measured:
 *
 * - fan-out: from the proxy issuing a new job (the chain moved: a stand-in daemon serving a real
 *   monerod template with a new parent, seen by the proxy's poll) to the last of the N miners
 *   receiving it, median of 3;
 * - shares/s the controller validates with every miner submitting (offered ~10,000/s);
 * - controller RSS per miner: RSS with every miner logged in minus RSS with only the workers'
 *   links, over N.
 * @module
 */
import { NODE_RUNTIME_FLAGS, permissionFlags } from "../src/cli/mod.ts";
import { freePort, procUsage } from "./bench_util.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CLIENTS = new URL("./bench_stratum_clients.ts", import.meta.url).pathname;
const WALLET =
  "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
const dec = new TextDecoder();

/** One size's figures. */
export interface StratumBenchRow {
  /** Emulated miners. */
  miners: number;
  /** Worker node processes. */
  workers: number;
  /** New job to every miner, ms (median of 3; min, max). */
  fanoutMs: { median: number; min: number; max: number };
  /** What the proxy's own issue loop took, ms (median). */
  issueMs: number;
  /** Shares validated per second by the controller. */
  sharesPerSecond: number;
  /** Offered shares per second. */
  offeredPerSecond: number;
  /** Controller CPU while validating (% of one core). */
  cpuPercent: number;
  /** Controller RSS with the links only / with every miner, MB. */
  rssLinksMb: number;
  rssMinersMb: number;
  /** (RSS with miners − RSS with links) / miners, KB. */
  kbPerMiner: number;
}

async function run(args: string[], home: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", MAIN, "--home", home, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** Reads stdout lines of `proc`, calling `fn` for each. */
function lines(proc: Deno.ChildProcess, fn: (line: string) => void): void {
  (async () => {
    let buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        fn(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  })().catch(() => {});
}

async function until(
  what: string,
  ms: number,
  fn: () => boolean | Promise<boolean>,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`bench stratum: ${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A stand-in monerod: `get_block_template` answers a real monerod's template (taken once from
 * `monerod --regtest`), with a new previous block and height after each {@link advance};
 * `submit_block` refuses (the emulated miners' hashes are made up). The proxy's daemon upstream
 * polls it as it polls monerod.
 */
async function templateDaemon(
  root: string,
): Promise<{ port: number; advance(): void; close(): Promise<void>; procs: Deno.ChildProcess[] }> {
  const rpc = freePort();
  const monerod = new Deno.Command("monerod", {
    args: [
      "--regtest",
      "--offline",
      "--fixed-difficulty",
      "100",
      "--data-dir",
      `${root}/monerod`,
      "--rpc-bind-ip",
      "127.0.0.1",
      "--rpc-bind-port",
      String(rpc),
      "--p2p-bind-ip",
      "127.0.0.1",
      "--p2p-bind-port",
      String(freePort()),
      "--no-zmq",
      "--non-interactive",
      "--log-level",
      "0",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const call = async (method: string, params: unknown) =>
    (await (await fetch(`http://127.0.0.1:${rpc}/json_rpc`, {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id: "0", method, params }),
    })).json()).result;
  let t: Record<string, unknown> | undefined;
  await until("monerod", 30_000, async () => {
    t = await call("get_block_template", { wallet_address: WALLET, reserve_size: 8 }).catch(() =>
      undefined
    );
    return !!t;
  });
  monerod.kill("SIGTERM");
  await monerod.status;
  // Where the previous block's hash sits: after three varints (versions, timestamp).
  const blob = String(t!.blocktemplate_blob);
  let at = 0;
  for (let v = 0; v < 3; v++) {
    while (parseInt(blob.slice(at * 2, at * 2 + 2), 16) & 0x80) at++;
    at++;
  }
  let height = Number(t!.height);
  let prev = String(t!.prev_hash);
  const put = (hex: string) => hex.slice(0, at * 2) + prev + hex.slice(at * 2 + 64);
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const body = await req.json();
    if (body.method === "submit_block") {
      return Response.json({
        id: body.id,
        jsonrpc: "2.0",
        error: { code: -7, message: "Block not accepted" },
      });
    }
    return Response.json({
      id: body.id,
      jsonrpc: "2.0",
      result: {
        ...t,
        blocktemplate_blob: put(String(t!.blocktemplate_blob)),
        blockhashing_blob: put(String(t!.blockhashing_blob)),
        difficulty: 1e12,
        wide_difficulty: "0xe8d4a51000",
        height,
        prev_hash: prev,
        status: "OK",
      },
    });
  });
  return {
    port,
    procs: [],
    close: () => server.shutdown(),
    advance() {
      height++;
      prev = Array.from(
        crypto.getRandomValues(new Uint8Array(32)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function benchSize(
  log: (line: string) => void,
  miners: number,
): Promise<StratumBenchRow> {
  const workers = miners <= 1000 ? 10 : 20;
  const perWorker = miners / workers;
  const root = await Deno.makeTempDir({ prefix: "miner-cli-bench-stratum-" });
  const procs: Deno.ChildProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    // A real monerod's template, served by a stand-in daemon that moves the chain when told
    // (monerod's own `generateblocks` mines, and no made-up share may be a block).
    const daemon = await templateDaemon(root);
    closers.push(() => daemon.close());
    procs.push(...daemon.procs);
    const rpc = daemon.port;
    // The controller and its pool set.
    const c = `${root}/c`;
    await run(["node", "init", "--name", "boss", "--role", "controller"], c);
    const ctlId = JSON.parse(await run(["node", "info", "--json"], c)).id;
    await run(
      ["stratum", "upstream", "add", `daemon+http://127.0.0.1:${rpc}`, "--user", WALLET],
      c,
    );
    await run(["stratum", "set", "--difficulty", "1000"], c);
    // The workers: each grants the controller control; the controller allows them all at once.
    const ids: string[] = [];
    for (let i = 0; i < workers; i++) {
      const w = `${root}/w${i}`;
      await run(["node", "init", "--name", `rig-${i}`, "--role", "worker"], w);
      ids.push(JSON.parse(await run(["node", "info", "--json"], w)).id);
      await run(["peer", "allow", ctlId, "--control"], w);
    }
    await run(["peer", "allow", ...ids], c);

    const peerPort = freePort();
    const apiPort = freePort();
    const ctl = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...NODE_RUNTIME_FLAGS,
        ...permissionFlags("controller", {
          configDir: `${c}/config`,
          dataDir: `${c}/data`,
          listen: `127.0.0.1:${peerPort}`,
          extraRead: [new URL("../dist/ui", import.meta.url).pathname],
        }),
        MAIN,
        "--home",
        c,
        "node",
        "serve",
        "--listen",
        `127.0.0.1:${peerPort}`,
        "--api-listen",
        `127.0.0.1:${apiPort}`,
        "--json",
        "--history-interval",
        "0",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    procs.push(ctl);
    lines(ctl, () => {});
    const token = (await Deno.readTextFile(`${c}/config/api_token`)).trim();
    const api = async (path: string) =>
      await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/mining${path}`, {
        headers: { authorization: `Bearer ${token}` },
      })).json();
    await until(
      "the controller's API",
      30_000,
      () => api("/stratum/status").then((s) => s.upstreams?.[0]?.state === "up", () => false),
    );

    // Workers link in; their endpoints take perWorker miners each.
    const endpoints: number[] = [];
    for (let i = 0; i < workers; i++) {
      const port = freePort();
      endpoints.push(port);
      const w = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-net",
          MAIN,
          "--home",
          `${root}/w${i}`,
          "node",
          "serve",
          "--listen",
          "127.0.0.1:0",
          "--no-api",
          "--connect",
          `127.0.0.1:${peerPort}`,
          "--stratum-listen",
          `127.0.0.1:${port}`,
          "--stratum-max-miners",
          String(perWorker + 16),
          "--history-interval",
          "0",
          "--json",
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      procs.push(w);
      lines(w, () => {});
    }
    await until("every worker linked", 60_000, async () => {
      const peers = (await api("/peers")).peers as { online: boolean }[];
      return peers.filter((p) => p.online).length === workers;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const before = await procUsage(ctl.pid);

    // The miners: one host process per five workers.
    const state = { ready: 0, sent: 0, accepted: 0, rejected: 0 };
    const jobs = new Map<string, number[]>();
    const hosts: Deno.ChildProcess[] = [];
    for (let i = 0; i < workers; i += 5) {
      const h = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          CLIENTS,
          ...endpoints.slice(i, i + 5).flatMap((p) => ["--port", String(p)]),
          "--miners",
          String(perWorker),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      procs.push(h);
      hosts.push(h);
      const mine = { ready: 0, sent: 0, accepted: 0, rejected: 0 };
      lines(h, (line) => {
        const m = JSON.parse(line);
        if (m.job) {
          const j = jobs.get(m.job) ?? [];
          j.push(m.last);
          jobs.set(m.job, j);
        } else if (m.sent !== undefined) {
          for (const k of ["ready", "sent", "accepted", "rejected"] as const) {
            state[k] += (m[k] ?? 0) - mine[k];
            mine[k] = m[k] ?? 0;
          }
        }
      });
    }
    const t0 = performance.now();
    await until(`${miners} miners logged in`, 120_000, () => state.ready >= miners);
    log(
      `stratum: ${miners} miners on ${workers} workers logged in in ${
        Math.round(performance.now() - t0)
      } ms`,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const after = await procUsage(ctl.pid);

    // Fan-out: a new block; the proxy's next poll issues the job; every miner's receipt.
    const events = new AbortController();
    const issued = new Map<string, { at: number; ms: number }>();
    (async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/mining/events`, {
        headers: { authorization: `Bearer ${token}` },
        signal: events.signal,
      });
      let buf = "";
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let sep: number;
        while ((sep = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!block.includes("event: stratum") || !data) continue;
          const e = JSON.parse(data);
          if (e.kind === "job" && e.job) {
            issued.set(e.job.id, { at: Date.parse(e.job.issuedAt), ms: e.job.ms });
          }
        }
      }
    })().catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    const fanouts: number[] = [];
    const issueMs: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const known = new Set(issued.keys());
      daemon.advance();
      await until("a new job issued", 10_000, () => [...issued.keys()].some((k) => !known.has(k)));
      const id = [...issued.keys()].find((k) => !known.has(k))!;
      await until(
        `job ${id} at every miner`,
        30_000,
        () => (jobs.get(id)?.length ?? 0) === hosts.length,
      );
      const last = Math.max(...jobs.get(id)!);
      fanouts.push(last - issued.get(id)!.at);
      issueMs.push(issued.get(id)!.ms);
      await new Promise((r) => setTimeout(r, 1500));
    }
    events.abort();

    // Shares: every miner submits; the controller's validated count over 10 s.
    const shareMs = Math.max(1, Math.round(miners / 10_000 * 1000));
    for (const h of hosts) {
      const w = h.stdin.getWriter();
      await w.write(new TextEncoder().encode(`shares ${shareMs}\n`));
      w.releaseLock();
    }
    await new Promise((r) => setTimeout(r, 3000));
    const counted = async () => {
      const t = (await api("/stratum/status")).totals;
      return t.accepted + t.stale + t.rejected;
    };
    const s0 = await counted();
    const u0 = await procUsage(ctl.pid);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const s1 = await counted();
    const u1 = await procUsage(ctl.pid);
    const secs = (performance.now() - w0) / 1000;
    return {
      miners,
      workers,
      fanoutMs: { median: median(fanouts), min: Math.min(...fanouts), max: Math.max(...fanouts) },
      issueMs: median(issueMs),
      sharesPerSecond: Math.round((s1 - s0) / secs),
      offeredPerSecond: Math.round(miners / (shareMs / 1000)),
      cpuPercent: Math.round(((u1.cpu - u0.cpu) / secs) * 1000) / 10,
      rssLinksMb: Math.round(before.rss / 1e5) / 10,
      rssMinersMb: Math.round(after.rss / 1e5) / 10,
      kbPerMiner: Math.round(((after.rss - before.rss) / miners / 1024) * 10) / 10,
    };
  } finally {
    for (const p of procs.reverse()) {
      try {
        p.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.allSettled(procs.map((p) => p.status));
    await Promise.allSettled(closers.map((c) => c()));
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** Runs the stratum benchmark at each size and prints the table. */
export async function benchStratum(
  log: (line: string) => void,
  options: { sizes?: number[] } = {},
): Promise<StratumBenchRow[]> {
  const rows: StratumBenchRow[] = [];
  for (const n of options.sizes ?? [1000, 10_000]) {
    const row = await benchSize(log, n);
    rows.push(row);
    log(
      `stratum ${n} miners (${row.workers} workers): new job to every miner ${row.fanoutMs.median} ms (${row.fanoutMs.min}–${row.fanoutMs.max}; issue loop ${row.issueMs} ms), ${row.sharesPerSecond} shares/s validated of ${row.offeredPerSecond} offered (controller CPU ${row.cpuPercent} %), RSS ${row.rssLinksMb} → ${row.rssMinersMb} MB = ${row.kbPerMiner} KB per miner`,
    );
  }
  log("");
  log(
    "| miners | workers | new job to every miner | shares/s validated | controller CPU | RSS per miner |",
  );
  log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    log(
      `| ${
        r.miners.toLocaleString("en")
      } | ${r.workers} | ${r.fanoutMs.median} ms (${r.fanoutMs.min}–${r.fanoutMs.max}) | ${
        r.sharesPerSecond.toLocaleString("en")
      } (of ${
        r.offeredPerSecond.toLocaleString("en")
      } offered) | ${r.cpuPercent} % | ${r.kbPerMiner} KB |`,
    );
  }
  log("targets: new job to 10,000 miners < 1 s; ≥ 5,000 shares/s validated; < 10 KB RSS per miner");
  return rows;
}
