/**
 * Protocol v1 message envelope and one schema per message type.
 * @module
 */
import { z } from "zod";
import { NodeIdSchema, NodeNameSchema, NodeRoleSchema } from "../identity/mod.ts";
import { CapabilitiesSchema } from "../capabilities/mod.ts";
import { AuditRecordSchema, AuditScopeSchema, MinerStatsSchema, MinerTypeSchema } from "./views.ts";
import { StratumPayloads } from "./stratum.ts";

/**
 * Protocol version carried in the prologue and the handshake payloads. Version 2: the responder
 * says nothing about itself before the initiator has authenticated (its name, role, version and
 * capabilities moved from handshake message 2 into `handshake_ack`).
 */
export const PROTOCOL_VERSION = 2;
/** Software version. */
export const SOFTWARE_VERSION = "0.1.0";
/** Noise prologue: names the protocol and its version, so mismatched peers fail the handshake. */
export const PROLOGUE: Uint8Array = new TextEncoder().encode(
  `miner-cli protocol v${PROTOCOL_VERSION}`,
);

/** Stable error codes carried by `error` messages. */
export const ErrorCodeSchema = z.enum([
  "unknown_type",
  "invalid_message",
  "unauthorized",
  "not_found",
  "operation_failed",
  "timeout",
  "rate_limited",
  "protocol_error",
]);
/** An error code. */
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

const ProofSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/**
 * The responder's payload in Noise message 2. The initiator has not authenticated yet, so it
 * carries only what the handshake needs: the protocol version and, from a worker with the farm's
 * join secret, the proof of it (an HMAC bound to this handshake; see docs/protocol.md). Who the
 * responder is (name, role, capabilities) follows in `handshake_ack`, once the initiator is let in.
 */
export const ResponderHelloSchema = z.object({
  protocol: z.number().int().positive(),
  join: z.object({ proof: ProofSchema }).strict().optional(),
}).strict();
/** The responder's message-2 payload. */
export type ResponderHello = z.infer<typeof ResponderHelloSchema>;

/** Who a node is, as it tells an authenticated peer (bounded: it is the peer's word). */
export const NodeAnnouncementSchema = z.object({
  name: NodeNameSchema,
  role: NodeRoleSchema,
  version: z.string().max(32),
  caps: CapabilitiesSchema.optional(),
}).strict();
/** A node's announcement of itself. */
export type NodeAnnouncement = z.infer<typeof NodeAnnouncementSchema>;

/** The initiator's payload in Noise message 3 (the initiator authenticates in this message). */
export const HandshakePayloadSchema = z.object({
  id: NodeIdSchema,
  name: NodeNameSchema,
  role: NodeRoleSchema,
  version: z.string().max(32),
  protocol: z.number().int().positive(),
  pair: z.object({
    codeId: z.string().regex(/^[0-9a-f]{16}$/),
    proof: ProofSchema,
  }).optional(),
  /** Proof of the farm's join secret (auto enrollment; see docs/protocol.md). */
  join: z.object({ proof: ProofSchema }).strict().optional(),
  /** What the node can mine with (OS, CPU, memory, huge pages, GPUs, miners). */
  caps: CapabilitiesSchema.optional(),
}).strict();
/** A handshake payload. */
export type HandshakePayload = z.infer<typeof HandshakePayloadSchema>;

const Reason = z.string().max(500);

/** A worker's stats: what it is and what its miners do. */
export const StatsPayloadSchema = z.object({
  nodeId: NodeIdSchema,
  nodeName: NodeNameSchema,
  role: NodeRoleSchema,
  uptime: z.number().nonnegative(),
  miners: z.array(MinerStatsSchema).max(256),
  capabilities: CapabilitiesSchema.optional(),
}).strict();
/** A worker's stats. */
export type StatsPayload = z.infer<typeof StatsPayloadSchema>;

