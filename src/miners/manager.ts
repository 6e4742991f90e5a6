/**
 * The miner manager: starts miners from profiles, owns their supervisors, keeps the operator's
 * running intent on disk (so autostart never revives a miner the operator stopped), records each
 * miner process (`<data>/run/<profile>/process.json`) so a restarted node stops any miner that
 * outlived its node before it starts one, and stops everything when the node exits.
 *
 * Start and stop are idempotent and write the intent before they act: a start of a running
 * profile answers "already running", a stop of a stopped one "already stopped", and an intent
 * that cannot be written (a full disk) refuses the action, so the stored intent and what runs
 * never disagree.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { join } from "node:path";
import { z } from "zod";
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { type NodePaths, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import type { LaunchContext, MinerAdapter } from "./adapter.ts";
import { adapterFor } from "./adapters/mod.ts";
import { resolveMinerBinary } from "./binaries.ts";
import type { ReadResult } from "./log_buffer.ts";
import type { LogLine } from "./log_buffer.ts";
import { type Profile, ProfileStore } from "./profiles.ts";
import { MinerProcess, MinerStoppedError, type SupervisorOptions } from "./supervisor.ts";
import { canTrackProcesses, processStartTime, signalProcess } from "./processes.ts";
import { RunRecords } from "./run_records.ts";
import type { MinerEvent, MinerStats } from "../protocol/mod.ts";
import { emptyStats } from "./stats.ts";

/** No running miner has that name. */
export class MinerNotFoundError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly miner: string) {
    super(`no miner named ${JSON.stringify(miner)} on this node (see \`miner-cli status\`)`, {
      status: 404,
      code: "not_found",
    });
    this.name = "MinerNotFoundError";
  }
}

/** Another profile's miner has that name, or the miner is still stopping. */
export class MinerAlreadyRunningError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly miner: string, detail = "stop it first") {
    super(`miner ${miner} is already running; ${detail}`, { status: 409, code: "conflict" });
    this.name = "MinerAlreadyRunningError";
  }
}

/** The operator's intent could not be stored, so nothing was done. */
export class IntentWriteError extends MinerCliError {
  /** Creates the error (`what`: what was asked, `kept`: what stays as it was). */
  constructor(what: string, kept: string, cause: unknown) {
    super(
      `could not record that ${what} (${
        (cause as Error).message
      }): nothing was changed, ${kept}; free some space in the data directory and try again`,
      { status: 507, code: "state_write_failed" },
    );
    this.name = "IntentWriteError";
  }
}

/** What a start did. */
export interface StartOutcome {
  /** The miner. */
  miner: MinerProcess;
  /** It was already running (nothing was started). */
  already: boolean;
}

/** What a stop did. */
export interface StopOutcome {
  /** The miner's last stats. */
  stats: MinerStats;
  /** It was not running (nothing was stopped). */
  already: boolean;
}

/** A miner process that outlived its node, found when the node starts. */
export interface Survivor {
  /** Profile ID. */
  profileId: string;
  /** Miner name. */
  miner: string;
  /** Its PID. */
  pid: number;
  /** What was done: stopped it, or left it (another node on this home still runs it). */
  outcome: "stopped" | "left" | "unverified";
}

const IntentFileSchema = z.object({
  version: z.literal(1),
  miners: z.record(z.string(), z.enum(["running", "stopped"])),
});

/** Options for {@link MinerManager}. */
export interface MinerManagerOptions {
  /** Logger. */
  logger?: Logger;
  /** Supervisor defaults for every miner. */
  supervisor?: SupervisorOptions;
  /** Adapter lookup (tests may inject). */
  adapters?: (type: Profile["minerType"]) => MinerAdapter;
}

/** Free memory in bytes (null without the permission to read it). */
function freeMemory(): number | null {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return null;
  }
}

