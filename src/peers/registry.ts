/**
 * The peer registry (`peers.json`): debounced atomic writes, safe against concurrent writers.
 *
 * Mutations are applied in memory at once and remembered as operations. A flush re-reads the
 * file when another process changed it since we last saw it, replays our pending operations on
 * top, and writes the result atomically. So a CLI command and a running node can both update
 * the registry without losing each other's changes, and a crash never leaves a torn file.
 * @module
 */
import type { Capabilities } from "../identity/mod.ts";
import { CorruptFileError, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import { type Peer, PeerSchema, PeersFileSchema } from "./schema.ts";
import { nextScore, type RequestOutcome } from "./score.ts";

/** No peer matches a query. */
export class PeerNotFoundError extends Error {
  /** Creates the error. */
  constructor(readonly query: string) {
    super(
      `no peer matches ${
        JSON.stringify(query)
      }: use a full ID, a unique ID prefix or a name (see \`miner-cli peer list\`)`,
    );
    this.name = "PeerNotFoundError";
  }
}

/** Several peers match a query. */
export class AmbiguousPeerError extends Error {
  /** Creates the error. */
  constructor(readonly query: string, matches: Peer[]) {
    super(
      `${JSON.stringify(query)} matches ${matches.length} peers (${
        matches.map((p) => `${p.id.slice(0, 12)} ${p.name}`).join(", ")
      }); use a longer ID prefix`,
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
  /** Called with a human message when the file was corrupt and moved aside. */
  onWarning?: (message: string) => void;
}

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

  private constructor(path: string, options: RegistryOptions) {
    this.#path = path;
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
      doc = await readJsonFile(this.#path, PeersFileSchema, { moveAsideOnCorrupt: true });
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.#onWarning(`${err.message}; starting with an empty peer registry`);
      doc = undefined;
    }
    this.#peers = new Map((doc?.peers ?? []).map((p) => [p.id, p]));
    this.#stamp = doc ? stamp : "absent";
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
  upsert(peer: Peer): Peer {
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
  update(id: string, fn: (peer: Peer) => Peer): Peer | undefined {
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
        await writeJsonAtomic(this.#path, { version: 1, peers: this.list() });
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