/** Payload schemas, one per message type. */
export const PayloadSchemas = {
  /**
   * The responder's verdict on the initiator; when accepted, the responder's announcement of
   * itself (it says nothing about itself before this).
   */
  handshake_ack: z.object({
    accepted: z.boolean(),
    reason: Reason.optional(),
    node: NodeAnnouncementSchema.optional(),
  }).strict().refine((a) => !a.accepted || a.node !== undefined, {
    message: "an accepting handshake_ack names the node",
  }),
  ping: z.object({ seq: z.number().int().nonnegative().optional() }).strict(),
  pong: z.object({ seq: z.number().int().nonnegative().optional() }).strict(),
  disconnect: z.object({
    reason: Reason,
    /** The operation the session was opened for is over (not: the sender is going away). */
    done: z.boolean().optional(),
  }).strict(),
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string().max(2000),
    details: z.unknown().optional(),
  }).strict(),
  get_stats: z.object({}).strict(),
  stats: StatsPayloadSchema,
  /**
   * Unasked stats from a worker on a link it keeps to a controller that may read them: every
   * `intervalMs` (jittered) and at once when a miner starts, stops or fails. The controller
   * keeps the rig's row from these instead of asking.
   */
  stats_push: StatsPayloadSchema.extend({
    /** Increases with every push on the session. */
    seq: z.number().int().nonnegative(),
    /** When the next push is due at the latest (without jitter). */
    intervalMs: z.number().int().min(100).max(3_600_000),
    /** Why it was sent now. */
    reason: z.enum(["link", "interval", "change"]),
  }).strict(),
  start_miner: z.object({
    minerType: MinerTypeSchema,
    profileId: z.string().max(64).optional(),
    /** A whole profile (as the controller stores it) when the worker does not have it yet. */
    config: z.unknown().optional(),
  }).strict(),
  stop_miner: z.object({ minerName: z.string().min(1).max(64) }).strict(),
  miner_ack: z.object({
    success: z.boolean(),
    minerName: z.string().max(64).optional(),
    error: z.string().max(2000).optional(),
    /** It already was running (a start) or stopped (a stop): nothing was done. */
    already: z.boolean().optional(),
    /** For an `already` running miner: since when. */
    since: z.iso.datetime().optional(),
  }).strict(),
  get_audit: z.object({
    limit: z.number().int().min(1).max(1000).optional(),
    scope: AuditScopeSchema.optional(),
  }).strict(),
  audit: z.object({ records: z.array(AuditRecordSchema).max(1000) }).strict(),
  get_logs: z.object({
    minerName: z.string().min(1).max(64),
    lines: z.number().int().min(1).max(100_000).optional(),
    since: z.number().int().min(0).optional(),
    /** Keep sending `log_lines` (replyTo = this request) until `cancel` or disconnect. */
    follow: z.boolean().optional(),
  }).strict(),
  logs: z.object({
    minerName: z.string().max(64),
    lines: z.array(z.object({ seq: z.number().int(), ts: z.string(), text: z.string().max(2000) }))
      .max(100_000),
    hasMore: z.boolean(),
  }).strict(),
  log_lines: z.object({
    minerName: z.string().max(64),
    lines: z.array(z.object({ seq: z.number().int(), ts: z.string(), text: z.string().max(2000) }))
      .max(10_000),
    /** The miner stopped: no more lines will come for this follow. */
    ended: z.boolean().optional(),
  }).strict(),
  cancel: z.object({ requestId: z.uuid({ version: "v4" }) }).strict(),
  /**
   * Announces a bundle; once the worker answers `deploy_progress {received: 0}` the bundle
   * follows as data frames tagged with this message's ID. The worker acknowledges progress
   * (flow control) and ends with `deploy_ack`.
   */
  deploy: z.object({
    type: z.enum(["profile", "miner", "full"]),
    name: z.string().min(1).max(64),
    size: z.number().int().positive().max(2 ** 40),
    checksum: z.string().regex(/^[0-9a-f]{64}$/, "SHA-256 as 64 lowercase hex digits"),
  }).strict(),
  deploy_progress: z.object({ received: z.number().int().nonnegative() }).strict(),
  deploy_ack: z.object({
    success: z.boolean(),
    name: z.string().max(64).optional(),
    error: z.string().max(2000).optional(),
    minerType: z.string().max(32).nullable().optional(),
    version: z.string().max(64).optional(),
    profileIds: z.array(z.string().max(64)).max(256).optional(),
  }).strict(),
  /** Farm stratum between a rig and the controller it granted control (see `src/stratum/`). */
  ...StratumPayloads,
} as const;

/** Message types that may carry a binary body (`ping`/`pong` echo it, for RTT at any size). */
export const BODY_TYPES: ReadonlySet<string> = new Set(["ping", "pong"]);

/** Names of the message types. */
export type MessageType = keyof typeof PayloadSchemas;
/** Payload type for a message type. */
export type PayloadOf<T extends MessageType> = z.infer<(typeof PayloadSchemas)[T]>;

