/**
 * The miner manager: starts miners from profiles, owns their supervisors, keeps the operator's
 * running intent on disk (so autostart never revives a miner the operator stopped), and stops
 * everything when the node exits.
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
import { MinerProcess, type SupervisorOptions } from "./supervisor.ts";
import type { MinerEvent, MinerStats } from "../protocol/mod.ts";

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

/** A miner for that profile already runs. */
export class MinerAlreadyRunningError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly miner: string) {
    super(`miner ${miner} is already running; stop it first`, { status: 409, code: "conflict" });
    this.name = "MinerAlreadyRunningError";
  }
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
  /** The profile store. */
  readonly profiles: ProfileStore;

  /** Creates the manager for a node's state. */
  constructor(paths: NodePaths, options: MinerManagerOptions = {}) {
    this.paths = paths;
    this.#logger = options.logger ?? silentLogger;
    this.#supervisor = options.supervisor ?? {};
    this.#adapters = options.adapters ?? adapterFor;
    this.#intentPath = join(paths.dataDir, "miner_intents.json");
    this.profiles = new ProfileStore(join(paths.configDir, "mining_profiles.json"));
  }

  /** Subscribes to miner events. */
  onEvent(fn: (e: MinerEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #setIntent(profileId: string, intent: "running" | "stopped"): Promise<void> {
    return withFileLock(this.#intentPath, () => this.#writeIntent(profileId, intent));
  }

  async #writeIntent(profileId: string, intent: "running" | "stopped"): Promise<void> {
    const doc = (await readJsonFile(this.#intentPath, IntentFileSchema).catch(() => undefined)) ??
      { version: 1 as const, miners: {} };
    doc.miners[profileId] = intent;
    await writeJsonAtomic(this.#intentPath, doc);
  }

  async #intents(): Promise<Record<string, "running" | "stopped">> {
    const doc = await readJsonFile(this.#intentPath, IntentFileSchema).catch((err) => {
      this.#logger.warn("miner_intents_unreadable", { reason: (err as Error).message });
      return undefined;
    });
    return doc?.miners ?? {};
  }

  /** Starts a miner for a profile (by reference or value). Returns its name. */
  async start(
    profileRef: string | Profile,
    options: { name?: string; persistIntent?: boolean } = {},
  ): Promise<MinerProcess> {
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
    const existing = this.#miners.get(name);
    if (existing?.wantRunning || this.#stopping.has(name)) throw new MinerAlreadyRunningError(name);
    const same = [...this.#miners.values()].find((m) =>
      m.wantRunning && m.profile.id === profile.id
    );
    if (same) throw new MinerAlreadyRunningError(same.name);
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
      };
    };
    const proc = new MinerProcess(name, profile, adapter, launch, {
      ...this.#supervisor,
      onEvent: (e) => {
        this.#logger.info(`miner_${e.kind}`, { miner: e.miner, reason: e.reason });
        for (const l of this.#listeners) l(e);
      },
    });
    this.#miners.set(name, proc);
    try {
      await proc.start();
    } catch (err) {
      this.#miners.delete(name);
      throw err;
    }
    if (!proc.wantRunning) return proc; // stopped while it was launching: do not record "running"
    this.#logger.info("miner_start", { miner: name, profile: profile.id, binary: binary.path });
    if (options.persistIntent !== false) await this.#setIntent(profile.id, "running");
    return proc;
  }

  /** Stops a miner and records that the operator wants it stopped. */
  async stop(name: string, options: { persistIntent?: boolean } = {}): Promise<MinerStats> {
    if (!this.#miners.has(name) && this.#resolving.has(name)) {
      await this.#resolving.get(name);
      await Promise.resolve(); // the start registers its miner right after the lookup
    }
    const proc = this.get(name);
    this.#stopping.add(name);
    try {
      await proc.stop();
    } finally {
      this.#stopping.delete(name);
      if (this.#miners.get(name) === proc) this.#miners.delete(name);
    }
    if (options.persistIntent !== false) await this.#setIntent(proc.profile.id, "stopped");
    return proc.stats();
  }

  /** Stops every miner (node shutdown: intents are kept so they come back on the next start). */
  async stopAll(options: { persistIntent?: boolean } = { persistIntent: false }): Promise<void> {
    await Promise.all([...this.#miners.keys()].map((n) => this.stop(n, options).catch(() => {})));
  }

  /** Starts profiles marked autostart (unless the operator stopped them) and those left running. */
  async autostart(): Promise<string[]> {
    const intents = await this.#intents();
    const started: string[] = [];
    for (const p of await this.profiles.list()) {
      const intent = intents[p.id];
      if (intent === "stopped" || (!p.autostart && intent !== "running")) continue;
      try {
        started.push((await this.start(p, { persistIntent: false })).name);
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
