/**
 * A Noise_XX secure channel over a {@link FrameSocket}.
 *
 * Handshake: three WebSocket binary frames (XX). Afterwards each binary frame is exactly one
 * Noise transport message (counter nonces: a replayed, reordered or altered frame fails to
 * decrypt and kills the session). Inside, each plaintext starts with a 2-byte header
 * `[kind, flags]`; `flags & 1` marks the final fragment, so application messages larger than
 * one Noise message are fragmented. Control messages (kind 1) are capped and rate limited.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import {
  concat,
  HandshakeState,
  type KeyPair,
  MAX_NOISE_MESSAGE,
  NoiseError,
  TAG_LENGTH,
  type TransportCiphers,
} from "./noise.ts";
import type { FrameSocket } from "./socket.ts";

/** Noise protocol used by miner-cli. */
export const NOISE_PROTOCOL = "Noise_XX_25519_ChaChaPoly_SHA256";
/**
 * Largest Noise message this side sends (receivers accept up to {@link MAX_NOISE_MESSAGE}): 7 bytes
 * short of the Noise limit, so the WebSocket frame carrying it (at most 8 bytes of header, with a
 * client's mask key) fits one 64 KiB socket read, which `npm:ws` then hands over without copying
 * the frame together from two reads (~5–8 % more 64 KiB round trips).
 */
export const MAX_SEND_FRAME = 65536 - 8;
/** Largest application bytes carried by one frame. */
export const MAX_FRAGMENT = MAX_SEND_FRAME - TAG_LENGTH - 2;
/** Control messages (JSON envelopes). */
export const KIND_CONTROL = 1;
/** Bulk binary data (streams); not counted by the message rate limit. */
export const KIND_DATA = 2;
/** A control message with a binary body: `[u32 JSON length][JSON][body]`. */
export const KIND_CONTROL_BODY = 3;
const FIN = 1;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
let scratch = new Uint8Array(64 * 1024);
/**
 * The buffer frames are sealed into, shared by all channels (sealing and sending are
 * synchronous). A socket that may still hold it after `send()` keeps it, and the next frame gets
 * a new one: see {@link SecureChannel.sendParts}. Null while lent to a send.
 */
let frameBuffer: Uint8Array | null = null;

/** One buffer holding `parts` (the only part itself when there is one). */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concat(...parts);
}

/** Limits applied to one channel. */
export interface ChannelLimits {
  /** Largest reassembled control message (default 1 MiB). */
  maxMessageBytes?: number;
  /** Largest reassembled data message (default 1 MiB). */
  maxDataBytes?: number;
  /** Token-bucket burst for control messages (default 100). */
  rateBurst?: number;
  /** Token-bucket refill per second (default 50; 0 disables the limit). */
  ratePerSecond?: number;
  /** Handshake deadline in ms (default 10 s). */
  handshakeTimeoutMs?: number;
}

/** Default channel limits. */
export const DEFAULT_LIMITS: Required<ChannelLimits> = {
  maxMessageBytes: 1024 * 1024,
  maxDataBytes: 1024 * 1024,
  rateBurst: 100,
  ratePerSecond: 50,
  handshakeTimeoutMs: 10_000,
};

/** Why a channel failed. */
export type ChannelErrorCode =
  | "protocol_error"
  | "decrypt_failed"
  | "oversize"
  | "rate_limited"
  | "handshake_failed"
  | "handshake_timeout"
  | "closed";

/** A channel-level failure. */
export class ChannelError extends MinerCliError {
  /** Why the channel failed. */
  declare readonly code: ChannelErrorCode;

  /** Creates the error. */
  constructor(code: ChannelErrorCode, message: string) {
    super(message, { status: 502, code });
    this.name = "ChannelError";
  }
}

/** A token bucket. */
export class TokenBucket {
  #tokens: number;
  #last = performance.now();
  /** Creates a full bucket. */
  constructor(readonly burst: number, readonly perSecond: number) {
    this.#tokens = burst;
  }
  /** Takes one token; returns false when empty. */
  take(): boolean {
    if (this.perSecond <= 0) return true;
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) / 1000 * this.perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

class FrameQueue {
  #frames: Uint8Array[] = [];
  #waiter: ((f: Uint8Array | ChannelError) => void) | null = null;
  #error: ChannelError | null = null;

