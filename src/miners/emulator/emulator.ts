/**
 * A miner emulator that behaves like XMRig or TT-Miner from the outside: their command lines,
 * XMRig's HTTP API (`/1/summary`, `/2/summary`, `/2/backends`, `/json_rpc` pause/resume, bearer
 * token with 401/403), TT-Miner's `miner_getstat1` over TCP, and console lines in their format.
 * It can be told (environment variables, so the miner command line stays authentic) to crash,
 * hang, stall at 0 H/s, or print garbage:
 *
 * - `MINER_EMU_HASHRATE` base H/s (default 1000 for xmrig, 30e6 per GPU for tt-miner)
 * - `MINER_EMU_GPUS` GPU count (tt-miner, or xmrig with OpenCL; default 0 / 2)
 * - `MINER_EMU_FAULT` `crash-after=S`, `hang-after=S`, `stall-after=S`, `garbage`, `exit=N`
 * - `MINER_EMU_PRINT_MS` console speed-line interval (default: XMRig print-time, 10 s)
 * - `MINER_EMU_SHARE_MS` mean time between accepted shares (default 5 s)
 * - `MINER_EMU_REJECT_RATE` share of results rejected, 0–1 (default 0.02; tests that assert a
 *   rig's health set 0: a few random rejects among the first shares make it degraded)
 * - `MINER_EMU_WINDOW_MS` length of the "10 s" hashrate window (default 10 s; tests shorten it)
 * - `MINER_EMU_GPU_TEMPS` per-GPU temperatures in °C, comma-separated (default 60, 63, ...)
 * - `MINER_EMU_GPU_FANS` per-GPU fan speeds (XMRig OpenCL: RPM, TT-Miner: %), comma-separated
 * - `MINER_EMU_STRATUM=1` (xmrig): speak stratum to the first pool (login, jobs, a share every
 *   `MINER_EMU_SHARE_MS`; see `stratum_client.ts`): shares are what the pool answers
 * @module
 */
import { parseArgs } from "node:util";
import { EmulatedStratumClient } from "./stratum_client.ts";

/** Emulated miner kinds. */
export type EmulatedKind = "xmrig" | "tt-miner";

let shortWindow: number | undefined;
/** The "10 s" window (read lazily: importing this module must not touch the environment). */
function SHORT_WINDOW_MS(): number {
  return shortWindow ??= Number(env("MINER_EMU_WINDOW_MS") ?? 10_000);
}
const VERSION = { xmrig: "6.21.0", "tt-miner": "2023.1.0" };

interface Fault {
  crashAfter?: number;
  hangAfter?: number;
  stallAfter?: number;
  garbage?: boolean;
  exitCode?: number;
}

function parseFault(text: string | undefined): Fault {
  const f: Fault = {};
  for (const part of (text ?? "").split(",").filter(Boolean)) {
    const [k, v] = part.split("=");
    if (k === "crash-after") f.crashAfter = Number(v) * 1000;
    else if (k === "hang-after") f.hangAfter = Number(v) * 1000;
    else if (k === "stall-after") f.stallAfter = Number(v) * 1000;
    else if (k === "garbage") f.garbage = true;
    else if (k === "exit") f.exitCode = Number(v);
  }
  return f;
}

/** GPU `i`'s temperature or fan from a comma-separated variable, else `fallback`. */
function perGpu(name: string, i: number, fallback: number): number {
  const v = env(name)?.split(",")[i];
  return v !== undefined && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : fallback;
}

const env = (name: string): string | undefined => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

const C = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  green: "\x1b[32m",
  cyan: "\x1b[36m",
  magenta: "\x1b[35m",
  blue: "\x1b[34m",
  red: "\x1b[31m",
};

function stamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}]`;
}

const enc = new TextEncoder();
function out(line: string): void {
  try {
    Deno.stdout.writeSync(enc.encode(line + "\n"));
  } catch { /* stdout closed */ }
}

/** Mining state shared by both personalities. */
class Rig {
  readonly started = Date.now();
  paused = false;
  accepted = 0;
  rejected = 0;
  hashesTotal = 0;
  highest = 0;
  samples: { t: number; v: number }[] = [];
  constructor(readonly base: number, readonly units: number, readonly fault: Fault) {}

  get stalled(): boolean {
    return this.fault.stallAfter !== undefined &&
      Date.now() - this.started >= this.fault.stallAfter;
  }

  /** Per-unit (thread or GPU) hashrate now. */
  unitRates(): number[] {
    if (this.paused || this.stalled) return Array(this.units).fill(0);
    return Array.from(
      { length: this.units },
      () => (this.base / this.units) * (0.95 + Math.random() * 0.1),
    );
  }

  tick(): void {
    const v = this.unitRates().reduce((a, b) => a + b, 0);
    this.samples.push({ t: Date.now(), v });
    this.hashesTotal += Math.round(v);
    this.highest = Math.max(this.highest, v);
    const cutoff = Date.now() - 15 * 60_000;
    while (this.samples.length && this.samples[0].t < cutoff) this.samples.shift();
  }

  /** XMRig-style windows: null until the window has data. */
  window(ms: number): number | null {
    const age = Date.now() - this.started;
    if (age < Math.min(ms, 1000)) return null;
    if (ms > SHORT_WINDOW_MS() && age < ms) return null;
    const since = Date.now() - ms;
    const xs = this.samples.filter((s) => s.t >= since);
    return xs.length ? Math.round((xs.reduce((a, s) => a + s.v, 0) / xs.length) * 100) / 100 : null;
  }

  get uptime(): number {
    return Math.floor((Date.now() - this.started) / 1000);
  }
}

interface XmrigSettings {
  host: string;
  port: number | null;
  token: string | null;
  restricted: boolean;
  pool: string;
  user: string;
  algo: string;
  threads: number;
  printMs: number;
  opencl: boolean;
}

function xmrigSettings(args: string[]): XmrigSettings {
  const { values } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      url: { type: "string", short: "o" },
      user: { type: "string", short: "u" },
      pass: { type: "string", short: "p" },
      algo: { type: "string", short: "a" },
      coin: { type: "string" },
      threads: { type: "string", short: "t" },
      "http-host": { type: "string" },
      "http-port": { type: "string" },
      "http-access-token": { type: "string" },
      "http-no-restricted": { type: "boolean" },
      "print-time": { type: "string" },
      "donate-level": { type: "string" },
      "no-color": { type: "boolean" },
      version: { type: "boolean", short: "V" },
    },
  });
  // deno-lint-ignore no-explicit-any
  let cfg: any = {};
  if (typeof values.config === "string") cfg = JSON.parse(Deno.readTextFileSync(values.config));
  const pool = cfg.pools?.[0] ?? {};
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    host: str(values["http-host"]) ?? cfg.http?.host ?? "127.0.0.1",
    port: values["http-port"]
      ? Number(values["http-port"])
      : (cfg.http?.enabled ? Number(cfg.http.port) : null),
    token: str(values["http-access-token"]) ?? cfg.http?.["access-token"] ?? null,
    restricted: values["http-no-restricted"] ? false : (cfg.http?.restricted ?? true),
    pool: str(values.url) ?? pool.url ?? "pool.example.org:3333",
    user: str(values.user) ?? pool.user ?? "x",
    algo: str(values.algo) ?? pool.algo ?? "rx/0",
    threads: Number(str(values.threads) ?? cfg.cpu?.["max-threads-hint"] ?? 0) ||
      Math.max(1, (navigator.hardwareConcurrency || 2) - 1),
    printMs: Number(
      env("MINER_EMU_PRINT_MS") ??
        (Number(str(values["print-time"]) ?? cfg["print-time"] ?? 10) * 1000),
    ),
    opencl: cfg.opencl?.enabled === true,
  };
}

function xmrigBackends(rig: Rig, s: XmrigSettings, gpus: number): unknown[] {
  const rates = rig.unitRates();
  const w = (
    v: number,
  ) => [
    rig.window(SHORT_WINDOW_MS()) === null ? null : Math.round(v * 100) / 100,
    rig.window(60_000) === null ? null : Math.round(v * 100) / 100,
    null,
  ];
  const cpuThreads = rates.slice(0, s.threads);
  const backends: unknown[] = [{
    type: "cpu",
    enabled: true,
    algo: s.algo,
    profile: s.algo.split("/")[0],
    "hw-aes": true,
    priority: -1,
    msr: false,
    asm: "auto",
    "argon2-impl": null,
    hugepages: [0, s.threads],
    memory: 2097152 * s.threads,
    hashrate: [rig.window(SHORT_WINDOW_MS()), rig.window(60_000), rig.window(900_000)],
    threads: cpuThreads.map((v, i) => ({ intensity: 1, affinity: i, av: 1, hashrate: w(v) })),
  }];
  if (gpus > 0) {
    backends.push({
      type: "opencl",
      enabled: true,
      algo: s.algo,
      profile: s.algo.split("/")[0],
      platform: {
        index: 0,
        profile: "FULL_PROFILE",
        version: "OpenCL 2.1",
        name: "AMD Accelerated Parallel Processing",
        vendor: "Advanced Micro Devices, Inc.",
        extensions: "",
      },
      hashrate: [rig.window(SHORT_WINDOW_MS()), rig.window(60_000), rig.window(900_000)],
      threads: Array.from({ length: gpus }, (_, i) => ({
        index: i,
        intensity: 4096,
        worksize: 8,
        threads: [-1, -1],
        unroll: 8,
        affinity: -1,
        hashrate: w(rig.base / gpus),
        board: `Radeon RX 6800 #${i}`,
        name: "gfx1030",
        bus_id: `0${i + 3}:00.0`,
        cu: 60,
        global_mem: 17163091968,
        health: {
          temperature: perGpu("MINER_EMU_GPU_TEMPS", i, 60 + i * 3),
          power: 150,
          clock: 2100,
          mem_clock: 1000,
          rpm: perGpu("MINER_EMU_GPU_FANS", i, 1500 + i * 100),
        },
      })),
    });
  }
  return backends;
}

