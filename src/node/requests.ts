/**
 * The controller half: requests to workers with per-type timeouts and score bookkeeping on every
 * outcome, and a bounded-concurrency fan-out where one slow or dead peer never delays the others
 * beyond its own timeout. Uses an existing session with the peer when there is one (for example
 * a worker that dialed in with `--connect`), else dials it.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { Peer } from "../peers/mod.ts";
import type { MessageOf, MessageType, PayloadOf, ReplyOf } from "../protocol/mod.ts";
import type { MeshNode } from "./mesh.ts";
import { backoffDelay } from "../backoff/mod.ts";
import { type PeerSession, RequestTimeoutError, SessionClosedError } from "./session.ts";

/** Default timeouts per request type (ms). */
export const REQUEST_TIMEOUTS = {
  stats: 10_000,
  start: 30_000,
  stop: 30_000,
  logs: 10_000,
  ping: 5_000,
} as const;

/** A peer could not be reached or did not answer. */
export class PeerOfflineError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly peer: Pick<Peer, "id" | "name">, detail: string) {
    super(offlineMessage(peer, detail), {
      status: 502,
      code: "peer_offline",
    });
    this.name = "PeerOfflineError";
  }
}

/** A session borrowed for one operation; {@link SessionLease.release} when done. */
export interface SessionLease {
  /** The session. */
  session: PeerSession;
  /** Whether this call dialed it. */
  dialed: boolean;
  /** Ends the borrow: a session dialed for operations closes when its last borrower is done. */
  release(reason: string): void;
}

// Sessions dialed for operations (not persistent links) → how many operations use them. Another
// operation may find such a session open and reuse it, so the dialer must not close it under them.
const borrowers = new WeakMap<PeerSession, number>();

function lease(session: PeerSession, dialed: boolean): SessionLease {
  const shared = dialed || borrowers.has(session);
  if (shared) borrowers.set(session, (borrowers.get(session) ?? 0) + 1);
  let released = false;
  return {
    session,
    dialed,
    release(reason: string): void {
      if (released || !shared) return;
      released = true;
      const left = (borrowers.get(session) ?? 1) - 1;
      if (left > 0) borrowers.set(session, left);
      else {
        borrowers.delete(session);
        session.close(reason, { done: true });
      }
    },
  };
}

/** Borrows a session with `peer`: an open one, or a new dial to its address. */
export async function sessionFor(
  mesh: MeshNode,
  peer: Peer,
  timeoutMs: number,
  options: { ca?: string } = {},
): Promise<SessionLease> {
  const open = mesh.session(peer.id);
  if (open && !open.isClosed) return lease(open, false);
  if (!peer.address) throw new PeerOfflineError(peer, noAddressDetail(peer));
  try {
    return lease(
      await mesh.dial(peer.address, { expectId: peer.id, timeoutMs, ca: options.ca }),
      true,
    );
  } catch (err) {
    throw new PeerOfflineError(peer, (err as Error).message);
  }
}

/** Why a peer with no session and no address cannot be reached (it only ever dials in). */
export function noAddressDetail(peer: Pick<Peer, "name">): string {
  return `not connected, and it has no address to dial (it connects in); set one with \`miner-cli peer set ${peer.name} --address HOST:PORT\``;
}

/** The message of a {@link PeerOfflineError} (and of an offline row's `error`). */
export function offlineMessage(peer: Pick<Peer, "id" | "name">, detail: string): string {
  return `${peer.name} (${peer.id.slice(0, 12)}) is offline: ${detail}`;
}

/** One request to a peer. */
export interface PeerRequestSpec<T extends MessageType> {
  /** Its type. */
  type: T;
  /** Its payload. */
  payload: PayloadOf<T>;
  /** The whole budget: connecting, retries and waiting for the answer. */
  timeoutMs: number;
  /**
   * Retry within the budget, with the same message ID, when the link drops or the peer cannot be
   * reached before the answer came (for idempotent requests: the worker answers a repeat of an
   * ID it has seen with its first answer).
   */
  retry?: boolean;
}

/** Sends one request to a peer, recording the outcome in the registry (score, last seen). */
export async function requestPeer<T extends MessageType>(
  mesh: MeshNode,
  peer: Peer,
  request: PeerRequestSpec<T>,
): Promise<MessageOf<ReplyOf<T>>> {
  const { type, payload, timeoutMs } = request;
  const t0 = performance.now();
  const deadlineAt = Date.now() + timeoutMs;
  const id = request.retry ? crypto.randomUUID() : undefined;
  const left = () => Math.max(1, deadlineAt - Date.now());
  for (let attempt = 0;; attempt++) {
    let conn: SessionLease | undefined;
    try {
      conn = await sessionFor(mesh, peer, left());
      const res = await conn.session.request(type, payload, { timeoutMs: left(), id });
      mesh.recordOutcome(peer.id, "success", performance.now() - t0);
      return res;
    } catch (err) {
      const lost = err instanceof SessionClosedError || err instanceof PeerOfflineError;
      if (request.retry && lost && deadlineAt - Date.now() > 250) {
        mesh.logger.debug("request_retry", { peer: peer.id, type, attempt, reason: String(err) });
        const wait = backoffDelay(attempt, { baseMs: 200, maxMs: 2000, jitter: 0.2 });
        await new Promise((r) => setTimeout(r, Math.min(wait, deadlineAt - Date.now() - 200)));
        continue;
      }
      mesh.recordFailure(peer.id, err);
      // The budget covered connecting too: say the one the caller gave, not what was left of it.
      throw err instanceof RequestTimeoutError ? new RequestTimeoutError(type, timeoutMs) : err;
    } finally {
      conn?.release("request done");
    }
  }
}

/** The result of asking one peer. */
export interface FanOutResult<T> {
  /** The peer. */
  peer: Peer;
  /** Whether it answered. */
  ok: boolean;
  /** Its answer. */
  value?: T;
  /** Why it did not. */
  error?: string;
  /** Whether the failure was a timeout or an unreachable peer (offline) rather than a refusal. */
  offline?: boolean;
  /** Round trip in ms. */
  ms: number;
}

/** Runs `fn` for every peer with at most `concurrency` in flight; never rejects. */
export async function fanOut<T>(
  peers: readonly Peer[],
  fn: (peer: Peer) => Promise<T>,
  options: { concurrency?: number } = {},
): Promise<FanOutResult<T>[]> {
  const results: FanOutResult<T>[] = new Array(peers.length);
  let next = 0;
  const worker = async () => {
    while (next < peers.length) {
      const i = next++;
      const t0 = performance.now();
      try {
        results[i] = {
          peer: peers[i],
          ok: true,
          value: await fn(peers[i]),
          ms: performance.now() - t0,
        };
      } catch (err) {
        const e = err as Error;
        results[i] = {
          peer: peers[i],
          ok: false,
          error: e.message,
          offline: e instanceof PeerOfflineError || e instanceof RequestTimeoutError ||
            e instanceof SessionClosedError,
          ms: performance.now() - t0,
        };
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 32, peers.length)) }, worker),
  );
  return results;
}
