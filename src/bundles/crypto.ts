/**
 * Bundle encryption at rest: Argon2id (from `@noble/hashes`, parameters in the header) derives a
 * key from the password; the tar is cut into fixed-size chunks, each sealed with
 * XChaCha20-Poly1305 (`@noble/ciphers`) with the whole header as associated data. The nonce is
 * `prefix(15) || counter(u64 BE) || final(1)`, the STREAM construction: reordered chunks fail
 * (counter), a truncated file fails (the last chunk present was not sealed as final), and any
 * flipped bit fails its tag. A key-check value in the header tells a wrong password apart from
 * a damaged file.
 *
 * Header (72 bytes): magic `MCBUNDLE` · format u8 · kdf u8 (1 = Argon2id v1.3) · p u8 ·
 * reserved u8 · t u32 · m KiB u32 · chunk size u32 · salt 16 · nonce prefix 15 · reserved 1 ·
 * key check 16.
 * @module
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { BundleError } from "./manifest.ts";

/** File magic of an encrypted bundle. */
export const ENCRYPTED_MAGIC: Uint8Array = new TextEncoder().encode("MCBUNDLE");
/** Header length. */
export const HEADER_BYTES = 72;
const TAG = 16;

/** Argon2id cost parameters. */
export interface KdfParams {
  /** Iterations. */
  t: number;
  /** Memory in KiB. */
  m: number;
  /** Parallelism. */
  p: number;
}

/** Default cost: 64 MiB, 3 passes (about 0.8 s here). */
export const DEFAULT_KDF: KdfParams = { t: 3, m: 64 * 1024, p: 1 };
/** Default plaintext chunk size. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** The password does not open this bundle. */
export class WrongPasswordError extends BundleError {
  /** Creates the error. */
  constructor() {
    super("wrong password for this encrypted bundle");
    this.name = "WrongPasswordError";
  }
}

/** The encrypted bundle was altered, reordered or cut short. */
export class BundleTamperedError extends BundleError {
  /** Creates the error. */
  constructor(detail: string) {
    super(`the encrypted bundle is damaged or was tampered with: ${detail}`);
    this.name = "BundleTamperedError";
  }
}

/** Whether `bytes` start like an encrypted bundle. */
export function isEncryptedBundle(bytes: Uint8Array): boolean {
  return bytes.length >= ENCRYPTED_MAGIC.length &&
    ENCRYPTED_MAGIC.every((b, i) => bytes[i] === b);
}

interface Header {
  bytes: Uint8Array;
  kdf: KdfParams;
  chunk: number;
  salt: Uint8Array;
  prefix: Uint8Array;
  check: Uint8Array;
}

function parseHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_BYTES || !isEncryptedBundle(bytes)) {
    throw new BundleError("not an encrypted miner-cli bundle (bad header)");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (bytes[8] !== 1) throw new BundleError(`unsupported encrypted bundle format ${bytes[8]}`);
  if (bytes[9] !== 1) throw new BundleError(`unsupported key derivation ${bytes[9]}`);
  const kdf = { p: bytes[10], t: v.getUint32(12), m: v.getUint32(16) };
  const chunk = v.getUint32(20);
  // Bounds keep a hostile header from making us allocate or spin without end.
  if (kdf.p < 1 || kdf.p > 16 || kdf.t < 1 || kdf.t > 10 || kdf.m < 8 * kdf.p || kdf.m > 1 << 18) {
    throw new BundleError("encrypted bundle header has out-of-range Argon2id parameters");
  }
  if (chunk < 1024 || chunk > 16 * 1024 * 1024) {
    throw new BundleError("encrypted bundle header has an out-of-range chunk size");
  }
  return {
    bytes: bytes.slice(0, HEADER_BYTES),
    kdf,
    chunk,
    salt: bytes.slice(24, 40),
    prefix: bytes.slice(40, 55),
    check: bytes.slice(56, 72),
  };
}

async function deriveKeys(
  password: string,
  salt: Uint8Array,
  kdf: KdfParams,
): Promise<{ key: Uint8Array; check: Uint8Array }> {
  const master = await argon2idAsync(new TextEncoder().encode(password), salt, {
    ...kdf,
    dkLen: 32,
  });
  const info = (s: string) => new TextEncoder().encode(`miner-cli bundle v1 ${s}`);
  const key = hkdf(sha256, master, undefined, info("key"), 32);
  const check = hkdf(sha256, master, undefined, info("check"), 16);
  master.fill(0);
  return { key, check };
}

