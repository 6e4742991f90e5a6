/**
 * The peer registry: one row per peer in `registry.sqlite` (see `db.ts`), debounced writes, safe
 * against concurrent writers.
 *
 * Mutations are applied in memory at once and remembered as operations on one peer each. A
 * flush, in one write transaction, first reads the rows other processes changed since we last
 * looked, replays our pending operations on those, and writes only the rows we changed. So a CLI
 * command and a running node both update the registry without losing each other's changes, a
 * change costs one row whatever the fleet size, and a crash never leaves a torn record.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { Capabilities } from "../capabilities/mod.ts";
import { openRegistryDb, RevTable, type WriteCounters } from "./db.ts";
import { importLegacyFiles } from "./legacy.ts";
import { type Peer, type PeerInput, PeerSchema } from "./schema.ts";
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

/** Options for {@link PeerRegistry.open}. */
export interface RegistryOptions {
  /** Debounce delay for writes in ms (default 200). 0 writes on every mutation. */
  debounceMs?: number;
  /**
   * Called with a human message when the database or an old `peers.json` was corrupt and moved
   * aside, and once per peer that lost control when a version-1 `peers.json` is imported.
   */
  onWarning?: (message: string) => void;
  /** Where old `peers.json` / `auth.json` files are imported from (default: beside it). */
  legacyDir?: string;
  /** How long a write waits for another process's transaction (default 5 s). */
  busyTimeoutMs?: number;
}

/** Options for {@link PeerRegistry.recordOutcome}. */
export interface OutcomeOptions {
  /** Measured round-trip time to store as `pingMs`. */
  rttMs?: number;
}

interface Op {
  id: string;
  fn: (cur: Peer | undefined) => Peer | undefined;
}

/**
 * How long this node's own bookkeeping (`lastSeen`, request outcomes) may wait in memory before it
 * is written, when nothing else is: the heartbeat persister marks every linked peer seen this
 * often anyway, so a forced read of 10,000 rigs is no longer 10,000 rows written at once besides.
 */
const BOOKKEEPING_FLUSH_MS = 30_000;

function parsePeer(doc: unknown): Peer | null {
  const r = PeerSchema.safeParse(doc);
  return r.success ? r.data : null;
}

/** The persistent set of known peers. */
export class PeerRegistry {
  readonly #path: string;
  readonly #table: RevTable<Peer>;
  #pending: Op[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lazyTimer: ReturnType<typeof setTimeout> | undefined;
  #sorted: Peer[] | null = null;
  readonly #names = new Map<string, Set<string>>();
  readonly #roles = new Map<string, number>();
  readonly #debounceMs: number;
  readonly #onWarning: (message: string) => void;
  #closed = false;
  #soon = false;
  #version = 0;
  #members = 0;

