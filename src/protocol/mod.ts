/**
 * miner-cli protocol v1: envelope, message types and their schemas.
 * @module
 */
export {
  BODY_TYPES,
  createMessage,
  type CreateMessageOptions,
  EnvelopeSchema,
  type ErrorCode,
  ErrorCodeSchema,
  type HandshakePayload,
  HandshakePayloadSchema,
  type Message,
  type MessageType,
  type NodeAnnouncement,
  NodeAnnouncementSchema,
  parseMessage,
  type ParseResult,
  type PayloadOf,
  PayloadSchemas,
  PROLOGUE,
  PROTOCOL_VERSION,
  type ResponderHello,
  ResponderHelloSchema,
  SOFTWARE_VERSION,
} from "./messages.ts";
