/**
 * Supervision of one miner process: spawn with `Deno.Command` (argv array, never a shell), merge
 * stdout/stderr into the console buffer, poll stats, and a watchdog that restarts on an
 * unexpected exit (exponential backoff), on a hung API, and on a hashrate stall. Stop is SIGTERM,
 * then SIGKILL after a grace period; the process is always awaited, so no zombie remains.
 * @module
 */
import { backoffDelay } from "../backoff/mod.ts";
import { MinerCliError } from "../errors/mod.ts";
import type { LaunchContext, LineParser, MinerAdapter } from "./adapter.ts";
import { LogBuffer, readLines } from "./log_buffer.ts";
import type { Profile } from "./profiles.ts";
import { profileSecrets, Redactor } from "./secrets.ts";
import { deathSignalPrefix } from "./processes.ts";
import { type AdapterStats, clampStats, emptyStats } from "./stats.ts";
import type { MinerEvent, MinerState, MinerStats, Restart } from "../protocol/mod.ts";

/** Watchdog and timing settings. */
export interface SupervisorOptions {
  /** Stats poll interval (default 5 s). */
  pollMs?: number;
  /** SIGTERM → SIGKILL grace period (default 5 s). */
  graceMs?: number;
  /** First restart delay (default 1 s). */
  backoffBaseMs?: number;
  /** Restart delay cap (default 60 s). */
  backoffMaxMs?: number;
  /** Restart when the miner's API has not answered for this long (default 60 s). */
  hangMs?: number;
  /** Restart when the hashrate stays at/below the minimum this long (default: profile's stallSeconds, else 120 s). */
  stallMs?: number;
  /** Console lines kept (default 1,000). */
  logLines?: number;
}

/** A miner process just started. */
export interface SpawnedProcess {
  /** Its PID. */
  pid: number;
  /** The executable. */
  binary: string;
  /** Whether it dies with this process (a parent-death signal is set). */
  diesWithNode: boolean;
}

/** Hooks around each process of a supervised miner (the manager keeps run records with them). */
export interface ProcessHooks {
  /** After each spawn, before the miner counts as started. */
  onSpawned?(process: SpawnedProcess): Promise<void>;
  /** After each process has exited and been reaped. */
  onExited?(pid: number): Promise<void>;
}

const liveChildren = new Set<Deno.ChildProcess>();