function xmrigSummary(rig: Rig, s: XmrigSettings): unknown {
  const good = rig.accepted;
  return {
    id: "92f3104f9a2ee78c",
    worker_id: Deno.hostname?.() ?? "rig",
    uptime: rig.uptime,
    restricted: s.restricted,
    resources: {
      memory: { free: 1 << 30, total: 8 << 30, resident_set_memory: 64 << 20 },
      load_average: [1, 1, 1],
      hardware_concurrency: navigator.hardwareConcurrency || 2,
    },
    features: ["api", "asm", "http", "hwloc", "tls", "opencl", "cuda"],
    results: {
      diff_current: 100000,
      shares_good: good,
      shares_total: good + rig.rejected,
      avg_time: good ? Math.round(rig.uptime / good) : 0,
      avg_time_ms: good ? Math.round((rig.uptime * 1000) / good) : 0,
      hashes_total: rig.hashesTotal,
      best: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      error_log: [],
    },
    algo: s.algo,
    connection: {
      pool: s.pool.replace(/^stratum\+\w+:\/\//, ""),
      ip: "127.0.0.1",
      uptime: rig.uptime,
      uptime_ms: rig.uptime * 1000,
      ping: 12,
      failures: 0,
      tls: null,
      "tls-fingerprint": null,
      algo: s.algo,
      diff: 100000,
      accepted: good,
      rejected: rig.rejected,
      avg_time: 0,
      avg_time_ms: 0,
      hashes_total: rig.hashesTotal,
      error_log: [],
    },
    version: VERSION.xmrig,
    kind: "miner",
    ua: `XMRig/${VERSION.xmrig} (Linux x86_64) libuv/1.44.2 gcc/12.2.0`,
    cpu: {
      brand: "Emulated CPU",
      aes: true,
      avx2: true,
      x64: true,
      "64_bit": true,
      l2: 1 << 20,
      l3: 32 << 20,
      cores: s.threads,
      threads: s.threads,
      packages: 1,
      nodes: 1,
      backend: "hwloc/2.9.0",
      msr: "none",
      assembly: "auto",
      arch: "x86_64",
      flags: ["aes", "avx2"],
    },
    donate_level: 1,
    paused: rig.paused,
    algorithms: ["rx/0", "rx/wow", "cn/r"],
    hashrate: {
      total: [rig.window(SHORT_WINDOW_MS()), rig.window(60_000), rig.window(900_000)],
      highest: rig.highest || null,
    },
    hugepages: [0, s.threads],
  };
}

function serveXmrigApi(
  rig: Rig,
  s: XmrigSettings,
  gpus: number,
  hung: () => boolean,
): void {
  if (s.port === null) return;
  Deno.serve({ hostname: s.host, port: s.port, onListen: () => {} }, async (req) => {
    if (hung()) await new Promise(() => {}); // never answer
    if (s.token) {
      const auth = req.headers.get("authorization");
      if (!auth) return Response.json({ status: 401, error: "Unauthorized" }, { status: 401 });
      if (auth !== `Bearer ${s.token}`) {
        return Response.json({ status: 403, error: "Forbidden" }, { status: 403 });
      }
    }
    const url = new URL(req.url);
    if (rig.fault.garbage) {
      return new Response('{"id": \x00\x01 garbage', {
        headers: { "content-type": "application/json" },
      });
    }
    if (req.method === "GET" && (url.pathname === "/1/summary" || url.pathname === "/2/summary")) {
      return Response.json(xmrigSummary(rig, s));
    }
    if (req.method === "GET" && url.pathname === "/2/backends") {
      return Response.json(xmrigBackends(rig, s, gpus));
    }
    if (req.method === "POST" && url.pathname === "/json_rpc") {
      if (s.restricted) return Response.json({ status: 403, error: "Forbidden" }, { status: 403 });
      const body = await req.json().catch(() => null) as { method?: string; id?: unknown } | null;
      if (body?.method === "pause" || body?.method === "resume") {
        rig.paused = body.method === "pause";
        out(
          `${stamp()} ${C.bold}${C.blue}${" miner".padEnd(9)}${C.reset}${
            rig.paused ? "paused, press r to resume" : "resumed"
          }`,
        );
        return Response.json({ result: { status: "OK" }, jsonrpc: "2.0", id: body.id ?? null });
      }
      return Response.json({
        id: body?.id ?? null,
        jsonrpc: "2.0",
        error: { code: -32601, message: "Method not found" },
      });
    }
    return Response.json({ status: 404, error: "Not Found" }, { status: 404 });
  });
}

function fmt(v: number | null): string {
  return v === null ? "n/a" : v.toFixed(1);
}

function runXmrig(args: string[], fault: Fault): void {
  if (args.includes("--version") || args.includes("-V")) {
    out(`XMRig ${VERSION.xmrig}\n built on Nov 20 2026 with GCC 12.2.0\n features: 64-bit AES`);
    return;
  }
  const s = xmrigSettings(args);
  const gpus = Number(env("MINER_EMU_GPUS") ?? (s.opencl ? 2 : 0));
  const rig = new Rig(Number(env("MINER_EMU_HASHRATE") ?? 1000), s.threads + gpus, fault);
  const hung = () => fault.hangAfter !== undefined && Date.now() - rig.started >= fault.hangAfter;
  out(
    ` ${C.green}*${C.reset} ${C.bold}ABOUT        ${C.reset}${C.magenta}XMRig/${VERSION.xmrig}${C.reset} gcc/12.2.0 (emulated)`,
  );
  out(
    ` ${C.green}*${C.reset} ${C.bold}POOL #1      ${C.reset}${C.cyan}${s.pool}${C.reset} algo ${s.algo}`,
  );
  out(
    ` ${C.green}*${C.reset} ${C.bold}COMMANDS     ${C.reset}${C.magenta}h${C.reset}ashrate, ${C.magenta}p${C.reset}ause, ${C.magenta}r${C.reset}esume, re${C.magenta}s${C.reset}ults`,
  );
  if (s.port !== null) {
    out(` ${C.green}*${C.reset} ${C.bold}HTTP API     ${C.reset}${s.host}:${s.port}`);
  }
  serveXmrigApi(rig, s, gpus, hung);
  out(
    `${stamp()} ${C.bold}${C.magenta}${
      " net".padEnd(9)
    }${C.reset}use pool ${C.cyan}${s.pool}${C.reset}`,
  );
  out(
    `${stamp()} ${C.bold}${C.magenta}${
      " net".padEnd(9)
    }${C.reset}new job from ${s.pool} diff 100000 algo ${s.algo} height 3100000`,
  );
  const speedLine = () => {
    out(
      `${stamp()} ${C.bold}${C.blue}${
        " miner".padEnd(9)
      }${C.reset}speed 10s/60s/15m ${C.cyan}${C.bold}${
        fmt(rig.window(SHORT_WINDOW_MS()))
      }${C.reset} ${C.cyan}${fmt(rig.window(60_000))} ${
        fmt(rig.window(900_000))
      }${C.reset} H/s max ${C.cyan}${rig.highest.toFixed(1)} H/s${C.reset}`,
    );
  };
  setInterval(() => rig.tick(), 250);
  setInterval(() => {
    if (fault.garbage) out(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(40))));
    speedLine();
  }, s.printMs);
  const accepted = () =>
    out(
      `${stamp()} ${C.bold}${C.cyan}${
        " cpu".padEnd(9)
      }${C.reset}${C.green}${C.bold}accepted${C.reset} (${rig.accepted}/${rig.rejected}) diff 100000 ${C.reset}(${
        20 + Math.round(Math.random() * 40)
      } ms)`,
    );
  if (env("MINER_EMU_STRATUM") === "1") {
    // Real stratum to the pool: the shares counted are the pool's answers.
    const client = new EmulatedStratumClient({
      url: s.pool,
      login: s.user,
      shareMs: Number(env("MINER_EMU_SHARE_MS") ?? 5000),
      onJob: (job) =>
        out(
          `${stamp()} ${C.bold}${C.magenta}${
            " net".padEnd(9)
          }${C.reset}new job from ${s.pool} algo ${s.algo} height ${job.height}`,
        ),
      onResult: (ok, error) => {
        if (ok) rig.accepted++;
        else rig.rejected++;
        if (ok) accepted();
        else {out(
            `${stamp()} ${C.bold}${C.cyan}${
              " cpu".padEnd(9)
            }${C.reset}${C.red}rejected${C.reset} (${rig.accepted}/${rig.rejected}) "${error}"`,
          );}
      },
    });
    client.start();
  } else shareLoop(rig, accepted);
  readStdin((key) => {
    if (key === "h") speedLine();
    else if (key === "p") rig.paused = true;
    else if (key === "r") rig.paused = false;
    else if (key === "s") {
      out(
        `${stamp()} ${C.bold}${C.blue}${
          " miner".padEnd(9)
        }${C.reset}results: accepted ${rig.accepted} rejected ${rig.rejected}`,
      );
    }
    if (key === "p" || key === "r") {
      out(
        `${stamp()} ${C.bold}${C.blue}${" miner".padEnd(9)}${C.reset}${
          rig.paused ? "paused, press r to resume" : "resumed"
        }`,
      );
    }
  });
}

