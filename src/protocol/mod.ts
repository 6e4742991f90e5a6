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
  parseMessage,
  type ParseResult,
  type PayloadOf,
  PayloadSchemas,
  PROLOGUE,
  PROTOCOL_VERSION,
  SOFTWARE_VERSION,
} from "./messages.ts";