/** SIGKILLs every miner process this process started (last resort when the node must exit now). */
export function killAllMinerProcesses(): void {
  for (const c of liveChildren) {
    try {
      c.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

/** A start that a stop overtook (the stop came while the miner was starting): nothing runs. */
export class MinerStoppedError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly miner: string) {
    super(
      `miner ${miner} was stopped while it was starting, so it is not running; start it again if that stop was not meant`,
      { status: 409, code: "conflict" },
    );
    this.name = "MinerStoppedError";
  }
}

const DEFAULTS = {
  pollMs: 5000,
  graceMs: 5000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  hangMs: 60_000,
  logLines: 1000,
};

/** The algorithm a profile mines (null when it does not say: a custom miner). */
export function profileAlgorithm(profile: Profile): string | null {
  if (profile.minerType === "xmrig") return profile.config.pools[0]?.algo ?? "rx/0";
  if (profile.minerType === "tt-miner") return profile.config.algo;
  return null;
}

/** A supervised miner. It runs once: after {@link MinerProcess.stop} it never starts again. */
export class MinerProcess {
  /** Console lines. */
  readonly logs: LogBuffer;
  readonly #adapter: MinerAdapter;
  readonly #opts: Required<Omit<SupervisorOptions, "stallMs">> & { stallMs: number };
  readonly #launch: () => Promise<LaunchContext>;
  readonly #onEvent: (e: MinerEvent) => void;
  #profile: Profile;
  #ctx: LaunchContext | null = null;
  #child: Deno.ChildProcess | null = null;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #stats: MinerStats;
  #wantRunning = false;
  #stopped = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #killReason: string | null = null;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #lastOkPoll = 0;
  #belowSince: number | null = null;
  #startedAtMs = 0;
  #parser: LineParser | null = null;
  #pollAbort: AbortController | null = null;
  #spawning: Promise<void> | null = null;
  readonly #exitsHandled = new Set<Promise<void>>();
  readonly #hooks: ProcessHooks;

  /** Creates a supervisor (not started). `launch` resolves the binary, port and work dir. */
  constructor(
    /** Miner name (unique on this node). */
    readonly name: string,
    profile: Profile,
    adapter: MinerAdapter,
    launch: () => Promise<LaunchContext>,
    options: SupervisorOptions & ProcessHooks & { onEvent?: (e: MinerEvent) => void } = {},
  ) {
    this.#hooks = { onSpawned: options.onSpawned, onExited: options.onExited };
    this.#profile = profile;
    this.#adapter = adapter;
    this.#launch = launch;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#opts = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      stallMs: options.stallMs ?? (profile.stallSeconds ?? 120) * 1000,
    } as Required<Omit<SupervisorOptions, "stallMs">> & { stallMs: number };
    this.logs = new LogBuffer(this.#opts.logLines);
    this.#stats = emptyStats(name, profile.minerType, profile.id);
    // The algorithm the profile names, until the miner reports its own (TT-Miner never does).
    this.#stats.algorithm = profileAlgorithm(profile);
  }

  /** The profile this miner runs. */
  get profile(): Profile {
    return this.#profile;
  }

  /** Whether the operator wants it running (false after {@link stop}). */
  get wantRunning(): boolean {
    return this.#wantRunning;
  }

  /** Current normalized stats. */
  stats(): MinerStats {
    const s = structuredClone(this.#stats);
    s.uptime = this.#child && this.#startedAtMs
      ? Math.round((Date.now() - this.#startedAtMs) / 1000)
      : 0;
    return clampStats(s);
  }

  #event(kind: MinerEvent["kind"], reason?: string): void {
    this.#onEvent({
      kind,
      miner: this.name,
      at: new Date().toISOString(),
      ...(reason ? { reason } : {}),
    });
  }

  #setState(state: MinerState): void {
    this.#stats.state = state;
  }

  /**
   * Starts the miner and its watchdog; resolves once the first process is spawned. A stop that
   * came first, or while the first process was being spawned, wins: start then throws
   * {@link MinerStoppedError} and leaves nothing running.
   */
  async start(): Promise<void> {
    if (this.#stopped) throw new MinerStoppedError(this.name);
    if (this.#wantRunning) return;
    this.#wantRunning = true;
    this.#setState("starting");
    this.#spawning = this.#spawn();
    await this.#spawning; // first spawn errors (missing binary...) reach the caller
    if (this.#stopped) throw new MinerStoppedError(this.name); // stop() ends that process
    this.#loop = this.#run();
  }

  async #spawn(): Promise<void> {
    try {
      const ctx = await this.#launch();
      const args = await this.#adapter.prepare(this.#profile, ctx);
      // Pool passwords and the API token never reach a kept (or sent) console line.
      const redactor = new Redactor([...profileSecrets(this.#profile), ctx.apiToken]);
      this.logs.redact = redactor.empty ? null : (t) => redactor.redact(t);
      this.logs.push(`[miner-cli] starting ${ctx.binary} ${args.join(" ")}`, "system");
      // Linux: through `setpriv --pdeathsig KILL`, so the miner dies with this node.
      const guard = deathSignalPrefix(ctx.binary);
      const child = new Deno.Command(guard[0] ?? ctx.binary, {
        args: guard.length ? [...guard.slice(1), ctx.binary, ...args] : args,
        cwd: ctx.workDir,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      liveChildren.add(child);
      const pid = child.pid;
      const recorded = (this.#hooks.onSpawned?.({
        pid,
        binary: ctx.binary,
        diesWithNode: guard.length > 0,
      }) ?? Promise.resolve()).catch((err) => {
        this.logs.push(
          `[miner-cli] could not record the process (${(err as Error).message})`,
          "system",
        );
      });
      const exited = child.status.then(async () => {
        liveChildren.delete(child);
        await recorded; // an exit right after the spawn must not leave its record behind
        await this.#hooks.onExited?.(pid).catch(() => {});
      });
      this.#exitsHandled.add(exited);
      void exited.finally(() => this.#exitsHandled.delete(exited));
      await recorded;
      this.#ctx = ctx;
      this.#child = child;
      this.#stdin = child.stdin.getWriter();
      this.#startedAtMs = Date.now();
      this.#lastOkPoll = Date.now();
      this.#belowSince = null;
      this.#parser = this.#adapter.lineParser?.(this.#profile) ?? null;
      const old = this.#stats;
      this.#stats = {
        ...emptyStats(this.name, this.#profile.minerType, this.#profile.id),
        state: "running",
        pid: child.pid,
        algorithm: profileAlgorithm(this.#profile),
        startedAt: new Date().toISOString(),
        restarts: old.restarts,
        restartLog: old.restartLog,
      };
      const onLine = (stream: "stdout" | "stderr") => (line: string) => {
        this.logs.push(line, stream);
        if (this.#parser) {
          this.#parser.line(line);
          this.#merge(this.#parser.stats());
        }
      };
      void readLines(child.stdout, onLine("stdout")).catch(() => {});
      void readLines(child.stderr, onLine("stderr")).catch(() => {});
      this.#event("started");
      this.#schedulePoll(Math.min(1000, this.#opts.pollMs));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.#stats.lastError = msg;
      this.logs.push(`[miner-cli] could not start: ${msg}`, "system");
      throw err;
    }
  }

  #merge(s: AdapterStats): void {
    const { minerUptime: _u, ...rest } = s;
    if (!rest.algorithm) delete rest.algorithm;
    Object.assign(this.#stats, rest);
    if (this.#stats.state === "running" && s.paused) this.#stats.state = "paused";
    else if (this.#stats.state === "paused" && s.paused === false) this.#stats.state = "running";
  }

  #schedulePoll(delay: number): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => void this.#poll(), delay);
  }

  async #poll(): Promise<void> {
    const ctx = this.#ctx;
    const child = this.#child;
    if (!ctx || !child || this.#killReason) return;
    const now = Date.now();
    if (this.#adapter.readStats) {
      this.#pollAbort = new AbortController();
      const timer = setTimeout(
        () => this.#pollAbort?.abort(),
        Math.min(5000, Math.max(500, this.#opts.pollMs)),
      );
      try {
        this.#merge(await this.#adapter.readStats(ctx, this.#pollAbort.signal));
        this.#lastOkPoll = Date.now();
        this.#stats.lastError = null;
      } catch (err) {
        this.#stats.lastError = err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
      }
      if (this.#child !== child) return; // exited meanwhile
      if (Date.now() - this.#lastOkPoll >= this.#opts.hangMs) {
        return this.#restartFor(
          `hang: miner API unresponsive for ${
            Math.round((Date.now() - this.#lastOkPoll) / 1000)
          } s`,
        );
      }
    }
    this.#checkStall(now);
    if (this.#child === child && !this.#killReason) this.#schedulePoll(this.#opts.pollMs);
  }

  #checkStall(now: number): void {
    const reported = this.#stats.hashrate.now;
    if (this.#stats.paused || (reported === null && now - this.#startedAtMs < this.#opts.stallMs)) {
      this.#belowSince = null;
      return;
    }
    // No hashrate for longer than the stall timeout counts as zero (a miner with no pool job,
    // or a custom miner that stopped printing its speed).
    const hr = reported ?? 0;
    const min = this.#profile.minHashrate ?? 0;
    if (hr > min) {
      this.#belowSince = null;
      return;
    }
    this.#belowSince ??= now;
    if (now - this.#belowSince >= this.#opts.stallMs) {
      void this.#restartFor(
        `stall: hashrate ${hr} H/s ${min > 0 ? `below minimum ${min} H/s` : "(zero)"} for ${
          Math.round((now - this.#belowSince) / 1000)
        } s`,
      );
    }
  }

  /** Kills the current process so the run loop restarts it, recording `reason`. */
  async #restartFor(reason: string): Promise<void> {
    if (!this.#child || this.#killReason) return;
    this.#killReason = reason;
    this.logs.push(`[miner-cli] watchdog: ${reason}; restarting`, "system");
    await this.#terminate();
  }

  async #terminate(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, this.#opts.graceMs);
    await child.status;
    clearTimeout(timer);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#wantRunning) {
      const child = this.#child;
      if (child) {
        const status = await child.status;
        clearTimeout(this.#pollTimer);
        this.#pollAbort?.abort();
        try {
          await this.#stdin?.close();
        } catch { /* closed */ }
        const ranMs = Date.now() - this.#startedAtMs;
        this.#child = null;
        this.#stdin = null;
        this.#stats.pid = null;
        if (!this.#wantRunning) break;
        const reason = this.#killReason ??
          `crash: exited with ${status.signal ? `signal ${status.signal}` : `code ${status.code}`}`;
        this.#killReason = null;
        if (ranMs > this.#opts.backoffMaxMs * 2) attempt = 0; // it had been stable
        this.#recordRestart(reason);
        this.#event(reason.startsWith("crash") ? "crashed" : "restarted", reason);
        this.logs.push(`[miner-cli] ${reason}`, "system");
      }
      this.#setState("restarting");
      const delay = backoffDelay(attempt++, {
        baseMs: this.#opts.backoffBaseMs,
        maxMs: this.#opts.backoffMaxMs,
        jitter: 0.2,
      });
      this.logs.push(`[miner-cli] restarting in ${(delay / 1000).toFixed(1)} s`, "system");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
      if (!this.#wantRunning) break;
      try {
        this.#spawning = this.#spawn();
        await this.#spawning;
        this.#event("restarted", this.#stats.restartLog.at(-1)?.reason);
      } catch {
        // the next iteration backs off further
      }
    }
    this.#setState("stopped");
  }

  #recordRestart(reason: string): void {
    const r: Restart = { at: new Date().toISOString(), reason };
    this.#stats.restarts++;
    this.#stats.restartLog = [...this.#stats.restartLog, r].slice(-50);
  }

  /** Stops the miner (SIGTERM, SIGKILL after the grace period) and its watchdog. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wantRunning = false;
    this.#setState("stopping");
    clearTimeout(this.#pollTimer);
    this.#wake?.();
    // A launch in progress must finish before there is a process to terminate.
    await this.#spawning?.catch(() => {});
    await this.#terminate();
    await this.#loop;
    this.#loop = null;
    // Stopped means every exit was handled too (its run record removed), not only signalled.
    await Promise.all([...this.#exitsHandled]);
    this.#setState("stopped");
    this.logs.push("[miner-cli] stopped", "system");
    this.logs.close();
    this.#event("stopped");
  }

  /** Writes to the miner's stdin (XMRig hotkeys: h, p, r, s...). */
  async writeStdin(text: string): Promise<void> {
    if (!this.#stdin) throw new Error(`miner ${this.name} is not running`);
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Pauses mining through the miner's API. */
  async pause(): Promise<void> {
    if (!this.#ctx || !this.#child) throw new Error(`miner ${this.name} is not running`);
    if (!this.#adapter.pause) throw new Error(`${this.#profile.minerType} miners cannot be paused`);
    await this.#adapter.pause(this.#ctx);
    this.#stats.paused = true;
    this.#stats.state = "paused";
  }

  /** Resumes mining. */
  async resume(): Promise<void> {
    if (!this.#ctx || !this.#child) throw new Error(`miner ${this.name} is not running`);
    if (!this.#adapter.resume) {
      throw new Error(`${this.#profile.minerType} miners cannot be resumed`);
    }
    await this.#adapter.resume(this.#ctx);
    this.#stats.paused = false;
    this.#stats.state = "running";
    this.#belowSince = null;
  }
}
