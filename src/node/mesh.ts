/**
 * The mesh node: accepts and dials Noise-authenticated peer connections, enforces pinning and
 * the auth mode, redeems pairing codes, and keeps the registry's metrics current.
 * @module
 */
import {
  type Capabilities,
  loadIdentity,
  type NodeIdentity,
  nodeIdFromPublicKey,
  toBase64,
} from "../identity/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import {
  addressToUrl,
  AuthStore,
  haversineKm,
  newPeer,
  PeerRegistry,
  type RequestOutcome,
} from "../peers/mod.ts";
import {
  createMessage,
  type HandshakePayload,
  HandshakePayloadSchema,
  parseMessage,
  type PayloadOf,
  PROLOGUE,
  PROTOCOL_VERSION,
  SOFTWARE_VERSION,
} from "../protocol/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import {
  acceptChannel,
  backoffDelay,
  ChannelError,
  type ChannelLimits,
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
export class PeerRefusedError extends Error {
  /** Creates the error. */
  constructor(readonly address: string, readonly reason: string) {
    super(`the node at ${address} refused the connection: ${reason}`);
    this.name = "PeerRefusedError";
  }
}

/** The remote node's authenticated identity is not the one expected. */
export class PeerIdentityError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
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
  /** Max simultaneous connections (default 1024). */
  maxConnections?: number;
  /** How often to re-check that connected peers are still authorized (default 2 s). */
  authSweepMs?: number;
  /** Handles HTTP requests to other paths (default 404). */
  fallback?: (request: Request) => Response | Promise<Response>;
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

/** Summary of the remote side learned in the handshake. */
interface RemoteInfo {
  payload: HandshakePayload;
  publicKey: string;
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

