/**
 * Mapping of errors to JSON error bodies `{error: {code, message}}` with proper status codes.
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An error with an HTTP status and a stable code. */
export class ApiError extends Error {
  /** Creates the error. */
  constructor(readonly status: ContentfulStatusCode, readonly code: string, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

const BY_NAME: Record<string, [ContentfulStatusCode, string]> = {
  ProfileValidationError: [400, "invalid_profile"],
  UsageError: [400, "bad_request"],
  IdentityError: [400, "bad_request"],
  ProfileNotFoundError: [404, "not_found"],
  MinerNotFoundError: [404, "not_found"],
  PeerNotFoundError: [404, "not_found"],
  AmbiguousPeerError: [400, "ambiguous"],
  MinerAlreadyRunningError: [409, "conflict"],
  IdentityExistsError: [409, "conflict"],
  MinerBinaryNotFoundError: [422, "miner_not_installed"],
  RequestTimeoutError: [504, "timeout"],
  PeerRefusedError: [502, "peer_refused"],
  DialError: [502, "peer_unreachable"],
  PeerOfflineError: [502, "peer_offline"],
  RemoteError: [502, "remote_error"],
  SessionClosedError: [502, "peer_disconnected"],
  DeployFailedError: [502, "deploy_failed"],
  BundleError: [400, "invalid_bundle"],
  UnknownProfileTypeError: [400, "bad_request"],
  WrongPasswordError: [400, "invalid_bundle"],
  PeerRequestError: [400, "bad_request"],
  PairCodeError: [400, "bad_pair_code"],
  PeerNameTakenError: [409, "conflict"],
  PeerIdentityError: [502, "peer_identity"],
  ChannelError: [502, "peer_unreachable"],
  PendingNotFoundError: [404, "not_found"],
  DiscoveryOffError: [409, "discovery_off"],
};

/** Turns any error into a JSON response. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof ApiError) {
    return c.json({ error: { code: err.code, message: err.message } }, err.status);
  }
  const e = err as Error;
  const mapped = BY_NAME[e?.name ?? ""];
  if (mapped) return c.json({ error: { code: mapped[1], message: e.message } }, mapped[0]);
  return c.json({ error: { code: "internal", message: e?.message ?? String(err) } }, 500);
}
