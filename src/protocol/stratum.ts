/**
 * The shapes of farm stratum (see `src/stratum/`): the work a controller hands a rig's miner over
 * the mesh, the share a rig forwards back, and the views of the proxy (upstreams, miners, share
 * log) that the node builds, the API serves, the CLI prints and the dashboard renders. Everything a
 * rig or a miner sends is bounded here.
 * @module
 */
import { z } from "zod";

const Hex = (min: number, max: number) =>
  z.string().min(min).max(max).regex(/^(?:[0-9a-f]{2})+$/, "lowercase hex bytes");

/** A miner's key on its rig: the rig's stratum connection number and the miner's login name. */
export const StratumMinerKeySchema = z.string().min(1).max(64).regex(
  /^[A-Za-z0-9._:-]+$/,
  "letters, digits and . _ : -",
);

/** One job as a miner gets it (Monero stratum: the hashing blob, target, algorithm, seed). */
export const StratumJobSchema = z.object({
  jobId: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/),
  /** Hashing blob (76+ bytes; the 4-byte nonce at offset 39). */
  blob: Hex(86, 512),
  /** The miner's target: 4 or 8 bytes little-endian, as XMRig reads it. */
  target: z.string().regex(/^(?:[0-9a-f]{8}|[0-9a-f]{16})$/),
  algo: z.string().max(32).regex(/^[A-Za-z0-9._\/-]+$/),
  height: z.number().int().nonnegative().max(2 ** 53),
  seedHash: Hex(64, 64).optional(),
}).strict();
/** A job for one miner. */
export type StratumJob = z.infer<typeof StratumJobSchema>;

/** What a rig's stratum server forwards about one of its miners. */
export const StratumPayloads = {
  /**
   * What a rig's miners did since the last batch (rig → controller; one message per ~10 ms
   * whatever the number of miners, so a big rig stays far below the link's message rate):
   * logins (answered with work), shares (answered with a verdict), logouts (their ranges freed).
   */
  stratum_ops: z.object({
    ops: z.array(z.discriminatedUnion("op", [
      z.object({
        op: z.literal("login"),
        miner: StratumMinerKeySchema,
        /** The login the miner gave (its worker name; never a pool credential). */
        login: z.string().max(128),
        agent: z.string().max(256),
        algos: z.array(z.string().max(32)).max(32),
      }).strict(),
      z.object({
        op: z.literal("submit"),
        miner: StratumMinerKeySchema,
        jobId: z.string().min(1).max(64),
        nonce: z.string().max(8),
        result: z.string().max(64),
      }).strict(),
      z.object({ op: z.literal("logout"), miner: StratumMinerKeySchema }).strict(),
    ])).min(1).max(1024),
  }).strict(),
  /** One result per op, in order (a logout's is `{ok: true}`). */
  stratum_results: z.object({
    results: z.array(
      z.object({
        ok: z.boolean(),
        error: z.string().max(500).optional(),
        /** A login's first job. */
        job: StratumJobSchema.optional(),
        /** A login's nonce range: the nonce's high byte (nicehash). */
        slot: z.number().int().min(0).max(255).optional(),
      }).strict(),
    ).max(1024),
  }).strict(),
  /**
   * New work for a rig's logged-in miners (controller → rig), one message per rig: each blob
   * (one per extra nonce in use) with the miners that take it and the nonce high byte each
   * owns; the rig writes that byte into the blob for each miner.
   */
  stratum_jobs: z.object({
    jobs: z.array(
      z.object({
        job: StratumJobSchema,
        miners: z.array(z.tuple([StratumMinerKeySchema, z.number().int().min(0).max(255)])).max(
          4096,
        ),
      }).strict(),
    ).min(1).max(1024),
  }).strict(),
} as const;

/** The state of one upstream. */
export const UpstreamStateSchema = z.enum(["connecting", "up", "down", "idle"]);

/** One upstream of the proxy (a pool or a Monero daemon), as the views show it. */
export const UpstreamViewSchema = z.object({
  index: z.number().int().nonnegative(),
  url: z.string().max(300),
  kind: z.enum(["pool", "daemon"]),
  state: UpstreamStateSchema,
  active: z.boolean(),
  /** Last request round trip (ms). */
  latencyMs: z.number().nonnegative().nullable(),
  height: z.number().int().nonnegative().nullable(),
  /** The upstream's difficulty for the current job. */
  difficulty: z.number().nonnegative().nullable(),
  jobs: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** Blocks found (daemon) that it accepted. */
  blocks: z.number().int().nonnegative(),
  lastError: z.string().max(500).nullable(),
  since: z.string().max(40).nullable(),
}).strict();
/** An upstream view. */
export type UpstreamView = z.infer<typeof UpstreamViewSchema>;

