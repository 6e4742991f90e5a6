/**
 * Profiles assigned to tags (like a HiveOS flight sheet): every rig with the tag is started on the
 * profile when the assignment is made or changed, and a rig that gets the tag later is started
 * then. It acts on changes only, never as a loop that fights the operator: a miner stopped by
 * hand stays stopped. A changed assignment stops the previous profile where it had been started
 * by it, then starts the new one. The rollout's result is kept per rig (`<config>/assignments.json`,
 * written atomically under a lock).
 * @module
 */
import { z } from "zod";
import { MinerCliError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { ProfileStore } from "../miners/mod.ts";
import { TagSchema } from "../peers/mod.ts";
import { type Assignment, AssignmentSchema } from "../protocol/mod.ts";
import { readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import type { Fleet } from "./fleet.ts";

const FileSchema = z.object({ version: z.literal(1), assignments: z.array(AssignmentSchema) });

/** Bad assignment input. */
export class AssignmentError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, status: 400 | 404 = 400) {
    super(message, { status, code: status === 404 ? "not_found" : "bad_request" });
    this.name = "AssignmentError";
  }
}

/** `assignments.json`. */
export class AssignmentStore {
  /** The store at `path`. */
  constructor(readonly path: string) {}

  /** Every assignment. */
  async list(): Promise<Assignment[]> {
    return (await readJsonFile(this.path, FileSchema))?.assignments ?? [];
  }

  /** Changes the file under its lock. */
  async change<T>(fn: (all: Assignment[]) => T | Promise<T>): Promise<T> {
    return await withFileLock(this.path, async () => {
      const all = await this.list();
      const out = await fn(all);
      await writeJsonAtomic(this.path, { version: 1, assignments: all });
      return out;
    });
  }

  /** Assigns a profile to a tag (replacing the tag's previous one). */
  async assign(tag: string, profile: { id: string; name: string }): Promise<Assignment> {
    if (!TagSchema.safeParse(tag).success) {
      throw new AssignmentError(
        `bad tag ${JSON.stringify(tag)}: 1-32 lowercase letters, digits, . _ -`,
      );
    }
    return await this.change((all) => {
      const i = all.findIndex((a) => a.tag === tag);
      const prev = i >= 0 ? all[i] : null;
      // The same profile again keeps the rollout; another one starts a new rollout (the
      // reconciler stops the previous profile where this assignment had started it).
      const a: Assignment = prev && prev.profileId === profile.id ? prev : {
        tag,
        profileId: profile.id,
        profileName: profile.name,
        createdAt: new Date().toISOString(),
        rollout: {},
      };
      if (prev && prev.profileId !== profile.id) {
        a.replaces = {
          profileId: prev.profileId,
          rigs: Object.entries(prev.rollout).filter(([, r]) => r.outcome === "started").map((
            [id],
          ) => id),
        };
      }
      if (i >= 0) all[i] = a;
      else all.push(a);
      return a;
    });
  }

  /** Removes a tag's assignment (its miners keep running). */
  async unassign(tag: string): Promise<Assignment> {
    return await this.change((all) => {
      const i = all.findIndex((a) => a.tag === tag);
      if (i < 0) {
        throw new AssignmentError(`no profile is assigned to tag ${JSON.stringify(tag)}`, 404);
      }
      return all.splice(i, 1)[0];
    });
  }
}

/** Options for {@link startAssignments}. */
export interface AssignmentsOptions {
  /** How often to look for rigs to start (default 5 s). */
  intervalMs?: number;
  /** Logger. */
  logger: Logger;
  /** Called after a rig's rollout changed (for events). */
  onChange?: () => void;
}

/** The running reconciler. */
export interface Assignments {
  /** Looks now (after a change of tags or assignments). */
  kick(): Promise<void>;
  /** Stops it. */
  stop(): void;
}

/**
 * Rolls assignments out: each pass starts the assigned profile on every online rig with the tag
 * that this assignment has not started yet (failed starts are retried with backoff, at most every
 * 2^attempts × 5 s), and forgets rigs that lost the tag.
 */
