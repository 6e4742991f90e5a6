/**
 * An authenticated peer session: envelopes over a {@link SecureChannel}, routing by message type
 * and by `replyTo`, per-request timeouts, and keepalive.
 * @module
 */
import { type ErrorStatus, MinerCliError } from "../errors/mod.ts";
import type { NodeRole } from "../identity/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type AnyMessage,
  createMessage,
  type ErrorCode,
  type Message,
  type MessageOf,
  type MessageType,
  parseMessage,
  type PayloadOf,
  REPLIES,
  type ReplyOf,
} from "../protocol/mod.ts";
import {
  type ChannelError,
  joinParts,
  KIND_CONTROL,
  KIND_CONTROL_BODY,
  KIND_DATA,
  type SecureChannel,
} from "../transport/mod.ts";
import { deadline } from "./deadlines.ts";

/** The peer answered a request with an `error` message. */
export class RemoteError extends MinerCliError {
  /** The error code the peer answered with. */
  declare readonly code: ErrorCode;

  /** Creates the error; the HTTP status follows the peer's code (its refusal is a 403...). */
  constructor(code: ErrorCode, message: string) {
    super(message, { status: REMOTE_STATUS[code] ?? 502, code });
    this.name = "RemoteError";
  }
}

const REMOTE_STATUS: Partial<Record<ErrorCode, ErrorStatus>> = {
  unauthorized: 403,
  not_found: 404,
  timeout: 504,
};

/** A request got no answer in time. */
export class RequestTimeoutError extends MinerCliError {
  /** Creates the error. */
  constructor(type: string, ms: number) {
    super(`no answer to ${type} within ${ms} ms`, { status: 504, code: "timeout" });
    this.name = "RequestTimeoutError";
  }
}

/** The session closed before an answer came. */
export class SessionClosedError extends MinerCliError {
  /** Creates the error. */
  constructor(reason: string) {
    super(`connection closed: ${reason}`, { status: 502, code: "peer_disconnected" });
    this.name = "SessionClosedError";
  }
}

/** Handles one incoming message type; answers with {@link PeerSession.reply}. */
export type MessageHandlerFn<T extends MessageType = MessageType> = (
  message: Message<T>,
  session: PeerSession,
) => void | Promise<void>;

/** Who is on the other end. */
export interface PeerIdentityInfo {
  /** Authenticated node ID. */
  id: string;
  /** Name from the handshake payload. */
  name: string;
  /** Role from the handshake payload. */
  role: NodeRole;
  /** Base64 static public key. */
  publicKey: string;
  /** Software version. */
  version: string;
}

/** Options for {@link PeerSession.send}. */
export interface SendOptions {
  /** The request this answers. */
  replyTo?: string;
  /** A binary body beside the JSON envelope (only for the types that carry one). */
  body?: Uint8Array | readonly Uint8Array[];
  /** The message ID (default: a new UUID; a retried request reuses its first ID). */
  id?: string;
}

/** Options for {@link PeerSession.request}. */
export interface RequestOptions {
  /** How long to wait for the answer. */
  timeoutMs: number;
  /** A binary body (ping). */
  body?: Uint8Array;
  /**
   * The request's ID: a retry of a request whose answer was lost reuses it, and the worker
   * answers a repeat with the first answer (start and stop are idempotent by it).
   */
  id?: string;
}

/** Keepalive settings. */
export interface KeepaliveOptions {
  /** Ping interval in ms (default 5 s). */
  intervalMs?: number;
  /** Drop after this much silence in ms (default 12 s: a dead link is found within 15 s). */
  timeoutMs?: number;
}

/** Default keepalive: a ping every 5 s, dropped after 12 s of silence. */
export const DEFAULT_KEEPALIVE = { intervalMs: 5_000, timeoutMs: 12_000 } as const;

/**
 * How recently this node must have sent a peer something for {@link PeerSession.acknowledge} to
 * skip its answer: the peer's silence then starts at most this much earlier than the answer
 * would have started it, far inside the keepalive's window (a relaxed link is pinged after 11 s
 * of silence and dropped after 12 s).
 */
export const ACK_WITHIN_MS = 1000;

/** How long a relaxed link (see `PeerSession.relaxPings`) may be quiet before it is pinged. */
function relaxedQuietMs(intervalMs: number, timeoutMs: number): number {
  return Math.max(intervalMs, timeoutMs - 1000);
}

