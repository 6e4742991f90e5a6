/**
 * Dashboard sessions: the token is exchanged once (`POST /session`) for a random session ID in an
 * `HttpOnly; SameSite=Strict` cookie scoped to the API's origin, so the token is never kept where
 * a script can read it, a second tab is signed in, and logout (`DELETE /session`) ends the session
 * everywhere (its event streams close). Sessions expire after 12 h, or 2 h unused; they live in
 * the node's memory (a restarted node signs everyone out). The bearer token keeps working for
 * scripts and the CLI.
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/** The session cookie's name. */
export const SESSION_COOKIE = "mcli_session";

interface Session {
  createdAt: number;
  lastUsed: number;
  ends: Set<() => void>;
}

/** Options for {@link SessionStore}. */
export interface SessionOptions {
  /** Longest life (default 12 h). */
  maxAgeMs?: number;
  /** Longest idle time (default 2 h). */
  idleMs?: number;
  /** Most sessions at once (default 256; the oldest goes). */
  max?: number;
}

/** Whether two secrets are equal, in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** In-memory sessions. */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly maxAgeMs: number;
  readonly #idleMs: number;
  readonly #max: number;

  /** A store with the given limits. */
  constructor(options: SessionOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 12 * 3_600_000;
    this.#idleMs = options.idleMs ?? 2 * 3_600_000;
    this.#max = options.max ?? 256;
  }

  /** A new session ID (32 random bytes, base64url). */
  create(now: number = Date.now()): { id: string; expiresAt: number } {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
    this.#sessions.set(id, { createdAt: now, lastUsed: now, ends: new Set() });
    while (this.#sessions.size > this.#max) {
      const oldest = this.#sessions.keys().next().value!;
      this.end(oldest);
    }
    return { id, expiresAt: now + this.maxAgeMs };
  }

  /** Whether `id` is a live session (and marks it used). */
  valid(id: string | undefined, now: number = Date.now()): boolean {
    if (!id) return false;
    const s = this.#sessions.get(id);
    if (!s) return false;
    if (now - s.createdAt > this.maxAgeMs || now - s.lastUsed > this.#idleMs) {
      this.end(id);
      return false;
    }
    s.lastUsed = now;
    return true;
  }

  /** Runs `fn` when the session ends (logout, expiry); returns the unsubscribe function. */
  onEnd(id: string, fn: () => void): () => void {
    const s = this.#sessions.get(id);
    if (!s) {
      fn();
      return () => {};
    }
    s.ends.add(fn);
    return () => s.ends.delete(fn);
  }

  /** Ends a session (its streams close). */
  end(id: string): boolean {
    const s = this.#sessions.get(id);
    if (!s) return false;
    this.#sessions.delete(id);
    for (const fn of s.ends) {
      try {
        fn();
      } catch { /* a closed stream */ }
    }
    return true;
  }

  /** Live sessions. */
  get size(): number {
    return this.#sessions.size;
  }
}