/** All miners of one node. */
export class MinerManager {
  /** State locations. */
  readonly paths: NodePaths;
  readonly #miners = new Map<string, MinerProcess>();
  readonly #listeners = new Set<(e: MinerEvent) => void>();
  readonly #stopping = new Set<string>();
  /** Starts still resolving their profile, by the reference they were given. */
  readonly #resolving = new Map<string, Promise<unknown>>();
  readonly #logger: Logger;
  readonly #supervisor: SupervisorOptions;
  readonly #adapters: (type: Profile["minerType"]) => MinerAdapter;
  readonly #intentPath: string;
  readonly #records: RunRecords;
  #ready: Promise<void> = Promise.resolve();
  #nodeStartTime: Promise<string | null> | null = null;
  /** This node's farm stratum endpoint, for `pool: farm` profiles (set once it listens). */
  farmUrl: (() => string | null) | null = null;
  /** The profile store. */
  readonly profiles: ProfileStore;

  /** Creates the manager for a node's state. */
  constructor(paths: NodePaths, options: MinerManagerOptions = {}) {
    this.paths = paths;
    this.#logger = options.logger ?? silentLogger;
    this.#supervisor = options.supervisor ?? {};
    this.#adapters = options.adapters ?? adapterFor;
    this.#intentPath = join(paths.dataDir, "miner_intents.json");
    this.#records = new RunRecords(join(paths.dataDir, "run"));
    this.profiles = new ProfileStore(join(paths.configDir, "mining_profiles.json"));
  }