  private constructor(path: string, options: RegistryOptions) {
    this.#path = path;
    this.#debounceMs = options.debounceMs ?? 200;
    this.#onWarning = options.onWarning ?? (() => {});
    const db = openRegistryDb(path, {
      legacyDir: options.legacyDir,
      busyTimeoutMs: options.busyTimeoutMs,
      onWarning: this.#onWarning,
      importLegacy: (dir) => importLegacyFiles(dir, this.#onWarning),
    });
    this.#table = new RevTable<Peer>(db, "peers", parsePeer, (id, before, after) => {
      this.#sorted = null;
      this.#version++;
      if (!before || !after || before.role !== after.role) this.#members++;
      if (before) {
        this.#names.get(before.name.toLowerCase())?.delete(id);
        this.#roles.set(before.role, (this.#roles.get(before.role) ?? 1) - 1);
      }
      if (after) {
        this.#roles.set(after.role, (this.#roles.get(after.role) ?? 0) + 1);
        const key = after.name.toLowerCase();
        const set = this.#names.get(key) ?? new Set<string>();
        set.add(id);
        this.#names.set(key, set);
      }
    });
  }

  /** Opens (or creates) the registry database at `path` (`registry.sqlite`). */
  static open(path: string, options: RegistryOptions = {}): Promise<PeerRegistry> {
    try {
      return Promise.resolve(new PeerRegistry(path, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Write counters (transactions, rows, full loads) since this handle opened. */
  get writes(): Readonly<WriteCounters> {
    return this.#table.counters;
  }

  #replay(ids: readonly string[]): void {
    if (!ids.length || !this.#pending.length) return;
    const set = new Set(ids);
    for (const op of this.#pending) {
      if (set.has(op.id)) this.#table.setLocal(op.id, op.fn(this.#table.rows.get(op.id)));
    }
  }

  /** Reads what other processes changed (pending local changes are kept on top). */
  refresh(): Promise<void> {
    try {
      if (!this.#closed) this.#replay(this.#table.pull());
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** All peers, sorted by name (the same array until the registry changes: do not mutate). */
  list(): Peer[] {
    this.#sorted ??= [...this.#table.rows.values()].sort((a, b) =>
      a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
    );
    return this.#sorted;
  }

  /** Every peer, in no particular order (no sort: for counting and summing). */
  values(): IterableIterator<Peer> {
    return this.#table.rows.values();
  }

  /** Increases with every change seen (local or another process's): equal means unchanged. */
  get version(): number {
    return this.#version;
  }

  /**
   * Increases when a peer comes or goes or changes role (not when its other fields change, as
   * `lastSeen` does on every link): equal means the same peers in the same roles.
   */
  get members(): number {
    return this.#members;
  }

  /** How many peers there are. */
  get size(): number {
    return this.#table.rows.size;
  }

  /** How many peers announced `role` (kept as peers change: no scan). */
  countRole(role: Peer["role"]): number {
    return this.#roles.get(role) ?? 0;
  }

  /** The peer with this exact ID, if any. */
  get(id: string): Peer | undefined {
    return this.#table.rows.get(id);
  }

  /** The peers with this name (case-insensitive), without scanning the registry. */
  named(name: string): Peer[] {
    return [...this.#names.get(name.toLowerCase()) ?? []].map((id) => this.get(id)!);
  }

  /** Resolves a peer by ID, ID prefix or name; throws when none or several match. */
  resolve(query: string): Peer {
    return this.get(query.trim().toLowerCase()) ?? resolvePeer(this.list(), query);
  }

  /**
   * Applies `op` in memory and queues it for the next write. `bookkeeping` (this node's own
   * `lastSeen` and outcome counters) waits up to {@link BOOKKEEPING_FLUSH_MS} unless another
   * change is written first; with `debounceMs` 0 (the CLI) everything is written at once.
   */
  #apply(op: Op, bookkeeping = false): void {
    this.#table.setLocal(op.id, op.fn(this.get(op.id)));
    this.#pending.push(op);
    if (bookkeeping && this.#debounceMs > 0) this.#scheduleLazy();
    else this.#schedule();
  }

  #scheduleLazy(): void {
    if (this.#lazyTimer !== undefined || this.#timer !== undefined || this.#soon) return;
    this.#lazyTimer = setTimeout(() => {
      this.#lazyTimer = undefined;
      this.#flushInBackground();
    }, BOOKKEEPING_FLUSH_MS);
    // Bookkeeping alone does not keep a process alive; close() writes it.
    Deno.unrefTimer(this.#lazyTimer as unknown as number);
  }

  /** Adds or replaces a peer (validated). */
  upsert(peer: PeerInput): Peer {
    const valid = PeerSchema.parse(peer);
    this.#apply({ id: valid.id, fn: () => valid });
    return valid;
  }

  /** Removes a peer; returns whether it existed. */
  remove(id: string): boolean {
    const had = this.#table.rows.has(id);
    this.#apply({ id, fn: () => undefined });
    return had;
  }

  /** Applies `fn` to one peer (a no-op when it does not exist). Returns the new record. */
  update(id: string, fn: (peer: Peer) => PeerInput): Peer | undefined {
    this.#apply({ id, fn: (cur) => cur ? PeerSchema.parse(fn(cur)) : undefined });
    return this.get(id);
  }

  /**
   * Records a request outcome: adjusts the score, counters, `lastSeen` and `pingMs`. The new
   * values are this node's own (a clamped score, counts, a timestamp, a measured time), so the
   * record is not validated again: at 10,000 answers a forced read would parse 10,000 records.
   */
  recordOutcome(
    id: string,
    outcome: RequestOutcome,
    options: OutcomeOptions = {},
  ): Peer | undefined {
    const now = new Date().toISOString();
    const rtt = options.rttMs;
    const pingMs = rtt !== undefined && Number.isFinite(rtt)
      ? Math.max(0, Math.round(rtt * 1000) / 1000)
      : undefined;
    this.#apply({
      id,
      fn: (p) =>
        p && {
          ...p,
          score: nextScore(p.score, outcome),
          stats: { ...p.stats, [outcome]: p.stats[outcome] + 1 },
          lastSeen: outcome === "success" ? now : p.lastSeen,
          pingMs: pingMs ?? p.pingMs,
        },
    }, true);
    return this.get(id);
  }

  /** Stores the capabilities a peer reported (only when they changed). */
  setCapabilities(id: string, caps: Capabilities): void {
    const cur = this.get(id);
    if (!cur || JSON.stringify(cur.capabilities ?? null) === JSON.stringify(caps)) return;
    this.update(id, (p) => ({ ...p, capabilities: caps }));
  }

  /** Marks a peer as seen now. */
  markSeen(id: string): void {
    const now = new Date().toISOString();
    // This node's own timestamp on a valid record: nothing to validate (see recordOutcome).
    this.#apply({ id, fn: (p) => p && { ...p, lastSeen: now } }, true);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#soon) return;
    if (this.#debounceMs === 0) {
      // At the end of this turn: the changes a caller makes in one go are one transaction.
      this.#soon = true;
      queueMicrotask(() => {
        this.#soon = false;
        this.#flushInBackground();
      });
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushInBackground();
    }, this.#debounceMs);
  }

  /** A flush nobody awaits: a failure is a warning (the changes stay pending for the next). */
  #flushInBackground(): void {
    this.flush().catch((err) => this.#onWarning(`could not write ${this.#path}: ${err.message}`));
  }

  /** Writes pending changes now, in one transaction (merging with other processes' changes). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#lazyTimer !== undefined) {
      clearTimeout(this.#lazyTimer);
      this.#lazyTimer = undefined;
    }
    if (this.#pending.length === 0 || this.#closed) return Promise.resolve();
    const ops = this.#pending;
    this.#pending = [];
    try {
      this.#table.commit((pulled) => {
        // Other writers' rows came in: our edits of those rows go on top of theirs.
        const set = new Set(pulled);
        for (const op of ops) {
          if (set.has(op.id)) this.#table.setLocal(op.id, op.fn(this.get(op.id)));
        }
        return new Map(ops.map((op) => [op.id, this.get(op.id)]));
      });
      return Promise.resolve();
    } catch (err) {
      this.#pending = [...ops, ...this.#pending]; // kept for the next flush
      return Promise.reject(err);
    }
  }

  /** Flushes, stops the debounce timer and closes the database. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#closed) return;
    this.#closed = true;
    this.#table.db.close();
  }
}
