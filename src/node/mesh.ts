/**
 * The mesh node: accepts and dials Noise-authenticated peer connections (the handshake checks in
 * `handshake.ts`, the connection gate in `admission.ts`), redeems pairing codes and join proofs,
 * registers first contacts with the grants the operator gave, and holds the open sessions
 * (`sessions.ts`) and persistent links (`links.ts`).
 * @module
 */
import { type Capabilities } from "../capabilities/mod.ts";
import { loadIdentity, type NodeIdentity, nodeIdFromPublicKey } from "../identity/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import {
  addressToUrl,
  AuthStore,
  geoKmBetween,
  type Grant,
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
  DialError,
  dialSocket,
  type FrameSocket,
  initiateChannel,
  joinParts,
  type KeyPair,
  keyPairFromPrivate,
  KIND_CONTROL,
  type SecureChannel,
  startTransportServer,
  type TransportCounts,
  type TransportServer,
  type TransportServerOptions,
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
import { admitInbound, uniquePeerName } from "./admission.ts";
import {
  checkRemoteKey,
  encodePayload,
  parseHandshakePayload,
  PeerIdentityError,
  PeerRefusedError,
  type RemoteInfo,
} from "./handshake.ts";
import { type MaintainedLink, maintainLink } from "./links.ts";
import { RefusalLog } from "./refusals.ts";
import { failureOutcome } from "./scoring.ts";
import { type KeepaliveOptions, PeerSession, RequestTimeoutError } from "./session.ts";
import { SessionSet } from "./sessions.ts";

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
  /** Refused connections are logged once per this window, as a summary (default 10 s). */
  refusalLogWindowMs?: number;
  /** Called when the registry file was corrupt and moved aside. */
  onWarning?: (message: string) => void;
}

