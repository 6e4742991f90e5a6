/**
 * Hashrate history in SQLite (`node:sqlite`, WAL) under the data home: raw samples for 24 h,
 * plus 1-minute and 1-hour rollups kept for the retention period (default 30 days). Rollups are
 * maintained incrementally on insert (sum/count/min/max per bucket), so queries never scan raw
 * data for long ranges.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** Schema migrations, applied in order (embedded in the binary as code). */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE samples (
     miner TEXT NOT NULL, ts INTEGER NOT NULL, hashrate REAL,
     accepted INTEGER NOT NULL, rejected INTEGER NOT NULL,
     PRIMARY KEY (miner, ts)) WITHOUT ROWID;
   CREATE TABLE rollup_1m (
     miner TEXT NOT NULL, ts INTEGER NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,
     min REAL, max REAL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL,
     PRIMARY KEY (miner, ts)) WITHOUT ROWID;
   CREATE TABLE rollup_1h (
     miner TEXT NOT NULL, ts INTEGER NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,
     min REAL, max REAL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL,
     PRIMARY KEY (miner, ts)) WITHOUT ROWID;
   CREATE INDEX samples_ts ON samples (ts);
   CREATE INDEX rollup_1m_ts ON rollup_1m (ts);
   CREATE INDEX rollup_1h_ts ON rollup_1h (ts);`,
];

/** Query resolution. */
export type Resolution = "raw" | "1m" | "1h";

/** One point of a history series. */
export interface HistoryPoint {
  /** Bucket or sample time (ms since epoch). */
  ts: number;
  /** Average hashrate over the bucket (H/s). */
  hashrate: number;
  /** Lowest sample in the bucket. */
  min: number;
  /** Highest sample in the bucket. */
  max: number;
  /** Accepted shares (last value in the bucket; summed over miners for the fleet). */
  accepted: number;
  /** Rejected shares. */
  rejected: number;
}

/** Options for {@link HistoryStore.query}. */
export interface QueryOptions {
  /** Start (ms, inclusive). */
  from: number;
  /** End (ms, inclusive). */
  to: number;
  /** Resolution (default: raw up to 6 h inside the raw window, 1m up to 7 days, else 1h). */
  resolution?: Resolution | "auto";
}

/** Options for {@link HistoryStore.open}. */
export interface HistoryOptions {
  /** Raw sample retention (default 24 h). */
  rawRetentionMs?: number;
  /** Rollup retention (default 30 days). */
  retentionMs?: number;
}

const DAY = 86_400_000;

/** The history database. */
export class HistoryStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #roll1m: StatementSync;
  readonly #roll1h: StatementSync;
  /** Raw retention in ms. */
  readonly rawRetentionMs: number;
  /** Rollup retention in ms. */
  readonly retentionMs: number;

  private constructor(db: DatabaseSync, options: HistoryOptions) {
    this.#db = db;
    this.rawRetentionMs = options.rawRetentionMs ?? DAY;
    this.retentionMs = options.retentionMs ?? 30 * DAY;
    this.#insert = db.prepare(
      "INSERT OR REPLACE INTO samples (miner, ts, hashrate, accepted, rejected) VALUES (?, ?, ?, ?, ?)",
    );
    const rollup = (table: string) =>
      db.prepare(
        `INSERT INTO ${table} (miner, ts, sum, n, min, max, accepted, rejected) VALUES (?, ?, ?, 1, ?, ?, ?, ?)
         ON CONFLICT (miner, ts) DO UPDATE SET sum = sum + excluded.sum, n = n + 1,
           min = min(min, excluded.min), max = max(max, excluded.max),
           accepted = excluded.accepted, rejected = excluded.rejected`,
      );
    this.#roll1m = rollup("rollup_1m");
    this.#roll1h = rollup("rollup_1h");
  }

  /** Opens (creating and migrating) the database at `path` (`:memory:` for tests). */
  static open(path: string, options: HistoryOptions = {}): HistoryStore {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as {
      value: string;
    } | undefined;
    let version = row ? Number(row.value) : 0;
    while (version < MIGRATIONS.length) {
      db.exec("BEGIN");
      try {
        db.exec(MIGRATIONS[version]);
        version++;
        db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(
          String(version),
        );
        db.exec("COMMIT");
      } catch (err) {
        rollback(db);
        throw err;
      }
    }
    return new HistoryStore(db, options);
  }

  /** Records one sample (a null hashrate is stored raw but not averaged into rollups). */
  record(
    miner: string,
    ts: number,
    hashrate: number | null,
    accepted: number,
    rejected: number,
  ): void {
    this.#insert.run(miner, ts, hashrate, accepted, rejected);
    if (hashrate === null) return;
    this.#roll1m.run(
      miner,
      Math.floor(ts / 60_000) * 60_000,
      hashrate,
      hashrate,
      hashrate,
      accepted,
      rejected,
    );
    this.#roll1h.run(
      miner,
      Math.floor(ts / 3_600_000) * 3_600_000,
      hashrate,
      hashrate,
      hashrate,
      accepted,
      rejected,
    );
  }

  /** Records many samples in one transaction. */
  recordMany(
    samples: readonly {
      miner: string;
      ts: number;
      hashrate: number | null;
      accepted: number;
      rejected: number;
    }[],
  ): void {
    this.#db.exec("BEGIN");
    try {
      for (const s of samples) this.record(s.miner, s.ts, s.hashrate, s.accepted, s.rejected);
      this.#db.exec("COMMIT");
    } catch (err) {
      // A failed COMMIT (SQLITE_FULL on a full disk) may already have rolled back: the caller
      // hears the real cause, and the next batch starts clean once space returns.
      rollback(this.#db);
      throw err;
    }
  }

  /** Picks the resolution for a range. */
  resolutionFor(options: QueryOptions, now = Date.now()): Resolution {
    if (options.resolution && options.resolution !== "auto") return options.resolution;
    const span = options.to - options.from;
    if (span <= 6 * 3_600_000 && options.from >= now - this.rawRetentionMs) return "raw";
    if (span <= 7 * DAY) return "1m";
    return "1h";
  }

  /** A miner's series (or the fleet total when `miner` is null) over a range. */
  query(
    miner: string | null,
    options: QueryOptions,
  ): { resolution: Resolution; points: HistoryPoint[] } {
    const resolution = this.resolutionFor(options);
    let sql: string;
    if (resolution === "raw") {
      sql = miner === null
        // Average each miner within a 10 s bucket first, so a miner sampled twice in one bucket
        // is not counted twice in the fleet total.
        ? `SELECT b * 10000 AS ts, sum(h) AS hashrate, sum(h) AS min, sum(h) AS max, sum(a) AS accepted,
             sum(r) AS rejected FROM (
               SELECT ts / 10000 AS b, miner, avg(coalesce(hashrate, 0)) AS h, max(accepted) AS a, max(rejected) AS r
               FROM samples WHERE ts BETWEEN ? AND ? GROUP BY b, miner)
           GROUP BY b ORDER BY b`
        : `SELECT ts, coalesce(hashrate, 0) AS hashrate, coalesce(hashrate, 0) AS min, coalesce(hashrate, 0) AS max,
             accepted, rejected FROM samples WHERE miner = ? AND ts BETWEEN ? AND ? ORDER BY ts`;
    } else {
      const table = resolution === "1m" ? "rollup_1m" : "rollup_1h";
      sql = miner === null
        ? `SELECT ts, sum(sum / n) AS hashrate, sum(min) AS min, sum(max) AS max, sum(accepted) AS accepted,
             sum(rejected) AS rejected FROM ${table} WHERE ts BETWEEN ? AND ? GROUP BY ts ORDER BY ts`
        : `SELECT ts, sum / n AS hashrate, min, max, accepted, rejected FROM ${table}
           WHERE miner = ? AND ts BETWEEN ? AND ? ORDER BY ts`;
    }
    const stmt = this.#db.prepare(sql);
    const rows =
      (miner === null
        ? stmt.all(options.from, options.to)
        : stmt.all(miner, options.from, options.to)) as unknown as HistoryPoint[];
    return { resolution, points: rows.map((r) => ({ ...r, ts: Number(r.ts) })) };
  }

  /** Names of miners with any data. */
  miners(): string[] {
    return (this.#db.prepare(
      "SELECT DISTINCT miner FROM rollup_1h UNION SELECT DISTINCT miner FROM samples ORDER BY 1",
    )
      .all() as { miner: string }[]).map((r) => r.miner);
  }

  /** Deletes raw samples past the raw retention and rollups past the retention. Returns rows deleted. */
  prune(now = Date.now()): number {
    let n = 0;
    n += Number(
      this.#db.prepare("DELETE FROM samples WHERE ts < ?").run(now - this.rawRetentionMs).changes,
    );
    n += Number(
      this.#db.prepare("DELETE FROM rollup_1m WHERE ts < ?").run(now - this.retentionMs).changes,
    );
    n += Number(
      this.#db.prepare("DELETE FROM rollup_1h WHERE ts < ?").run(now - this.retentionMs).changes,
    );
    return n;
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

/** Rolls back the open transaction, if SQLite has not already done so itself. */
function rollback(db: DatabaseSync): void {
  try {
    db.exec("ROLLBACK");
  } catch { /* no transaction is active: SQLite rolled it back with the error */ }
}
