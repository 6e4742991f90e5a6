/**
 * Delivery of notifications: one queue per channel, so a channel that is down delays only
 * itself. A failed delivery is retried with exponential backoff and jitter (1 s, 2 s, 4 s ...,
 * at most 60 s apart, 8 attempts); the last result of every channel is kept in
 * `<data>/alerts/deliveries.json` for `alerts channels`.
 * @module
 */
import { z } from "zod";
import { backoffDelay } from "../backoff/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { type DeliveryStatus, DeliveryStatusSchema } from "../protocol/mod.ts";
import { readJsonFile, writeJsonAtomic } from "../store/mod.ts";
import { type ChannelConfig, deliver, type Notification } from "./channels.ts";
import { defined } from "./options.ts";

/** Options for {@link Dispatcher}. */
export interface DispatcherOptions {
  /** Where the delivery status is kept (null: memory only). */
  statusPath: string | null;
  /** First retry delay (default 1 s). */
  retryBaseMs?: number;
  /** Longest retry delay (default 60 s). */
  retryMaxMs?: number;
  /** Attempts per delivery (default 8). */
  maxAttempts?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** Alertmanager re-send period, for the alerts' `endsAt` (default 60 s). */
  resendMs?: number;
  /** Logger. */
  logger?: Logger;
  /** The delivery function (tests may count calls; default: {@link deliver}). */
  deliver?: typeof deliver;
}

const StatusFile = z.object({
  version: z.literal(1),
  channels: z.record(z.string(), DeliveryStatusSchema),
});

/** A channel nothing was delivered to yet. */
export const NO_DELIVERY: DeliveryStatus = {
  at: null,
  ok: null,
  error: null,
  attempts: 0,
  delivered: 0,
  failed: 0,
  queued: 0,
};

/** Reads the delivery status file (for a CLI without a running node). */
export async function readDeliveryStatus(path: string): Promise<Record<string, DeliveryStatus>> {
  return (await readJsonFile(path, StatusFile).catch(() => undefined))?.channels ?? {};
}

interface Queue {
  items: { channel: ChannelConfig; n: Notification }[];
  running: boolean;
}

const MAX_QUEUE = 100;

/** Per-channel delivery queues with retries. */
export class Dispatcher {
  readonly #opts: Required<Omit<DispatcherOptions, "statusPath">> & { statusPath: string | null };
  readonly #queues = new Map<string, Queue>();
  readonly #status = new Map<string, DeliveryStatus>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #waiters: (() => void)[] = [];
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** A dispatcher; call {@link Dispatcher.load} to restore the last status. */
  constructor(options: DispatcherOptions) {
    this.#opts = {
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      maxAttempts: 8,
      timeoutMs: 10_000,
      resendMs: 60_000,
      logger: silentLogger,
      deliver,
      ...defined(options),
    };
  }

  /** Restores the status of the last run. */
  async load(): Promise<void> {
    if (!this.#opts.statusPath) return;
    for (const [k, v] of Object.entries(await readDeliveryStatus(this.#opts.statusPath))) {
      this.#status.set(k, { ...v, queued: 0 });
    }
  }

  /** A channel's delivery status. */
  status(name: string): DeliveryStatus {
    return {
      ...(this.#status.get(name) ?? NO_DELIVERY),
      queued: this.#queues.get(name)?.items.length ?? 0,
    };
  }

  /** Queues a notification for a channel (never waits for it). */
  send(channel: ChannelConfig, n: Notification): void {
    if (this.#closed) return;
    let q = this.#queues.get(channel.name);
    if (!q) this.#queues.set(channel.name, q = { items: [], running: false });
    q.items.push({ channel, n });
    if (q.items.length > MAX_QUEUE) {
      q.items.shift();
      this.#record(channel.name, {
        ok: false,
        error: "queue full: oldest notification dropped",
        attempts: 0,
      }, "failed");
    }
    if (!q.running) void this.#run(channel.name, q);
  }

  /** Resolves when every queue is empty (tests). */
  idle(): Promise<void> {
    if ([...this.#queues.values()].every((q) => !q.running && q.items.length === 0)) {
      return Promise.resolve();
    }
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Stops retrying; writes the status. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const q of this.#queues.values()) q.items.length = 0;
    clearTimeout(this.#saveTimer);
    await this.#save();
  }

  async #run(name: string, q: Queue): Promise<void> {
    q.running = true;
    try {
      while (q.items.length && !this.#closed) {
        const { channel, n } = q.items[0];
        let attempt = 0;
        for (;;) {
          attempt++;
          try {
            await this.#opts.deliver(channel, n, {
              timeoutMs: this.#opts.timeoutMs,
              resendMs: this.#opts.resendMs,
            });
            this.#record(name, { ok: true, error: null, attempts: attempt }, "delivered");
            break;
          } catch (err) {
            const error = (err as Error).message.slice(0, 1000);
            const last = attempt >= this.#opts.maxAttempts;
            this.#record(name, { ok: false, error, attempts: attempt }, last ? "failed" : null);
            this.#opts.logger.warn("alert_delivery_failed", {
              channel: name,
              attempt,
              error,
              final: last,
            });
            if (last || this.#closed) break;
            const delay = backoffDelay(attempt - 1, {
              baseMs: this.#opts.retryBaseMs,
              maxMs: this.#opts.retryMaxMs,
            });
            await new Promise<void>((r) => {
              const t = setTimeout(() => {
                this.#timers.delete(t);
                r();
              }, delay);
              this.#timers.add(t);
            });
            if (this.#closed) break;
          }
        }
        q.items.shift();
      }
    } finally {
      q.running = false;
      if ([...this.#queues.values()].every((x) => !x.running && x.items.length === 0)) {
        for (const w of this.#waiters.splice(0)) w();
      }
    }
  }

  #record(
    name: string,
    r: { ok: boolean; error: string | null; attempts: number },
    count: "delivered" | "failed" | null,
  ): void {
    const cur = { ...(this.#status.get(name) ?? NO_DELIVERY) };
    cur.at = new Date().toISOString();
    cur.ok = r.ok;
    cur.error = r.error;
    cur.attempts = r.attempts;
    if (count) cur[count]++;
    this.#status.set(name, cur);
    if (this.#opts.statusPath && this.#saveTimer === undefined) {
      this.#saveTimer = setTimeout(() => {
        this.#saveTimer = undefined;
        void this.#save();
      }, 200);
    }
  }

  async #save(): Promise<void> {
    if (!this.#opts.statusPath) return;
    const channels = Object.fromEntries(
      [...this.#status].map((
        [k, v],
      ) => [k, { ...v, queued: this.#queues.get(k)?.items.length ?? 0 }]),
    );
    await writeJsonAtomic(this.#opts.statusPath, { version: 1, channels }).catch((err) =>
      this.#opts.logger.warn("alert_status_write_failed", { reason: (err as Error).message })
    );
  }
}
