/**
 * Fleet operations, one interface for every way of reaching the fleet: the node's own mesh
 * (`Fleet`, when no daemon runs or inside the daemon), and the daemon's HTTP API (`remote`
 * commands when a daemon runs). The API serves the first; the CLI uses either.
 * @module
 */
import type { PayloadOf } from "./messages.ts";
import type {
  AuditRecordView,
  AuditScope,
  DeployAck,
  FleetStatus,
  LogLineView,
  LogsView,
  MinerType,
  StartAck,
  StopAck,
} from "./views.ts";

/** Options of {@link FleetOps.start}. */
export interface StartOptions {
  /** Profile ID or name; the controller's copy, when it has one, travels along. */
  profileRef: string;
  /** Miner type (default: the controller's profile's). */
  minerType?: MinerType;
  /** Timeout in ms. */
  timeoutMs?: number;
}

/** Options of {@link FleetOps.stop}. */
export interface StopOptions {
  /** One miner (default: every miner of the worker). */
  minerName?: string;
  /** Timeout in ms per stop. */
  timeoutMs?: number;
}

/** Options of {@link FleetOps.logs}. */
export interface LogsOptions {
  /** The last N lines. */
  lines?: number;
  /** Only lines after this sequence number. */
  since?: number;
  /** Timeout in ms. */
  timeoutMs?: number;
}

/** Options of {@link FleetOps.follow}. */
export interface FollowOptions {
  /** Backlog lines first (default 50). */
  lines?: number;
  /** Ends the follow. */
  signal: AbortSignal;
  /** Timeout in ms for the first answer. */
  timeoutMs?: number;
}

/** What a fleet can be asked. */
export interface FleetOps {
  /** Fleet or single-peer status (`concurrency`: parallel requests, where the caller dials). */
  status(
    ref?: string,
    options?: {
      timeoutMs?: number;
      concurrency?: number;
      /** Ask every rig now, even those whose pushes keep them fresh (through a node). */
      fresh?: boolean;
    },
  ): Promise<FleetStatus>;
  /** Starts a miner on a worker. */
  start(ref: string, options: StartOptions): Promise<StartAck>;
  /** Stops one or all miners of a worker. */
  stop(ref: string, options?: StopOptions): Promise<StopAck>;
  /** A worker's miner console lines. */
  logs(ref: string, minerName: string, options?: LogsOptions): Promise<LogsView>;
  /** A worker's audit records (newest first): what it accepted and refused. */
  audit?(
    ref: string,
    options?: { limit?: number; scope?: AuditScope; timeoutMs?: number },
  ): Promise<AuditRecordView[]>;
  /**
   * Follows a worker's miner console: `onLines` gets the backlog, then new lines, until `signal`
   * aborts (null), the miner stops ("miner stopped") or the connection drops (the reason).
   */
  follow(
    ref: string,
    minerName: string,
    onLines: (lines: LogLineView[]) => void,
    options: FollowOptions,
  ): Promise<string | null>;
  /** Streams a plaintext bundle file to a worker; its answer (throws on failure). */
  deploy(
    ref: string,
    file: string,
    announce: PayloadOf<"deploy">,
    options?: {
      onProgress?: (received: number, total: number) => void;
      /** Give up when the worker acknowledges nothing for this long (ms). */
      stallMs?: number;
    },
  ): Promise<DeployAck>;
}
