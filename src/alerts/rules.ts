/**
 * Alert rules: one per health reason, on by default where an operator needs to hear about it,
 * with a severity, a for-duration (how long the reason must hold before the alert fires) and a
 * scope (rigs, tags). Operators' changes live in `alert_rules.json` (config home); a rule's
 * threshold is the health model's fleet default (`health.json`), so there is one number, not two.
 * @module
 */
import { z } from "zod";
import { MinerCliError } from "../errors/mod.ts";
import {
  type AlertRule,
  type ReasonCode,
  ReasonCodeSchema,
  SeveritySchema,
  type Thresholds,
} from "../protocol/mod.ts";
import { MtimeCache, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";

/** The default rules (what `alerts rules list` shows before any change). */
export const DEFAULT_RULES: readonly Omit<AlertRule, "threshold">[] = [
  rule("rig_offline", "rig offline", "critical", 120, null),
  rule("miner_down", "miner down", "critical", 0, null),
  rule("hashrate_zero", "hashrate 0", "critical", 0, "zeroForSeconds"),
  rule("below_expected", "hashrate below expected", "warning", 0, "expectedFraction"),
  rule("high_rejects", "high reject rate", "warning", 0, "rejectRate"),
  rule("device_temperature", "device temperature over limit", "critical", 30, "gpuTempLimit"),
  rule("fan_failure", "fan failure", "critical", 0, "fanHotTemp"),
  rule("crash_loop", "crash loop", "critical", 0, "crashLoopRestarts"),
  rule("pool_disconnected", "pool disconnected", "warning", 120, "poolGraceSeconds"),
  rule("api_unresponsive", "miner API not answering", "warning", 60, null),
  rule("restarting", "miner restarted", "info", 0, null, false),
  rule("stale", "stale data", "info", 0, "staleSeconds", false),
];

function rule(
  id: ReasonCode,
  title: string,
  severity: AlertRule["severity"],
  forSeconds: number,
  thresholdKey: keyof Thresholds | null,
  enabled = true,
): Omit<AlertRule, "threshold"> {
  return { id, title, enabled, severity, forSeconds, thresholdKey, rigs: [], tags: [] };
}

/** An operator's change to one rule. */
export const RuleOverrideSchema = z.object({
  enabled: z.boolean().optional(),
  severity: SeveritySchema.optional(),
  forSeconds: z.number().int().min(0).max(604_800).optional(),
  rigs: z.array(z.string().min(1).max(64)).max(1000).optional(),
  tags: z.array(z.string().min(1).max(32)).max(100).optional(),
}).strict();
/** A rule override. */
export type RuleOverride = z.infer<typeof RuleOverrideSchema>;

const RulesFileSchema = z.object({
  version: z.literal(1),
  rules: z.partialRecord(ReasonCodeSchema, RuleOverrideSchema),
}).strict();

/** No such rule. */
export class UnknownRuleError extends MinerCliError {
  /** Creates the error. */
  constructor(id: string) {
    super(
      `no alert rule ${JSON.stringify(id)}: one of ${DEFAULT_RULES.map((r) => r.id).join(", ")}`,
      {
        status: 404,
        code: "not_found",
      },
    );
    this.name = "UnknownRuleError";
  }
}

/** The effective rules: defaults, the operator's changes, thresholds from the health model. */
export function effectiveRules(
  overrides: Partial<Record<ReasonCode, RuleOverride>>,
  thresholds: Thresholds,
): AlertRule[] {
  return DEFAULT_RULES.map((r) => ({
    ...r,
    ...(overrides[r.id] ?? {}),
    threshold: r.thresholdKey ? thresholds[r.thresholdKey as keyof Thresholds] : null,
  }));
}

/** Whether a rule applies to a rig. */
export function ruleApplies(
  r: Pick<AlertRule, "rigs" | "tags">,
  rig: { id: string; name: string; tags: readonly string[] },
): boolean {
  if (
    r.rigs.length && !r.rigs.some((x) => x === rig.id || x === rig.name || rig.id.startsWith(x))
  ) {
    return false;
  }
  if (r.tags.length && !r.tags.some((t) => rig.tags.includes(t))) return false;
  return true;
}

/** `alert_rules.json`. */
export class RulesStore {
  readonly #cache: MtimeCache<Partial<Record<ReasonCode, RuleOverride>>>;

  /** The store at `path`. */
  constructor(readonly path: string) {
    this.#cache = new MtimeCache(path, () => this.load(), () => ({}));
  }

  /** The operator's changes. */
  async load(): Promise<Partial<Record<ReasonCode, RuleOverride>>> {
    return (await readJsonFile(this.path, RulesFileSchema))?.rules ?? {};
  }

  /** The changes, re-read only when the file changed. */
  current(): Promise<Partial<Record<ReasonCode, RuleOverride>>> {
    return this.#cache.get();
  }

  /** Changes one rule. */
  async set(id: string, change: RuleOverride): Promise<RuleOverride> {
    if (!ReasonCodeSchema.safeParse(id).success) throw new UnknownRuleError(id);
    const parsed = RuleOverrideSchema.safeParse(change);
    if (!parsed.success) {
      throw new MinerCliError(
        `invalid rule change: ${
          parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        }`,
        { status: 400, code: "bad_request" },
      );
    }
    return await withFileLock(this.path, async () => {
      const rules = await this.load();
      const next = { ...(rules[id as ReasonCode] ?? {}), ...parsed.data };
      rules[id as ReasonCode] = next;
      await writeJsonAtomic(this.path, { version: 1, rules });
      this.#cache.invalidate();
      return next;
    });
  }
}
