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
  // 2: the algorithm of each sample, so fleet series are per algorithm (never summed across).
  `ALTER TABLE samples ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'unknown';
   ALTER TABLE rollup_1m ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'unknown';
   ALTER TABLE rollup_1h ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'unknown';`,
  // 3: device sensors (temperature, fan, power) per sample, kept as long as raw samples.
  `CREATE TABLE device_samples (
     miner TEXT NOT NULL, device INTEGER NOT NULL, ts INTEGER NOT NULL,
     temp REAL, fan REAL, power REAL,
     PRIMARY KEY (miner, device, ts)) WITHOUT ROWID;
   CREATE INDEX device_samples_ts ON device_samples (ts);`,
];

/** One device's sensor series. */
export interface DeviceSeries {
  /** Device index. */
  device: number;
  /** Samples (ms since epoch; null where the miner reports nothing). */
  points: { ts: number; temp: number | null; fan: number | null; power: number | null }[];
}

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
  /** For a fleet series (miner null): only miners of this algorithm. */
  algorithm?: string;
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
  readonly #device: StatementSync;
  /** Raw retention in ms. */
  readonly rawRetentionMs: number;
  /** Rollup retention in ms. */
  readonly retentionMs: number;

  private constructor(db: DatabaseSync, options: HistoryOptions) {
    this.#db = db;
    this.rawRetentionMs = options.rawRetentionMs ?? DAY;
    this.retentionMs = options.retentionMs ?? 30 * DAY;
    this.#insert = db.prepare(
      "INSERT OR REPLACE INTO samples (miner, ts, hashrate, accepted, rejected, algorithm) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const rollup = (table: string) =>
      db.prepare(
        `INSERT INTO ${table} (miner, ts, sum, n, min, max, accepted, rejected, algorithm) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)
         ON CONFLICT (miner, ts) DO UPDATE SET sum = sum + excluded.sum, n = n + 1,
           min = min(min, excluded.min), max = max(max, excluded.max),
           accepted = excluded.accepted, rejected = excluded.rejected, algorithm = excluded.algorithm`,
      );
    this.#device = db.prepare(
      "INSERT OR REPLACE INTO device_samples (miner, device, ts, temp, fan, power) VALUES (?, ?, ?, ?, ?, ?)",
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
    algorithm: string = "unknown",
  ): void {
    this.#insert.run(miner, ts, hashrate, accepted, rejected, algorithm);
    if (hashrate === null) return;
    this.#roll1m.run(
      miner,
      Math.floor(ts / 60_000) * 60_000,
      hashrate,
      hashrate,
      hashrate,
      accepted,
      rejected,
      algorithm,
    );
    this.#roll1h.run(
      miner,
      Math.floor(ts / 3_600_000) * 3_600_000,
      hashrate,
      hashrate,
      hashrate,
      accepted,
      rejected,
      algorithm,
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
      algorithm?: string;
      /** Device sensors at this sample. */
      devices?: readonly { temp: number | null; fan: number | null; power: number | null }[];
    }[],
  ): void {
    this.#db.exec("BEGIN");
    try {
      for (const s of samples) {
        this.record(s.miner, s.ts, s.hashrate, s.accepted, s.rejected, s.algorithm);
        s.devices?.forEach((d, i) => {
          if (d.temp === null && d.fan === null && d.power === null) return;
          this.#device.run(s.miner, i, s.ts, d.temp, d.fan, d.power);
        });
      }
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

  /**
   * A miner's series, or (`miner` null) the fleet's series of one algorithm
   * (`options.algorithm`; without one, of every algorithm together, which only makes sense when
   * the fleet mines one: callers use {@link HistoryStore.fleetSeries}).
   */
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
               FROM samples WHERE ts BETWEEN ? AND ? AND (?3 IS NULL OR algorithm = ?3) GROUP BY b, miner)
           GROUP BY b ORDER BY b`
        : `SELECT ts, coalesce(hashrate, 0) AS hashrate, coalesce(hashrate, 0) AS min, coalesce(hashrate, 0) AS max,
             accepted, rejected FROM samples WHERE miner = ? AND ts BETWEEN ? AND ? ORDER BY ts`;
    } else {
      const table = resolution === "1m" ? "rollup_1m" : "rollup_1h";
      sql = miner === null
        ? `SELECT ts, sum(sum / n) AS hashrate, sum(min) AS min, sum(max) AS max, sum(accepted) AS accepted,
             sum(rejected) AS rejected FROM ${table} WHERE ts BETWEEN ? AND ? AND (?3 IS NULL OR algorithm = ?3)
             GROUP BY ts ORDER BY ts`
        : `SELECT ts, sum / n AS hashrate, min, max, accepted, rejected FROM ${table}
           WHERE miner = ? AND ts BETWEEN ? AND ? ORDER BY ts`;
    }
    const stmt = this.#db.prepare(sql);
    const rows =
      (miner === null
        ? stmt.all(options.from, options.to, options.algorithm ?? null)
        : stmt.all(miner, options.from, options.to)) as unknown as HistoryPoint[];
    return { resolution, points: rows.map((r) => ({ ...r, ts: Number(r.ts) })) };
  }

  /**
   * The median of a miner's non-zero raw samples in a range, and how many there were: the
   * learned baseline of the health model ("expected hashrate" when the profile gives none).
   */
  median(
    miner: string,
    options: { from: number; to: number },
  ): { median: number | null; n: number } {
    const rows = this.#db.prepare(
      "SELECT hashrate FROM samples WHERE miner = ? AND ts BETWEEN ? AND ? AND hashrate > 0 ORDER BY hashrate",
    ).all(miner, options.from, options.to) as { hashrate: number }[];
    if (!rows.length) return { median: null, n: 0 };
    const mid = rows.length >> 1;
    const median = rows.length % 2
      ? rows[mid].hashrate
      : (rows[mid - 1].hashrate + rows[mid].hashrate) / 2;
    return { median, n: rows.length };
  }

  /** The fleet's series, one per algorithm (never one figure across algorithms). */
  fleetSeries(
    options: Omit<QueryOptions, "algorithm">,
  ): { resolution: Resolution; series: { algorithm: string; points: HistoryPoint[] }[] } {
    const resolution = this.resolutionFor(options);
    const series = this.algorithms(options).map((algorithm) => ({
      algorithm,
      points: this.query(null, { ...options, resolution, algorithm }).points,
    }));
    return { resolution, series };
  }

  /** Algorithms with data in a range (all time when none given). */
  algorithms(range?: { from: number; to: number }): string[] {
    const from = range?.from ?? 0;
    const to = range?.to ?? Number.MAX_SAFE_INTEGER;
    return (this.#db.prepare(
      `SELECT DISTINCT algorithm FROM rollup_1h WHERE ts BETWEEN ? AND ?
       UNION SELECT DISTINCT algorithm FROM samples WHERE ts BETWEEN ? AND ? ORDER BY 1`,
    ).all(from - 3_600_000, to, from, to) as { algorithm: string }[]).map((r) => r.algorithm);
  }

  /**
   * A miner's device sensors over a range (raw samples, kept as long as the raw hashrate samples),
   * averaged into at most `points` buckets per device.
   */
  devices(miner: string, options: { from: number; to: number; points?: number }): DeviceSeries[] {
    const bucket = Math.max(1, Math.ceil((options.to - options.from) / (options.points ?? 300)));
    const rows = this.#db.prepare(
      `SELECT device, (ts / ?1) * ?1 AS b, avg(temp) AS temp, avg(fan) AS fan, avg(power) AS power
       FROM device_samples WHERE miner = ?2 AND ts BETWEEN ?3 AND ?4 GROUP BY device, b ORDER BY device, b`,
    ).all(bucket, miner, options.from, options.to) as {
      device: number;
      b: number;
      temp: number | null;
      fan: number | null;
      power: number | null;
    }[];
    const out = new Map<number, DeviceSeries>();
    for (const r of rows) {
      let s = out.get(Number(r.device));
      if (!s) out.set(Number(r.device), s = { device: Number(r.device), points: [] });
      s.points.push({ ts: Number(r.b), temp: r.temp, fan: r.fan, power: r.power });
    }
    return [...out.values()];
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
      this.#db.prepare("DELETE FROM device_samples WHERE ts < ?").run(now - this.rawRetentionMs)
        .changes,
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
