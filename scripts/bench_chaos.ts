/**
 * Reliability benchmarks for `deno task bench`:
 *
 * - partition: a controller with three workers, one partitioned by a black-holing forwarder;
 *   latency of `GET /remote/stats` while it is (target: every call under 100 ms, the partitioned
 *   rig stale or offline, the others fresh).
 * - soak: a controller polling 20 workers every 2 s while API readers (`/remote/stats`, `/peers`)
 *   and an event-stream client run, for `seconds`; judged on the second half:
 *   no failed request, no peer flapping offline, controller RSS peaks not rising.
 * @module
 */
import { EventSourceParserStream } from "eventsource-parser/stream";
import { NODE_RUNTIME_FLAGS } from "../src/cli/mod.ts";
import { initIdentity } from "../src/identity/mod.ts";
import { newPeer, PeerRegistry } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { Forwarder } from "../tests/chaos_proxy.ts";
import {
  cliOk,
  initNode,
  RUN_FLAGS,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "../tests/helpers.ts";

type Log = (line: string) => void;

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function tokenOf(home: string): Promise<string> {
  return (await Deno.readTextFile(`${home}/config/api_token`)).trim();
}

async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

/** Partitioned-rig read latency. */
export async function benchPartition(log: Log): Promise<Record<string, unknown>> {
  const root = await tempHome("miner-cli-bench-partition-");
  const c = `${root}/c`;
  const ctl = await initNode(c, "boss", "controller");
  const workers: ServeHandle[] = [];
  let proxy: Forwarder | null = null;
  const controller = await serve(c, ["--fleet-poll", "1s"]);
  try {
    for (const name of ["rig-1", "rig-2", "rig-3"]) {
      const h = `${root}/${name}`;
      await initNode(h, name, "worker");
      await cliOk(h, ["peer", "allow", ctl.id, "--control"]);
      const w = await serve(h, ["--no-api"]);
      workers.push(w);
      let address = w.address;
      if (name === "rig-3") {
        proxy = await Forwarder.start({ hostname: "127.0.0.1", port: w.port });
        address = proxy.address;
      }
      await cliOk(c, ["peer", "add", "--address", address, "--name", name]);
    }
    const token = await tokenOf(c);
    type Row = { name: string; online: boolean; stale?: boolean };
    const read = async () => {
      const t0 = performance.now();
      const res = await fetch(`${controller.api}/api/v1/mining/remote/stats`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const doc = await res.json() as { peers: Row[] };
      return { ms: performance.now() - t0, doc };
    };
    await until(async () => (await read()).doc.peers.every((r) => r.online), "all up");
    proxy!.partition();
    // Past the readers' default freshness (2 s): what rig-3 last said is now old.
    await new Promise((r) => setTimeout(r, 2500));
    const took: number[] = [];
    let last: Row[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await read();
      took.push(r.ms);
      last = r.doc.peers;
      await new Promise((res) => setTimeout(res, 25));
    }
    const rig3 = last.find((r) => r.name === "rig-3")!;
    const othersFresh = last.filter((r) => r.name !== "rig-3").every((r) => r.online && !r.stale);
    const out = {
      reads: took.length,
      p50Ms: Number(pct(took, 0.5).toFixed(1)),
      p99Ms: Number(pct(took, 0.99).toFixed(1)),
      maxMs: Number(Math.max(...took).toFixed(1)),
      partitionedShown: rig3.stale === true || rig3.online === false,
      othersFresh,
    };
    log(
      `partition: 200 GET /remote/stats with 1 of 3 rigs partitioned: p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, max ${out.maxMs} ms; partitioned rig ${
        out.partitionedShown ? "stale/offline" : "SHOWN FRESH"
      }, others ${othersFresh ? "fresh" : "NOT fresh"}`,
    );
    log(
      `  target (every read < 100 ms, the partitioned rig stale/offline, the others fresh): ${
        out.maxMs < 100 && out.partitionedShown && othersFresh ? "met" : "NOT met"
      }`,
    );
    return out;
  } finally {
    await proxy?.close();
    for (const w of workers) await w.stop();
    await controller.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/** A soak of 20 workers polled every 2 s with API and event-stream clients. */
export async function benchSoak(log: Log, seconds: number): Promise<Record<string, unknown>> {
  const root = await tempHome("miner-cli-bench-soak-");
  const c = `${root}/c`;
  const paths = resolvePaths({ home: c });
  const id = await initIdentity(paths, { name: "soak-controller", role: "controller" });
  const hosts: Deno.ChildProcess[] = [];
  let controller: ServeHandle | null = null;
  try {
    const nodes: { id: string; name: string; publicKey: string; port: number }[] = [];
    for (let h = 0; h < 2; h++) {
      const proc = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./bench_fleet_host.ts", import.meta.url).pathname,
          "--root",
          root,
          "--count",
          "10",
          "--prefix",
          `soak${h}`,
          "--controller-id",
          id.info.id,
          "--controller-key",
          id.info.publicKey,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      hosts.push(proc);
      const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      while (!buf.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("fleet host exited early");
        buf += value;
      }
      reader.releaseLock();
      nodes.push(...JSON.parse(buf.split("\n")[0]).nodes);
    }
    const reg = await PeerRegistry.open(paths.registryDb, { debounceMs: 0 });
    for (const n of nodes) {
      reg.upsert(newPeer({ ...n, address: `127.0.0.1:${n.port}`, role: "worker" }));
    }
    await reg.close();
    // As a service or binary runs it: with the node's runtime flags (a 1 MB young generation).
    controller = await serve(c, ["--fleet-poll", "2s"], {
      flags: [...NODE_RUNTIME_FLAGS, ...RUN_FLAGS],
    });
    const token = await tokenOf(c);
    const api = controller.api!;
    const start = Date.now();
    const half = start + seconds * 500;
    const end = start + seconds * 1000;
    const stats = { requests: 0, errors: 0, secondHalfErrors: 0, offlineEvents: 0 };
    const rss: { at: number; bytes: number }[] = [];
    const reader = async (path: string, everyMs: number) => {
      while (Date.now() < end) {
        try {
          const res = await fetch(`${api}/api/v1/mining${path}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`${res.status}`);
        } catch {
          stats.errors++;
          if (Date.now() > half) stats.secondHalfErrors++;
        }
        stats.requests++;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    };
    const stop = new AbortController();
    const eventStream = (async () => {
      try {
        const res = await fetch(`${api}/api/v1/mining/events`, {
          headers: { authorization: `Bearer ${token}` },
          signal: stop.signal,
        });
        const events = res.body!.pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream()).getReader();
        while (true) {
          const { value, done } = await events.read();
          if (done) break;
          if (value.event === "peer" && JSON.parse(value.data).kind === "offline") {
            if (Date.now() > half) stats.offlineEvents++;
          }
        }
      } catch { /* aborted */ }
    })();
    const sampler = (async () => {
      while (Date.now() < end) {
        rss.push({ at: Date.now(), bytes: await rssOf(controller!.process.pid) });
        if (rss.length % 6 === 0) {
          log(
            `  ${Math.round((Date.now() - start) / 1000)} s: RSS ${
              (rss.at(-1)!.bytes / 1e6).toFixed(1)
            } MB`,
          );
        }
        await new Promise((r) => setTimeout(r, 5000));
      }
    })();
    log(
      `soak: ${nodes.length} workers polled every 2 s, API readers and an event stream, ${seconds} s`,
    );
    await Promise.all([
      reader("/remote/stats", 100),
      reader("/remote/stats", 250),
      reader("/peers", 500),
      sampler,
    ]);
    stop.abort();
    await eventStream;
    // RSS moves with the garbage collector (a sawtooth of tens of MB), so the second half's first
    // and last samples say little: a leak shows as peaks that keep rising, so the peak of its
    // last quarter is compared with the peak of its third.
    const mid = (half + end) / 2;
    const q3 = rss.filter((r) => r.at > half && r.at <= mid).map((r) => r.bytes);
    const q4 = rss.filter((r) => r.at > mid).map((r) => r.bytes);
    const peak3 = q3.length ? Math.max(...q3) : 0;
    const peak4 = q4.length ? Math.max(...q4) : 0;
    const growth = peak3 ? (peak4 - peak3) / peak3 : 0;
    const out = {
      workers: nodes.length,
      seconds,
      requests: stats.requests,
      errors: stats.errors,
      secondHalfErrors: stats.secondHalfErrors,
      secondHalfOfflineEvents: stats.offlineEvents,
      rssPeakThirdQuarterMB: Number((peak3 / 1e6).toFixed(1)),
      rssPeakLastQuarterMB: Number((peak4 / 1e6).toFixed(1)),
      rssPeakGrowthPercent: Number((growth * 100).toFixed(1)),
    };
    log(
      `  ${out.requests} requests, ${out.errors} errors (${out.secondHalfErrors} in the second half); ${out.secondHalfOfflineEvents} offline events in the second half; controller RSS peak ${out.rssPeakThirdQuarterMB} MB in the third quarter, ${out.rssPeakLastQuarterMB} MB in the last (${out.rssPeakGrowthPercent} %)`,
    );
    log(
      `  target (second half: 0 errors, no flapping, RSS peaks within 5 %): ${
        out.secondHalfErrors === 0 && out.secondHalfOfflineEvents === 0 && growth < 0.05
          ? "met"
          : "NOT met"
      }`,
    );
    return out;
  } finally {
    await controller?.stop();
    for (const p of hosts) {
      p.kill("SIGTERM");
      await p.status;
      await p.stdout.cancel().catch(() => {});
    }
    await Deno.remove(root, { recursive: true });
  }
}
