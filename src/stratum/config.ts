/**
 * The controller's pool set (`<config>/stratum.json`, mode 0600: it holds pool logins and
 * passwords, which never leave the controller): upstreams in failover order and the difficulty
 * miners are given. Written atomically under a file lock, so the CLI and the daemon can both
 * change it; the daemon picks changes up by itself.
 * @module
 */
import { z } from "zod";
import { MinerCliError } from "../errors/mod.ts";
import type { PoolSetView } from "../protocol/mod.ts";
import { join } from "node:path";
import {
  MtimeCache,
  type NodePaths,
  readJsonFile,
  withFileLock,
  writeJsonAtomic,
} from "../store/mod.ts";
import { parseUpstreamUrl, UpstreamUrlError } from "./upstream.ts";

const UpstreamEntrySchema = z.object({
  url: z.string().max(300).refine((u) => {
    try {
      parseUpstreamUrl(u);
      return true;
    } catch {
      return false;
    }
  }, "use stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT or daemon+http://HOST:PORT"),
  user: z.string().min(1, "a wallet address or pool login is required").max(256).regex(
    /^[A-Za-z0-9._+\-@\/:=%]+$/,
    "wallet/login may contain only letters, digits and . _ + - @ / : = %",
  ),
  pass: z.string().max(256).regex(/^[^\s"'\\]*$/, "password contains spaces or quotes").optional(),
}).strict();
/** One configured upstream. */
export type UpstreamEntry = z.infer<typeof UpstreamEntrySchema>;

/** `stratum.json`. */
export const StratumConfigSchema = z.object({
  version: z.literal(1),
  difficulty: z.number().int().min(1).max(1e12).default(5000),
  /**
   * Nonce ranges (values of the nonce's high byte) per blob before a daemon upstream's next
   * extra nonce; 256 unless fewer miners per blob are wanted.
   */
  ranges: z.number().int().min(1).max(256).default(256),
  upstreams: z.array(UpstreamEntrySchema).max(16),
}).strict();
/** The pool set. */
export type StratumConfig = z.infer<typeof StratumConfigSchema>;

/** The pool set as the API and the CLI show it (no password). */
export function poolSetView(c: StratumConfig): PoolSetView {
  return {
    difficulty: c.difficulty,
    ranges: c.ranges,
    upstreams: c.upstreams.map((u, index) => ({
      index,
      url: u.url,
      user: u.user,
      hasPass: !!u.pass,
    })),
  };
}

/** A change to the pool set was refused. */
export class StratumConfigError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, status: 400 | 404 | 409 = 400) {
    super(message, { status, code: "invalid_stratum_config" });
    this.name = "StratumConfigError";
  }
}

const EMPTY: StratumConfig = { version: 1, difficulty: 5000, ranges: 256, upstreams: [] };

/**
 * The pool set on disk.
 *
 * @example
 * ```ts ignore
 * const store = StratumConfigStore.of(paths);
 * await store.addUpstream({ url: "daemon+http://127.0.0.1:18081", user: WALLET });
 * ```
 */
export class StratumConfigStore {
  readonly #cache: MtimeCache<StratumConfig>;

  /** Creates the store for `path`. */
  constructor(readonly path: string) {
    this.#cache = new MtimeCache(path, () => this.load(), () => structuredClone(EMPTY));
  }

  /** The store of a node's home (`<config>/stratum.json`). */
  static of(paths: NodePaths): StratumConfigStore {
    return new StratumConfigStore(join(paths.configDir, "stratum.json"));
  }

  /** The pool set, read again only when the file changed (the same object otherwise). */
  current(): Promise<StratumConfig> {
    return this.#cache.get();
  }

  /** Reads the pool set (empty when there is no file). */
  async load(): Promise<StratumConfig> {
    return (await readJsonFile(this.path, StratumConfigSchema)) ?? structuredClone(EMPTY);
  }

  async #update(fn: (c: StratumConfig) => void): Promise<StratumConfig> {
    return await withFileLock(this.path, async () => {
      const c = await this.load();
      fn(c);
      const checked = StratumConfigSchema.safeParse(c);
      if (!checked.success) {
        throw new StratumConfigError(
          `invalid pool set: ${
            checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
          }`,
        );
      }
      await writeJsonAtomic(this.path, checked.data, { mode: 0o600 });
      return checked.data;
    });
  }

  /** Adds an upstream at the end of the failover order (or at `position`, 0-based). */
  async addUpstream(
    entry: UpstreamEntry,
    options: { position?: number } = {},
  ): Promise<StratumConfig> {
    try {
      parseUpstreamUrl(entry.url);
    } catch (err) {
      throw new StratumConfigError((err as UpstreamUrlError).message);
    }
    const parsed = UpstreamEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join(".") || "entry"}: ${i.message}`);
      throw new StratumConfigError(`invalid upstream: ${why.join("; ")}`);
    }
    return await this.#update((c) => {
      if (c.upstreams.some((u) => u.url === entry.url)) {
        throw new StratumConfigError(
          `${entry.url} is already an upstream (remove it first to change it)`,
          409,
        );
      }
      if (c.upstreams.length >= 16) throw new StratumConfigError("at most 16 upstreams");
      const at = Math.min(Math.max(0, options.position ?? c.upstreams.length), c.upstreams.length);
      c.upstreams.splice(at, 0, parsed.data);
    });
  }

  /** Removes an upstream by URL or by its 0-based index in the failover order. */
  removeUpstream(ref: string): Promise<StratumConfig> {
    return this.#update((c) => {
      const i = /^\d+$/.test(ref) ? Number(ref) : c.upstreams.findIndex((u) => u.url === ref);
      if (i < 0 || i >= c.upstreams.length) {
        throw new StratumConfigError(
          `no upstream ${ref} (see miner-cli stratum upstream list)`,
          404,
        );
      }
      c.upstreams.splice(i, 1);
    });
  }

  /** Sets the difficulty miners are given and/or the nonce ranges per blob. */
  setSettings(settings: { difficulty?: number; ranges?: number }): Promise<StratumConfig> {
    const { difficulty, ranges } = settings;
    if (
      difficulty !== undefined &&
      (!Number.isInteger(difficulty) || difficulty < 1 || difficulty > 1e12)
    ) {
      return Promise.reject(
        new StratumConfigError(
          `difficulty must be a whole number from 1 to 10^12, not ${difficulty}`,
        ),
      );
    }
    if (ranges !== undefined && (!Number.isInteger(ranges) || ranges < 1 || ranges > 256)) {
      return Promise.reject(
        new StratumConfigError(`ranges must be a whole number from 1 to 256, not ${ranges}`),
      );
    }
    return this.#update((c) => {
      if (difficulty !== undefined) c.difficulty = difficulty;
      if (ranges !== undefined) c.ranges = ranges;
    });
  }
}
