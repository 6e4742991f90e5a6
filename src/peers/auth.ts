/**
 * Inbound authorization settings: the auth mode and the allowlist, in the registry database
 * (`registry.sqlite`, one row per entry; see `db.ts`), reloaded when another process changed
 * them.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type Grant, normalizeGrants } from "./grants.ts";
import {
  type AllowEntry,
  AllowEntrySchema,
  type AuthMode,
  AuthModeSchema,
  type AuthSettings,
} from "./auth_schema.ts";
import { openRegistryDb, readMeta, RevTable, writeMeta } from "./db.ts";
import { importLegacyFiles } from "./legacy.ts";

export {
  type AllowEntry,
  AllowEntrySchema,
  AuthFileSchema,
  type AuthMode,
  AuthModeSchema,
  type AuthSettings,
  parseAllowTarget,
} from "./auth_schema.ts";

function parseEntry(doc: unknown): AllowEntry | null {
  const r = AllowEntrySchema.safeParse(doc);
  return r.success ? r.data : null;
}

/** Options for {@link AuthStore.open}. */
export interface AuthStoreOptions {
  /** Where an old `auth.json` is imported from (default: beside the database). */
  legacyDir?: string;
  /** Told when the database or an old file was corrupt and moved aside. */
  onWarning?: (message: string) => void;
}

/** Reads and writes the auth mode and allowlist, reloading what another process changed. */
export class AuthStore {
  readonly #db: DatabaseSync;
  readonly #table: RevTable<AllowEntry>;
  #mode: AuthMode = "allowlist";
  #modeRaw: string | undefined;
  #closed = false;

  private constructor(readonly path: string, options: AuthStoreOptions) {
    const warn = options.onWarning ?? (() => {});
    this.#db = openRegistryDb(path, {
      legacyDir: options.legacyDir,
      onWarning: warn,
      importLegacy: (dir) => importLegacyFiles(dir, warn),
    });
    this.#table = new RevTable<AllowEntry>(this.#db, "allow", parseEntry);
    this.#readMode();
  }

  /** Opens the store (nothing stored means allowlist mode with an empty list). */
  static open(path: string, options: AuthStoreOptions = {}): Promise<AuthStore> {
    try {
      return Promise.resolve(new AuthStore(path, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #readMode(): void {
    const raw = readMeta(this.#db, "auth_mode");
    if (raw === this.#modeRaw) return;
    this.#modeRaw = raw;
    const m = AuthModeSchema.safeParse(raw ?? "allowlist");
    this.#mode = m.success ? m.data : "allowlist";
  }

  /** Reads what another process changed (cheap when nothing did: runs on every handshake). */
  refresh(): Promise<void> {
    try {
      this.#table.pull();
      this.#readMode();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The auth mode. */
  get mode(): AuthMode {
    return this.#mode;
  }

  /** How many entries the allowlist has. */
  get size(): number {
    return this.#table.rows.size;
  }

  /** Current settings (a copy, O(allowlist): use {@link AuthStore.mode} for the mode). */
  get settings(): AuthSettings {
    return {
      version: 1,
      mode: this.#mode,
      allow: [...this.#table.rows.values()].sort((a, b) =>
        a.addedAt.localeCompare(b.addedAt) || a.id.localeCompare(b.id)
      ).map((e) => structuredClone(e)),
    };
  }

  /** Whether `id` is on the allowlist. */
  isAllowed(id: string): boolean {
    return this.#table.rows.has(id);
  }

  /** The allowlist entry for `id`. */
  entry(id: string): AllowEntry | undefined {
    return this.#table.rows.get(id);
  }

  static #merged(cur: AllowEntry | undefined, entry: AllowEntry): AllowEntry | null {
    const grants = normalizeGrants([...(cur?.grants ?? []), ...(entry.grants ?? [])]);
    const sameGrants = grants.length === (cur?.grants?.length ?? 0);
    if (cur && (cur.publicKey || !entry.publicKey) && sameGrants) return null;
    return AllowEntrySchema.parse({
      ...(cur ?? entry),
      ...(entry.publicKey ? { publicKey: entry.publicKey } : {}),
      ...(grants.length ? { grants } : {}),
    });
  }

  /** Adds an entry (or merges its key and grants in); returns false when nothing changed. */
  async allow(entry: AllowEntry): Promise<boolean> {
    return (await this.allowMany([entry]))[0];
  }

  /** Adds many entries in one transaction (O(n)); for each, whether it changed anything. */
  allowMany(entries: readonly AllowEntry[]): Promise<boolean[]> {
    try {
      let changed: boolean[] = [];
      this.#table.commit(() => {
        const writes = new Map<string, AllowEntry>();
        changed = entries.map((e) => {
          const next = AuthStore.#merged(writes.get(e.id) ?? this.entry(e.id), e);
          if (next) writes.set(e.id, next);
          return next !== null;
        });
        return writes;
      });
      return Promise.resolve(changed);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sets the grants an allowlisted node gets when it registers; returns false when not listed. */
  setGrants(id: string, grants: readonly Grant[]): Promise<boolean> {
    try {
      let found = false;
      this.#table.commit(() => {
        const cur = this.entry(id);
        found = cur !== undefined;
        if (!cur) return new Map();
        const g = normalizeGrants(grants);
        const { grants: _old, ...rest } = cur;
        return new Map([[id, g.length ? { ...rest, grants: g } : rest]]);
      });
      return Promise.resolve(found);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Removes an entry; returns whether it existed. */
  revoke(id: string): Promise<boolean> {
    try {
      let found = false;
      this.#table.commit(() => {
        found = this.isAllowed(id);
        return found ? new Map([[id, undefined]]) : new Map();
      });
      return Promise.resolve(found);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sets the auth mode. */
  setMode(mode: AuthMode): Promise<void> {
    try {
      writeMeta(this.#db, "auth_mode", AuthModeSchema.parse(mode));
      this.#readMode();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Closes the database (again: a no-op). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
