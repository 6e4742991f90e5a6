/**
 * Monero block templates, for more miners than the nonce's high byte can split: each group of
 * 256 miners gets its own extra nonce written into the template's reserved space (monerod's
 * `reserve_size`), and with it its own hashing blob. The blob is recomputed as monerod computes
 * it: the block header, the Merkle root (Monero's tree hash) of the miner transaction's hash and
 * the other transactions' hashes, and the transaction count. The miner transaction's hash (v2) is
 * `H(H(prefix) ‖ H(rct base) ‖ H(rct prunable))`, with `H` Keccak-256 (`cn_fast_hash`); a
 * coinbase's RingCT part is the single type byte 0 and its prunable hash is zero.
 * @module
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

/** A template could not be parsed. */
export class TemplateError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(`block template: ${message}`);
    this.name = "TemplateError";
  }
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string): Uint8Array => {
  if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new TemplateError("not lowercase hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
};

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Monero's varint (7 bits a byte, low first). */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return new Uint8Array(out);
}

class Reader {
  at = 0;
  constructor(readonly b: Uint8Array) {}
  byte(): number {
    if (this.at >= this.b.length) throw new TemplateError("truncated");
    return this.b[this.at++];
  }
  varint(): number {
    let v = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      const x = this.byte();
      v += (x & 0x7f) * shift;
      if (!(x & 0x80)) return v;
      shift *= 128;
    }
    throw new TemplateError("varint too long");
  }
  skip(n: number): void {
    if (this.at + n > this.b.length) throw new TemplateError("truncated");
    this.at += n;
  }
}

/** Monero's tree hash (`tree_hash` in crypto/tree-hash.c) of 32-byte hashes. */
export function treeHash(hashes: readonly Uint8Array[]): Uint8Array {
  const count = hashes.length;
  if (count === 0) throw new TemplateError("tree hash of nothing");
  if (count === 1) return hashes[0];
  if (count === 2) return keccak_256(concat(hashes[0], hashes[1]));
  let cnt = 1;
  while (cnt * 2 < count) cnt *= 2;
  const ints = hashes.slice(0, 2 * cnt - count).map((h) => h);
  for (let i = 2 * cnt - count, j = 2 * cnt - count; j < cnt; i += 2, j++) {
    ints[j] = keccak_256(concat(hashes[i], hashes[i + 1]));
  }
  while (cnt > 2) {
    cnt /= 2;
    for (let i = 0, j = 0; j < cnt; i += 2, j++) ints[j] = keccak_256(concat(ints[i], ints[i + 1]));
  }
  return keccak_256(concat(ints[0], ints[1]));
}

const RCT_NULL_BASE_HASH = keccak_256(new Uint8Array([0]));
const ZERO_HASH = new Uint8Array(32);

/** A parsed block template. */
export interface ParsedTemplate {
  /** The template blob. */
  blob: Uint8Array;
  /** Where the reserved bytes start (monerod's `reserved_offset`). */
  reservedOffset: number;
  /** How many bytes are reserved there. */
  reservedSize: number;
  /** End of the header (the miner transaction starts here). */
  headerEnd: number;
  /** End of the miner transaction's prefix. */
  prefixEnd: number;
  /** The other transactions' hashes. */
  txHashes: Uint8Array[];
}

/** Parses a template blob (hex) with its reserved space. */
export function parseTemplate(
  blobHex: string,
  reservedOffset: number,
  reservedSize: number,
): ParsedTemplate {
  const blob = unhex(blobHex);
  const r = new Reader(blob);
  r.varint(); // major version
  r.varint(); // minor version
  r.varint(); // timestamp
  r.skip(32); // previous block
  r.skip(4); // nonce
  const headerEnd = r.at;
  const version = r.varint();
  if (version !== 2) throw new TemplateError(`miner transaction version ${version} (expected 2)`);
  r.varint(); // unlock time
  const inputs = r.varint();
  if (inputs !== 1 || r.byte() !== 0xff) {
    throw new TemplateError("miner transaction input is not a coinbase");
  }
  r.varint(); // height
  const outputs = r.varint();
  if (outputs > 64) throw new TemplateError(`${outputs} outputs`);
  for (let i = 0; i < outputs; i++) {
    r.varint(); // amount
    const tag = r.byte();
    if (tag === 0x02) r.skip(32);
    else if (tag === 0x03) r.skip(33); // key and view tag
    else throw new TemplateError(`output type ${tag}`);
  }
  const extra = r.varint();
  r.skip(extra);
  const prefixEnd = r.at;
  if (r.byte() !== 0) throw new TemplateError("miner transaction's RingCT type is not null");
  const count = r.varint();
  if (count > 100_000) throw new TemplateError(`${count} transactions`);
  const txHashes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    txHashes.push(blob.subarray(r.at, r.at + 32));
    r.skip(32);
  }
  if (r.at !== blob.length) throw new TemplateError("trailing bytes");
  if (
    reservedSize < 1 || reservedOffset < headerEnd || reservedOffset + reservedSize > prefixEnd
  ) {
    throw new TemplateError("the reserved space is not in the miner transaction's extra");
  }
  return { blob, reservedOffset, reservedSize, headerEnd, prefixEnd, txHashes };
}

/**
 * The template and hashing blob (hex) with `extraNonce` written into the reserved space.
 *
 * @example
 * ```ts ignore
 * const t = parseTemplate(r.blocktemplate_blob, r.reserved_offset, 8);
 * const { hashing } = withExtraNonce(t, 0); // == r.blockhashing_blob
 * ```
 */
export function withExtraNonce(
  t: ParsedTemplate,
  extraNonce: number,
): { template: string; hashing: string } {
  const blob = t.blob.slice();
  // Big-endian in the last bytes of the reserve, so 0 leaves the template as monerod gave it.
  let v = extraNonce;
  for (let i = t.reservedOffset + t.reservedSize - 1; i >= t.reservedOffset && v > 0; i--) {
    blob[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  const prefixHash = keccak_256(blob.subarray(t.headerEnd, t.prefixEnd));
  const minerTx = keccak_256(concat(prefixHash, RCT_NULL_BASE_HASH, ZERO_HASH));
  const root = treeHash([minerTx, ...t.txHashes]);
  const hashing = concat(blob.subarray(0, t.headerEnd), root, varint(t.txHashes.length + 1));
  return { template: hex(blob), hashing: hex(hashing) };
}