function nonce(prefix: Uint8Array, counter: number, final: boolean): Uint8Array {
  const n = new Uint8Array(24);
  n.set(prefix, 0);
  new DataView(n.buffer).setBigUint64(15, BigInt(counter));
  n[23] = final ? 1 : 0;
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Options for {@link encryptStream}. */
export interface EncryptOptions {
  /** Argon2id cost (default {@link DEFAULT_KDF}). */
  kdf?: KdfParams;
  /** Plaintext chunk size (default 64 KiB). */
  chunkBytes?: number;
}

/** A transform that encrypts a byte stream with `password`. */
export async function encryptStream(
  password: string,
  options: EncryptOptions = {},
): Promise<TransformStream<Uint8Array, Uint8Array>> {
  const kdf = options.kdf ?? DEFAULT_KDF;
  const chunk = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const prefix = crypto.getRandomValues(new Uint8Array(15));
  const { key, check } = await deriveKeys(password, salt, kdf);
  const header = new Uint8Array(HEADER_BYTES);
  const v = new DataView(header.buffer);
  header.set(ENCRYPTED_MAGIC, 0);
  header[8] = 1;
  header[9] = 1;
  header[10] = kdf.p;
  v.setUint32(12, kdf.t);
  v.setUint32(16, kdf.m);
  v.setUint32(20, chunk);
  header.set(salt, 24);
  header.set(prefix, 40);
  header.set(check, 56);
  let buf: Uint8Array = new Uint8Array(0);
  let counter = 0;
  const seal = (plain: Uint8Array, final: boolean) =>
    xchacha20poly1305(key, nonce(prefix, counter++, final), header).encrypt(plain);
  return new TransformStream({
    start(ctrl) {
      ctrl.enqueue(header.slice());
    },
    transform(data, ctrl) {
      buf = concat(buf, data);
      // Keep at least one byte back: the last chunk must be sealed as final.
      let off = 0;
      while (buf.length - off > chunk) {
        ctrl.enqueue(seal(buf.subarray(off, off + chunk), false));
        off += chunk;
      }
      buf = buf.slice(off);
    },
    flush(ctrl) {
      ctrl.enqueue(seal(buf, true));
      key.fill(0);
    },
  });
}

/** A transform that decrypts an encrypted bundle; fails on a wrong password or any tampering. */
export function decryptStream(password: string): TransformStream<Uint8Array, Uint8Array> {
  let buf: Uint8Array = new Uint8Array(0);
  let header: Header | null = null;
  let key: Uint8Array | null = null;
  let counter = 0;
  const open = (sealed: Uint8Array, final: boolean): Uint8Array => {
    try {
      return xchacha20poly1305(key!, nonce(header!.prefix, counter, final), header!.bytes)
        .decrypt(sealed);
    } catch {
      throw new BundleTamperedError(
        final
          ? `the last chunk (${counter}) does not authenticate as the end: the file was cut short or altered`
          : `chunk ${counter} failed authentication (altered or out of order)`,
      );
    } finally {
      counter++;
    }
  };
  return new TransformStream({
    async transform(data, ctrl) {
      buf = concat(buf, data);
      if (!header) {
        if (buf.length < HEADER_BYTES) return;
        header = parseHeader(buf);
        const derived = await deriveKeys(password, header.salt, header.kdf);
        if (!derived.check.every((b, i) => b === header!.check[i])) {
          throw new WrongPasswordError();
        }
        key = derived.key;
        buf = buf.slice(HEADER_BYTES);
      }
      const sealedSize = header.chunk + TAG;
      let off = 0;
      // A full sealed chunk followed by more bytes is not the last one.
      while (buf.length - off > sealedSize) {
        ctrl.enqueue(open(buf.subarray(off, off + sealedSize), false));
        off += sealedSize;
      }
      buf = buf.slice(off);
    },
    flush(ctrl) {
      if (!header) throw new BundleTamperedError("the file ends inside its header");
      if (buf.length < TAG) throw new BundleTamperedError("the file ends inside a chunk");
      ctrl.enqueue(open(buf, true));
      key?.fill(0);
    },
  });
}