function shareLoop(rig: Rig, print: () => void): void {
  const mean = Number(env("MINER_EMU_SHARE_MS") ?? 5000);
  const rate = Number(env("MINER_EMU_REJECT_RATE") ?? 0.02);
  const rejectRate = Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0.02;
  const next = () =>
    setTimeout(() => {
      if (!rig.paused && !rig.stalled) {
        if (Math.random() < rejectRate) rig.rejected++;
        else rig.accepted++;
        print();
      }
      next();
    }, mean * (0.5 + Math.random()));
  next();
}

function readStdin(onKey: (key: string) => void): void {
  (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of Deno.stdin.readable) for (const ch of dec.decode(chunk)) onKey(ch);
    } catch { /* stdin closed */ }
  })();
}

function runTtMiner(args: string[], fault: Fault): void {
  if (args.includes("--version") || args.includes("-v")) {
    out(`TT-Miner ${VERSION["tt-miner"]} (emulated)`);
    return;
  }
  const { values } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    options: {
      P: { type: "string", short: "P" },
      u: { type: "string", short: "u" },
      p: { type: "string", short: "p" },
      a: { type: "string", short: "a" },
      b: { type: "string", short: "b" },
      "api-bind": { type: "string" },
    },
  });
  const bind = String(values.b ?? values["api-bind"] ?? "127.0.0.1:4068");
  const [host, port] = [
    bind.slice(0, bind.lastIndexOf(":")),
    Number(bind.slice(bind.lastIndexOf(":") + 1)),
  ];
  const gpus = Number(env("MINER_EMU_GPUS") ?? 2);
  const rig = new Rig(Number(env("MINER_EMU_HASHRATE") ?? 30e6 * gpus), gpus, fault);
  const hung = () => fault.hangAfter !== undefined && Date.now() - rig.started >= fault.hangAfter;
  const pool = String(values.P ?? "pool.example.org:4444");
  // TT-Miner echoes its command line, password included, at start.
  out(`Command line: TT-Miner ${args.join(" ")}`);
  out(
    `TT-Miner ${VERSION["tt-miner"]} (emulated), algo ${
      values.a ?? "kawpow"
    }, pool ${pool}, API ${bind}`,
  );
  const listener = Deno.listen({ hostname: host || "127.0.0.1", port });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf).catch(() => null);
        if (hung()) return; // keep the connection open, answer nothing
        const req = n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
        let body: string;
        if (fault.garbage) body = '{"result": [\x00 garbage';
        else if (!req.includes("miner_getstat1")) {
          body = JSON.stringify({
            id: 0,
            jsonrpc: "2.0",
            error: { code: -32601, message: "Method not found" },
          });
        } else {
          // TT-Miner reports H/s (Claymore would use kH/s).
          const per = rig.unitRates().map((v) => v.toFixed(0));
          const total = rig.unitRates().reduce((a, b) => a + b, 0);
          body = JSON.stringify({
            id: 0,
            jsonrpc: "2.0",
            result: [
              `TT-Miner/${VERSION["tt-miner"]}`,
              String(Math.floor(rig.uptime / 60)),
              `${total.toFixed(0)};${rig.accepted};${rig.rejected}`,
              per.join(";"),
              "0;0;0",
              per.map(() => "off").join(";"),
              per.map((_, i) =>
                `${perGpu("MINER_EMU_GPU_TEMPS", i, 62 + i)};${
                  perGpu("MINER_EMU_GPU_FANS", i, 55 + i * 5)
                }`
              ).join(";"),
              pool,
              "0;0;0;0",
            ],
          });
        }
        await conn.write(new TextEncoder().encode(body + "\n")).catch(() => {});
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  setInterval(() => rig.tick(), 250);
  setInterval(() => {
    if (fault.garbage) out(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(40))));
    rig.unitRates().forEach((v, i) =>
      out(
        `GPU[${i}]: ${(v / 1e6).toFixed(2)} MH/s, temp ${
          perGpu("MINER_EMU_GPU_TEMPS", i, 62 + i)
        }C, fan ${perGpu("MINER_EMU_GPU_FANS", i, 55 + i * 5)}%`,
      )
    );
  }, Number(env("MINER_EMU_PRINT_MS") ?? 10_000));
  shareLoop(rig, () => out(`Share accepted (${rig.accepted}/${rig.rejected})`));
}

/** Runs the emulator; `args` start with the miner kind, then that miner's own command line. */
export function runEmulator(kind: EmulatedKind, args: string[]): void {
  const fault = parseFault(env("MINER_EMU_FAULT"));
  if (fault.exitCode !== undefined) {
    out(`emulated ${kind}: exiting with code ${fault.exitCode}`);
    Deno.exit(fault.exitCode);
  }
  if (fault.crashAfter !== undefined) {
    setTimeout(() => {
      out(`${stamp()} ${C.red}emulated crash${C.reset}`);
      Deno.exit(139);
    }, fault.crashAfter);
  }
  Deno.addSignalListener("SIGTERM", () => {
    out(`${stamp()} ${C.bold}${C.blue}${" signal".padEnd(9)}${C.reset}Ctrl+C received, exiting`);
    Deno.exit(0);
  });
  if (kind === "xmrig") runXmrig(args, fault);
  else runTtMiner(args, fault);
}
