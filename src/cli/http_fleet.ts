/**
 * {@link FleetOps} over the running node's HTTP API: what `remote` commands use when this home's
 * node runs (it also reaches workers connected in with `--connect`). The same interface as the
 * node's own `Fleet`, which they use otherwise.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type {
  DeployAck,
  FleetOps,
  FleetStatus,
  FollowOptions,
  LogLineView,
  LogsOptions,
  LogsView,
  StartAck,
  StartOptions,
  StopAck,
  StopOptions,
} from "../protocol/mod.ts";
import { type ApiClient, ApiClientError } from "./api_client.ts";

const BASE = "/api/v1/mining/remote";
const enc = encodeURIComponent;

/** The worker refused or failed a deployment sent through the node. */
export class DeployThroughNodeError extends MinerCliError {
  /** Creates the error. */
  constructor(ref: string, detail: string) {
    super(`deploy to ${ref} failed: ${detail}`, { status: 502, code: "deploy_failed" });
    this.name = "DeployThroughNodeError";
  }
}

/** Fleet operations through the node's `/remote/*` routes. */
export class HttpFleetOps implements FleetOps {
  /** Wraps a client for the node's API. */
  constructor(readonly api: ApiClient) {}

  /**
   * Status through the node: rigs kept fresh by their pushes come from its view at once, the
   * others are asked and waited for (`maxAge=2000&wait=true`); `fresh` asks every rig now
   * (`maxAge=0`). A single peer is always asked.
   */
  status(
    ref?: string,
    options: { timeoutMs?: number; fresh?: boolean } = {},
  ): Promise<FleetStatus> {
    const q = new URLSearchParams(
      ref || options.fresh ? { maxAge: "0" } : { maxAge: "2000", wait: "true" },
    );
    if (options.timeoutMs) q.set("timeout", String(options.timeoutMs));
    return this.api.request<FleetStatus>(
      "GET",
      `${BASE}/${ref ? `${enc(ref)}/` : ""}stats?${q}`,
    );
  }

  /** Starts a miner on a worker. */
  start(ref: string, options: StartOptions): Promise<StartAck> {
    return this.api.request("POST", `${BASE}/${enc(ref)}/start`, {
      profileId: options.profileRef,
      ...(options.minerType ? { minerType: options.minerType } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
  }

  /** Stops one or all miners of a worker. */
  stop(ref: string, options: StopOptions = {}): Promise<StopAck> {
    return this.api.request<StopAck>("POST", `${BASE}/${enc(ref)}/stop`, {
      ...(options.minerName ? { minerName: options.minerName } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
  }

  /** A worker's miner console lines. */
  logs(ref: string, minerName: string, options: LogsOptions = {}): Promise<LogsView> {
    const q = new URLSearchParams({ miner: minerName });
    if (options.lines) q.set("lines", String(options.lines));
    if (options.since !== undefined) q.set("since", String(options.since));
    if (options.timeoutMs) q.set("timeout", String(options.timeoutMs));
    return this.api.request("GET", `${BASE}/${enc(ref)}/logs?${q}`);
  }

  /** Follows a worker's miner console over Server-Sent Events. */
  async follow(
    ref: string,
    minerName: string,
    onLines: (lines: LogLineView[]) => void,
    options: FollowOptions,
  ): Promise<string | null> {
    const q = new URLSearchParams({ miner: minerName, lines: String(options.lines ?? 50) });
    if (options.timeoutMs) q.set("timeout", String(options.timeoutMs));
    let reason: string | null = null;
    await this.api.stream(`${BASE}/${enc(ref)}/logs/follow?${q}`, (event, data) => {
      if (event === "line") onLines([JSON.parse(data)]);
      else if (event === "end") reason = JSON.parse(data).reason;
      else if (event === "error") throw new ApiClientError(JSON.parse(data).message);
    }, options.signal);
    return options.signal.aborted ? null : reason ?? "the node ended the stream";
  }

  /** Uploads a plaintext bundle to the node, which streams it to the worker (its stall limit). */
  async deploy(
    ref: string,
    file: string,
    _announce: unknown,
    options: { onProgress?: (received: number, total: number) => void } = {},
  ): Promise<DeployAck> {
    let ack: DeployAck | null = null;
    let failure: string | null = null;
    await this.api.upload(
      `${BASE}/${enc(ref)}/deploy`,
      (await Deno.open(file)).readable,
      "application/x-tar",
      (line) => {
        const ev = JSON.parse(line);
        if (ev.event === "progress") options.onProgress?.(ev.received, ev.total);
        else if (ev.event === "done") ack = ev.ack;
        else if (ev.event === "error") failure = ev.message;
      },
    );
    if (failure) throw new DeployThroughNodeError(ref, failure);
    if (!ack) throw new ApiClientError("the node ended the deploy without a result");
    return ack;
  }
}
