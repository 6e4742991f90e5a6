/**
 * The set of open sessions of a node, and the listeners that attach handlers to each new one.
 * @module
 */
import type { PeerSession } from "./session.ts";

/** Open sessions, newest last, indexed by peer (a lookup is O(that peer's sessions)). */
export class SessionSet {
  readonly #sessions = new Set<PeerSession>();
  readonly #byPeer = new Map<string, Set<PeerSession>>();
  readonly #listeners: ((s: PeerSession) => void)[] = [];

  /** Adds a session (it leaves the set when it closes) and tells every listener. */
  add(session: PeerSession): void {
    this.#sessions.add(session);
    const id = session.peer.id;
    const mine = this.#byPeer.get(id) ?? new Set<PeerSession>();
    mine.add(session);
    this.#byPeer.set(id, mine);
    session.onClose(() => {
      this.#sessions.delete(session);
      const set = this.#byPeer.get(id);
      set?.delete(session);
      if (set?.size === 0) this.#byPeer.delete(id);
    });
    for (const fn of this.#listeners) fn(session);
  }

  /** The open sessions with one peer, oldest first. */
  of(peerId: string): PeerSession[] {
    return [...this.#byPeer.get(peerId) ?? []];
  }

  /** How many sessions are open. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Every open session. */
  list(): PeerSession[] {
    return [...this.#sessions];
  }

  /** The most recent open session with `peerId`. */
  latest(peerId: string): PeerSession | undefined {
    let found: PeerSession | undefined;
    for (const s of this.#byPeer.get(peerId) ?? []) found = s;
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
