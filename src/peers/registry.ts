/**
 * The peer registry (`peers.json`): debounced atomic writes, safe against concurrent writers.
 *
 * Mutations are applied in memory at once and remembered as operations. A flush re-reads the
 * file when another process changed it since we last saw it, replays our pending operations on
 * top, and writes the result atomically. So a CLI command and a running node can both update
 * the registry without losing each other's changes, and a crash never leaves a torn file.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { Capabilities } from "../capabilities/mod.ts";
import { CorruptFileError, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import { AuthFileSchema } from "./auth.ts";
import {
  type Peer,
  type PeerInput,
  PEERS_FILE_VERSION,
  PeerSchema,
  PeersFileSchema,
  PeersFileV1Schema,
} from "./schema.ts";
import { nextScore, type RequestOutcome } from "./score.ts";

/** No peer matches a query. */
export class PeerNotFoundError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly query: string) {
    super(
      `no peer matches ${
        JSON.stringify(query)
      }: use a full ID, a unique ID prefix or a name (see \`miner-cli peer list\`)`,
      { status: 404, code: "not_found" },
    );
    this.name = "PeerNotFoundError";
  }
}

/** Several peers match a query. */
export class AmbiguousPeerError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly query: string, matches: Peer[]) {
    super(
      `${JSON.stringify(query)} matches ${matches.length} peers (${
        matches.map((p) => `${p.id.slice(0, 12)} ${p.name}`).join(", ")
      }); use a longer ID prefix`,
      { status: 400, code: "ambiguous" },
    );
    this.name = "AmbiguousPeerError";
  }
}

/** Finds one peer by full ID, unique ID prefix, or name (case-insensitive). */
export function resolvePeer(peers: readonly Peer[], query: string): Peer {
  const q = query.trim();
  const exact = peers.find((p) => p.id === q.toLowerCase());
  if (exact) return exact;
  const byName = peers.filter((p) => p.name.toLowerCase() === q.toLowerCase());
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) throw new AmbiguousPeerError(query, byName);
  if (/^[0-9a-fA-F]{1,32}$/.test(q)) {
    const byPrefix = peers.filter((p) => p.id.startsWith(q.toLowerCase()));
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) throw new AmbiguousPeerError(query, byPrefix);
  }
  throw new PeerNotFoundError(query);
}

type Op = (peers: Map<string, Peer>) => void;

/** Options for {@link PeerRegistry.open}. */
export interface RegistryOptions {
  /** Debounce delay for writes in ms (default 200). 0 writes on every mutation. */
  debounceMs?: number;
  /**
   * Called with a human message when the file was corrupt and moved aside, and once per peer
   * that lost control when a version-1 file is migrated.
   */
  onWarning?: (message: string) => void;
  /** `auth.json` beside it (read when migrating a version-1 file; default: same directory). */
  authPath?: string;
}

/** What {@link migratePeersV1} decided. */
export interface PeersMigration {
  /** The peers with their grants. */
  peers: Peer[];
  /** Peers recorded as controller or dual that do not keep control (dialed with `peer add`). */
  lostControl: Peer[];
}

/**
 * Grants for a registry written before grants existed, when a peer recorded as controller or dual
 * had control by its announced role alone: it keeps control when this node's operator let it in
 * (it registered by contacting this node: by pairing code, join secret or allowlist, so it has no
 * address, or it is on the allowlist); a peer this node dialed with `peer add` loses it.
 */
export function migratePeersV1(
  peers: readonly Peer[],
  isAllowlisted: (id: string) => boolean,
): PeersMigration {
  const lostControl: Peer[] = [];
  const out = peers.map((p) => {
    if (p.role === "worker") return { ...p, grants: [] };
    if (p.address === null || isAllowlisted(p.id)) return { ...p, grants: ["control" as const] };
    lostControl.push(p);
    return { ...p, grants: [] };
  });
  return { peers: out, lostControl };
}

const AnyPeersFileSchema = z.union([PeersFileSchema, PeersFileV1Schema]);

/** Options for {@link PeerRegistry.recordOutcome}. */
export interface OutcomeOptions {
  /** Measured round-trip time to store as `pingMs`. */
  rttMs?: number;
}

/** The persistent set of known peers. */
export class PeerRegistry {
  readonly #path: string;
  #peers = new Map<string, Peer>();
  #pending: Op[] = [];
  #stamp = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #debounceMs: number;
  readonly #onWarning: (message: string) => void;
  readonly #authPath: string;