/** The envelope every message travels in. */
export const EnvelopeSchema = z.object({
  id: z.uuid({ version: "v4" }),
  type: z.string().min(1).max(64),
  from: NodeIdSchema,
  to: NodeIdSchema,
  ts: z.iso.datetime({ offset: true }),
  payload: z.unknown(),
  replyTo: z.uuid({ version: "v4" }).optional(),
}).strict();

/** A validated message. */
export interface Message<T extends MessageType = MessageType> {
  /** UUID v4. */
  id: string;
  /** Message type. */
  type: T;
  /** Sender node ID (must equal the authenticated peer). */
  from: string;
  /** Recipient node ID. */
  to: string;
  /** RFC 3339 timestamp. */
  ts: string;
  /** Type-specific payload. */
  payload: PayloadOf<T>;
  /** ID of the request this answers. */
  replyTo?: string;
  /**
   * Binary body carried beside the JSON envelope (only for {@link BODY_TYPES}), as the fragments
   * it arrived in: a 64 KiB body spans two Noise messages, and joining them would cost a copy.
   */
  body?: readonly Uint8Array[];
}

/** Any validated message, discriminated by its `type` (narrowing `type` narrows `payload`). */
export type AnyMessage = { [K in MessageType]: Message<K> }[MessageType];
/** The message of one type (or of each of a union of types). */
export type MessageOf<K extends MessageType> = Extract<AnyMessage, { type: K }>;

/**
 * What each request is answered with (besides an `error`); an answer of another type is a
 * protocol error. `deploy` is answered with progress messages, then its ack.
 */
export const REPLIES = {
  ping: ["pong"],
  get_stats: ["stats"],
  start_miner: ["miner_ack"],
  stop_miner: ["miner_ack"],
  get_logs: ["logs", "log_lines"],
  get_audit: ["audit"],
  deploy: ["deploy_progress", "deploy_ack"],
  stratum_ops: ["stratum_results"],
} as const satisfies Partial<Record<MessageType, readonly MessageType[]>>;
/** A message type that is a request. */
export type RequestType = keyof typeof REPLIES;
/** The types a request of type `T` is answered with. */
export type ReplyOf<T extends MessageType> = T extends RequestType ? (typeof REPLIES)[T][number]
  : MessageType;

/** Options for {@link createMessage}. */
export interface CreateMessageOptions {
  /** Sender. */
  from: string;
  /** Recipient. */
  to: string;
  /** Request being answered. */
  replyTo?: string;
  /** The message ID (default: a new random UUID v4). */
  id?: string;
}

/** Builds an envelope. */
export function createMessage<T extends MessageType>(
  type: T,
  payload: PayloadOf<T>,
  options: CreateMessageOptions,
): Message<T> {
  return {
    id: options.id ?? crypto.randomUUID(),
    type,
    from: options.from,
    to: options.to,
    ts: new Date().toISOString(),
    payload,
    ...(options.replyTo ? { replyTo: options.replyTo } : {}),
  };
}

/** Result of {@link parseMessage}. */
export type ParseResult =
  | { ok: true; message: AnyMessage }
  | { ok: false; code: ErrorCode; message: string; id?: string };

function describe(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join(
    "; ",
  );
}

/** Parses and validates one message (envelope and payload) from its JSON text and optional body. */
export function parseMessage(text: string, body?: readonly Uint8Array[]): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: "invalid_message", message: "message is not valid JSON" };
  }
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success) {
    const id = typeof (raw as { id?: unknown })?.id === "string"
      ? (raw as { id: string }).id
      : undefined;
    return {
      ok: false,
      code: "invalid_message",
      message: `invalid envelope: ${describe(env.error)}`,
      id,
    };
  }
  const schema = (PayloadSchemas as Record<string, z.ZodType>)[env.data.type];
  if (!schema) {
    return {
      ok: false,
      code: "unknown_type",
      message: `unknown message type ${JSON.stringify(env.data.type)}`,
      id: env.data.id,
    };
  }
  const payload = schema.safeParse(env.data.payload);
  if (!payload.success) {
    return {
      ok: false,
      code: "invalid_message",
      message: `invalid ${env.data.type} payload: ${describe(payload.error)}`,
      id: env.data.id,
    };
  }
  if (body && !BODY_TYPES.has(env.data.type)) {
    return {
      ok: false,
      code: "invalid_message",
      message: `${env.data.type} messages carry no binary body`,
      id: env.data.id,
    };
  }
  const message = {
    ...env.data,
    type: env.data.type as MessageType,
    payload: payload.data,
  } as AnyMessage;
  if (body) message.body = body;
  return { ok: true, message };
}
