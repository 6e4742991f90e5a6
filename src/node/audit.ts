/**
 * The audit log: one JSON line per state-changing command a worker received (accepted or
 * refused), appended to `<data>/audit.log` (mode 0600). Control commands are recorded twice: the
 * attempt before the action, the outcome after it, so a crash in between still shows what was
 * tried.
 *
 * A record is appended whole or not at all: it is written in one call and, when that fails (a
 * full disk), the file is cut back to where it was. A torn last line left by a crash is cut off
 * when the log is next opened; a reader skips and counts lines it cannot parse instead of failing.
 * @module
 */
import { Buffer } from "node:buffer";
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
  /** What happened (`attempt`: about to act; the outcome follows). */
  outcome: "attempt" | "ok" | "refused" | "failed";
  /** Why it was refused or failed. */
  reason?: string;
  /** The worker-policy setting that refused it (`remote-custom=deny`, ...). */
  policy?: string;
  /** The request's message ID (a retried request keeps it). */
  request?: string;
  /** For this node's operator's own actions: through the dashboard, a script, or the CLI. */
  source?: "ui" | "api" | "cli";
}

/** Online/offline records: kept apart from commands so they do not drown them. */
export function isPresence(r: Pick<AuditRecord, "action">): boolean {
  return r.action === "peer_online" || r.action === "peer_offline";
}

/** What {@link AuditLog.read} found. */
export interface AuditReadResult {
  /** The records that parsed. */
  records: AuditRecord[];
  /** Lines that did not parse (a torn write), by 1-based line number. */
  torn: number[];
}

/** Path of the audit log. */
export function auditLogPath(paths: NodePaths): string {
  return join(paths.dataDir, "audit.log");
}

const encoder = new TextEncoder();

/** Records waiting to go to the log in one write. */
interface Batch {
  lines: Uint8Array[];
  bytes: number;
  done: Promise<void>;
}

/** Appends records to the audit log. */
export class AuditLog {
  #queue: Promise<void> = Promise.resolve();
  #batch: Batch | null = null;
  #writes = 0;
  #checked = false;
  /** Writes made since this handle was created (each carries one record or more). */
  get writes(): number {
    return this.#writes;
  }

  /** Called when a torn tail was cut off at open (for the node's log). */
  onRepair: ((bytes: number) => void) | null = null;

  /** Creates the log for a node. */
  constructor(readonly path: string) {}

  /**
   * Appends one record, whole or not at all. Writes are serialized, and records that come while
   * one is being written go together in the next write (10,000 rigs coming back after a restart
   * are a few writes, not 10,000 opens and writes).
   */
  append(record: Omit<AuditRecord, "ts">): Promise<void> {
    const line = encoder.encode(
      JSON.stringify({ ts: new Date().toISOString(), ...record }) + "\n",
    );
    // A batch holds at most 1 MiB: a failed write (a full disk) fails that many records, not all.
    if (this.#batch && this.#batch.bytes + line.length <= 1 << 20) {
      this.#batch.lines.push(line);
      this.#batch.bytes += line.length;
      return this.#batch.done;
    }
    const batch: Batch = { lines: [line], bytes: line.length, done: Promise.resolve() };
    this.#batch = batch;
    batch.done = this.#queue.catch(() => {}).then(() => {
      if (this.#batch === batch) this.#batch = null; // later records make the next batch
      this.#writes++;
      return this.#append(batch.lines.length === 1 ? batch.lines[0] : Buffer.concat(batch.lines));
    });
    this.#queue = batch.done;
    return batch.done;
  }

  async #append(line: Uint8Array): Promise<void> {
    await Deno.mkdir(join(this.path, ".."), { recursive: true, mode: 0o700 });
    const file = await Deno.open(this.path, { read: true, write: true, create: true, mode: 0o600 });
    try {
      let size = (await file.stat()).size;
      if (!this.#checked) {
        size = await this.#repairTail(file, size);
        this.#checked = true;
      }
      await file.seek(size, Deno.SeekMode.Start);
      try {
        let off = 0;
        while (off < line.length) off += await file.write(line.subarray(off));
      } catch (err) {
        // No half record: cut the file back to where this one began.
        await file.truncate(size).catch(() => {});
        throw err;
      }
    } finally {
      file.close();
    }
  }

  /** Cuts a last line without its newline (a write torn by a crash); returns the new size. */
  async #repairTail(file: Deno.FsFile, size: number): Promise<number> {
    if (size === 0) return 0;
    const tailLen = Math.min(size, 64 * 1024);
    const tail = new Uint8Array(tailLen);
    await file.seek(size - tailLen, Deno.SeekMode.Start);
    let got = 0;
    while (got < tailLen) {
      const n = await file.read(tail.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (tail[tailLen - 1] === 0x0a) return size;
    const lastNewline = tail.lastIndexOf(0x0a);
    const keep = lastNewline < 0 ? (size > tailLen ? size - tailLen : 0) : size - tailLen +
      lastNewline + 1;
    await file.truncate(keep);
    this.onRepair?.(size - keep);
    return keep;
  }

  /**
   * The newest records (at most `limit`, newest first) of a scope, from the last 4 MiB of the
   * log: what the API and the dashboard show without reading a log of any size whole.
   */
  async tail(
    options: { limit?: number; scope?: "commands" | "presence" | "all" } = {},
  ): Promise<AuditRecord[]> {
    const limit = options.limit ?? 200;
    const scope = options.scope ?? "commands";
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    try {
      const size = (await file.stat()).size;
      const len = Math.min(size, 4 * 1024 * 1024);
      const buf = new Uint8Array(len);
      await file.seek(size - len, Deno.SeekMode.Start);
      let got = 0;
      while (got < len) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      const lines = new TextDecoder().decode(buf.subarray(0, got)).split("\n");
      if (len < size) lines.shift(); // a partial first line
      const out: AuditRecord[] = [];
      for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
        if (!lines[i]) continue;
        try {
          const r = JSON.parse(lines[i]) as AuditRecord;
          if (!r || typeof r.action !== "string") continue;
          const presence = isPresence(r);
          if (scope === "all" || (scope === "presence") === presence) out.push(r);
        } catch { /* a torn line */ }
      }
      return out;
    } finally {
      file.close();
    }
  }

  /** Reads every record that parses, and says which lines did not. */
  async read(): Promise<AuditReadResult> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { records: [], torn: [] };
      throw err;
    }
    const records: AuditRecord[] = [];
    const torn: number[] = [];
    text.split("\n").forEach((line, i) => {
      if (!line) return;
      try {
        const r = JSON.parse(line);
        if (r && typeof r === "object" && typeof r.action === "string") records.push(r);
        else torn.push(i + 1);
      } catch {
        torn.push(i + 1);
      }
    });
    return { records, torn };
  }
}