  private constructor(path: string, options: RegistryOptions) {
    this.#path = path;
    this.#authPath = options.authPath ?? join(dirname(path), "auth.json");
    this.#debounceMs = options.debounceMs ?? 200;
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /** Opens (or starts) the registry stored at `path`. */
  static async open(path: string, options: RegistryOptions = {}): Promise<PeerRegistry> {
    const reg = new PeerRegistry(path, options);
    await reg.#load();
    return reg;
  }

  // Synchronous on purpose: it runs on every handshake, and an async stat costs a thread-pool hop.
  #statStamp(): string {
    try {
      const s = Deno.statSync(this.#path);
      return `${s.ino}:${s.size}:${s.mtime?.getTime()}`;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return "absent";
      throw err;
    }
  }

  async #load(): Promise<void> {
    const stamp = this.#statStamp();
    let doc;
    try {
      doc = await readJsonFile(this.#path, AnyPeersFileSchema, { moveAsideOnCorrupt: true });
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.#onWarning(`${err.message}; starting with an empty peer registry`);
      doc = undefined;
    }
    let peers = doc?.peers ?? [];
    if (doc?.version === 1) {
      const auth = await readJsonFile(this.#authPath, AuthFileSchema).catch(() => undefined);
      const allowed = new Set((auth?.allow ?? []).map((e) => e.id));
      const m = migratePeersV1(peers, (id) => allowed.has(id));
      peers = m.peers;
      for (const p of m.lostControl) {
        this.#onWarning(
          `peer ${p.name} (${p.id}) no longer controls this node: it was added with \`peer add\`, and only this node's operator grants control now; to keep it, run \`miner-cli peer grant ${p.id} control\``,
        );
      }
    }
    this.#peers = new Map(peers.map((p) => [p.id, p]));
    this.#stamp = doc ? stamp : "absent";
    if (doc?.version === 1) {
      // Persisted at the next flush, as version 2.
      this.#pending.push(() => {});
      this.#schedule();
    }
  }

  /** Reloads the file if another process changed it (pending local changes are kept). */
  async refresh(): Promise<void> {
    await this.#flushing.catch(() => {});
    if (this.#statStamp() === this.#stamp) return;
    await this.#load();
    for (const op of this.#pending) op(this.#peers);
  }

  /** All peers, sorted by name. */
  list(): Peer[] {
    return [...this.#peers.values()].sort((a, b) =>
      a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
    );
  }

  /** The peer with this exact ID, if any. */
  get(id: string): Peer | undefined {
    return this.#peers.get(id);
  }

  /** Resolves a peer by ID, ID prefix or name; throws when none or several match. */
  resolve(query: string): Peer {
    return resolvePeer(this.list(), query);
  }

  #apply(op: Op): void {
    op(this.#peers);
    this.#pending.push(op);
    this.#schedule();
  }

  /** Adds or replaces a peer (validated). */
  upsert(peer: PeerInput): Peer {
    const valid = PeerSchema.parse(peer);
    this.#apply((m) => m.set(valid.id, valid));
    return valid;
  }

  /** Removes a peer; returns whether it existed. */
  remove(id: string): boolean {
    const had = this.#peers.has(id);
    this.#apply((m) => m.delete(id));
    return had;
  }

  /** Applies `fn` to one peer (a no-op when it does not exist). Returns the new record. */
  update(id: string, fn: (peer: Peer) => PeerInput): Peer | undefined {
    this.#apply((m) => {
      const cur = m.get(id);
      if (cur) m.set(id, PeerSchema.parse(fn(cur)));
    });
    return this.#peers.get(id);
  }

  /** Records a request outcome: adjusts the score, counters, `lastSeen` and `pingMs`. */
  recordOutcome(
    id: string,
    outcome: RequestOutcome,
    options: OutcomeOptions = {},
  ): Peer | undefined {
    const now = new Date().toISOString();
    return this.update(id, (p) => ({
      ...p,
      score: nextScore(p.score, outcome),
      stats: { ...p.stats, [outcome]: p.stats[outcome] + 1 },
      lastSeen: outcome === "success" ? now : p.lastSeen,
      pingMs: options.rttMs !== undefined ? Math.round(options.rttMs * 1000) / 1000 : p.pingMs,
    }));
  }

  /** Marks a peer as seen now. */
  /** Stores the capabilities a peer reported (only when they changed). */
  setCapabilities(id: string, caps: Capabilities): void {
    const cur = this.get(id);
    if (!cur || JSON.stringify(cur.capabilities ?? null) === JSON.stringify(caps)) return;
    this.update(id, (p) => ({ ...p, capabilities: caps }));
  }

  markSeen(id: string): void {
    const now = new Date().toISOString();
    this.update(id, (p) => ({ ...p, lastSeen: now }));
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    if (this.#debounceMs === 0) {
      this.flush().catch((err) => this.#onWarning(`could not write ${this.#path}: ${err.message}`));
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((err) => this.#onWarning(`could not write ${this.#path}: ${err.message}`));
    }, this.#debounceMs);
  }

  /** Writes pending changes now (merging with changes other processes made). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // A failed flush must not poison later ones: chain on the settled previous flush.
    this.#flushing = this.#flushing.catch(() => {}).then(() => this.#doFlush());
    return this.#flushing;
  }

  async #doFlush(): Promise<void> {
    if (this.#pending.length === 0) return;
    // The lock makes check-then-write atomic against other processes (and other handles).
    await withFileLock(this.#path, async () => {
      const ops = this.#pending; // snapshot under the lock: later changes wait for the next flush
      this.#pending = [];
      try {
        if (this.#statStamp() !== this.#stamp) {
          await this.#load();
          for (const op of ops) op(this.#peers);
        }
        await writeJsonAtomic(this.#path, { version: PEERS_FILE_VERSION, peers: this.list() });
        this.#stamp = this.#statStamp();
      } catch (err) {
        this.#pending = [...ops, ...this.#pending]; // keep them for the next flush
        throw err;
      }
    });
  }

  /** Flushes and stops the debounce timer. */
  async close(): Promise<void> {
    await this.flush();
  }
}
