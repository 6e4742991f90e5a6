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
