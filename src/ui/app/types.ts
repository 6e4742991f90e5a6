/**
 * Shapes of the API documents the dashboard reads (see `/api/v1/mining/openapi.json`).
 * @module
 */

/** A miner's normalized stats. */
export interface MinerStats {
  name: string;
  type: string;
  profileId: string | null;
  state: string;
  pid: number | null;
  hashrate: { now: number | null; avg60: number | null; avg15m: number | null };
  shares: { accepted: number; rejected: number };
  pool: string | null;
  algorithm: string | null;
  uptime: number;
  paused: boolean;
  restarts: number;
  lastError: string | null;
}

/** This node. */
export interface NodeInfo {
  id: string;
  name: string;
  role: string;
  publicKey: string;
  version: string;
  uptime: number;
  runsMiners: boolean;
}

/** A registered peer with its live state. */
export interface PeerView {
  id: string;
  name: string;
  publicKey: string;
  address: string | null;
  /** The role it announced (shown, never trusted). */
  role: string;
  /** What this node's operator lets it do here. */
  grants: ("control" | "read")[];
  lastSeen: string | null;
  pingMs: number | null;
  score: number;
  online: boolean | null;
  offlineReason?: string;
  since: string | null;
  connected: boolean;
  allowed: boolean;
  capabilities?: Capabilities | null;
}

/** What a node reported it can mine with. */
export interface Capabilities {
  os: string;
  arch: string;
  cpuModel: string | null;
  cores: number | null;
  threads: number;
  aes: boolean | null;
  avx2: boolean | null;
  memTotalMB: number | null;
  memFreeMB: number | null;
  hugePagesTotal: number | null;
  hugePagesFree: number | null;
  gpus: { vendor: string; name: string; memoryMB: number | null }[];
  miners: { type: string; version: string | null }[];
}

/** Auth mode and allowlist. */
export interface AuthView {
  mode: "allowlist" | "open";
  allow: { id: string; publicKey?: string; addedAt?: string }[];
}

/** A discovered node awaiting approval. */
export interface PendingNode {
  id: string;
  role: "controller" | "worker" | "dual";
  address: string;
  threads: number;
  memTotalMB: number;
  aes: boolean | null;
  avx2: boolean | null;
  hugePages: boolean | null;
  gpus: number;
  firstSeen: string;
  lastSeen: string;
  enrolling: boolean;
  lastError?: string;
}

/** `GET /peers/pending`. */
export interface DiscoveryView {
  pending: PendingNode[];
  awaiting: { id: string; address: string; approvedAt: string; lastError?: string }[];
  rejected: { id: string; at: string }[];
  port: number;
  broadcast: string[];
  autoEnroll: boolean;
}

/** One worker in a fleet status. */
export interface FleetNode {
  id: string;
  name: string;
  address: string | null;
  online: boolean;
  role?: string;
  hashrate?: number;
  miners: MinerStats[];
  error?: string;
  ms: number;
}

/** A fleet status. */
export interface FleetStatus {
  totalHashrate: number;
  nodes: number;
  online: number;
  offline: number;
  peers: FleetNode[];
  cachedAt?: string;
}

/** A deploy's progress. */
export interface DeployState {
  peer: string;
  name: string;
  received: number;
  total: number;
  phase: "progress" | "done" | "error";
  error?: string;
}

/** A mining profile. */
export interface Profile {
  id: string;
  name: string;
  minerType: string;
  autostart: boolean;
  minHashrate?: number;
  stallSeconds?: number;
  config: Record<string, unknown>;
}
