/**
 * LAN discovery, the safe half of the "P2P Mining Cluster" design: a small UDP beacon announces a
 * node (ID, control port, role, protocol version, a compact capability summary), and what others
 * announce lands in a bounded **pending** list. Nothing discovered is ever trusted: approving an
 * entry dials it and pins its key only after a full Noise handshake proves the announced ID, and a
 * beacon never changes a registered peer.
 *
 * Beacon v1, network byte order, exactly {@link BEACON_SIZE} bytes:
 *
 * | offset | size | field                                                   |
 * | ------ | ---- | ------------------------------------------------------- |
 * | 0      | 4    | magic `MCLB`                                            |
 * | 4      | 1    | format version (1; other versions are ignored)          |
 * | 5      | 1    | role (0 controller, 1 worker, 2 dual)                   |
 * | 6      | 2    | protocol version                                        |
 * | 8      | 2    | control (P2P) port                                      |
 * | 10     | 16   | node ID                                                 |
 * | 26     | 2    | CPU threads                                             |
 * | 28     | 4    | total RAM, MB                                           |
 * | 32     | 1    | flags: bit 0 AES, bit 1 AVX2, bit 2 huge pages available, |
 * |        |      | bit 3 CPU flags unknown, bit 4 huge pages unknown       |
 * | 33     | 1    | GPU count                                               |
 * @module
 */
import type { Capabilities } from "../capabilities/mod.ts";
import type { NodeRole } from "../identity/mod.ts";
import type { PendingNode } from "../protocol/mod.ts";

/** Beacon magic. */
export const BEACON_MAGIC = 0x4d434c42; // "MCLB"
/** Beacon format version. */
export const BEACON_FORMAT = 1;
/** Size of a v1 beacon. */
export const BEACON_SIZE = 34;
/** Default UDP port (the cluster design's). */
export const DISCOVERY_PORT = 10000;

const ROLES: readonly NodeRole[] = ["controller", "worker", "dual"];

/** What a beacon says. */
export interface Beacon {
  /** Node ID (32 hex chars). */
  id: string;
  /** Announced role. */
  role: NodeRole;
  /** Protocol version. */
  protocol: number;
  /** P2P port on the sender's address. */
  port: number;
  /** CPU threads. */
  threads: number;
  /** Total RAM in MB. */
  memTotalMB: number;
  /** AES-NI (null: unknown, e.g. /proc not readable under the node's permission set). */
  aes: boolean | null;
  /** AVX2 (null: unknown). */
  avx2: boolean | null;
  /** Huge pages available (null: unknown). */
  hugePages: boolean | null;
  /** GPUs. */
  gpus: number;
}

/** Builds this node's beacon from its identity and capabilities. */
export function beaconOf(
  node: { id: string; role: NodeRole; protocol: number; port: number },
  caps: Capabilities | null,
): Beacon {
  return {
    ...node,
    threads: caps?.threads ?? 0,
    memTotalMB: caps?.memTotalMB ?? 0,
    aes: caps?.aes ?? null,
    avx2: caps?.avx2 ?? null,
    hugePages: caps?.hugePagesFree === null || caps?.hugePagesFree === undefined
      ? null
      : caps.hugePagesFree > 0,
    gpus: caps?.gpus.length ?? 0,
  };
}

/** Encodes a beacon (network byte order). */
export function encodeBeacon(b: Beacon): Uint8Array {
  const out = new Uint8Array(BEACON_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, BEACON_MAGIC);
  v.setUint8(4, BEACON_FORMAT);
  v.setUint8(5, ROLES.indexOf(b.role));
  v.setUint16(6, b.protocol);
  v.setUint16(8, b.port);
  for (let i = 0; i < 16; i++) out[10 + i] = parseInt(b.id.slice(i * 2, i * 2 + 2), 16);
  v.setUint16(26, Math.min(b.threads, 0xffff));
  v.setUint32(28, Math.min(b.memTotalMB, 0xffffffff));
  const cpuUnknown = b.aes === null || b.avx2 === null;
  v.setUint8(
    32,
    (b.aes ? 1 : 0) | (b.avx2 ? 2 : 0) | (b.hugePages ? 4 : 0) | (cpuUnknown ? 8 : 0) |
      (b.hugePages === null ? 16 : 0),
  );
  v.setUint8(33, Math.min(b.gpus, 255));
  return out;
}

/** Decodes a beacon; null for anything that is not a well-formed v1 beacon. */
export function decodeBeacon(data: Uint8Array): Beacon | null {
  if (data.length !== BEACON_SIZE) return null;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint32(0) !== BEACON_MAGIC || v.getUint8(4) !== BEACON_FORMAT) return null;
  const role = ROLES[v.getUint8(5)];
  const port = v.getUint16(8);
  if (!role || port === 0) return null;
  let id = "";
  for (let i = 0; i < 16; i++) id += data[10 + i].toString(16).padStart(2, "0");
  const flags = v.getUint8(32);
  return {
    id,
    role,
    protocol: v.getUint16(6),
    port,
    threads: v.getUint16(26),
    memTotalMB: v.getUint32(28),
    aes: flags & 8 ? null : (flags & 1) !== 0,
    avx2: flags & 8 ? null : (flags & 2) !== 0,
    hugePages: flags & 16 ? null : (flags & 4) !== 0,
    gpus: v.getUint8(33),
  };
}