  push(f: Uint8Array): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(f);
    } else this.#frames.push(f);
  }

  fail(err: ChannelError): void {
    this.#error ??= err;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(err);
    }
  }

  /** Frames received but not taken yet (they arrived in the same read as the last one taken). */
  takeRest(): Uint8Array[] {
    const rest = this.#frames;
    this.#frames = [];
    return rest;
  }

  next(deadline: number): Promise<Uint8Array> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiter = null;
        reject(new ChannelError("handshake_timeout", "handshake timed out"));
      }, Math.max(0, deadline - Date.now()));
      this.#waiter = (v) => {
        clearTimeout(t);
        if (v instanceof ChannelError) reject(v);
        else resolve(v);
      };
    });
  }
}

/**
 * Receives each application message: its kind and its bytes as the decrypted fragments it
 * arrived in (one for most messages; {@link joinParts} makes one buffer of several).
 */
export type MessageHandler = (kind: number, parts: readonly Uint8Array[]) => void;

/** An established Noise channel. */
export class SecureChannel {
  readonly #socket: FrameSocket;
  readonly #ciphers: TransportCiphers;
  readonly #limits: Required<ChannelLimits>;
  readonly #bucket: TokenBucket;
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #partKind = 0;
  #handler: MessageHandler | null = null;
  #buffered: [number, Uint8Array[]][] = [];
  #closed = false;
  #closeHandlers: ((err: ChannelError | null) => void)[] = [];
  /** Resolves when the channel closes, with the error that closed it (or null). */
  readonly closed: Promise<ChannelError | null>;
  #resolveClosed!: (err: ChannelError | null) => void;

  /** @internal Use {@link initiateChannel} / {@link acceptChannel}. */
  constructor(
    socket: FrameSocket,
    ciphers: TransportCiphers,
    /** Authenticated remote static key. */
    readonly remoteStatic: Uint8Array,
    /** The remote handshake payload. */
    readonly remotePayload: Uint8Array,
    /** Final handshake hash. */
    readonly handshakeHash: Uint8Array,
    limits: Required<ChannelLimits>,
  ) {
    this.#socket = socket;
    this.#ciphers = ciphers;
    this.#limits = limits;
    this.#bucket = new TokenBucket(limits.rateBurst, limits.ratePerSecond);
    this.closed = new Promise((r) => this.#resolveClosed = r);
    socket.onframe = (f) => this.#onFrame(f);
    socket.oninvalid = (why, code) => this.#fail(new ChannelError(code ?? "protocol_error", why));
    socket.onclose = (code, reason) =>
      this.#finish(
        code === 1000 || code === 1001
          ? null
          : new ChannelError("closed", `closed by peer (${code}${reason ? ": " + reason : ""})`),
      );
  }

  /** The remote socket address. */
  get remoteAddress(): string {
    return this.#socket.remoteAddress;
  }

