/**
 * One shared timer for request deadlines. A `setTimeout` per request costs a timer op on every
 * round trip; instead, pending requests register a deadline and a single unref'd interval, alive
 * only while requests are pending, expires them (resolution: {@link TICK_MS}).
 * @module
 */

/** Deadline resolution in ms. */
export const TICK_MS = 25;

interface Entry {
  deadline: number;
  fire: () => void;
}

const entries = new Set<Entry>();
let timer: ReturnType<typeof setInterval> | undefined;

function tick(): void {
  const now = Date.now();
  for (const e of entries) {
    if (e.deadline <= now) {
      entries.delete(e);
      e.fire();
    }
  }
  if (entries.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Calls `fire` after `ms` unless the returned cancel function is called first. */
export function deadline(ms: number, fire: () => void): () => void {
  const e: Entry = { deadline: Date.now() + ms, fire };
  entries.add(e);
  if (timer === undefined) {
    timer = setInterval(tick, TICK_MS);
    Deno.unrefTimer(timer as unknown as number);
  }
  return () => entries.delete(e);
}
