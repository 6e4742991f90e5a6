/**
 * Run records: for every miner process a node starts, `<data>/run/<profile id>/process.json`
 * holds its PID, start time and binary, and the node's own PID and start time. A record outlives
 * its process only when the node died without stopping the miner; the next node to start on the
 * home reads the records before starting any miner and stops each survivor, so there are never
 * two miners for one profile.
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "../store/mod.ts";

/** One miner process as recorded at spawn. */
export const RunRecordSchema = z.object({
  version: z.literal(1),
  profileId: z.string().min(1).max(64),
  miner: z.string().min(1).max(64),
  pid: z.number().int().positive(),
  /** The process's start time as `ps` reports it (null: could not be read). */
  startTime: z.string().max(100).nullable(),
  binary: z.string().max(4096),
  nodePid: z.number().int().positive(),
  nodeStartTime: z.string().max(100).nullable(),
  spawnedAt: z.iso.datetime(),
}).strict();
/** A run record. */
export type RunRecord = z.infer<typeof RunRecordSchema>;

const RECORD_FILE = "process.json";

/** The run records of a node's miners (`<data>/run`). */
export class RunRecords {
  /** Records under `runDir` (`<data>/run`). */
  constructor(readonly runDir: string) {}

  /** Where a profile's record lives. */
  pathOf(profileId: string): string {
    return join(this.runDir, profileId, RECORD_FILE);
  }

  /** Writes a record (atomically, 0600). */
  async write(record: RunRecord): Promise<void> {
    await writeJsonAtomic(this.pathOf(record.profileId), record, { mode: 0o600 });
  }

  /** Removes a profile's record, if it is still the one for `pid`. */
  async remove(profileId: string, pid?: number): Promise<void> {
    if (pid !== undefined) {
      const cur = await this.read(profileId).catch(() => undefined);
      if (cur && cur.pid !== pid) return;
    }
    await Deno.remove(this.pathOf(profileId)).catch(() => {});
  }

  /** One profile's record. */
  read(profileId: string): Promise<RunRecord | undefined> {
    return readJsonFile(this.pathOf(profileId), RunRecordSchema);
  }

  /** Every record (unreadable ones are reported through `onBad` and removed). */
  async list(onBad: (path: string, reason: string) => void = () => {}): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    try {
      for await (const e of Deno.readDir(this.runDir)) {
        if (!e.isDirectory) continue;
        const path = join(this.runDir, e.name, RECORD_FILE);
        try {
          const rec = await readJsonFile(path, RunRecordSchema);
          if (rec) out.push(rec);
        } catch (err) {
          onBad(path, (err as Error).message);
          await Deno.remove(path).catch(() => {});
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  }
}
