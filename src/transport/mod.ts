/**
 * Noise-encrypted WebSocket transport.
 * @module
 */
export {
  aeadDecrypt,
  aeadEncrypt,
  CipherState,
  dh,
  generateKeyPair,
  type HandshakeOptions,
  HandshakeState,
  type KeyPair,
  keyPairFromPrivate,
  MAX_NOISE_MESSAGE,
  NoiseError,
  type NoiseHash,
  TAG_LENGTH,
  type TransportCiphers,
} from "./noise.ts";
export { adaptWebSocket, type FrameSocket, type WebSocketLike } from "./socket.ts";
export {
  acceptChannel,
  type AcceptedChannel,
  ChannelError,
  type ChannelErrorCode,
  type ChannelLimits,
  DEFAULT_LIMITS,
  type HandshakeHashes,
  initiateChannel,
  type InitiatorOptions,
  joinParts,
  KIND_CONTROL,
  KIND_CONTROL_BODY,
  KIND_DATA,
  MAX_FRAGMENT,
  MAX_SEND_FRAME,
  type MessageHandler,
  NOISE_PROTOCOL,
  type ResponderOptions,
  SecureChannel,
  TokenBucket,
} from "./channel.ts";
export {
  type ConnectionAdmission,
  startTransportServer,
  type TransportCounts,
  type TransportServer,
  type TransportServerOptions,
} from "./server.ts";
export { DialError, type DialOptions, dialSocket } from "./client.ts";
