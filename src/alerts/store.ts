/**
 * What the alert engine keeps on disk: silences and acknowledgements (config home, changed by the
 * CLI or the API under a lock, re-read by the engine when they change) and the alerts themselves
 * (data home, written only by the engine, atomically), so a restart neither re-sends a firing
 * alert nor forgets one.
 * @module
 */
import { z } from "zod";
import { MinerCliError } from "../errors/mod.ts";
import {
  type Alert,
  AlertSchema,
  type ReasonCode,
  ReasonCodeSchema,
  type Silence,
  SilenceSchema,
} from "../protocol/mod.ts";
import { MtimeCache, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";

/** Bad silence or acknowledgement input. */
export class AlertInputError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, status: 400 | 404 = 400) {
    super(message, { status, code: status === 404 ? "not_found" : "bad_request" });
    this.name = "AlertInputError";
  }
}

/** One acknowledgement: the alert with this key stops repeating until it resolves. */
export const AckSchema = z.object({
  key: z.string().max(300),
  id: z.string().max(16),
  at: z.string(),
  by: z.string().max(64),
  reason: z.string().max(500),
});
/** An acknowledgement. */
export type Ack = z.infer<typeof AckSchema>;

const SilencesFile = z.object({ version: z.literal(1), silences: z.array(SilenceSchema) });
const AcksFile = z.object({ version: z.literal(1), acks: z.array(AckSchema) });

/** Silences and acknowledgements. */
export class AlertControls {
  readonly #silences: MtimeCache<Silence[]>;
  readonly #acks: MtimeCache<Ack[]>;

  /** Files under the config home. */
  constructor(readonly silencesPath: string, readonly acksPath: string) {
    this.#silences = new MtimeCache(silencesPath, () => this.silences(), () => []);
    this.#acks = new MtimeCache(acksPath, () => this.acks(), () => []);
  }

  /** Every silence (also expired ones not yet pruned). */
  async silences(): Promise<Silence[]> {
    return (await readJsonFile(this.silencesPath, SilencesFile))?.silences ?? [];
  }

  /** Every acknowledgement. */
  async acks(): Promise<Ack[]> {
    return (await readJsonFile(this.acksPath, AcksFile))?.acks ?? [];
  }

  /** Both, re-read only when a file changed. */
  async current(): Promise<{ silences: Silence[]; acks: Ack[] }> {
    const [silences, acks] = await Promise.all([this.#silences.get(), this.#acks.get()]);
    return { silences, acks };
  }

  /** Adds a silence for a rule and/or a rig, `forMs` from now. */
  async addSilence(
    match: { rule?: string | null; rig?: string | null },
    options: { forMs: number; reason: string; by: string; now?: number },
  ): Promise<Silence> {
    if (match.rule && !ReasonCodeSchema.safeParse(match.rule).success) {
      throw new AlertInputError(
        `no alert rule ${JSON.stringify(match.rule)}: one of ${
          ReasonCodeSchema.options.join(", ")
        }`,
      );
    }
    if (!match.rule && !match.rig) throw new AlertInputError("a silence needs a rig or a rule");
    if (!(options.forMs >= 60_000 && options.forMs <= 90 * 86_400_000)) {
      throw new AlertInputError("a silence lasts from 1 minute to 90 days");
    }
    if (!options.reason.trim()) throw new AlertInputError("say why (--reason TEXT)");
    const now = options.now ?? Date.now();
    const silence: Silence = {
      id: crypto.randomUUID().slice(0, 8),
      rule: (match.rule as ReasonCode | undefined) ?? null,
      rig: match.rig ?? null,
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + options.forMs).toISOString(),
      reason: options.reason.slice(0, 500),
      createdBy: options.by.slice(0, 64),
    };
    return await withFileLock(this.silencesPath, async () => {
      // Expired silences older than a week are dropped as new ones come.
      const keep = (await this.silences()).filter((s) =>
        Date.parse(s.endsAt) > now - 7 * 86_400_000
      );
      await writeJsonAtomic(this.silencesPath, { version: 1, silences: [...keep, silence] });
      this.#silences.invalidate();
      return silence;
    });
  }

  /** Ends a silence now. */
  expireSilence(id: string, now: number = Date.now()): Promise<Silence> {
    return withFileLock(this.silencesPath, async () => {
      const all = await this.silences();
      const s = all.find((x) => x.id === id);
      if (!s) {
        throw new AlertInputError(
          `no silence ${JSON.stringify(id)} (see \`miner-cli alerts silences\`)`,
          404,
        );
      }
      s.endsAt = new Date(Math.min(now, Date.parse(s.endsAt))).toISOString();
      await writeJsonAtomic(this.silencesPath, { version: 1, silences: all });
      this.#silences.invalidate();
      return s;
    });
  }

  /** Acknowledges alerts (by key). */
  ack(
    alerts: readonly Pick<Alert, "id" | "key">[],
    options: { by: string; reason: string; now?: number },
  ): Promise<Ack[]> {
    const at = new Date(options.now ?? Date.now()).toISOString();
    const added = alerts.map((a) => ({
      key: a.key,
      id: a.id,
      at,
      by: options.by.slice(0, 64),
      reason: options.reason.slice(0, 500),
    }));
    return withFileLock(this.acksPath, async () => {
      const week = Date.now() - 7 * 86_400_000;
      const keep = (await this.acks()).filter((a) =>
        Date.parse(a.at) > week && !added.some((n) => n.key === a.key)
      );
      await writeJsonAtomic(this.acksPath, {
        version: 1,
        acks: [...keep, ...added].slice(-10_000),
      });
      this.#acks.invalidate();
      return added;
    });
  }
}

/** Whether a silence matches an alert at `now`. */
export function silenceMatches(
  s: Silence,
  a: Pick<Alert, "rule" | "rig" | "rigId">,
  now: number,
): boolean {
  if (Date.parse(s.startsAt) > now || Date.parse(s.endsAt) <= now) return false;
  if (s.rule && s.rule !== a.rule) return false;
  if (s.rig && s.rig !== a.rig && s.rig !== a.rigId && !a.rigId.startsWith(s.rig)) return false;
  return true;
}

/** The engine's persisted state. */
export const AlertStateFileSchema = z.object({
  version: z.literal(1),
  savedAt: z.string(),
  alerts: z.array(AlertSchema),
  history: z.array(AlertSchema),
});
/** The engine's persisted state. */
export type AlertStateFile = z.infer<typeof AlertStateFileSchema>;

/** Resolved alerts of the last 24 h, newest first, at most 100 (what `alerts list` shows). */
export function recentlyResolved(history: readonly Alert[], now: number): Alert[] {
  const day = now - 86_400_000;
  return history.filter((a) => Date.parse(a.resolvedAt ?? a.activeAt) >= day).slice(-100).reverse();
}

/** Reads the engine's state (empty when none). */
export async function readAlertState(path: string): Promise<AlertStateFile> {
  return (await readJsonFile(path, AlertStateFileSchema, { moveAsideOnCorrupt: true }).catch(() =>
    undefined
  )) ??
    { version: 1, savedAt: new Date(0).toISOString(), alerts: [], history: [] };
}

/** Writes the engine's state atomically. */
export function writeAlertState(path: string, state: AlertStateFile): Promise<void> {
  return writeJsonAtomic(path, state);
}
