/**
 * The registry database (`registry.sqlite`, `node:sqlite` in WAL mode): peers with their grants,
 * the allowlist and the auth mode, one row per peer or entry.
 *
 * Every table is kept in memory by its process and synchronised by revision: each write
 * transaction bumps the table's revision in `meta` and stamps the rows it wrote with it (a
 * removal leaves a tombstone), so a process catches up on another's changes by reading only the
 * rows newer than the revision it has, and a change costs one row, whatever the fleet size.
 * Write transactions are `BEGIN IMMEDIATE`: the CLI and a running node never interleave.
 *
 * On first open the JSON files written by earlier versions (`peers.json`, `auth.json`) are
 * imported in the same transaction and renamed to `*.migrated`.
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { MinerCliError } from "../errors/mod.ts";

/** The registry database cannot be opened or written. */
export class RegistryDbError extends MinerCliError {
  /** Creates the error. */
  constructor(path: string, reason: string) {
    super(
      `peer registry ${path}: ${reason}; if another miner-cli holds it, retry; if the file is damaged, move it aside and re-pair the peers`,
      { status: 503, code: "registry_unavailable" },
    );
    this.name = "RegistryDbError";
  }
}

/** Options for {@link openRegistryDb}. */
export interface RegistryDbOptions {
  /** Where `peers.json` and `auth.json` of earlier versions are looked for (default: beside). */
  legacyDir?: string;
  /** How long a write waits for another process's transaction (default 5 s). */
  busyTimeoutMs?: number;
  /** Told when a damaged database was moved aside, and what an import of old files decided. */
  onWarning?: (message: string) => void;
  /**
   * Imports old JSON files inside the opening transaction (called once per database, while the
   * write lock is held). Returns rows to insert per table.
   */
  importLegacy?: (legacyDir: string) => LegacyImport;
}