export function startAssignments(
  fleet: Fleet,
  store: AssignmentStore,
  profiles: ProfileStore,
  options: AssignmentsOptions,
): Assignments {
  let running: Promise<void> | null = null;
  const pass = async () => {
    const all = await store.list().catch(() => [] as Assignment[]);
    if (!all.length) return;
    // Tags may have been changed by a CLI command on this home meanwhile.
    await fleet.mesh.registry.refresh().catch(() => {});
    const rigs = fleet.workers();
    const work: {
      tag: string;
      rig: string;
      name: string;
      profileId: string;
      stopFirst?: string;
    }[] = [];
    const now = Date.now();
    for (const a of all) {
      const replaces = a.replaces;
      for (const r of rigs) {
        if (!r.tags.includes(a.tag)) continue;
        const done = a.rollout[r.id];
        if (done?.outcome === "started") continue;
        if (done?.outcome === "failed") {
          const wait = Math.min(300_000, 5000 * 2 ** Math.min(done.attempts, 6));
          if (now - Date.parse(done.at) < wait) continue;
        }
        work.push({
          tag: a.tag,
          rig: r.id,
          name: r.name,
          profileId: a.profileId,
          ...(replaces?.rigs.includes(r.id) ? { stopFirst: replaces.profileId } : {}),
        });
      }
    }
    // Rigs that lost the tag are forgotten (the tag coming back starts the profile again).
    const changedTags = all.some((a) =>
      Object.keys(a.rollout).some((id) => !rigs.find((r) => r.id === id)?.tags.includes(a.tag))
    );
    if (!work.length && !changedTags) return;
    const results = new Map<string, { outcome: "started" | "failed"; error?: string }>();
    await Promise.all(work.map(async (w) => {
      try {
        if (w.stopFirst) {
          const old = await profiles.get(w.stopFirst).catch(() => null);
          if (old) await fleet.stop(w.rig, { minerName: old.name }).catch(() => {});
        }
        await fleet.start(w.rig, { profileRef: w.profileId });
        results.set(`${w.tag}|${w.rig}`, { outcome: "started" });
        options.logger.info("assignment_started", {
          tag: w.tag,
          rig: w.name,
          profile: w.profileId,
        });
      } catch (err) {
        results.set(`${w.tag}|${w.rig}`, {
          outcome: "failed",
          error: (err as Error).message.slice(0, 500),
        });
        options.logger.warn("assignment_failed", {
          tag: w.tag,
          rig: w.name,
          error: (err as Error).message,
        });
      }
    }));
    await store.change((list) => {
      const ids = new Map(fleet.workers().map((r) => [r.id, r]));
      for (const a of list) {
        for (const id of Object.keys(a.rollout)) {
          if (!ids.get(id)?.tags.includes(a.tag)) delete a.rollout[id];
        }
        for (const [key, r] of results) {
          const [tag, rig] = key.split("|");
          if (tag !== a.tag) continue;
          const prev = a.rollout[rig];
          a.rollout[rig] = {
            outcome: r.outcome,
            at: new Date().toISOString(),
            ...(r.error ? { error: r.error } : {}),
            attempts: r.outcome === "failed" ? (prev?.attempts ?? 0) + 1 : 0,
          };
        }
        if (a.replaces && Object.values(a.rollout).every((r) => r.outcome === "started")) {
          delete a.replaces;
        }
      }
    }).catch((err) =>
      options.logger.warn("assignments_write_failed", { reason: (err as Error).message })
    );
    options.onChange?.();
  };
  const kick = (): Promise<void> => {
    running ??= pass().catch((err) =>
      options.logger.warn("assignments_failed", { reason: (err as Error).message })
    ).finally(() => running = null);
    return running;
  };
  const timer = setInterval(() => void kick(), options.intervalMs ?? 5000);
  return { kick, stop: () => clearInterval(timer) };
}