/** One miner behind the proxy, with its accounting. */
export const StratumMinerViewSchema = z.object({
  rig: z.string().max(64),
  rigName: z.string().max(128),
  miner: StratumMinerKeySchema,
  login: z.string().max(128),
  agent: z.string().max(256),
  slot: z.number().int().min(0).max(255),
  /** The extra nonce of its blob (daemon upstreams, beyond 256 miners; 0 otherwise). */
  extraNonce: z.number().int().nonnegative(),
  since: z.string().max(40),
  difficulty: z.number().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  stale: z.number().int().nonnegative(),
  /** Shares the upstream accepted / rejected. */
  upstreamAccepted: z.number().int().nonnegative(),
  upstreamRejected: z.number().int().nonnegative(),
  bestDifficulty: z.number().nonnegative(),
  /** From the difficulty of its accepted shares over the last 10 minutes (H/s). */
  hashrate: z.number().nonnegative(),
  lastShareAt: z.string().max(40).nullable(),
}).strict();
/** A miner view. */
export type StratumMinerView = z.infer<typeof StratumMinerViewSchema>;

/** Why a share was rejected (the miner sees the message). */
export const ShareRejectReasonSchema = z.enum([
  "unauthenticated",
  "invalid_job",
  "stale_job",
  "nonce_out_of_range",
  "duplicate",
  "low_difficulty",
  "no_upstream",
  "malformed",
]);
/** A rejection reason. */
export type ShareRejectReason = z.infer<typeof ShareRejectReasonSchema>;

/** One share in the proxy's share log. */
export const ShareRecordSchema = z.object({
  at: z.string().max(40),
  rig: z.string().max(64),
  miner: StratumMinerKeySchema,
  jobId: z.string().max(64),
  nonce: z.string().max(8),
  slot: z.number().int().min(0).max(255).nullable(),
  /** The extra nonce of the miner's blob. */
  extraNonce: z.number().int().nonnegative().optional(),
  /** The share's difficulty from its result hash (2^256 / hash). */
  difficulty: z.number().nonnegative(),
  verdict: z.enum(["accepted", "stale", "rejected"]),
  reason: ShareRejectReasonSchema.optional(),
  /** Whether it went upstream, and what the upstream said (`pending` until it answers). */
  upstream: z.enum(["pending", "accepted", "rejected"]).optional(),
  upstreamError: z.string().max(500).optional(),
  /** It met the network target (daemon upstream): a block. */
  block: z.boolean().optional(),
}).strict();
/** A share record. */
export type ShareRecord = z.infer<typeof ShareRecordSchema>;

/** The proxy's status (`stratum status`, `GET /stratum/status`, the Pool view). */
export const StratumStatusSchema = z.object({
  at: z.string().max(40),
  enabled: z.boolean(),
  /** The difficulty given to miners. */
  difficulty: z.number().nonnegative(),
  /** Nonce ranges (high-byte values) per blob before another extra nonce is used (1-256). */
  ranges: z.number().int().min(1).max(256),
  upstreams: z.array(UpstreamViewSchema),
  miners: z.array(StratumMinerViewSchema),
  totals: z.object({
    miners: z.number().int().nonnegative(),
    accepted: z.number().int().nonnegative(),
    rejected: z.number().int().nonnegative(),
    stale: z.number().int().nonnegative(),
    upstreamAccepted: z.number().int().nonnegative(),
    upstreamRejected: z.number().int().nonnegative(),
    blocks: z.number().int().nonnegative(),
    hashrate: z.number().nonnegative(),
    /** Miners the active upstream can still take: 256 on a pool, far more on a daemon. */
    freeSlots: z.number().int().nonnegative(),
  }).strict(),
  rejectReasons: z.record(z.string(), z.number().int().nonnegative()),
}).strict();
/** The proxy's status. */
export type StratumStatus = z.infer<typeof StratumStatusSchema>;

/** The pool set as it is shown: upstreams in failover order, passwords never returned. */
export const PoolSetViewSchema = z.object({
  difficulty: z.number(),
  ranges: z.number().int().min(1).max(256),
  upstreams: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      url: z.string().max(300),
      user: z.string().max(256),
      /** Whether a password is stored (it is never returned). */
      hasPass: z.boolean(),
    }).strict(),
  ),
}).strict();
/** The pool set's view. */
export type PoolSetView = z.infer<typeof PoolSetViewSchema>;
