/**
 * Thresholds of the health model: fleet defaults, per-rig and per-profile overrides, stored in
 * `health.json` (config home, written atomically under a lock), resolved for one rig and miner.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import {
  DEFAULT_THRESHOLDS,
  type HealthConfig,
  HealthConfigSchema,
  type ThresholdOverride,
  ThresholdOverrideSchema,
  type Thresholds,
  ThresholdsSchema,
} from "../protocol/mod.ts";
import { MtimeCache, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";

/** A threshold change was refused (unknown key, value out of range). */
export class ThresholdError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_request" });
    this.name = "ThresholdError";
  }
}

/** Names of the thresholds. */
export const THRESHOLD_KEYS: readonly (keyof Thresholds)[] = Object.keys(
  ThresholdsSchema.shape,
) as (keyof Thresholds)[];

/** An empty configuration (every default). */
export function emptyHealthConfig(): HealthConfig {
  return { version: 1, defaults: {}, rigs: {}, profiles: {} };
}

/** Where an override applies. */
export type ThresholdScope =
  | { kind: "defaults" }
  | { kind: "rig"; ref: string }
  | { kind: "profile"; ref: string };

/** Who a threshold lookup is for. */
export interface ThresholdSubject {
  /** Rig ID and name. */
  rig?: { id: string; name: string };
  /** Miner's profile ID (and name, when known). */
  profile?: { id: string | null; name?: string | null };
}

/** The thresholds for a subject: defaults < fleet defaults < profile < rig. */
export function resolveThresholds(
  config: HealthConfig,
  subject: ThresholdSubject = {},
): Thresholds {
  const out: Thresholds = { ...DEFAULT_THRESHOLDS, ...config.defaults };
  const p = subject.profile;
  if (p) {
    const o = (p.id && config.profiles[p.id]) || (p.name && config.profiles[p.name]) || undefined;
    if (o) Object.assign(out, o);
  }
  const r = subject.rig;
  if (r) {
    const o = config.rigs[r.id] ?? config.rigs[r.name];
    if (o) Object.assign(out, o);
  }
  return out;
}

/** Parses `key=value` pairs into a validated override. */
export function parseThresholdPairs(pairs: readonly string[]): ThresholdOverride {
  const raw: Record<string, number> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ThresholdError(`expected KEY=VALUE, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    if (!(THRESHOLD_KEYS as readonly string[]).includes(key)) {
      throw new ThresholdError(`unknown threshold ${key}: one of ${THRESHOLD_KEYS.join(", ")}`);
    }
    const value = Number(pair.slice(eq + 1));
    if (!Number.isFinite(value)) throw new ThresholdError(`${key} must be a number`);
    raw[key] = value;
  }
  return validateOverride(raw);
}

/** Validates an override (throws {@link ThresholdError} naming the field). */
export function validateOverride(raw: unknown): ThresholdOverride {
  const parsed = ThresholdOverrideSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ThresholdError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "thresholds"}: ${i.message}`).join(
        "; ",
      ),
    );
  }
  return parsed.data;
}

/** `health.json`: read, changed under a lock, written atomically. */
export class HealthConfigStore {
  readonly #cache: MtimeCache<HealthConfig>;

  /** The store at `path`. */
  constructor(readonly path: string) {
    this.#cache = new MtimeCache(path, () => this.load(), emptyHealthConfig);
  }

  /** The configuration (empty when the file does not exist). */
  async load(): Promise<HealthConfig> {
    return (await readJsonFile(this.path, HealthConfigSchema)) ?? emptyHealthConfig();
  }

  /** The configuration, re-read only when the file changed (for the evaluation loop). */
  current(): Promise<HealthConfig> {
    return this.#cache.get();
  }

  /** Sets and unsets thresholds in one scope; returns the new configuration. */
  async update(
    scope: ThresholdScope,
    change: { set?: ThresholdOverride; unset?: readonly string[] },
  ): Promise<HealthConfig> {
    for (const k of change.unset ?? []) {
      if (!(THRESHOLD_KEYS as readonly string[]).includes(k)) {
        throw new ThresholdError(`unknown threshold ${k}: one of ${THRESHOLD_KEYS.join(", ")}`);
      }
    }
    const set = validateOverride(change.set ?? {});
    return await withFileLock(this.path, async () => {
      const config = await this.load();
      const target: Record<string, ThresholdOverride> | null = scope.kind === "defaults"
        ? null
        : scope.kind === "rig"
        ? config.rigs
        : config.profiles;
      const current: ThresholdOverride = target
        ? { ...(target[(scope as { ref: string }).ref] ?? {}) }
        : {
          ...config.defaults,
        };
      Object.assign(current, set);
      for (const k of change.unset ?? []) delete current[k as keyof ThresholdOverride];
      if (target) {
        const ref = (scope as { ref: string }).ref;
        if (Object.keys(current).length) target[ref] = current;
        else delete target[ref];
      } else config.defaults = current;
      await writeJsonAtomic(this.path, HealthConfigSchema.parse(config));
      this.#cache.invalidate();
      return config;
    });
  }
}
