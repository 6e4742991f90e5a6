/**
 * The set of open sessions of a node, and the listeners that attach handlers to each new one.
 * @module
 */
import type { PeerSession } from "./session.ts";

/** Open sessions, newest last. */
export class SessionSet {
  readonly #sessions = new Set<PeerSession>();
  readonly #listeners: ((s: PeerSession) => void)[] = [];

  /** Adds a session (it leaves the set when it closes) and tells every listener. */
  add(session: PeerSession): void {
    this.#sessions.add(session);
    session.onClose(() => this.#sessions.delete(session));
    for (const fn of this.#listeners) fn(session);
  }

  /** Every open session. */
  list(): PeerSession[] {
    return [...this.#sessions];
  }

  /** The most recent open session with `peerId`. */
  latest(peerId: string): PeerSession | undefined {
    let found: PeerSession | undefined;
    for (const s of this.#sessions) if (s.peer.id === peerId) found = s;
    return found;
  }

  /** Calls `fn` for every session, open now or later. */
  onSession(fn: (session: PeerSession) => void): void {
    this.#listeners.push(fn);
    for (const s of this.#sessions) fn(s);
  }

  /** Closes every session. */
  closeAll(reason: string): void {
    for (const s of [...this.#sessions]) s.close(reason);
  }
}
