/**
 * The mesh node: accepts and dials Noise-authenticated peer connections, enforces pinning and
 * the auth mode, redeems pairing codes, and keeps the registry's metrics current.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { loadIdentity, type NodeIdentity, nodeIdFromPublicKey, toBase64 } from "../identity/mod.ts";
import { type Capabilities } from "../capabilities/mod.ts";
import { backoffDelay } from "../backoff/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import {
  addressToUrl,
  AuthStore,
  type Grant,
  haversineKm,
  newPeer,
  normalizeGrants,
  PeerRegistry,
  type RequestOutcome,
} from "../peers/mod.ts";
import {
  createMessage,
  type HandshakePayload,
  HandshakePayloadSchema,
  type NodeAnnouncement,
  parseMessage,
  type PayloadOf,
  PROLOGUE,
  PROTOCOL_VERSION,
  type ResponderHello,
  ResponderHelloSchema,
  SOFTWARE_VERSION,
} from "../protocol/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import {
  acceptChannel,
  ChannelError,
  type ChannelLimits,
  type ConnectionAdmission,
  DEFAULT_LIMITS,
  dialSocket,
  type FrameSocket,
  initiateChannel,
  joinParts,
  type KeyPair,
  keyPairFromPrivate,
  KIND_CONTROL,
  type SecureChannel,
  startTransportServer,
  type TransportServer,
} from "../transport/mod.ts";
import {
  codeIdOf,
  grantsOfPairCode,
  joinProof,
  type JoinSecret,
  type PairCode,
  pairProof,
  REDEEM_MESSAGES,
  redeemPairCode,
  verifyJoinProof,
} from "./pairing.ts";
import { type KeepaliveOptions, PeerSession, RequestTimeoutError } from "./session.ts";

/** The remote node refused our connection (handshake_ack accepted:false). */
export class PeerRefusedError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly address: string, readonly reason: string) {
    super(`the node at ${address} refused the connection: ${reason}`, { status: 502, code: "peer_refused" });
    this.name = "PeerRefusedError";
  }
}

/** The remote node's authenticated identity is not the one expected. */
export class PeerIdentityError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 502, code: "peer_identity" });
    this.name = "PeerIdentityError";
  }
}

/** Counters of what happened on the node's connections. */
export interface MeshCounters {
  /** Inbound connections that completed the handshake and were accepted. */
  accepted: number;
  /** Inbound connections refused by authorization. */
  rejected: number;
  /** Handshakes that failed (garbage, wrong protocol, timeout, tampering). */
  handshakeFailures: number;
  /** Protocol errors on established sessions (bad frames, invalid messages, oversize). */
  protocolErrors: number;
  /** Sessions dropped for exceeding the rate limit. */
  rateLimited: number;
  /** Connections refused before upgrade (limit reached, not a WebSocket). */
  refused: number;
}

/** Options for {@link MeshNode.open}. */
export interface MeshNodeOptions {
  /** Logger (default: silent). */
  logger?: Logger;
  /** Channel limits. */
  limits?: ChannelLimits;
  /** Keepalive, or false to disable (default 30 s / 40 s). */
  keepalive?: KeepaliveOptions | false;
  /** Registry write debounce (default 200 ms). */
  registryDebounceMs?: number;
  /** Called when the registry file was corrupt and moved aside. */
  onWarning?: (message: string) => void;
}

/** Options for {@link MeshNode.serve}. */
export interface ServeOptions {
  /** Interface (default 0.0.0.0). */
  hostname?: string;
  /** Port (0 = any free port). */
  port: number;
  /** WebSocket path (default /ws). */
  path?: string;
  /** TLS certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Most established (authenticated) connections (default 1024). */
  maxConnections?: number;
  /** Most connections still in handshake, from all addresses (default 256). */
  maxHandshakes?: number;
  /** Most connections still in handshake from one source address (default 16). */
  maxHandshakesPerAddress?: number;
  /** How often to re-check that connected peers are still authorized (default 2 s). */
  authSweepMs?: number;
}

