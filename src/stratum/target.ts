/**
 * Targets and difficulties as Monero stratum and monerod use them. A share's result is the
 * RandomX hash, a 256-bit little-endian number; it meets difficulty `d` when `hash · d < 2^256`
 * (monerod's `check_hash`), the full 256-bit comparison. Miners are sent a 64-bit target
 * (`⌊(2^64 − 1) / d⌋`, little-endian hex), which XMRig compares with the hash's top 8 bytes.
 * @module
 */

const TWO_256 = 1n << 256n;
const MAX64 = (1n << 64n) - 1n;

/** The result hash (64 hex digits) as a 256-bit little-endian number. */
export function hashValue(resultHex: string): bigint {
  let v = 0n;
  for (let i = resultHex.length - 2; i >= 0; i -= 2) {
    v = (v << 8n) | BigInt(parseInt(resultHex.slice(i, i + 2), 16));
  }
  return v;
}

/** Whether the hash meets difficulty `difficulty` (full 256-bit comparison). */
export function meetsDifficulty(resultHex: string, difficulty: bigint): boolean {
  if (difficulty <= 0n) return true;
  return hashValue(resultHex) * difficulty < TWO_256;
}

/** The difficulty a hash proves: ⌊2^256 / hash⌋ (a zero hash proves everything). */
export function shareDifficulty(resultHex: string): number {
  const h = hashValue(resultHex);
  if (h === 0n) return Number.MAX_SAFE_INTEGER;
  return Number(TWO_256 / h);
}

/** The 64-bit target for `difficulty`, as 16 little-endian hex digits (what XMRig reads). */
export function targetHex(difficulty: bigint): string {
  const d = difficulty < 1n ? 1n : difficulty;
  let t = MAX64 / d;
  let out = "";
  for (let i = 0; i < 8; i++) {
    out += Number(t & 0xffn).toString(16).padStart(2, "0");
    t >>= 8n;
  }
  return out;
}

/** The difficulty a stratum target stands for (4-byte compact or 8-byte little-endian). */
export function targetDifficulty(target: string): bigint {
  if (!/^(?:[0-9a-f]{8}|[0-9a-f]{16})$/i.test(target)) {
    throw new RangeError(`not a stratum target: ${target}`);
  }
  const t = hashValue(target.toLowerCase());
  if (t === 0n) return MAX64;
  if (target.length === 8) return 0xffffffffn / t;
  return MAX64 / t;
}

/** The nonce's high byte (its 4th byte in the blob): the nicehash range a miner owns. */
export function nonceSlot(nonceHex: string): number {
  return parseInt(nonceHex.slice(6, 8), 16);
}

/** Offset of the 4-byte nonce in a Monero hashing blob and block blob. */
export const NONCE_OFFSET = 39;

/** `blobHex` with the nonce's high byte set to `slot` (a miner with nicehash keeps it). */
export function withSlot(blobHex: string, slot: number): string {
  const at = (NONCE_OFFSET + 3) * 2;
  return blobHex.slice(0, at) + slot.toString(16).padStart(2, "0") + blobHex.slice(at + 2);
}

/** `blobHex` with the 4-byte nonce (8 hex digits, as submitted) written at its offset. */
export function withNonce(blobHex: string, nonceHex: string): string {
  const at = NONCE_OFFSET * 2;
  return blobHex.slice(0, at) + nonceHex + blobHex.slice(at + 8);
}
