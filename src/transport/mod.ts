/**
 * The encrypted transport: Noise XX (revision 34, over `node:crypto`'s X25519 and
 * ChaCha20-Poly1305), the secure channel that frames, fragments and limits messages over a
 * WebSocket, the `node:http` + `npm:ws` server with its connection gate, and the `npm:ws` client.
 *
 * @example
 * ```ts
 * import { generateKeyPair, HandshakeState, NOISE_PROTOCOL } from "./mod.ts";
 * const prologue = new TextEncoder().encode("example");
 * const a = new HandshakeState({ protocolName: NOISE_PROTOCOL, initiator: true, prologue, s: generateKeyPair() });
 * const b = new HandshakeState({ protocolName: NOISE_PROTOCOL, initiator: false, prologue, s: generateKeyPair() });
 * b.readMessage(a.writeMessage()); // -> e
 * a.readMessage(b.writeMessage()); // <- e, ee, s, es
 * b.readMessage(a.writeMessage()); // -> s, se
 * const sealed = a.split().send.encryptWithAd(new Uint8Array(0), new TextEncoder().encode("hi"));
 * const opened = b.split().recv.decryptWithAd(new Uint8Array(0), sealed);
 * if (new TextDecoder().decode(opened) !== "hi") throw new Error("round trip failed");
 * ```
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