/** Options for {@link MeshNode.serve}: where and how to listen, and the connection limits. */
export interface ServeOptions extends
  Pick<
    TransportServerOptions,
    | "hostname"
    | "port"
    | "path"
    | "tls"
    | "maxConnections"
    | "maxHandshakes"
    | "maxHandshakesPerAddress"
  > {
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
  /**
   * Time for the TCP connection alone; `timeoutMs` then counts from it (persistent links: the
   * default there is `timeoutMs`). Unset: `timeoutMs` is the whole dial's.
   */
  connectTimeoutMs?: number;
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

const decoder = new TextDecoder();

/** A running node: identity, registry, auth and live sessions. */
export class MeshNode {
  /** This node's capabilities, sent in every handshake (set once probed). */
  capabilities: Capabilities | null = null;
  /**
   * The farm's join secret, when configured: a worker proves it to any initiator and accepts
   * controllers that prove it; a controller proves it when it enrolls a worker.
   */
  joinSecret: JoinSecret | null = null;
  readonly #sessions = new SessionSet();
  readonly #servers: TransportServer[] = [];
  readonly #links = new Set<MaintainedLink>();
  readonly #refusals: RefusalLog;
  /** Handshakes that failed (a reconnect storm's rigs giving up halfway: thousands), rate-limited. */
  readonly #handshakeFailures: RefusalLog;
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
    this.#refusals = new RefusalLog(this.logger, { windowMs: options.refusalLogWindowMs });
    this.#handshakeFailures = new RefusalLog(this.logger, {
      windowMs: options.refusalLogWindowMs,
      event: "handshake_failed",
      noun: "handshake(s) failed",
    });
  }

  /** Loads identity, registry and auth settings from `paths`. */
  static async open(paths: NodePaths, options: MeshNodeOptions = {}): Promise<MeshNode> {
    const identity = await loadIdentity(paths);
    const onWarning = options.onWarning ??
      ((m: string) => (options.logger ?? silentLogger).warn("registry", { message: m }));
    const registry = await PeerRegistry.open(paths.registryDb, {
      debounceMs: options.registryDebounceMs,
      onWarning,
    });
    const auth = await AuthStore.open(paths.registryDb, { onWarning });
    return new MeshNode(paths, identity, registry, auth, options);
  }

  /** This node's ID. */
  get id(): string {
    return this.identity.info.id;
  }

  /** Open sessions. */
  sessions(): PeerSession[] {
    return this.#sessions.list();
  }

  /** The open sessions with one peer (oldest first), without scanning the others. */
  sessionsOf(peerId: string): PeerSession[] {
    return this.#sessions.of(peerId);
  }

  /** The most recent open session with `peerId`. */
  session(peerId: string): PeerSession | undefined {
    return this.#sessions.latest(peerId);
  }

  /** Calls `fn` for every session, open now or later (to register message handlers). */
  onSession(fn: (session: PeerSession) => void): void {
    this.#sessions.onSession(fn);
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
    return encodePayload(p);
  }

  /** Whether a node may hold a session with us now (registered, allowlisted, or open mode). */
  isAuthorized(peerId: string): boolean {
    return this.registry.get(peerId) !== undefined || this.auth.isAllowed(peerId) ||
      this.auth.mode === "open";
  }

  /** Re-reads the registry and auth settings and drops sessions of peers no longer authorized. */
  async sweepAuthorizations(): Promise<number> {
    await Promise.all([this.registry.refresh(), this.auth.refresh()]);
    let dropped = 0;
    for (const s of this.#sessions.list()) {
      if (this.isAuthorized(s.peer.id)) continue;
      dropped++;
      this.logger.warn("peer_revoked", { peer: s.peer.id, name: s.peer.name });
      s.close("authorization revoked");
    }
    return dropped;
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
      onRefused: (reason, remote) => {
        this.#refusals.note(reason, remote);
        this.counters.refused = this.#refusals.count;
      },
      onListenError: (err) =>
        this.logger.warn("peer_listener_failed", {
          reason: err.message,
          action: "refusing new connections, listening again shortly",
        }),
      onRelisten: (attempts) => this.logger.warn("peer_listener_serving_again", { attempts }),
    });
    this.#servers.push(server);
    return server;
  }

  /** Inbound connections now, over every listener: authenticated, and still in handshake. */
  inboundCounts(): Pick<TransportCounts, "established" | "handshaking"> {
    let established = 0;
    let handshaking = 0;
    for (const s of this.#servers) {
      const c = s.counts();
      established += c.established;
      handshaking += c.handshaking;
    }
    return { established, handshaking };
  }

  /** After a file-descriptor shortage: for 2 minutes, peer listeners that stall listen again. */
  watchListeners(): void {
    for (const s of this.#servers) s.watchStall(120_000);
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
          return encodePayload(hello);
        },
        limits: this.#limits,
      }));
    } catch (err) {
      this.#handshakeFailures.note((err as Error).message, remote);
      this.counters.handshakeFailures = this.#handshakeFailures.count;
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
      const key = checkRemoteKey(channel.remoteStatic, this);
      p = parseHandshakePayload(channel.remotePayload, HandshakePayloadSchema);
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
      open: this.auth.mode === "open",
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
    this.logger.info("peer_connected", {
      peer: session.peer.id,
      name: session.peer.name,
      role: session.peer.role,
      direction,
      remote: channel.remoteAddress,
    });
    this.#sessions.add(session);
    session.onClose((reason, error) => {
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
    return session;
  }

  /** Dials `address`, runs the handshake and returns the authenticated session. */
  async dial(address: string, options: DialPeerOptions = {}): Promise<PeerSession> {
    const timeoutMs = options.timeoutMs ?? this.#limits.handshakeTimeoutMs;
    const url = addressToUrl(address);
    const socket = await dialSocket(url, {
      timeoutMs,
      ca: options.ca,
      localAddress: options.localAddress,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    // What other processes changed is read once the other node answered: a dial that finds
    // nobody listening (10,000 rigs redialing a restarting controller) reads nothing. Both
    // refreshes read synchronously (their promises are settled when they return), so no frame or
    // close of the socket can arrive before `initiateChannel` takes it over.
    try {
      await Promise.all([this.registry.refresh(), this.auth.refresh()]);
    } catch (err) {
      socket.terminate();
      throw err;
    }
    let key: { id: string; publicKey: string } | undefined;
    const channel = await initiateChannel(socket, {
      staticKey: this.#staticKey,
      prologue: PROLOGUE,
      limits: { ...this.#limits, handshakeTimeoutMs: timeoutMs },
      onResponder: (rs, payload, hashes) => {
        key = checkRemoteKey(rs, this);
        const hello = parseHandshakePayload(payload, ResponderHelloSchema);
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
        } else resolve(parsed.message.payload);
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
    this.recordOutcome(peerId, failureOutcome(err));
  }

  /** Great-circle distance from this node to a location, when both are known. */
  geoKmTo(lat?: number, lon?: number): number | null {
    return geoKmBetween(this.identity.info, { lat, lon });
  }

  /** Keeps an outbound connection to `address` up, reconnecting with exponential backoff and jitter. */
  maintain(
    address: string,
    options: DialPeerOptions & { baseDelayMs?: number; maxDelayMs?: number } = {},
  ): MaintainedLink {
    const link = maintainLink(
      // A link's dial gets its full time once the listener has let it in (see connectTimeoutMs):
      // in a reconnect storm a rig does not give up on handshakes the controller has begun.
      () =>
        this.dial(address, {
          requireAuthorized: true,
          registerFirstContact: true,
          connectTimeoutMs: options.timeoutMs ?? this.#limits.handshakeTimeoutMs,
          ...options,
        }),
      {
        address,
        baseDelayMs: options.baseDelayMs,
        maxDelayMs: options.maxDelayMs,
        logger: this.logger,
        // It answered (its listener took the connection): busy or just restarted, not away.
        reached: (err) =>
          (err instanceof DialError && err.connected) || err instanceof ChannelError ||
          err instanceof RequestTimeoutError,
        onStop: () => this.#links.delete(link),
      },
    );
    this.#links.add(link);
    return link;
  }

  /** Closes every session, link and server, and flushes the registry. */
  async close(reason = "node shutting down"): Promise<void> {
    this.#refusals.close();
    this.#handshakeFailures.close();
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    // No new connections first: the peers told below that this node is going may redial at once.
    for (const s of this.#servers) s.stopAccepting();
    for (const l of [...this.#links]) l.stop();
    this.#sessions.closeAll(reason);
    await Promise.all(this.#servers.map((s) => s.close()));
    this.#servers.length = 0;
    await this.registry.close();
    this.auth.close();
  }
}