/** Rows an import of old files yields, per table, and the auth mode. */
export interface LegacyImport {
  /** Peer rows, by ID. */
  peers?: readonly { id: string; doc: unknown }[];
  /** Allowlist rows, by ID. */
  allow?: readonly { id: string; doc: unknown }[];
  /** The auth mode. */
  authMode?: string;
  /** Files that were imported (renamed to `*.migrated` after the commit). */
  files: readonly string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS peers (id TEXT PRIMARY KEY, doc TEXT NOT NULL, rev INTEGER NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS peers_rev ON peers(rev);
CREATE TABLE IF NOT EXISTS peers_removed (id TEXT PRIMARY KEY, rev INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS allow (id TEXT PRIMARY KEY, doc TEXT NOT NULL, rev INTEGER NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS allow_rev ON allow(rev);
CREATE TABLE IF NOT EXISTS allow_removed (id TEXT PRIMARY KEY, rev INTEGER NOT NULL) STRICT;
`;

/** The tables kept by revision. */
export type RevTableName = "peers" | "allow";

const DAMAGED = /not a database|malformed|corrupt|file is encrypted/i;

function writeEmpty0600(path: string): void {
  const f = Deno.openSync(path, { write: true, create: true, mode: 0o600 });
  f.close();
}

/**
 * Opens (creating when absent) the registry database, 0600, WAL; imports old JSON files once.
 *
 * @example
 * ```ts
 * import { openRegistryDb } from "./db.ts";
 * const dir = await Deno.makeTempDir();
 * const db = openRegistryDb(`${dir}/registry.sqlite`);
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openRegistryDb(path: string, options: RegistryDbOptions = {}): DatabaseSync {
  Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fresh = false;
  try {
    Deno.lstatSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    writeEmpty0600(path);
    fresh = true;
  }
  let db: DatabaseSync;
  try {
    db = open(path, options);
  } catch (err) {
    if (fresh || !DAMAGED.test((err as Error).message)) {
      throw new RegistryDbError(path, (err as Error).message);
    }
    const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(":", "-")}`;
    Deno.renameSync(path, aside);
    for (const ext of ["-wal", "-shm"]) {
      try {
        Deno.renameSync(path + ext, aside + ext);
      } catch { /* absent */ }
    }
    options.onWarning?.(
      `${path} is corrupt (${
        (err as Error).message
      }); moved it to ${aside}, starting with an empty peer registry`,
    );
    writeEmpty0600(path);
    db = open(path, options);
  }
  return db;
}

function open(path: string, options: RegistryDbOptions): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.round(options.busyTimeoutMs ?? 5000))}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec(SCHEMA);
    migrateOnce(db, options.legacyDir ?? dirname(path), options);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrateOnce(db: DatabaseSync, legacyDir: string, options: RegistryDbOptions): void {
  const done = () =>
    db.prepare("SELECT value FROM meta WHERE key = 'imported'").get() !== undefined;
  if (done()) return;
  let imported: LegacyImport | undefined;
  transaction(db, () => {
    if (done()) return;
    imported = options.importLegacy?.(legacyDir);
    for (const table of ["peers", "allow"] as const) {
      const rows = imported?.[table] ?? [];
      if (!rows.length) continue;
      const rev = bumpRev(db, table);
      const put = db.prepare(`INSERT OR REPLACE INTO ${table} (id, doc, rev) VALUES (?, ?, ?)`);
      for (const r of rows) put.run(r.id, JSON.stringify(r.doc), rev);
    }
    if (imported?.authMode) {
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('auth_mode', ?)").run(
        imported.authMode,
      );
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('imported', ?)").run(
      new Date().toISOString(),
    );
  });
  for (const f of imported?.files ?? []) {
    try {
      Deno.renameSync(f, `${f}.migrated`);
    } catch { /* already moved by another process */ }
  }
}

/** Runs `fn` in a `BEGIN IMMEDIATE` transaction (rolled back when it throws). */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch { /* no transaction left */ }
    throw err;
  }
}

function readRev(db: DatabaseSync, table: RevTableName): number {
  return Number(readMeta(db, `${table}_rev`) ?? 0);
}

function bumpRev(db: DatabaseSync, table: RevTableName): number {
  const next = readRev(db, table) + 1;
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(
    `${table}_rev`,
    String(next),
  );
  return next;
}

// One prepared statement per connection: `meta` is read on every handshake.
const metaReads = new WeakMap<DatabaseSync, StatementSync>();

/** Reads the value of a `meta` key. */
export function readMeta(db: DatabaseSync, key: string): string | undefined {
  let stmt = metaReads.get(db);
  if (!stmt) {
    stmt = db.prepare("SELECT value FROM meta WHERE key = ?");
    metaReads.set(db, stmt);
  }
  const row = stmt.get(key) as { value: string } | undefined;
  return row?.value;
}

/** Sets a `meta` key (in its own transaction). */
export function writeMeta(db: DatabaseSync, key: string, value: string): void {
  transaction(db, () => {
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
  });
}

/** Counters of a {@link RevTable}'s writes (for benchmarks and tests). */
export interface WriteCounters {
  /** Write transactions committed. */
  transactions: number;
  /** Rows written or removed. */
  rows: number;
  /** Full loads of the table (opening, or a reload). */
  fullLoads: number;
}

/**
 * One table mirrored in memory and synchronised by revision.
 *
 * @example
 * ```ts
 * import { openRegistryDb, RevTable } from "./db.ts";
 * const dir = await Deno.makeTempDir();
 * const db = openRegistryDb(`${dir}/registry.sqlite`);
 * const t = new RevTable<{ n: number }>(db, "allow", (doc) => doc as { n: number });
 * t.commit(() => new Map([["a", { n: 1 }]]));
 * if (t.rows.get("a")?.n !== 1) throw new Error("written");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RevTable<T> {
  /** The rows, by ID. */
  readonly rows: Map<string, T> = new Map();
  /** Write counters. */
  readonly counters: WriteCounters = { transactions: 0, rows: 0, fullLoads: 0 };
  #rev = 0;
  readonly #since: StatementSync;
  readonly #removedSince: StatementSync;
  readonly #put: StatementSync;
  readonly #del: StatementSync;
  readonly #tomb: StatementSync;
  readonly #untomb: StatementSync;

  /**
   * Mirrors `table`; `parse` turns a stored document into a row (null: skipped, with
   * `onInvalid` told why).
   */
  constructor(
    readonly db: DatabaseSync,
    readonly table: RevTableName,
    readonly parse: (doc: unknown) => T | null,
    readonly onChange?: (id: string, before: T | undefined, after: T | undefined) => void,
  ) {
    this.#since = db.prepare(`SELECT id, doc FROM ${table} WHERE rev > ?`);
    this.#removedSince = db.prepare(`SELECT id FROM ${table}_removed WHERE rev > ?`);
    this.#put = db.prepare(`INSERT OR REPLACE INTO ${table} (id, doc, rev) VALUES (?, ?, ?)`);
    this.#del = db.prepare(`DELETE FROM ${table} WHERE id = ?`);
    this.#tomb = db.prepare(
      `INSERT OR REPLACE INTO ${table}_removed (id, rev) VALUES (?, ?)`,
    );
    this.#untomb = db.prepare(`DELETE FROM ${table}_removed WHERE id = ?`);
    this.#load(0, true);
  }

  #currentRev(): number {
    return readRev(this.db, this.table);
  }

  #set(id: string, value: T | undefined): void {
    const before = this.rows.get(id);
    if (value === undefined) this.rows.delete(id);
    else this.rows.set(id, value);
    this.onChange?.(id, before, value);
  }

  #load(since: number, full: boolean): string[] {
    const rev = this.#currentRev();
    if (!full && rev === this.#rev) return [];
    const changed: string[] = [];
    if (full) {
      this.counters.fullLoads++;
      for (const id of [...this.rows.keys()]) this.#set(id, undefined);
    }
    for (const r of this.#since.all(full ? -1 : since) as { id: string; doc: string }[]) {
      let parsed: T | null = null;
      try {
        parsed = this.parse(JSON.parse(r.doc));
      } catch { /* skipped below */ }
      if (parsed === null) continue;
      this.#set(r.id, parsed);
      changed.push(r.id);
    }
    if (!full) {
      for (const r of this.#removedSince.all(since) as { id: string }[]) {
        if (this.rows.has(r.id)) {
          this.#set(r.id, undefined);
          changed.push(r.id);
        }
      }
    }
    this.#rev = rev;
    return changed;
  }

  /** Changes a row in memory only (written by a later {@link RevTable.commit}). */
  setLocal(id: string, value: T | undefined): void {
    this.#set(id, value);
  }

  /** Reads what other connections wrote since the last look; returns the IDs that changed. */
  pull(): string[] {
    return this.#load(this.#rev, false);
  }

  /**
   * One write transaction: catches up on other writers (their IDs are given to `changes`, which
   * may re-apply local edits to those rows), then writes the rows `changes` returns (undefined:
   * remove).
   */
  commit(changes: (pulled: string[]) => Map<string, T | undefined>): void {
    transaction(this.db, () => {
      const pulled = this.#load(this.#rev, false);
      const writes = changes(pulled);
      if (writes.size === 0) return;
      const rev = bumpRev(this.db, this.table);
      for (const [id, value] of writes) {
        if (value === undefined) {
          this.#del.run(id);
          this.#tomb.run(id, rev as SQLInputValue);
        } else {
          this.#put.run(id, JSON.stringify(value), rev);
          this.#untomb.run(id);
        }
        this.#set(id, value);
      }
      this.#rev = rev;
      this.counters.transactions++;
      this.counters.rows += writes.size;
    });
  }
}