/**
 * The keepalive check's tick: a quarter of the ping interval, and at most half the window between
 * the (relaxed) ping threshold and the timeout, so a check always lands in that window. (At 5 s /
 * 12 s the tick was 1.25 s against a 1 s window: two quiet relaxed sides could both step over it
 * and drop a healthy link.)
 *
 * @example
 * ```ts ignore
 * keepaliveTickMs(5_000, 12_000); // 500
 * ```
 */
export function keepaliveTickMs(intervalMs: number, timeoutMs: number): number {
  const window = timeoutMs - relaxedQuietMs(intervalMs, timeoutMs);
  const quarter = Math.min(intervalMs, timeoutMs) / 4;
  return Math.max(20, window > 0 ? Math.min(quarter, window / 2) : quarter);
}

/**
 * One timer per tick length for every session's keepalive check, instead of one per session:
 * 10,000 links cost one wakeup per tick, not 8,000 a second.
 */
const wheels = new Map<
  number,
  { timer: ReturnType<typeof setInterval>; checks: Set<(now: number) => void> }
>();

function joinKeepaliveWheel(tickMs: number, check: (now: number) => void): () => void {
  let wheel = wheels.get(tickMs);
  if (!wheel) {
    const checks = new Set<(now: number) => void>();
    const timer = setInterval(() => {
      const now = Date.now();
      // A check may end its session (and leave the set): deleting while iterating a Set is safe.
      for (const fn of checks) {
        try {
          fn(now);
        } catch { /* one session's failure is its own */ }
      }
    }, tickMs);
    wheel = { timer, checks };
    wheels.set(tickMs, wheel);
  }
  wheel.checks.add(check);
  const w = wheel;
  return () => {
    w.checks.delete(check);
    if (w.checks.size === 0 && wheels.get(tickMs) === w) {
      clearInterval(w.timer);
      wheels.delete(tickMs);
    }
  };
}

/**
 * How a session ended: this side closed it (`local`), the peer closed it because its operation
 * was done (`peer_done`) or for another reason, say shutting down (`peer`), or the link was lost
 * (no traffic within the keepalive timeout, the socket dropped without a word, a channel error).
 * Only `peer` and `lost` say anything about the peer being reachable.
 */
export type SessionEnd = "local" | "peer_done" | "peer" | "lost";

/** Options for {@link PeerSession}. */
export interface SessionOptions {
  /** Our node ID. */
  localId: string;
  /** `inbound` when the peer dialed us. */
  direction: "inbound" | "outbound";
  /** Logger. */
  logger: Logger;
  /** Keepalive (disabled when undefined). */
  keepalive?: KeepaliveOptions;
  /** Called for protocol violations (invalid messages), for counting. */
  onViolation?: (reason: string) => void;
}

interface Pending {
  resolve: (m: AnyMessage) => void;
  reject: (e: Error) => void;
  cancel: () => void;
  type: string;
}

const decoder = new TextDecoder();

/** `parts` with at least their first `n` bytes in the first part (joined only when they are not). */
function withHead(parts: readonly Uint8Array[], n: number): readonly Uint8Array[] {
  return parts[0].length >= n || parts.length === 1 ? parts : [joinParts(parts)];
}
const textEncoder = new TextEncoder();
let scratch = new Uint8Array(64 * 1024);

/** One authenticated connection to a peer. */
export class PeerSession {
  readonly #channel: SecureChannel;
  readonly #opts: SessionOptions;
  readonly #handlers = new Map<string, MessageHandlerFn<never>>();
  readonly #pending = new Map<string, Pending>();
  readonly #streams = new Map<string, (m: AnyMessage) => void>();
  readonly #dataSinks = new Map<string, (chunk: Uint8Array) => void>();
  readonly #endedSinks = new Set<string>();
  #leaveKeepalive: (() => void) | undefined;
  #keepalive: { interval: number; timeout: number } | undefined;
  #pingQuietMs = 0;
  #lastRx = Date.now();
  // The handshake's last message (or its ack, on the listening side) went out just now.
  #lastTx = Date.now();
  #lastPing = Date.now();
  #closeReason: string | null = null;
  #endedBy: SessionEnd | null = null;
  #closeHandlers: ((reason: string, error: ChannelError | null) => void)[] = [];
  /** When the session was established. */
  readonly since: Date = new Date();