  /** Bytes waiting in the socket's send buffer (for flow control). */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** Whether the channel is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sets the message handler; messages received before are delivered now. */
  setHandler(handler: MessageHandler): void {
    this.#handler = handler;
    const pending = this.#buffered;
    this.#buffered = [];
    for (const [k, d] of pending) if (!this.#closed) handler(k, d);
  }

  /** Stops delivering messages; later ones are buffered until the next {@link setHandler}. */
  clearHandler(): void {
    this.#handler = null;
  }

  /** Registers a close callback. */
  onClose(fn: (err: ChannelError | null) => void): void {
    this.#closeHandlers.push(fn);
  }

  /** Sends one application message (fragmented as needed). */
  send(data: Uint8Array, kind: number = KIND_CONTROL): void {
    this.sendParts([data], kind);
  }

  /**
   * Sends the concatenation of `parts` as one application message, without copying it together.
   * The parts may be reused as soon as this returns.
   */
  sendParts(parts: readonly Uint8Array[], kind: number = KIND_CONTROL): void {
    if (this.#closed) throw new ChannelError("closed", "channel is closed");
    let total = 0;
    for (const p of parts) total += p.length;
    let sent = 0;
    let pi = 0;
    let po = 0;
    do {
      const size = Math.min(MAX_FRAGMENT, total - sent);
      sent += size;
      const frame: Uint8Array[] = [Uint8Array.of(kind, sent === total ? FIN : 0)];
      let need = size;
      while (need > 0) {
        const p = parts[pi];
        const take = Math.min(need, p.length - po);
        frame.push(po === 0 && take === p.length ? p : p.subarray(po, po + take));
        need -= take;
        po += take;
        if (po === p.length) {
          pi++;
          po = 0;
        }
      }
      // Seal into the shared frame buffer rather than a new 64 KiB one per frame (allocating
      // and zeroing it costs as much as a third of the encryption). It is taken out while lent
      // to send(), so nothing that runs meanwhile seals into it, and comes back unless the
      // socket may still hold it (it does not copy and something is still queued).
      const buffer = frameBuffer ?? new Uint8Array(MAX_SEND_FRAME);
      frameBuffer = null;
      this.#socket.send(this.#ciphers.send.encryptPartsWithAd(EMPTY, frame, { into: buffer }));
      if (this.#socket.copiesOnSend || this.#socket.bufferedAmount === 0) frameBuffer = buffer;
    } while (sent < total);
  }

  /** Sends a string as one UTF-8 application message. */
  sendText(text: string, kind: number = KIND_CONTROL): void {
    // TextEncoder.encode is slow for large strings in Deno; encodeInto a reused buffer is not.
    const need = text.length * 3;
    if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
    const { written } = encoder.encodeInto(text, scratch);
    this.send(scratch.subarray(0, written), kind);
  }

  /** @internal Feeds a frame that arrived before the channel took over the socket. */
  receiveFrame(frame: Uint8Array): void {
    this.#onFrame(frame);
  }

  #onFrame(frame: Uint8Array): void {
    if (this.#closed) return;
    if (frame.length > MAX_NOISE_MESSAGE) {
      return this.#fail(
        new ChannelError("oversize", `frame of ${frame.length} bytes exceeds ${MAX_NOISE_MESSAGE}`),
      );
    }
    let pt: Uint8Array;
    try {
      pt = this.#ciphers.recv.decryptWithAd(EMPTY, frame);
    } catch (err) {
      return this.#fail(
        new ChannelError(
          "decrypt_failed",
          err instanceof NoiseError ? err.message : "decryption failed",
        ),
      );
    }
    if (pt.length < 2) {
      return this.#fail(new ChannelError("protocol_error", "frame without header"));
    }
    const kind = pt[0];
    if (kind !== KIND_CONTROL && kind !== KIND_DATA && kind !== KIND_CONTROL_BODY) {
      return this.#fail(new ChannelError("protocol_error", `unknown frame kind ${kind}`));
    }
    if (this.#parts.length > 0 && kind !== this.#partKind) {
      return this.#fail(new ChannelError("protocol_error", "interleaved fragments"));
    }
    this.#partKind = kind;
    this.#partBytes += pt.length - 2;
    const cap = kind === KIND_DATA ? this.#limits.maxDataBytes : this.#limits.maxMessageBytes;
    if (this.#partBytes > cap) {
      return this.#fail(new ChannelError("oversize", `message exceeds ${cap} bytes`));
    }
    this.#parts.push(pt.subarray(2));
    if ((pt[1] & FIN) === 0) return;
    // Handed over as fragments: joining 64 KiB ones would cost a new buffer and a copy each.
    const parts = this.#parts;
    this.#parts = [];
    this.#partBytes = 0;
    if (kind !== KIND_DATA && !this.#bucket.take()) {
      return this.#fail(new ChannelError("rate_limited", "message rate limit exceeded"));
    }
    if (this.#handler) this.#handler(kind, parts);
    else this.#buffered.push([kind, parts]);
  }

  #fail(err: ChannelError): void {
    if (this.#closed) return;
    this.#socket.close(
      err.code === "rate_limited" || err.code === "oversize" ? 1008 : 1002,
      err.message,
    );
    this.#finish(err);
  }

  #finish(err: ChannelError | null): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#closeHandlers) fn(err);
    this.#resolveClosed(err);
  }

