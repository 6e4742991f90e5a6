/**
 * The audit log: one JSON line per state-changing command a worker received (accepted or
 * refused), appended to `<data>/audit.log` (mode 0600).
 * @module
 */
import { join } from "node:path";
import type { NodePaths } from "../store/mod.ts";

/** One audit record. */
export interface AuditRecord {
  /** When (RFC 3339). */
  ts: string;
  /** Authenticated node ID of the requester. */
  peer: string;
  /** Its name as registered (or as it announced itself). */
  peerName: string;
  /** The role this node recorded for it, or null when unregistered. */
  role: string | null;
  /** Command (`start_miner`, `stop_miner`, `deploy`, ...). */
  action: string;
  /** Command parameters (never secrets). */
  params: Record<string, unknown>;
  /** What happened. */
  outcome: "ok" | "refused" | "failed";
  /** Why it was refused or failed. */
  reason?: string;
  /** The worker-policy setting that refused it (`remote-custom=deny`, ...). */
  policy?: string;
}

/** Path of the audit log. */
export function auditLogPath(paths: NodePaths): string {
  return join(paths.dataDir, "audit.log");
}

/** Appends records to the audit log. */
export class AuditLog {
  #queue: Promise<void> = Promise.resolve();
  /** Creates the log for a node. */
  constructor(readonly path: string) {}

  /** Appends one record (writes are serialized). */
  append(record: Omit<AuditRecord, "ts">): Promise<void> {
    const line = JSON.stringify({ ts: new Date().toISOString(), ...record }) + "\n";
    this.#queue = this.#queue.catch(() => {}).then(async () => {
      await Deno.mkdir(join(this.path, ".."), { recursive: true, mode: 0o700 });
      await Deno.writeTextFile(this.path, line, { append: true, create: true, mode: 0o600 });
    });
    return this.#queue;
  }

  /** Reads every record (for tests and `remote` tooling). */
  async read(): Promise<AuditRecord[]> {
    try {
      return (await Deno.readTextFile(this.path)).split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      );
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
  }
}