/** Options for {@link PendingList}. */
export interface PendingListOptions {
  /** Most entries kept (default 256); beyond it new IDs are dropped until entries expire. */
  maxEntries?: number;
  /** Entries expire after this much silence (default 15 s). */
  ttlMs?: number;
  /** Beacons accepted per source address per second, burst included (default 2/s, burst 5). */
  perSourceRate?: number;
  /** Burst per source. */
  perSourceBurst?: number;
  /** Most source addresses tracked for rate limiting (default 1024). */
  maxSources?: number;
  /** Whether an ID is already registered or allowlisted (its beacons change nothing). */
  isKnown?: (id: string) => boolean;
  /** Clock (for tests). */
  now?: () => number;
}

/** Why a beacon was not taken. */
export type BeaconVerdict = "added" | "refreshed" | "known" | "self" | "full" | "rate-limited";

/**
 * Discovered nodes awaiting approval. Bounded in every dimension: entries, sources tracked for
 * rate limiting, and per-source beacon rate, so a flood of fake IDs costs a fixed amount of memory.
 */
export class PendingList {
  readonly #entries = new Map<string, PendingNode & { lastMs: number }>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #o: Required<Omit<PendingListOptions, "isKnown">>;
  readonly #isKnown: (id: string) => boolean;
  /** Counters per verdict. */
  readonly counters: Record<BeaconVerdict, number> = {
    added: 0,
    refreshed: 0,
    known: 0,
    self: 0,
    full: 0,
    "rate-limited": 0,
  };

  /** Creates an empty list. */
  constructor(readonly selfId: string, options: PendingListOptions = {}) {
    this.#o = {
      maxEntries: options.maxEntries ?? 256,
      ttlMs: options.ttlMs ?? 15_000,
      perSourceRate: options.perSourceRate ?? 2,
      perSourceBurst: options.perSourceBurst ?? 5,
      maxSources: options.maxSources ?? 1024,
      now: options.now ?? Date.now,
    };
    this.#isKnown = options.isKnown ?? (() => false);
  }

  #allow(source: string, now: number): boolean {
    let b = this.#buckets.get(source);
    if (!b) {
      if (this.#buckets.size >= this.#o.maxSources) {
        // Forget the oldest source (Map keeps insertion order).
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      b = { tokens: this.#o.perSourceBurst, at: now };
      this.#buckets.set(source, b);
    }
    b.tokens = Math.min(
      this.#o.perSourceBurst,
      b.tokens + ((now - b.at) / 1000) * this.#o.perSourceRate,
    );
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Takes one beacon received from `sourceHost`. */
  offer(beacon: Beacon, sourceHost: string): BeaconVerdict {
    const now = this.#o.now();
    const verdict = this.#offer(beacon, sourceHost, now);
    this.counters[verdict]++;
    return verdict;
  }

  #offer(beacon: Beacon, sourceHost: string, now: number): BeaconVerdict {
    if (!this.#allow(sourceHost, now)) return "rate-limited";
    if (beacon.id === this.selfId) return "self";
    // A registered (or allowlisted) node is never updated from a beacon: its address and key
    // change only through a handshake that proves the pinned key.
    if (this.#isKnown(beacon.id)) {
      this.#entries.delete(beacon.id);
      return "known";
    }
    this.sweep();
    const address = sourceHost.includes(":")
      ? `[${sourceHost}]:${beacon.port}`
      : `${sourceHost}:${beacon.port}`;
    const iso = new Date(now).toISOString();
    const cur = this.#entries.get(beacon.id);
    if (cur) {
      this.#entries.set(beacon.id, { ...cur, ...beacon, address, lastSeen: iso, lastMs: now });
      return "refreshed";
    }
    if (this.#entries.size >= this.#o.maxEntries) return "full";
    this.#entries.set(beacon.id, {
      ...beacon,
      address,
      firstSeen: iso,
      lastSeen: iso,
      lastMs: now,
    });
    return "added";
  }

  /** Drops entries silent for longer than the TTL. */
  sweep(): void {
    const cutoff = this.#o.now() - this.#o.ttlMs;
    for (const [id, e] of this.#entries) if (e.lastMs < cutoff) this.#entries.delete(id);
  }

  /** Current pending entries, oldest first. */
  list(): PendingNode[] {
    this.sweep();
    return [...this.#entries.values()].map(({ lastMs: _, ...e }) => e);
  }

  /** One entry by full ID or unique prefix. */
  get(ref: string): PendingNode | undefined {
    return this.list().find((e) => e.id === ref) ??
      (() => {
        const m = this.list().filter((e) => e.id.startsWith(ref.toLowerCase()));
        return m.length === 1 ? m[0] : undefined;
      })();
  }

  /** Removes an entry (approved, rejected or ignored). */
  remove(id: string): boolean {
    return this.#entries.delete(id);
  }

  /** Number of tracked sources (bounded by `maxSources`). */
  get sources(): number {
    return this.#buckets.size;
  }
}
