/**
 * Secrets a miner is given (pool passwords, its API token) never leave the node in clear: every
 * console line the node keeps or sends goes through a {@link Redactor}, and profiles shown by the
 * API or the CLI carry {@link SECRET_MASK} instead of their passwords (an update that sends the
 * mask back keeps the stored password).
 *
 * A password shorter than {@link MIN_SECRET_LENGTH} characters (the usual `x`, `1`) is a
 * placeholder, not a secret: redacting it would mangle every line that contains the letter.
 * @module
 */
import type { Profile } from "./profiles.ts";

/** Shortest password treated as a secret. */
export const MIN_SECRET_LENGTH = 4;
/** What a hidden password reads as in a profile the API or CLI shows. */
export const SECRET_MASK = "(hidden)";
/** What a secret reads as in a console line. */
export const REDACTED = "[redacted]";

const isSecret = (s: string | undefined): s is string =>
  s !== undefined && s.length >= MIN_SECRET_LENGTH && s !== SECRET_MASK;

/** The secrets in a profile: its pool passwords. */
export function profileSecrets(profile: Profile): string[] {
  if (profile.minerType === "xmrig") {
    return profile.config.pools.map((p) => p.pass).filter(isSecret);
  }
  if (profile.minerType === "tt-miner") return [profile.config.pass].filter(isSecret);
  return [];
}

/**
 * Replaces every occurrence of the given secrets in text (longest first, so a secret containing
 * another is removed whole).
 *
 * @example
 * ```ts
 * import { Redactor } from "./secrets.ts";
 * new Redactor(["hunter22"]).redact("-p hunter22 -a kawpow"); // "-p [redacted] -a kawpow"
 * ```
 */
export class Redactor {
  readonly #secrets: string[];

  /** Creates a redactor for `secrets` (placeholders shorter than 4 characters are ignored). */
  constructor(secrets: readonly string[]) {
    this.#secrets = [...new Set(secrets.filter(isSecret))].sort((a, b) => b.length - a.length);
  }

  /** Whether there is anything to redact. */
  get empty(): boolean {
    return this.#secrets.length === 0;
  }

  /** `text` with every secret replaced by {@link REDACTED}. */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.replaceAll(s, REDACTED);
    return out;
  }
}

/** A profile as shown outside the node's own files: passwords replaced by {@link SECRET_MASK}. */
export function maskProfile(profile: Profile): Profile {
  const mask = (p: string) => (isSecret(p) ? SECRET_MASK : p);
  if (profile.minerType === "xmrig") {
    return {
      ...profile,
      config: {
        ...profile.config,
        pools: profile.config.pools.map((pool) => ({ ...pool, pass: mask(pool.pass) })),
      },
    };
  }
  if (profile.minerType === "tt-miner") {
    return { ...profile, config: { ...profile.config, pass: mask(profile.config.pass) } };
  }
  return profile;
}

/**
 * A profile config sent back after being shown masked: each password that is still
 * {@link SECRET_MASK} gets the stored one (the pool with the same URL, else the same position).
 */
export function unmaskConfig(config: unknown, stored: Profile): unknown {
  if (typeof config !== "object" || config === null) return config;
  const c = config as Record<string, unknown>;
  if (stored.minerType === "xmrig" && Array.isArray(c.pools)) {
    const old = stored.config.pools;
    return {
      ...c,
      pools: c.pools.map((p: unknown, i: number) => {
        if (typeof p !== "object" || p === null) return p;
        const pool = p as Record<string, unknown>;
        if (pool.pass !== SECRET_MASK) return pool;
        const match = old.find((o) => o.url === pool.url) ?? old[i];
        return { ...pool, pass: match?.pass ?? "x" };
      }),
    };
  }
  if (stored.minerType === "tt-miner" && c.pass === SECRET_MASK) {
    return { ...c, pass: stored.config.pass };
  }
  return c;
}