/** Options for {@link MeshNode.dial}. */
export interface DialPeerOptions {
  /** Refuse unless the responder's authenticated ID is this. */
  expectId?: string;
  /** Pairing code to prove inside the handshake. */
  pairCode?: PairCode;
  /** Connect + handshake timeout (default 10 s). */
  timeoutMs?: number;
  /** Extra CA (PEM) for wss. */
  ca?: string;
  /** Local address to dial from (default: the system's choice). */
  localAddress?: string;
  /** Refuse unless the responder is registered or allowlisted here (used by persistent links). */
  requireAuthorized?: boolean;
  /**
   * Register the responder when it is allowlisted but not in the registry: first contact over a
   * persistent link (`--connect` to a controller). Other dials never add to the registry, so a
   * dial for a peer that is removed meanwhile (a fleet poll, say) cannot bring it back.
   */
  registerFirstContact?: boolean;
  /**
   * Enrollment with the farm's join secret ({@link MeshNode.joinSecret}): the responder must be a
   * worker that proves the secret, and this node proves it back.
   */
  join?: boolean;
}

/** A reconnecting outbound link. */
export interface MaintainedLink {
  /** The current session, if connected. */
  readonly session: PeerSession | null;
  /** Stops reconnecting and closes the session. */
  stop(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What this node learned of the remote side in the handshake. */
interface RemoteInfo extends NodeAnnouncement {
  /** Authenticated node ID (the hash of its key). */
  id: string;
  /** Its static key, base64. */
  publicKey: string;
}

/** What a node that contacts this one brings (for {@link admitInbound}). */
export interface InboundFacts {
  /** It is in the registry. */
  registered: boolean;
  /** It is on the allowlist. */
  allowlisted: boolean;
  /** It redeemed a pairing code or proved the join secret in this handshake. */
  vouched: boolean;
  /** The auth mode is `open`. */
  open: boolean;
}

/**
 * Whether a node that authenticated may hold a session here (the connection gate): registered,
 * allowlisted, vouched for by a pairing code or the join secret in this handshake, or open mode.
 * What it may do once in is a separate question ({@link admitRequest} in `authorize.ts`).
 */
export function admitInbound(
  id: string,
  facts: InboundFacts,
): { ok: true } | { ok: false; reason: string } {
  if (facts.registered || facts.allowlisted || facts.vouched || facts.open) return { ok: true };
  return {
    ok: false,
    reason:
      `node ${id} is not authorized here: on this node run \`miner-cli peer allow ${id}\`, or pair with a code from \`miner-cli node pair-code\``,
  };
}

/** `name`, or `name-<first 6 ID chars>` when another peer already has it (case-insensitive). */
export function uniquePeerName(
  registry: Pick<PeerRegistry, "list">,
  name: string,
  id: string,
): string {
  const taken = (n: string) =>
    registry.list().some((p) => p.id !== id && p.name.toLowerCase() === n.toLowerCase());
  return taken(name) ? `${name.slice(0, 57)}-${id.slice(0, 6)}` : name;
}

/** A running node: identity, registry, auth and live sessions. */
export class MeshNode {
  /** This node's capabilities, sent in every handshake (set once probed). */
  capabilities: Capabilities | null = null;
  /**
   * The farm's join secret, when configured: a worker proves it to any initiator and accepts
   * controllers that prove it; a controller proves it when it enrolls a worker.
   */
  joinSecret: JoinSecret | null = null;
  readonly #sessions = new Set<PeerSession>();
  readonly #sessionListeners: ((s: PeerSession) => void)[] = [];
  readonly #servers: TransportServer[] = [];
  readonly #links = new Set<MaintainedLink>();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  readonly #staticKey: KeyPair;
  readonly #limits: Required<ChannelLimits>;
  readonly #keepalive: KeepaliveOptions | undefined;
  /** Connection counters. */
  readonly counters: MeshCounters = {
    accepted: 0,
    rejected: 0,
    handshakeFailures: 0,
    protocolErrors: 0,
    rateLimited: 0,
    refused: 0,
  };
  /** Logger. */
  readonly logger: Logger;

  private constructor(
    /** State locations. */
    readonly paths: NodePaths,
    /** This node's identity. */
    readonly identity: NodeIdentity,
    /** Peer registry. */
    readonly registry: PeerRegistry,
    /** Auth settings. */
    readonly auth: AuthStore,
    options: MeshNodeOptions,
  ) {
    this.#staticKey = keyPairFromPrivate(identity.privateKey);
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#keepalive = options.keepalive === false ? undefined : (options.keepalive ?? {});
    this.logger = options.logger ?? silentLogger;
  }

  /** Loads identity, registry and auth settings from `paths`. */
  static async open(paths: NodePaths, options: MeshNodeOptions = {}): Promise<MeshNode> {
    const identity = await loadIdentity(paths);
    const registry = await PeerRegistry.open(paths.peersJson, {
      debounceMs: options.registryDebounceMs,
      onWarning: options.onWarning ??
        ((m) => (options.logger ?? silentLogger).warn("registry", { message: m })),
    });
    const auth = await AuthStore.open(paths.authJson);
    return new MeshNode(paths, identity, registry, auth, options);
  }

  /** This node's ID. */
  get id(): string {
    return this.identity.info.id;
  }

  /** Open sessions. */
  sessions(): PeerSession[] {
    return [...this.#sessions];
  }

  /** The most recent open session with `peerId`. */
  session(peerId: string): PeerSession | undefined {
    let found: PeerSession | undefined;
    for (const s of this.#sessions) if (s.peer.id === peerId) found = s;
    return found;
  }

  /** Calls `fn` for every new session (to register message handlers). */
  onSession(fn: (session: PeerSession) => void): void {
    this.#sessionListeners.push(fn);
    for (const s of this.#sessions) fn(s);
  }

  /** How this node introduces itself to an authenticated peer. */
  #announcement(): NodeAnnouncement {
    return {
      name: this.identity.info.name,
      role: this.identity.info.role,
      version: SOFTWARE_VERSION,
      ...(this.capabilities ? { caps: this.capabilities } : {}),
    };
  }

  /** The initiator's message-3 payload (it authenticates in this message). */
  #initiatorPayload(extra: Pick<HandshakePayload, "pair" | "join"> = {}): Uint8Array {
    const p: HandshakePayload = {
      id: this.id,
      ...this.#announcement(),
      protocol: PROTOCOL_VERSION,
      ...(extra.pair ? { pair: extra.pair } : {}),
      ...(extra.join ? { join: extra.join } : {}),
    };
    return encoder.encode(JSON.stringify(p));
  }

  /** The remote's authenticated ID and key, checked against the pinned and allowlisted keys. */
  #checkKey(remoteStatic: Uint8Array): { id: string; publicKey: string } {
    const id = nodeIdFromPublicKey(remoteStatic);
    const publicKey = toBase64(remoteStatic);
    const pinned = this.registry.get(id);
    if (pinned && pinned.publicKey !== publicKey) {
      throw new PeerIdentityError(
        `key mismatch for registered peer ${id} (${pinned.name}): refusing`,
      );
    }
    const allowed = this.auth.entry(id);
    if (allowed?.publicKey && allowed.publicKey !== publicKey) {
      throw new PeerIdentityError(`key mismatch for allowlisted node ${id}: refusing`);
    }
    return { id, publicKey };
  }

  /** Parses a handshake payload with `schema`, checking its protocol version. */
  #parsePayload<T extends { protocol: number }>(
    bytes: Uint8Array,
    schema: {
      safeParse(
        v: unknown,
      ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
    },
  ): T {
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(bytes));
    } catch {
      throw new PeerIdentityError("handshake payload is not JSON");
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw new PeerIdentityError(`invalid handshake payload: ${parsed.error.issues[0].message}`);
    }
    if (parsed.data.protocol !== PROTOCOL_VERSION) {
      throw new PeerIdentityError(
        `peer speaks protocol v${parsed.data.protocol}, this node v${PROTOCOL_VERSION}`,
      );
    }
    return parsed.data;
  }

