/**
 * Inbound authorization settings (`auth.json`): the auth mode and the allowlist.
 * @module
 */
import { z } from "zod";
import { fromBase64, nodeIdFromPublicKey, NodeIdSchema, PublicKeySchema } from "../identity/mod.ts";
import { readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import { type Grant, GrantsSchema, normalizeGrants } from "./grants.ts";

/** `allowlist` (default): only registered or allowed peers may connect. `open`: anyone may. */
export const AuthModeSchema = z.enum(["allowlist", "open"]);
/** An auth mode. */
export type AuthMode = z.infer<typeof AuthModeSchema>;

/** One allowlist entry. */
export const AllowEntrySchema = z.object({
  id: NodeIdSchema,
  publicKey: PublicKeySchema.optional(),
  /** Given to the node when it registers on first contact (`peer allow --control`). */
  grants: GrantsSchema.optional(),
  addedAt: z.string(),
});
/** An allowlist entry. */
export type AllowEntry = z.infer<typeof AllowEntrySchema>;

/** The `auth.json` document. */
export const AuthFileSchema = z.object({
  version: z.literal(1),
  mode: AuthModeSchema,
  allow: z.array(AllowEntrySchema),
});
/** Auth settings. */
export type AuthSettings = z.infer<typeof AuthFileSchema>;

/** Parses a node ID or base64 public key given on the command line. */
export function parseAllowTarget(text: string): AllowEntry {
  const t = text.trim();
  if (NodeIdSchema.safeParse(t.toLowerCase()).success) {
    return { id: t.toLowerCase(), addedAt: new Date().toISOString() };
  }
  if (PublicKeySchema.safeParse(t).success) {
    return {
      id: nodeIdFromPublicKey(fromBase64(t)),
      publicKey: t,
      addedAt: new Date().toISOString(),
    };
  }
  throw new Error(
    `${
      JSON.stringify(text)
    } is neither a node ID (32 hex characters) nor a public key (44 base64 characters)`,
  );
}

/** Reads and writes `auth.json`, reloading it when another process changed it. */
export class AuthStore {
  #settings: AuthSettings = { version: 1, mode: "allowlist", allow: [] };
  #stamp = "";

  private constructor(readonly path: string) {}

  /** Opens the store (a missing file means allowlist mode with an empty list). */
  static async open(path: string): Promise<AuthStore> {
    const s = new AuthStore(path);
    await s.refresh();
    return s;
  }

  /** Reloads if the file changed on disk. */
  async refresh(): Promise<void> {
    let stamp = "absent";
    try {
      const st = Deno.statSync(this.path); // sync: runs on every handshake
      stamp = `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (stamp === this.#stamp) return;
    this.#settings = (await readJsonFile(this.path, AuthFileSchema)) ??
      { version: 1, mode: "allowlist", allow: [] };
    this.#stamp = stamp;
  }

  /** Current settings (a copy). */
  get settings(): AuthSettings {
    return structuredClone(this.#settings);
  }

  /** Whether `id` is on the allowlist. */
  isAllowed(id: string): boolean {
    return this.#settings.allow.some((e) => e.id === id);
  }

  /** The allowlist entry for `id`. */
  entry(id: string): AllowEntry | undefined {
    return this.#settings.allow.find((e) => e.id === id);
  }

  async #save(): Promise<void> {
    await writeJsonAtomic(this.path, this.#settings);
    await this.refresh();
  }

  /** Adds an entry; returns false when it was already there. */
  allow(entry: AllowEntry): Promise<boolean> {
    return withFileLock(this.path, () => this.#allow(entry));
  }

  async #allow(entry: AllowEntry): Promise<boolean> {
    await this.refresh();
    const cur = this.entry(entry.id);
    const grants = normalizeGrants([...(cur?.grants ?? []), ...(entry.grants ?? [])]);
    const sameGrants = grants.length === (cur?.grants?.length ?? 0);
    if (cur && (cur.publicKey || !entry.publicKey) && sameGrants) return false;
    const next: AllowEntry = {
      ...(cur ?? entry),
      ...(entry.publicKey ? { publicKey: entry.publicKey } : {}),
      ...(grants.length ? { grants } : {}),
    };
    this.#settings.allow = this.#settings.allow.filter((e) => e.id !== entry.id).concat(next);
    await this.#save();
    return true;
  }

  /** Sets the grants an allowlisted node gets when it registers; returns false when not listed. */
  setGrants(id: string, grants: readonly Grant[]): Promise<boolean> {
    return withFileLock(this.path, async () => {
      await this.refresh();
      const cur = this.entry(id);
      if (!cur) return false;
      const g = normalizeGrants(grants);
      const { grants: _old, ...rest } = cur;
      const next: AllowEntry = g.length ? { ...rest, grants: g } : rest;
      this.#settings.allow = this.#settings.allow.map((e) => e.id === id ? next : e);
      await this.#save();
      return true;
    });
  }

  /** Removes an entry; returns whether it existed. */
  revoke(id: string): Promise<boolean> {
    return withFileLock(this.path, () => this.#revoke(id));
  }

  async #revoke(id: string): Promise<boolean> {
    await this.refresh();
    const before = this.#settings.allow.length;
    this.#settings.allow = this.#settings.allow.filter((e) => e.id !== id);
    if (this.#settings.allow.length === before) return false;
    await this.#save();
    return true;
  }

  /** Sets the auth mode. */
  setMode(mode: AuthMode): Promise<void> {
    return withFileLock(this.path, async () => {
      await this.refresh();
      this.#settings.mode = AuthModeSchema.parse(mode);
      await this.#save();
    });
  }
}