  #handshakePayload(
    extra: Pick<HandshakePayload, "pair" | "join"> = {},
  ): Uint8Array {
    const p: HandshakePayload = {
      id: this.id,
      name: this.identity.info.name,
      role: this.identity.info.role,
      version: SOFTWARE_VERSION,
      protocol: PROTOCOL_VERSION,
      ...(extra.pair ? { pair: extra.pair } : {}),
      ...(extra.join ? { join: extra.join } : {}),
      ...(this.capabilities ? { caps: this.capabilities } : {}),
    };
    return encoder.encode(JSON.stringify(p));
  }

  /** Validates the remote payload against its authenticated key and the pinned key, if any. */
  #checkRemote(remoteStatic: Uint8Array, payloadBytes: Uint8Array): RemoteInfo {
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(payloadBytes));
    } catch {
      throw new PeerIdentityError("handshake payload is not JSON");
    }
    const parsed = HandshakePayloadSchema.safeParse(raw);
    if (!parsed.success) {
      throw new PeerIdentityError(`invalid handshake payload: ${parsed.error.issues[0].message}`);
    }
    const derived = nodeIdFromPublicKey(remoteStatic);
    const publicKey = toBase64(remoteStatic);
    if (parsed.data.id !== derived) {
      throw new PeerIdentityError(
        `peer claims ID ${parsed.data.id} but its authenticated key hashes to ${derived}`,
      );
    }
    if (parsed.data.protocol !== PROTOCOL_VERSION) {
      throw new PeerIdentityError(
        `peer speaks protocol v${parsed.data.protocol}, this node v${PROTOCOL_VERSION}`,
      );
    }
    const pinned = this.registry.get(derived);
    if (pinned && pinned.publicKey !== publicKey) {
      throw new PeerIdentityError(
        `key mismatch for registered peer ${derived} (${pinned.name}): refusing`,
      );
    }
    const allowed = this.auth.entry(derived);
    if (allowed?.publicKey && allowed.publicKey !== publicKey) {
      throw new PeerIdentityError(`key mismatch for allowlisted node ${derived}: refusing`);
    }
    return { payload: parsed.data, publicKey };
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

  /** Starts accepting connections. */
  serve(options: ServeOptions): TransportServer {
    if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setInterval(() => {
        this.sweepAuthorizations().catch((err) =>
          this.logger.warn("auth_sweep_failed", { reason: (err as Error).message })
        );
      }, options.authSweepMs ?? 2000);
    }
    const server = startTransportServer({
      hostname: options.hostname,
      port: options.port,
      path: options.path,
      tls: options.tls,
      maxConnections: options.maxConnections,
      fallback: options.fallback,
      onSocket: (socket) =>
        void this.#accept(socket).catch((err) => {
          this.counters.protocolErrors++;
          this.logger.warn("accept_failed", {
            remote: socket.remoteAddress,
            reason: (err as Error).message,
          });
          socket.close(1011, "internal error");
        }),
      onRefused: (reason, remote) => {
        this.counters.refused++;
        this.logger.warn("connection_refused", { remote, reason, count: this.counters.refused });
      },
    });
    this.#servers.push(server);
    return server;
  }

  async #accept(socket: FrameSocket): Promise<void> {
    const remote = socket.remoteAddress;
    let channel: SecureChannel;
    let bindingHash: Uint8Array;
    try {
      ({ channel, bindingHash } = await acceptChannel(socket, {
        staticKey: this.#staticKey,
        prologue: PROLOGUE,
        // A worker with a join secret proves it to whoever dials (bound to this session's keys);
        // the secret is high-entropy, so the proof teaches an eavesdropper nothing.
        payload: (h) => {
          const secret = this.identity.info.role === "worker" ? this.joinSecret : null;
          return this.#handshakePayload(
            secret ? { join: { proof: joinProof(secret, h, { side: "responder" }) } } : {},
          );
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
    try {
      await Promise.all([this.registry.refresh(), this.auth.refresh()]);
      info = this.#checkRemote(channel.remoteStatic, channel.remotePayload);
    } catch (err) {
      return reject((err as Error).message);
    }
    const p = info.payload;
    let paired = false;
    if (p.pair) {
      const result = await redeemPairCode(this.paths, p.pair, bindingHash);
      if (result !== "ok") return reject(REDEEM_MESSAGES[result]);
      paired = true;
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
      paired = true;
      this.logger.info("peer_joined", { peer: remoteId, name: p.name, role: p.role });
    }
    const registered = this.registry.get(remoteId);
    const allowlisted = this.auth.isAllowed(remoteId);
    if (!registered && !allowlisted && !paired && this.auth.settings.mode !== "open") {
      return reject(
        `node ${remoteId} is not authorized here: on this node run \`miner-cli peer allow ${remoteId}\`, or pair with a code from \`miner-cli node pair-code\``,
      );
    }
    if (registered) {
      // The role stays what was recorded when the operator registered the peer: a peer cannot
      // promote itself (say, worker → controller) by claiming another role later.
      if (registered.role !== p.role) {
        this.logger.warn("peer_role_mismatch", {
          peer: remoteId,
          recorded: registered.role,
          claimed: p.role,
        });
      }
      this.registry.markSeen(remoteId);
    } else if (allowlisted || paired) {
      // Written before the ack so a concurrent `peer revoke` in another process sees it.
      this.registry.upsert(
        newPeer({
          id: remoteId,
          name: p.name,
          publicKey: info.publicKey,
          address: null,
          role: p.role,
        }, {
          seen: true,
        }),
      );
      await this.registry.flush();
    }
    if (channel.isClosed) return; // the peer left (or broke the session) while we were deciding
    const ack = createMessage("handshake_ack", { accepted: true }, { from: this.id, to: remoteId });
    channel.sendText(JSON.stringify(ack), KIND_CONTROL);
    this.counters.accepted++;
    this.#register(channel, info, "inbound");
  }

  #register(
    channel: SecureChannel,
    info: RemoteInfo,
    direction: "inbound" | "outbound",
  ): PeerSession {
    if (info.payload.caps) this.registry.setCapabilities(info.payload.id, info.payload.caps);
    const session = new PeerSession(channel, {
      id: info.payload.id,
      name: info.payload.name,
      role: info.payload.role,
      publicKey: info.publicKey,
      version: info.payload.version,
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
    const socket = await dialSocket(url, { timeoutMs, ca: options.ca });
    let info: RemoteInfo | undefined;
    const channel = await initiateChannel(socket, {
      staticKey: this.#staticKey,
      prologue: PROLOGUE,
      limits: { ...this.#limits, handshakeTimeoutMs: timeoutMs },
      onResponder: (rs, payload, hashes) => {
        info = this.#checkRemote(rs, payload);
        let join: HandshakePayload["join"];
        if (options.join) {
          const secret = this.joinSecret;
          if (!secret) throw new PeerIdentityError("no join secret configured on this node");
          if (info.payload.role !== "worker") {
            throw new PeerIdentityError(
              `the node at ${address} is a ${info.payload.role}: the join secret enrolls workers only`,
            );
          }
          const proof = info.payload.join?.proof;
          if (
            !proof || !verifyJoinProof(secret, {
              proof,
              handshakeHash: hashes.responderPayloadHash,
            }, { side: "responder" })
          ) {
            throw new PeerIdentityError(
              `the node at ${address} (${info.payload.id}) does not share this farm's join secret`,
            );
          }
          join = { proof: joinProof(secret, hashes.handshakeHash, { side: "initiator" }) };
        }
        const expect = options.pairCode?.nodeId ?? options.expectId;
        if (expect && info.payload.id !== expect) {
          throw new PeerIdentityError(
            `the node at ${address} is ${info.payload.id} (${info.payload.name}), not the expected ${expect}: refusing (wrong address, or impersonation)`,
          );
        }
        if (options.requireAuthorized && !this.isAuthorized(info.payload.id)) {
          throw new PeerIdentityError(
            `the node at ${address} (${info.payload.id}) is not registered or allowed here: run \`miner-cli peer allow ${info.payload.id}\` first`,
          );
        }
        const pair = options.pairCode
          ? {
            codeId: codeIdOf(options.pairCode.secret),
            proof: pairProof(options.pairCode.secret, hashes.handshakeHash),
          }
          : undefined;
        return this.#handshakePayload({ pair, join });
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
          parsed.message.from !== info!.payload.id
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
    const remote = info!.payload;
    if (
      options.registerFirstContact && !this.registry.get(remote.id) &&
      this.auth.isAllowed(remote.id)
    ) {
      // First contact with an allowlisted node we dialed (e.g. `--connect` to a controller):
      // record it with the address we reached and the role it has now; like inbound first
      // contact, the role is fixed from here on.
      this.registry.upsert(
        newPeer({
          id: remote.id,
          name: remote.name,
          publicKey: info!.publicKey,
          address,
          role: remote.role,
        }, { seen: true }),
      );
      await this.registry.flush();
    }
    return this.#register(channel, info!, "outbound");
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
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const l of [...this.#links]) l.stop();
    for (const s of [...this.#sessions]) s.close(reason);
    await Promise.all(this.#servers.map((s) => s.close()));
    this.#servers.length = 0;
    await this.registry.close();
  }
}