  /** Closes the channel normally. */
  close(reason = "bye"): void {
    if (this.#closed) return;
    this.#socket.close(1000, reason);
    this.#finish(null);
  }
}

function startQueue(socket: FrameSocket): FrameQueue {
  const q = new FrameQueue();
  socket.onframe = (f) => q.push(f);
  socket.oninvalid = (why, code) => q.fail(new ChannelError(code ?? "protocol_error", why));
  socket.onclose = (code, reason) =>
    q.fail(
      new ChannelError(
        "closed",
        `connection closed during handshake (${code}${reason ? ": " + reason : ""})`,
      ),
    );
  return q;
}

function handshakeFailure(err: unknown): ChannelError {
  if (err instanceof ChannelError) return err;
  if (err instanceof NoiseError) {
    return new ChannelError(
      "handshake_failed",
      `handshake failed: ${err.message} (wrong protocol version or tampered data)`,
    );
  }
  return new ChannelError("handshake_failed", err instanceof Error ? err.message : String(err));
}

/** Handshake hashes an initiator can bind proofs to. */
export interface HandshakeHashes {
  /** After message 2: what the initiator binds its message-3 payload to. */
  handshakeHash: Uint8Array;
  /** What the responder bound its message-2 payload to (covers both ephemerals and its static). */
  responderPayloadHash: Uint8Array;
}

/** Options for {@link initiateChannel}. */
export interface InitiatorOptions {
  /** Local static keypair. */
  staticKey: KeyPair;
  /** Prologue (protocol name and version). */
  prologue: Uint8Array;
  /**
   * Inspects the responder's authenticated static key and payload (and the handshake hashes, for
   * channel binding) and returns the payload of message 3. Throw to abort.
   */
  onResponder(
    remoteStatic: Uint8Array,
    payload: Uint8Array,
    hashes: HandshakeHashes,
  ): Uint8Array | Promise<Uint8Array>;
  /** Limits. */
  limits?: ChannelLimits;
}

/** Runs the XX handshake as initiator over `socket`. */
export async function initiateChannel(
  socket: FrameSocket,
  options: InitiatorOptions,
): Promise<SecureChannel> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const deadline = Date.now() + limits.handshakeTimeoutMs;
  let verdict: unknown = undefined;
  const q = startQueue(socket);
  try {
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL,
      initiator: true,
      prologue: options.prologue,
      s: options.staticKey,
    });
    socket.send(hs.writeMessage());
    const payload2 = hs.readMessage(await q.next(deadline));
    const rs = hs.remoteStatic!;
    let payload3: Uint8Array;
    try {
      payload3 = await options.onResponder(rs, payload2, {
        handshakeHash: hs.handshakeHash,
        responderPayloadHash: hs.payloadHash,
      });
    } catch (err) {
      verdict = err; // the caller's own refusal (identity mismatch...): keep its type
      throw err;
    }
    socket.send(hs.writeMessage(payload3));
    return new SecureChannel(socket, hs.split(), rs, payload2, hs.handshakeHash, limits);
  } catch (err) {
    if (err === verdict) {
      socket.close(1002, err instanceof Error ? err.message.slice(0, 100) : "refused");
      throw err;
    }
    const e = handshakeFailure(err);
    socket.close(1002, e.message);
    throw e;
  }
}

/** Options for {@link acceptChannel}. */
export interface ResponderOptions {
  /** Local static keypair. */
  staticKey: KeyPair;
  /** Prologue (protocol name and version). */
  prologue: Uint8Array;
  /**
   * Payload of message 2 (encrypted to the initiator); a function gets the handshake hash it is
   * bound to (see {@link HandshakeState.writeMessage}).
   */
  payload: Uint8Array | ((handshakeHash: Uint8Array) => Uint8Array);
  /** Limits. */
  limits?: ChannelLimits;
}

/** An accepted channel plus the hash the initiator bound its message-3 payload to. */
export interface AcceptedChannel {
  /** The channel. */
  channel: SecureChannel;
  /** Handshake hash before message 3 (what the initiator saw when writing it). */
  bindingHash: Uint8Array;
}

/** Runs the XX handshake as responder over `socket`. */
export async function acceptChannel(
  socket: FrameSocket,
  options: ResponderOptions,
): Promise<AcceptedChannel> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const deadline = Date.now() + limits.handshakeTimeoutMs;
  const q = startQueue(socket);
  try {
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL,
      initiator: false,
      prologue: options.prologue,
      s: options.staticKey,
    });
    const m1 = await q.next(deadline);
    if (m1.length !== 32) {
      throw new ChannelError(
        "protocol_error",
        `handshake message 1 must be 32 bytes, got ${m1.length}`,
      );
    }
    hs.readMessage(m1);
    socket.send(hs.writeMessage(options.payload));
    const bindingHash = hs.handshakeHash;
    const payload3 = hs.readMessage(await q.next(deadline));
    const channel = new SecureChannel(
      socket,
      hs.split(),
      hs.remoteStatic!,
      payload3,
      hs.handshakeHash,
      limits,
    );
    // Transport frames that came in the same read as message 3 (a fast peer) go to the channel,
    // in order, so none is lost or skipped.
    for (const f of q.takeRest()) channel.receiveFrame(f);
    return { channel, bindingHash };
  } catch (err) {
    const e = handshakeFailure(err);
    // A peer that went silent gets no close handshake to leave unanswered: the connection goes.
    if (e.code === "handshake_timeout") socket.terminate();
    else socket.close(1002, e.message);
    throw e;
  }
}