  /** Whether a node may hold a session with us now (registered, allowlisted, or open mode). */
  isAuthorized(peerId: string): boolean {
    return this.registry.get(peerId) !== undefined || this.auth.isAllowed(peerId) ||
      this.auth.settings.mode === "open";
  }

  /** Re-reads the registry and auth settings and drops sessions of peers no longer authorized. */
  async sweepAuthorizations(): Promise<number> {
    await Promise.all([this.registry.refresh(), this.auth.refresh()]);
    let dropped = 0;
    for (const s of [...this.#sessions]) {
      if (this.isAuthorized(s.peer.id)) continue;
      dropped++;
      this.logger.warn("peer_revoked", { peer: s.peer.id, name: s.peer.name });
      s.close("authorization revoked");
    }
    return dropped;
  }

  #refusals = {
    windowStart: 0,
    lines: 0,
    suppressed: 0,
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
  };

  /**
   * Logs refused connections: at most 20 lines per 10 s; past that, one summary line at the end
   * of the window with how many were refused meanwhile (a flood costs a bounded log).
   */
  #logRefused(reason: string, remote: string): void {
    this.counters.refused++;
    const r = this.#refusals;
    const now = Date.now();
    if (now - r.windowStart >= 10_000) {
      r.windowStart = now;
      r.lines = 0;
    }
    if (r.lines < 20) {
      r.lines++;
      this.logger.warn("connection_refused", { remote, reason, count: this.counters.refused });
      return;
    }
    r.suppressed++;
    r.timer ??= setTimeout(() => {
      r.timer = undefined;
      this.logger.warn("connection_refused", {
        reason: "many connections refused (log lines suppressed)",
        suppressed: r.suppressed,
        lastReason: reason,
        count: this.counters.refused,
      });
      r.suppressed = 0;
    }, Math.max(0, r.windowStart + 10_000 - now));
    Deno.unrefTimer(r.timer as unknown as number);
  }

  /** Starts accepting connections. */
  async serve(options: ServeOptions): Promise<TransportServer> {
    if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setInterval(() => {
        this.sweepAuthorizations().catch((err) =>
          this.logger.warn("auth_sweep_failed", { reason: (err as Error).message })
        );
      }, options.authSweepMs ?? 2000);
    }
    const server = await startTransportServer({
      hostname: options.hostname,
      port: options.port,
      path: options.path,
      tls: options.tls,
      maxConnections: options.maxConnections,
      maxHandshakes: options.maxHandshakes,
      maxHandshakesPerAddress: options.maxHandshakesPerAddress,
      handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
      onSocket: (socket, admission) =>
        void this.#accept(socket, admission).catch((err) => {
          this.counters.protocolErrors++;
          this.logger.warn("accept_failed", {
            remote: socket.remoteAddress,
            reason: (err as Error).message,
          });
          socket.terminate();
        }),
      onRefused: (reason, remote) => this.#logRefused(reason, remote),
    });
    this.#servers.push(server);
    return server;
  }

  async #accept(socket: FrameSocket, admission: ConnectionAdmission): Promise<void> {
    const remote = socket.remoteAddress;
    let channel: SecureChannel;
    let bindingHash: Uint8Array;
    try {
      ({ channel, bindingHash } = await acceptChannel(socket, {
        staticKey: this.#staticKey,
        prologue: PROLOGUE,
        // Nothing about this node before the initiator authenticates (message 3): the protocol
        // version and, from a worker with a join secret, its proof (bound to this session's
        // keys; the secret is high-entropy, so the proof teaches an eavesdropper nothing).
        payload: (h) => {
          const secret = this.identity.info.role === "worker" ? this.joinSecret : null;
          const hello: ResponderHello = {
            protocol: PROTOCOL_VERSION,
            ...(secret ? { join: { proof: joinProof(secret, h, { side: "responder" }) } } : {}),
          };
          return encoder.encode(JSON.stringify(hello));
        },
        limits: this.#limits,
      }));
    } catch (err) {
      this.counters.handshakeFailures++;
      this.logger.warn("handshake_failed", {
        remote,
        reason: (err as Error).message,
        count: this.counters.handshakeFailures,
      });
      return;
    }
    const remoteId = nodeIdFromPublicKey(channel.remoteStatic);
    const reject = (reason: string) => {
      this.counters.rejected++;
      this.logger.warn("peer_rejected", {
        remote,
        peer: remoteId,
        reason,
        count: this.counters.rejected,
      });
      try {
        const ack = createMessage("handshake_ack", { accepted: false, reason }, {
          from: this.id,
          to: remoteId,
        });
        channel.sendText(JSON.stringify(ack), KIND_CONTROL);
      } catch { /* socket already gone */ }
      channel.close("refused");
    };
    let info: RemoteInfo;
    let p: HandshakePayload;
    try {
      await Promise.all([this.registry.refresh(), this.auth.refresh()]);
      const key = this.#checkKey(channel.remoteStatic);
      p = this.#parsePayload(channel.remotePayload, HandshakePayloadSchema);
      if (p.id !== key.id) {
        throw new PeerIdentityError(
          `peer claims ID ${p.id} but its authenticated key hashes to ${key.id}`,
        );
      }
      info = {
        ...key,
        name: p.name,
        role: p.role,
        version: p.version,
        ...(p.caps ? { caps: p.caps } : {}),
      };
    } catch (err) {
      return reject((err as Error).message);
    }
    // What this node's operator vouched for in this handshake: a pairing code they made (for a
    // controller, or for a plain peer) or the farm's join secret (the enrolling controller).
    let vouched: Grant[] | null = null;
    if (p.pair) {
      const result = await redeemPairCode(this.paths, p.pair, bindingHash);
      if (typeof result === "string") return reject(REDEEM_MESSAGES[result]);
      vouched = grantsOfPairCode(result.for);
    }
    if (p.join) {
      if (!this.joinSecret || this.identity.info.role !== "worker") {
        return reject("this node does not take join-secret enrollment (no --join-secret-file)");
      }
      if (
        !verifyJoinProof(this.joinSecret, { proof: p.join.proof, handshakeHash: bindingHash }, {
          side: "initiator",
        })
      ) {
        return reject("join secret does not match this node's (check --join-secret-file)");
      }
      if (p.role === "worker") return reject("only a controller or dual node can enroll this node");
      vouched = ["control"];
      this.logger.info("peer_joined", { peer: remoteId, name: p.name, role: p.role });
    }
    const registered = this.registry.get(remoteId);
    const allowEntry = this.auth.entry(remoteId);
    const verdict = admitInbound(remoteId, {
      registered: registered !== undefined,
      allowlisted: allowEntry !== undefined,
      vouched: vouched !== null,
      open: this.auth.settings.mode === "open",
    });
    if (!verdict.ok) return reject(verdict.reason);
    if (registered) {
      if (registered.role !== p.role) {
        // Shown, never trusted: what a peer may do here comes from its grants.
        this.logger.warn("peer_role_mismatch", {
          peer: remoteId,
          recorded: registered.role,
          claimed: p.role,
        });
      }
      if (vouched?.length) {
        this.registry.update(remoteId, (cur) => ({
          ...cur,
          grants: normalizeGrants([...cur.grants, ...vouched!]),
        }));
      }
      this.registry.markSeen(remoteId);
    } else if (allowEntry || vouched) {
      // Written before the ack so a concurrent `peer revoke` in another process sees it.
      this.#registerFirstContact(info, {
        address: null,
        grants: [...(allowEntry?.grants ?? []), ...(vouched ?? [])],
      });
      await this.registry.flush();
    }
    if (channel.isClosed) return; // the peer left (or broke the session) while we were deciding
    if (!admission.establish()) {
      return reject("this node is at its connection limit; try again later");
    }
    const ack = createMessage("handshake_ack", { accepted: true, node: this.#announcement() }, {
      from: this.id,
      to: remoteId,
    });
    channel.sendText(JSON.stringify(ack), KIND_CONTROL);
    this.counters.accepted++;
    this.#register(channel, info, "inbound");
  }

  /** Registers a node on first contact, under a unique name (saying so when it had to change). */
  #registerFirstContact(
    info: RemoteInfo,
    options: { address: string | null; grants: readonly Grant[] },
  ): void {
    const name = uniquePeerName(this.registry, info.name, info.id);
    if (name !== info.name) {
      this.logger.warn("peer_name_taken", {
        peer: info.id,
        announced: info.name,
        registeredAs: name,
        reason: `another peer is already named ${info.name}`,
      });
    }
    this.registry.upsert(
      newPeer({
        id: info.id,
        name,
        publicKey: info.publicKey,
        address: options.address,
        role: info.role,
      }, { seen: true, grants: options.grants }),
    );
  }

  #register(
    channel: SecureChannel,
    info: RemoteInfo,
    direction: "inbound" | "outbound",
  ): PeerSession {
    if (info.caps) this.registry.setCapabilities(info.id, info.caps);
    const session = new PeerSession(channel, {
      id: info.id,
      name: this.registry.get(info.id)?.name ?? info.name,
      role: info.role,
      publicKey: info.publicKey,
      version: info.version,
    }, {
      localId: this.id,
      direction,
      logger: this.logger,
      keepalive: this.#keepalive,
      onViolation: () => this.counters.protocolErrors++,
    });
    this.#sessions.add(session);
    this.logger.info("peer_connected", {
      peer: session.peer.id,
      name: session.peer.name,
      role: session.peer.role,
      direction,
      remote: channel.remoteAddress,
    });
    session.onClose((reason, error) => {
      this.#sessions.delete(session);
      if (error) {
        if (error.code === "rate_limited") this.counters.rateLimited++;
        else this.counters.protocolErrors++;
        this.logger.warn("session_error", {
          peer: session.peer.id,
          code: error.code,
          reason: error.message,
          protocolErrors: this.counters.protocolErrors,
          rateLimited: this.counters.rateLimited,
        });
      } else {
        this.logger.info("peer_disconnected", { peer: session.peer.id, reason });
      }
    });
    for (const fn of this.#sessionListeners) fn(session);
    return session;
  }

  /** Dials `address`, runs the handshake and returns the authenticated session. */
  async dial(address: string, options: DialPeerOptions = {}): Promise<PeerSession> {
    const timeoutMs = options.timeoutMs ?? this.#limits.handshakeTimeoutMs;
    const url = addressToUrl(address);
    await Promise.all([this.registry.refresh(), this.auth.refresh()]);
    const socket = await dialSocket(url, {
      timeoutMs,
      ca: options.ca,
      localAddress: options.localAddress,
    });
    let key: { id: string; publicKey: string } | undefined;
    const channel = await initiateChannel(socket, {
      staticKey: this.#staticKey,
      prologue: PROLOGUE,
      limits: { ...this.#limits, handshakeTimeoutMs: timeoutMs },
      onResponder: (rs, payload, hashes) => {
        key = this.#checkKey(rs);
        const hello = this.#parsePayload(payload, ResponderHelloSchema);
        const expect = options.pairCode?.nodeId ?? options.expectId;
        if (expect && key.id !== expect) {
          throw new PeerIdentityError(
            `the node at ${address} is ${key.id}, not the expected ${expect}: refusing (wrong address, or impersonation)`,
          );
        }
        if (options.requireAuthorized && !this.isAuthorized(key.id)) {
          throw new PeerIdentityError(
            `the node at ${address} (${key.id}) is not registered or allowed here: run \`miner-cli peer allow ${key.id}\` first`,
          );
        }
        let join: HandshakePayload["join"];
        if (options.join) {
          const secret = this.joinSecret;
          if (!secret) throw new PeerIdentityError("no join secret configured on this node");
          // Only a worker with the secret proves it; the proof covers this session's keys.
          const proof = hello.join?.proof;
          if (
            !proof || !verifyJoinProof(secret, {
              proof,
              handshakeHash: hashes.responderPayloadHash,
            }, { side: "responder" })
          ) {
            throw new PeerIdentityError(
              `the node at ${address} (${key.id}) does not share this farm's join secret (or is not a worker)`,
            );
          }
          join = { proof: joinProof(secret, hashes.handshakeHash, { side: "initiator" }) };
        }
        const pair = options.pairCode
          ? {
            codeId: codeIdOf(options.pairCode.secret),
            proof: pairProof(options.pairCode.secret, hashes.handshakeHash),
          }
          : undefined;
        return this.#initiatorPayload({ pair, join });
      },
    });
    const ack = await new Promise<PayloadOf<"handshake_ack">>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RequestTimeoutError("handshake_ack", timeoutMs)),
        timeoutMs,
      );
      channel.onClose((err) => {
        clearTimeout(timer);
        reject(err ?? new ChannelError("closed", "closed before handshake_ack"));
      });
      channel.setHandler((_kind, parts) => {
        channel.clearHandler();
        clearTimeout(timer);
        const parsed = parseMessage(decoder.decode(joinParts(parts)));
        if (
          !parsed.ok || parsed.message.type !== "handshake_ack" ||
          parsed.message.from !== key!.id
        ) {
          reject(new PeerIdentityError("expected handshake_ack as the first message"));
        } else resolve(parsed.message.payload as PayloadOf<"handshake_ack">);
      });
    }).catch((err) => {
      channel.close("handshake failed");
      throw err;
    });
    if (!ack.accepted) {
      channel.close("refused");
      throw new PeerRefusedError(address, ack.reason ?? "no reason given");
    }
    const info: RemoteInfo = { ...key!, ...ack.node! };
    if (options.join && info.role !== "worker") {
      channel.close("not a worker");
      throw new PeerIdentityError(
        `the node at ${address} is a ${info.role}: the join secret enrolls workers only`,
      );
    }
    if (
      options.registerFirstContact && !this.registry.get(info.id) && this.auth.isAllowed(info.id)
    ) {
      // First contact with an allowlisted node we dialed (e.g. `--connect` to a controller):
      // record it with the address we reached and the grants its allowlist entry holds.
      this.#registerFirstContact(info, {
        address,
        grants: this.auth.entry(info.id)?.grants ?? [],
      });
      await this.registry.flush();
    }
    return this.#register(channel, info, "outbound");
  }

  /** Records a request outcome for a registered peer (score, counters, lastSeen, RTT). */
  recordOutcome(peerId: string, outcome: RequestOutcome, rttMs?: number): void {
    this.registry.recordOutcome(peerId, outcome, rttMs === undefined ? {} : { rttMs });
  }

  /**
   * Records a failed connection or request: a timeout (a request deadline, or a dial or handshake
   * that timed out) scores as `timeout`, anything else as `failure`.
   */
  recordFailure(peerId: string, err: unknown): void {
    const timedOut = err instanceof RequestTimeoutError ||
      (err instanceof Error && /timed out/.test(err.message));
    this.recordOutcome(peerId, timedOut ? "timeout" : "failure");
  }

  /** Great-circle distance from this node to a location, when both are known. */
  geoKmTo(lat?: number, lon?: number): number | null {
    const me = this.identity.info;
    if (me.lat === undefined || me.lon === undefined || lat === undefined || lon === undefined) {
      return null;
    }
    return Math.round(haversineKm({ lat: me.lat, lon: me.lon }, { lat, lon }) * 10) / 10;
  }

  /** Keeps an outbound connection to `address` up, reconnecting with exponential backoff and jitter. */
  maintain(
    address: string,
    options: DialPeerOptions & { baseDelayMs?: number; maxDelayMs?: number } = {},
  ): MaintainedLink {
    let stopped = false;
    let current: PeerSession | null = null;
    let wake: (() => void) | null = null;
    const link: MaintainedLink = {
      get session() {
        return current;
      },
      stop: () => {
        stopped = true;
        current?.close("link stopped");
        current = null;
        wake?.();
        this.#links.delete(link);
      },
    };
    this.#links.add(link);
    (async () => {
      let attempt = 0;
      while (!stopped) {
        try {
          const s = await this.dial(address, {
            requireAuthorized: true,
            registerFirstContact: true,
            ...options,
          });
          if (stopped) {
            s.close("link stopped");
            break;
          }
          current = s;
          attempt = 0;
          await new Promise<void>((r) => s.onClose(() => r()));
          current = null;
        } catch (err) {
          this.logger.warn("connect_failed", { address, reason: (err as Error).message, attempt });
        }
        if (stopped) break;
        const delay = backoffDelay(attempt++, {
          baseMs: options.baseDelayMs,
          maxMs: options.maxDelayMs,
        });
        this.logger.debug("reconnect_scheduled", { address, delayMs: delay });
        await new Promise<void>((r) => {
          const t = setTimeout(r, delay);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
      }
    })();
    return link;
  }

  /** Closes every session, link and server, and flushes the registry. */
  async close(reason = "node shutting down"): Promise<void> {
    clearTimeout(this.#refusals.timer);
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const l of [...this.#links]) l.stop();
    for (const s of [...this.#sessions]) s.close(reason);
    await Promise.all(this.#servers.map((s) => s.close()));
    this.#servers.length = 0;
    await this.registry.close();
  }
}