  /** Wraps an established channel. */
  constructor(channel: SecureChannel, readonly peer: PeerIdentityInfo, options: SessionOptions) {
    this.#channel = channel;
    this.#opts = options;
    this.on("ping", (m, s) => {
      s.reply(m, "pong", m.payload.seq !== undefined ? { seq: m.payload.seq } : {}, {
        body: m.body,
      });
    });
    this.on("pong", () => {});
    this.on("disconnect", (m) => {
      this.#endedBy = m.payload.done ? "peer_done" : "peer";
      this.close(`peer disconnected: ${m.payload.reason}`, { notify: false });
    });
    channel.setHandler((kind, data) => this.#onData(kind, data));
    channel.onClose((err) => {
      this.#endedBy ??= "lost";
      this.#finish(err ? err.message : "closed by peer", err);
    });
    if (options.keepalive) this.#startKeepalive(options.keepalive);
  }

  /** The peer's socket address. */
  get remoteAddress(): string {
    return this.#channel.remoteAddress;
  }

  /** Local direction of the connection. */
  get direction(): "inbound" | "outbound" {
    return this.#opts.direction;
  }

  /** Whether the session is closed. */
  get isClosed(): boolean {
    return this.#closeReason !== null;
  }

  /** Registers the handler for one message type (replaces a previous one). */
  on<T extends MessageType>(type: T, handler: MessageHandlerFn<T>): void {
    this.#handlers.set(type, handler as MessageHandlerFn<never>);
  }

  /** Registers a close callback. */
  onClose(fn: (reason: string, error: ChannelError | null) => void): void {
    if (this.#closeReason !== null) fn(this.#closeReason, null);
    else this.#closeHandlers.push(fn);
  }

  /** Sends a message (with an optional binary body); returns it. */
  send<T extends MessageType>(
    type: T,
    payload: PayloadOf<T>,
    options: SendOptions = {},
  ): Message<T> {
    const { body } = options;
    const msg = createMessage(type, payload, {
      from: this.#opts.localId,
      to: this.peer.id,
      replyTo: options.replyTo,
      id: options.id,
    });
    const json = JSON.stringify(msg);
    this.#lastTx = Date.now();
    if (!body) {
      this.#channel.sendText(json, KIND_CONTROL);
      return msg;
    }
    const need = 4 + json.length * 3;
    if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
    const { written } = textEncoder.encodeInto(json, scratch.subarray(4));
    new DataView(scratch.buffer).setUint32(0, written);
    const head = scratch.subarray(0, 4 + written);
    this.#channel.sendParts(
      body instanceof Uint8Array ? [head, body] : [head, ...body],
      KIND_CONTROL_BODY,
    );
    return msg;
  }

  /** Answers `request` with a message of `type`. */
  reply<T extends MessageType>(
    request: Message,
    type: T,
    payload: PayloadOf<T>,
    options: { body?: Uint8Array | readonly Uint8Array[] } = {},
  ): void {
    if (this.isClosed) return;
    this.send(type, payload, { replyTo: request.id, body: options.body });
  }

  /**
   * Answers `message` with a `pong` whose only news is that this node is still there (a rig's
   * pushed stats: the rig counts its link's silence from what it last heard), unless this node
   * sent the peer something within `withinMs` (default {@link ACK_WITHIN_MS}), which told it so
   * already: a link's first push follows the handshake's ack, and in a reconnect storm that
   * answer was one write per link for nothing. Returns whether it answered.
   */
  acknowledge(message: { id?: string }, options: { withinMs?: number } = {}): boolean {
    if (this.isClosed || Date.now() - this.#lastTx < (options.withinMs ?? ACK_WITHIN_MS)) {
      return false;
    }
    try {
      this.send("pong", {}, { replyTo: message.id });
      return true;
    } catch {
      return false; // closing
    }
  }

  /** Answers `request` with an `error` message. */
  replyError(request: { id?: string }, code: ErrorCode, message: string): void {
    if (this.isClosed) return;
    this.send("error", { code, message }, { replyTo: request.id });
  }

  /**
   * Sends a request and waits for the message whose `replyTo` matches: one of the types
   * {@link REPLIES} says it is answered with (an `error` answer rejects with {@link RemoteError},
   * any other type is refused as a protocol error).
   */
  request<T extends MessageType>(
    type: T,
    payload: PayloadOf<T>,
    options: RequestOptions,
  ): Promise<MessageOf<ReplyOf<T>>> {
    const { timeoutMs } = options;
    if (this.isClosed) return Promise.reject(new SessionClosedError(this.#closeReason ?? "closed"));
    if (options.id !== undefined && this.#pending.has(options.id)) {
      return Promise.reject(new Error(`request ${options.id} is already waiting for its answer`));
    }
    return new Promise((resolve, reject) => {
      let msg: Message;
      try {
        msg = this.send(type, payload, { body: options.body, id: options.id });
      } catch (err) {
        return reject(err);
      }
      const cancel = deadline(timeoutMs, () => {
        this.#pending.delete(msg.id);
        reject(new RequestTimeoutError(type, timeoutMs));
      });
      this.#pending.set(msg.id, {
        resolve: resolve as (m: AnyMessage) => void,
        reject,
        cancel,
        type,
      });
    });
  }

  /**
   * Sends a request whose first answer resolves the returned promise and whose later answers
   * (same `replyTo`) go to `onItem` until `stop()` (which tells the peer with `cancel`).
   */
  stream<T extends MessageType>(
    type: T,
    payload: PayloadOf<T>,
    timeoutMs: number,
    onItem: (m: MessageOf<ReplyOf<T> | "error">) => void,
  ): { first: Promise<MessageOf<ReplyOf<T>>>; stop: (options?: { notify?: boolean }) => void } {
    let id = "";
    const first = new Promise<MessageOf<ReplyOf<T>>>((resolve, reject) => {
      let msg: Message;
      try {
        msg = this.send(type, payload);
      } catch (err) {
        return reject(err);
      }
      id = msg.id;
      this.#streams.set(id, (m) => {
        if (m.type === "error" || this.#expect(type, m)) {
          onItem(m as MessageOf<ReplyOf<T> | "error">);
        }
      });
      const cancel = deadline(timeoutMs, () => {
        this.#pending.delete(id);
        this.#streams.delete(id);
        reject(new RequestTimeoutError(type, timeoutMs));
      });
      this.#pending.set(id, {
        resolve: resolve as (m: AnyMessage) => void,
        reject: (e) => {
          this.#streams.delete(id);
          reject(e);
        },
        cancel,
        type,
      });
    });
    return {
      first,
      stop: (options = {}) => {
        const pending = this.#pending.get(id);
        if (pending) {
          this.#pending.delete(id);
          pending.cancel();
          pending.reject(new SessionClosedError("request stopped"));
        }
        if (!this.#streams.delete(id)) return;
        if (options.notify !== false && !this.isClosed) {
          try {
            this.send("cancel", { requestId: id });
          } catch { /* closing */ }
        }
      },
    };
  }

  /**
   * Receives the data frames tagged with `id` (a request's UUID) until the returned function is
   * called. Data for ended streams is dropped quietly (frames in flight when a transfer fails);
   * data for unknown streams counts as a protocol violation.
   */
  openDataSink(id: string, sink: (chunk: Uint8Array) => void): () => void {
    const key = id.replaceAll("-", "");
    this.#dataSinks.set(key, sink);
    return () => {
      if (!this.#dataSinks.delete(key)) return;
      this.#endedSinks.add(key);
      if (this.#endedSinks.size > 64) {
        this.#endedSinks.delete(this.#endedSinks.values().next().value!);
      }
    };
  }

  /** Sends one data frame of the stream `id` (the announcing request's UUID). */
  sendData(id: string, chunk: Uint8Array): void {
    const tag = new Uint8Array(16);
    const hex = id.replaceAll("-", "");
    for (let i = 0; i < 16; i++) tag[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    this.#lastTx = Date.now();
    this.#channel.sendParts([tag, chunk], KIND_DATA);
  }

  /** Bytes queued in the socket (for flow control of bulk sends). */
  get bufferedAmount(): number {
    return this.#channel.bufferedAmount;
  }

  /** Sends a ping (optionally with a binary body the peer echoes) and returns the RTT in ms. */
  async ping(timeoutMs = 5000, body?: Uint8Array): Promise<number> {
    const t0 = performance.now();
    const res = await this.request("ping", {}, { timeoutMs, body });
    if (res.type !== "pong") {
      throw new RemoteError("invalid_message", `expected pong, got ${res.type}`);
    }
    let echoed = 0;
    for (const p of res.body ?? []) echoed += p.length;
    if (echoed !== (body?.length ?? 0)) {
      throw new RemoteError("invalid_message", "pong body differs from the ping body");
    }
    return performance.now() - t0;
  }

  /** Whether `m` is an answer `REPLIES` allows for a request of type `requestType`. */
  #expect(requestType: string, m: AnyMessage): boolean {
    const allowed = (REPLIES as Record<string, readonly string[]>)[requestType];
    if (!allowed || allowed.includes(m.type)) return true;
    this.#violation(`${m.type} is no answer to ${requestType}`);
    return false;
  }

  #violation(reason: string): void {
    this.#opts.onViolation?.(reason);
    this.#opts.logger.warn("protocol_violation", {
      peer: this.peer.id,
      name: this.peer.name,
      reason,
    });
  }

  #onData(kind: number, parts: readonly Uint8Array[]): void {
    this.#lastRx = Date.now();
    let parsed;
    if (kind === KIND_CONTROL) parsed = parseMessage(decoder.decode(joinParts(parts)));
    else if (kind === KIND_CONTROL_BODY) {
      // `[u32 JSON length][JSON][body]`: the sender starts with the JSON, so it sits in the first
      // fragment but for JSON too large for one; the body stays in the fragments it came in.
      let ps = withHead(parts, 4);
      const len = ps[0].length >= 4
        ? new DataView(ps[0].buffer, ps[0].byteOffset, 4).getUint32(0)
        : -1;
      if (len >= 0) ps = withHead(ps, 4 + len);
      const head = ps[0];
      if (len < 0 || 4 + len > head.length) {
        this.#violation("malformed message body framing");
        this.replyError({}, "invalid_message", "malformed message body framing");
        return;
      }
      const body = [head.subarray(4 + len), ...ps.slice(1)].filter((p) => p.length > 0);
      parsed = parseMessage(decoder.decode(head.subarray(4, 4 + len)), body);
    } else {
      this.#onStreamData(parts);
      return;
    }
    if (!parsed.ok) {
      // An unknown type is answered, not counted: newer peers may speak types we do not know.
      if (parsed.code !== "unknown_type") this.#violation(parsed.message);
      this.replyError(
        { id: parsed.id && /^[0-9a-f-]{36}$/.test(parsed.id) ? parsed.id : undefined },
        parsed.code,
        parsed.message,
      );
      return;
    }
    const msg = parsed.message;
    if (msg.from !== this.peer.id) {
      this.#violation(`message claims to be from ${msg.from}`);
      this.replyError(msg, "unauthorized", "`from` does not match the authenticated peer");
      this.close("spoofed sender");
      return;
    }
    if (msg.to !== this.#opts.localId) {
      this.#violation(`message addressed to ${msg.to}`);
      this.replyError(msg, "invalid_message", "`to` is not this node");
      return;
    }
    if (msg.replyTo) {
      const stream = this.#streams.get(msg.replyTo);
      if (stream && !this.#pending.has(msg.replyTo)) {
        stream(msg);
        return;
      }
      const p = this.#pending.get(msg.replyTo);
      if (p) {
        this.#pending.delete(msg.replyTo);
        p.cancel();
        if (msg.type === "error") p.reject(new RemoteError(msg.payload.code, msg.payload.message));
        else if (!this.#expect(p.type, msg)) {
          p.reject(
            new RemoteError("invalid_message", `${msg.type} is no answer to ${p.type}`),
          );
        } else p.resolve(msg);
        return;
      }
      if (msg.type === "error" || msg.type === "pong") return; // late answer to a timed-out request
    }
    const handler = this.#handlers.get(msg.type);
    if (!handler) {
      this.replyError(msg, "unknown_type", `this node does not handle ${msg.type} messages`);
      return;
    }
    try {
      const r = (handler as MessageHandlerFn)(msg as Message, this);
      if (r instanceof Promise) {
        r.catch((err) =>
          this.replyError(msg, "operation_failed", err instanceof Error ? err.message : String(err))
        );
      }
    } catch (err) {
      this.replyError(msg, "operation_failed", err instanceof Error ? err.message : String(err));
    }
  }

  #onStreamData(parts: readonly Uint8Array[]): void {
    // `[16-byte stream tag][data]`; the data goes to the sink fragment by fragment.
    const ps = withHead(parts, 16);
    const first = ps[0];
    if (first.length < 16) {
      this.#violation("data frame without a stream tag");
      return;
    }
    let key = "";
    for (let i = 0; i < 16; i++) key += first[i].toString(16).padStart(2, "0");
    const sink = this.#dataSinks.get(key);
    if (!sink) {
      if (!this.#endedSinks.has(key)) this.#violation("data frame for no open stream");
      return;
    }
    if (first.length > 16) sink(first.subarray(16));
    for (const p of ps.slice(1)) if (p.length > 0) sink(p);
  }

  /** When the last frame arrived from the peer (ms since epoch): heartbeats included. */
  get lastActivity(): number {
    return this.#lastRx;
  }

  /**
   * On a link whose traffic proves the peer more often than the keepalive timeout (a rig pushing
   * its stats every `everyMs`, ±10 %, each answered with an ack), pings wait until just before
   * the timeout instead of the ping interval: the pushes and acks are the keepalive, and the link
   * carries two messages per push instead of four. A link whose pushes come less often than
   * that (a long `--stats-push`) keeps the usual pings. The timeout (how fast a lost link is
   * noticed) does not change.
   */
  relaxPings(everyMs: number): void {
    const k = this.#keepalive;
    if (!k) return;
    const quiet = relaxedQuietMs(k.interval, k.timeout);
    if (everyMs > 0 && everyMs * 1.1 <= quiet) this.#pingQuietMs = quiet;
  }

  #startKeepalive(k: KeepaliveOptions): void {
    const interval = k.intervalMs ?? DEFAULT_KEEPALIVE.intervalMs;
    const timeout = k.timeoutMs ?? DEFAULT_KEEPALIVE.timeoutMs;
    this.#keepalive = { interval, timeout };
    this.#pingQuietMs = interval;
    const tick = keepaliveTickMs(interval, timeout);
    this.#leaveKeepalive = joinKeepaliveWheel(tick, (now) => {
      if (now - this.#lastRx > timeout) {
        this.#opts.logger.info("keepalive_timeout", {
          peer: this.peer.id,
          silentMs: now - this.#lastRx,
        });
        this.#endedBy = "lost";
        this.close(`no traffic for ${timeout} ms`, { notify: false });
        return;
      }
      // Only a quiet link is pinged: traffic from the peer (its pushes, its own pings) already
      // says it is there, so at most one side of a link pings, once per quiet interval.
      const quiet = this.#pingQuietMs;
      if (now - this.#lastRx >= quiet && now - this.#lastPing >= quiet) {
        this.#lastPing = now;
        try {
          this.send("ping", {});
        } catch { /* closing */ }
      }
    });
  }

  /** How the session ended (null while open). */
  get endedBy(): SessionEnd | null {
    return this.#closeReason === null ? null : this.#endedBy;
  }

  /**
   * Closes the session, telling the peer why unless `notify` is false; `done` tells it the
   * operation it was opened for is over (so the peer does not take it for this node going away).
   */
  close(reason: string, options: { notify?: boolean; done?: boolean } = {}): void {
    if (this.#closeReason !== null) return;
    this.#endedBy ??= "local";
    if (options.notify !== false) {
      try {
        this.send("disconnect", {
          reason: reason.slice(0, 500),
          ...(options.done ? { done: true } : {}),
        });
      } catch { /* already gone */ }
    }
    this.#finish(reason, null);
    this.#channel.close(reason);
  }

  #finish(reason: string, error: ChannelError | null): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    this.#leaveKeepalive?.();
    this.#leaveKeepalive = undefined;
    for (const p of this.#pending.values()) {
      p.cancel();
      p.reject(new SessionClosedError(reason));
    }
    this.#pending.clear();
    this.#streams.clear();
    this.#dataSinks.clear();
    for (const fn of this.#closeHandlers) fn(reason, error);
  }
}