  /** Subscribes to miner events. */
  onEvent(fn: (e: MinerEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stores the operator's intent for a profile; returns what it was (undefined: none). */
  #setIntent(
    profileId: string,
    intent: "running" | "stopped" | undefined,
  ): Promise<"running" | "stopped" | undefined> {
    return withFileLock(this.#intentPath, () => this.#writeIntent(profileId, intent));
  }

  async #writeIntent(
    profileId: string,
    intent: "running" | "stopped" | undefined,
  ): Promise<"running" | "stopped" | undefined> {
    const doc = (await readJsonFile(this.#intentPath, IntentFileSchema).catch(() => undefined)) ??
      { version: 1 as const, miners: {} };
    const before = doc.miners[profileId];
    if (before === intent) return before;
    if (intent === undefined) delete doc.miners[profileId];
    else doc.miners[profileId] = intent;
    await writeJsonAtomic(this.#intentPath, doc);
    return before;
  }

  /** The stored intent of every profile. */
  intents(): Promise<Record<string, "running" | "stopped">> {
    return this.#intents();
  }

  async #intents(): Promise<Record<string, "running" | "stopped">> {
    const doc = await readJsonFile(this.#intentPath, IntentFileSchema).catch((err) => {
      this.#logger.warn("miner_intents_unreadable", { reason: (err as Error).message });
      return undefined;
    });
    return doc?.miners ?? {};
  }

  /**
   * Looks for miners that outlived the node that started them (`kill -9` of the node where no
   * parent-death signal exists, or in the instant between fork and exec) and stops each one,
   * SIGTERM then SIGKILL after the grace period, before any miner may start. A survivor is only
   * recognised by its PID *and* start time, and is left alone while the node that started it
   * still runs (two nodes on one home). Stopping rather than adopting: a survivor's console and
   * stdin went with its old node and cannot be reattached, and autostart starts it again when the
   * stored intent says so.
   */
  recover(options: { graceMs?: number } = {}): Promise<Survivor[]> {
    const run = this.#recover(options.graceMs ?? 5000);
    this.#ready = run.then(() => {}, () => {});
    return run;
  }

  async #recover(graceMs: number): Promise<Survivor[]> {
    const found: Survivor[] = [];
    const records = await this.#records.list((path, reason) =>
      this.#logger.warn("run_record_unreadable", { path, reason })
    );
    if (records.length && !canTrackProcesses()) {
      this.#logger.warn("survivors_unchecked", {
        records: records.length,
        reason: "no ps/kill in this permission set: a miner that outlived its node is not found",
      });
    }
    for (const rec of records) {
      const now = await processStartTime(rec.pid);
      const alive = now !== null && rec.startTime !== null && now === rec.startTime;
      if (!alive) {
        if (now !== null && rec.startTime === null) {
          found.push({
            profileId: rec.profileId,
            miner: rec.miner,
            pid: rec.pid,
            outcome: "unverified",
          });
          this.#logger.warn("miner_survivor_unverified", {
            miner: rec.miner,
            pid: rec.pid,
            reason: "its start time was not recorded; not touching a process that may not be it",
          });
        }
        await this.#records.remove(rec.profileId, rec.pid);
        continue;
      }
      const owner = rec.nodePid === Deno.pid ? null : await processStartTime(rec.nodePid);
      if (owner !== null && rec.nodeStartTime !== null && owner === rec.nodeStartTime) {
        found.push({ profileId: rec.profileId, miner: rec.miner, pid: rec.pid, outcome: "left" });
        this.#logger.error("miner_owned_by_other_node", {
          miner: rec.miner,
          pid: rec.pid,
          nodePid: rec.nodePid,
          reason: "another node serves this home; run one node per home",
        });
        continue;
      }
      await this.#kill(rec.pid, rec.startTime!, graceMs);
      await this.#records.remove(rec.profileId, rec.pid);
      found.push({ profileId: rec.profileId, miner: rec.miner, pid: rec.pid, outcome: "stopped" });
      this.#logger.warn("miner_survivor_stopped", {
        miner: rec.miner,
        pid: rec.pid,
        reason: "its node exited without stopping it",
      });
    }
    return found;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (bounded). */
  async #kill(pid: number, startTime: string, graceMs: number): Promise<void> {
    const gone = async () => (await processStartTime(pid)) !== startTime;
    await signalProcess(pid, "TERM");
    const until = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await gone()) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return await gone();
    };
    if (await until(graceMs)) return;
    await signalProcess(pid, "KILL");
    await until(2000);
  }

  #nodeIdentity(): Promise<string | null> {
    return this.#nodeStartTime ??= processStartTime(Deno.pid);
  }

  /**
   * Starts a miner for a profile (by reference or value). A profile that already runs is not
   * started twice: the outcome says `already`. The intent "running" is stored first; when it
   * cannot be, nothing starts ({@link IntentWriteError}).
   */
  async start(
    profileRef: string | Profile,
    options: { name?: string; persistIntent?: boolean } = {},
  ): Promise<StartOutcome> {
    await this.#ready;
    let profile: Profile;
    if (typeof profileRef === "string") {
      // A stop that comes while the profile is being read waits for it (it must win).
      const lookup = this.profiles.get(profileRef);
      this.#resolving.set(profileRef, lookup.catch(() => {}));
      try {
        profile = await lookup;
      } finally {
        this.#resolving.delete(profileRef);
      }
    } else profile = profileRef;
    const name = options.name ?? profile.name;
    const same = [...this.#miners.values()].find((m) =>
      m.wantRunning && m.profile.id === profile.id
    );
    if (same) return { miner: same, already: true };
    const existing = this.#miners.get(name);
    if (existing?.wantRunning) {
      throw new MinerAlreadyRunningError(
        name,
        `it runs profile ${existing.profile.name} (${existing.profile.id})`,
      );
    }
    if (this.#stopping.has(name)) throw new MinerAlreadyRunningError(name, "it is stopping");
    const adapter = this.#adapters(profile.minerType);
    const binary = resolveMinerBinary(this.paths, profile, adapter);
    // Keyed by profile ID: names like "rig 1" and "rig_1" must not share XMRig's config.json.
    const workDir = join(this.paths.dataDir, "run", profile.id);
    const launch = async (): Promise<LaunchContext> => {
      await Deno.mkdir(workDir, { recursive: true, mode: 0o700 });
      return {
        binary: resolveMinerBinary(this.paths, profile, adapter).path,
        workDir,
        apiPort: freePort(),
        apiToken: randomToken(),
        minerName: name,
        cpuThreads: navigator.hardwareConcurrency || 1,
        farmUrl: this.farmUrl?.() ?? null,
        freeMemoryBytes: freeMemory(),
      };
    };
    const records = this.#records;
    const proc = new MinerProcess(name, profile, adapter, launch, {
      ...this.#supervisor,
      onEvent: (e) => {
        this.#logger.info(`miner_${e.kind}`, { miner: e.miner, reason: e.reason });
        for (const l of this.#listeners) l(e);
      },
      onSpawned: async (p) => {
        const [startTime, nodeStartTime] = await Promise.all([
          processStartTime(p.pid),
          this.#nodeIdentity(),
        ]);
        await records.write({
          version: 1,
          profileId: profile.id,
          miner: name,
          pid: p.pid,
          startTime,
          binary: p.binary,
          nodePid: Deno.pid,
          nodeStartTime,
          spawnedAt: new Date().toISOString(),
        });
      },
      onExited: (pid) => records.remove(profile.id, pid),
    });
    this.#miners.set(name, proc);
    let before: "running" | "stopped" | undefined;
    if (options.persistIntent !== false) {
      try {
        before = await this.#setIntent(profile.id, "running");
      } catch (err) {
        this.#miners.delete(name);
        throw new IntentWriteError(`${name} should run`, "it was not started", err);
      }
    }
    try {
      await proc.start();
    } catch (err) {
      if (this.#miners.get(name) === proc) this.#miners.delete(name);
      // A stop that overtook the start stored its own intent ("stopped"): keep it.
      if (options.persistIntent !== false && !(err instanceof MinerStoppedError)) {
        await this.#setIntent(profile.id, before).catch(() => {});
      }
      throw err;
    }
    this.#logger.info("miner_start", { miner: name, profile: profile.id, binary: binary.path });
    return { miner: proc, already: false };
  }

  /**
   * Stops a miner and records that the operator wants it stopped: the intent first, so a stop
   * that cannot be recorded stops nothing ({@link IntentWriteError}). A miner that is not running
   * but whose profile exists is `already` stopped.
   */
  async stop(name: string, options: { persistIntent?: boolean } = {}): Promise<StopOutcome> {
    await this.#ready;
    if (!this.#miners.has(name) && this.#resolving.has(name)) {
      await this.#resolving.get(name);
      await Promise.resolve(); // the start registers its miner right after the lookup
    }
    const proc = this.#miners.get(name);
    if (!proc) {
      const profile = (await this.profiles.list()).find((p) => p.name === name || p.id === name);
      if (!profile) throw new MinerNotFoundError(name);
      if (options.persistIntent !== false) {
        try {
          await this.#setIntent(profile.id, "stopped");
        } catch (err) {
          throw new IntentWriteError(`${name} should stay stopped`, "it is not running", err);
        }
      }
      return { stats: emptyStats(name, profile.minerType, profile.id), already: true };
    }
    if (options.persistIntent !== false) {
      try {
        await this.#setIntent(proc.profile.id, "stopped");
      } catch (err) {
        throw new IntentWriteError(`${name} should stop`, "the miner keeps running", err);
      }
    }
    this.#stopping.add(name);
    try {
      await proc.stop();
    } finally {
      this.#stopping.delete(name);
      if (this.#miners.get(name) === proc) this.#miners.delete(name);
    }
    return { stats: proc.stats(), already: false };
  }

  /** Stops every miner (node shutdown: intents are kept so they come back on the next start). */
  async stopAll(options: { persistIntent?: boolean } = { persistIntent: false }): Promise<void> {
    await Promise.all([...this.#miners.keys()].map((n) => this.stop(n, options).catch(() => {})));
  }

  /** Starts profiles marked autostart (unless the operator stopped them) and those left running. */
  async autostart(): Promise<string[]> {
    await this.#ready;
    const intents = await this.#intents();
    const started: string[] = [];
    for (const p of await this.profiles.list()) {
      const intent = intents[p.id];
      if (intent === "stopped" || (!p.autostart && intent !== "running")) continue;
      try {
        started.push((await this.start(p, { persistIntent: false })).miner.name);
      } catch (err) {
        this.#logger.error("autostart_failed", { profile: p.name, reason: (err as Error).message });
      }
    }
    return started;
  }

  /** One miner by name. */
  get(name: string): MinerProcess {
    const m = this.#miners.get(name);
    if (!m) throw new MinerNotFoundError(name);
    return m;
  }

  /** Stats of every miner, sorted by name. */
  list(): MinerStats[] {
    return [...this.#miners.values()].map((m) => m.stats()).sort((a, b) =>
      a.name.localeCompare(b.name)
    );
  }

  /** Console lines of a miner. */
  logs(name: string, options: { lines?: number; since?: number } = {}): ReadResult {
    return this.get(name).logs.read(options);
  }

  /** Follows a miner's console. */
  follow(name: string, fn: (line: LogLine) => void): () => void {
    return this.get(name).logs.subscribe(fn);
  }
}

/** Picks a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function randomToken(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
