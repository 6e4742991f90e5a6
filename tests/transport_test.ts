/**
 * In-process transport tests: MeshNode over real loopback WebSockets (Noise_XX), covering
 * fragmentation, limits, keepalive, connection caps, handshake timeouts, reconnects, spoofing,
 * handshake identity checks and wss.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initIdentity, nodeIdFromPublicKey, type NodeRole } from "../src/identity/mod.ts";
import { Logger } from "../src/log/mod.ts";
import {
  keepaliveTickMs,
  linkRetryDelay,
  MeshNode,
  type MeshNodeOptions,
  PeerIdentityError,
  type PeerSession,
  RemoteError,
} from "../src/node/mod.ts";
import {
  createMessage,
  type Message,
  type MessageType,
  PROLOGUE,
  PROTOCOL_VERSION,
  SOFTWARE_VERSION,
} from "../src/protocol/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { until, within } from "./helpers.ts";
import { backoffDelay } from "../src/backoff/mod.ts";
import {
  ChannelError,
  DialError,
  dialSocket,
  type FrameSocket,
  generateKeyPair,
  HandshakeState,
  initiateChannel,
  joinParts,
  type KeyPair,
  KIND_CONTROL,
  KIND_CONTROL_BODY,
  MAX_FRAGMENT,
  MAX_NOISE_MESSAGE,
  MAX_SEND_FRAME,
  NOISE_PROTOCOL,
  type SecureChannel,
  startTransportServer,
  type TransportServer,
} from "../src/transport/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// helpers

/** Log lines of one node, with waiters (no sleeping). */
class LogCapture {
  readonly lines: string[] = [];
  #waiters: { re: RegExp; resolve: () => void }[] = [];
  readonly logger: Logger;
  constructor() {
    this.logger = new Logger({
      level: "debug",
      json: false,
      sink: (line) => {
        this.lines.push(line);
        for (const w of [...this.#waiters]) {
          if (w.re.test(line)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      },
    });
  }
  /** Resolves when a line matching `re` has been logged (now or later). */
  waitFor(re: RegExp, timeoutMs = 5000): Promise<void> {
    if (this.lines.some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.re !== re);
        reject(new Error(`timed out waiting for ${re} in log:\n${this.lines.join("\n")}`));
      }, timeoutMs);
      this.#waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
    });
  }
  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }
}

/** Temp root with MeshNodes created in subdirectories; closes them all and removes the root. */
class Fixture {
  readonly nodes: MeshNode[] = [];
  private constructor(readonly root: string) {}
  static async create(): Promise<Fixture> {
    return new Fixture(await Deno.makeTempDir({ prefix: "miner-cli-transport-" }));
  }
  /** Creates an identity in `root/name` (unless it exists) and opens a node on it. */
  async node(
    name: string,
    options: MeshNodeOptions = {},
    role: NodeRole = "dual",
    create = true,
  ): Promise<MeshNode> {
    const paths = resolvePaths({ home: join(this.root, name) });
    if (create) await initIdentity(paths, { name, role });
    // Refusals summarised every 50 ms (10 s in production) so the log can be checked quickly.
    const node = await MeshNode.open(paths, {
      keepalive: false,
      refusalLogWindowMs: 50,
      ...options,
    });
    this.nodes.push(node);
    return node;
  }
  async dispose(): Promise<void> {
    for (const n of this.nodes) await n.close();
    await Deno.remove(this.root, { recursive: true });
  }
}

async function allow(node: MeshNode, id: string): Promise<void> {
  assert.ok(await node.auth.allow({ id, addedAt: new Date().toISOString() }));
}

function listen(
  node: MeshNode,
  extra: Partial<Parameters<MeshNode["serve"]>[0]> = {},
): Promise<TransportServer> {
  return node.serve({ hostname: "127.0.0.1", port: 0, authSweepMs: 60_000, ...extra });
}

function addr(server: TransportServer): string {
  return `127.0.0.1:${server.port}`;
}

/**
 * The next session `node` reports from now on (sessions already open count first; listeners
 * cannot be removed, so later calls of an old listener are ignored).
 */
function nextSession(node: MeshNode, timeoutMs = 5000): Promise<PeerSession> {
  let done = false;
  return within(
    new Promise((resolve) => {
      node.onSession((s) => {
        if (done) return;
        done = true;
        resolve(s);
      });
    }),
    `a session on ${node.identity.info.name}`,
    timeoutMs,
  );
}

/** Resolves with the close reason and error of a session. */
function sessionClosed(s: PeerSession): Promise<{ reason: string; error: ChannelError | null }> {
  return within(
    new Promise((resolve) => s.onClose((reason, error) => resolve({ reason, error }))),
    `session with ${s.peer.name} to close`,
    5000,
  );
}

/** A FrameSocket wrapper recording frame sizes and the close code. */
interface Tap {
  socket: FrameSocket;
  /** The wrapped socket (to send raw frames around the channel). */
  inner: FrameSocket;
  sent: Uint8Array[];
  received: Uint8Array[];
  /** Resolves with the close code and reason (fails after 5 s). */
  closed(): Promise<{ code: number; reason: string }>;
}

function tap(inner: FrameSocket): Tap {
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => resolveClosed = r);
  const t: Tap = {
    inner,
    sent: [],
    received: [],
    closed: () => within(closed, "the socket to close", 5000),
    socket: {
      send(frame) {
        t.sent.push(frame.slice()); // the channel may reuse the frame's buffer after send()
        inner.send(frame);
      },
      close(code, reason) {
        inner.close(code, reason);
      },
      terminate() {
        inner.terminate();
      },
      get bufferedAmount() {
        return inner.bufferedAmount;
      },
      copiesOnSend: inner.copiesOnSend,
      remoteAddress: inner.remoteAddress,
      onframe: null,
      oninvalid: null,
      onclose: null,
    },
  };
  inner.onframe = (f) => {
    t.received.push(f);
    t.socket.onframe?.(f);
  };
  inner.oninvalid = (why) => t.socket.oninvalid?.(why);
  inner.onclose = (code, reason) => {
    resolveClosed({ code, reason });
    t.socket.onclose?.(code, reason);
  };
  return t;
}

/** A raw initiator driven by the test: its own key, its own msg-3 payload, every message visible. */
interface RawPeer {
  tap: Tap;
  channel: SecureChannel;
  id: string;
  /** Every control message received, parsed. */
  messages: Message[];
  /** Resolves with the next control message matching `pred` (already received ones count). */
  next(pred: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
}

function rawPayload(id: string, name = "raw-peer"): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      id,
      name,
      role: "controller",
      version: SOFTWARE_VERSION,
      protocol: PROTOCOL_VERSION,
    }),
  );
}

async function rawPeer(
  address: string,
  key: KeyPair = generateKeyPair(),
  payload?: (ownId: string) => Uint8Array,
): Promise<RawPeer> {
  const id = nodeIdFromPublicKey(key.publicKey);
  const t = tap(await dialSocket(`ws://${address}/ws`, { timeoutMs: 5000 }));
  const channel = await initiateChannel(t.socket, {
    staticKey: key,
    prologue: PROLOGUE,
    onResponder: () => (payload ?? rawPayload)(id),
  });
  const messages: Message[] = [];
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  channel.setHandler((kind, parts) => {
    const data = joinParts(parts);
    let m: Message;
    if (kind === KIND_CONTROL) m = JSON.parse(decoder.decode(data));
    else if (kind === KIND_CONTROL_BODY) {
      const len = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
      m = JSON.parse(decoder.decode(data.subarray(4, 4 + len)));
      m.body = [data.slice(4 + len)];
    } else return;
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    tap: t,
    channel,
    id,
    messages,
    next(pred, timeoutMs = 5000) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
  };
}

/** Sends an arbitrary JSON value as one control message on a channel (with a body: kind 3). */
function sendJson(channel: SecureChannel, value: unknown, body?: Uint8Array): void {
  const json = encoder.encode(JSON.stringify(value));
  if (!body) return channel.send(json, KIND_CONTROL);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, json.length);
  channel.sendParts([header, json, body], KIND_CONTROL_BODY);
}

function closedCode(socket: FrameSocket): Promise<number> {
  return within(
    new Promise((resolve) => socket.onclose = (code) => resolve(code)),
    "socket close",
    5000,
  );
}

/** Yields one macrotask so event dispatch that is already running completes. */
function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Random bytes (any corruption, truncation or reordering of fragments is visible). */
function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let off = 0; off < length; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(length, off + 65536)));
  }
  return out;
}

/** Two nodes, server serving on loopback, each allowlisting the other. */
async function pairOfNodes(
  fx: Fixture,
  serverOptions: MeshNodeOptions = {},
  serveOptions: Partial<Parameters<MeshNode["serve"]>[0]> = {},
  clientOptions: MeshNodeOptions = {},
) {
  const log = new LogCapture();
  const server = await fx.node("server", { logger: log.logger, ...serverOptions }, "worker");
  const client = await fx.node("client", clientOptions, "controller");
  await allow(server, client.id);
  await allow(client, server.id);
  const srv = await listen(server, serveOptions);
  return { server, client, srv, address: addr(srv), log };
}

Deno.test("an ack is skipped when this node sent the peer something just before (a link's first push follows the handshake's ack), sent otherwise", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx);
    // The listening node answers pings as it answers pushed stats.
    const answered: boolean[] = [];
    server.onSession((s) =>
      s.on("ping", (m, s) => {
        answered.push(s.acknowledge(m, { withinMs: 300 }));
      })
    );
    const session = await client.dial(address);
    session.send("ping", {});
    await until(() => answered.length === 1, "the first ping handled", 5000);
    assert.deepEqual(answered, [false], "the handshake's ack went out just now");
    // Quiet for longer than the window: answered, and the answer is what the peer hears.
    await new Promise((r) => setTimeout(r, 350));
    const pong = await session.request("ping", {}, { timeoutMs: 5000 });
    assert.equal(pong.type, "pong");
    session.send("ping", {});
    await until(() => answered.length === 3, "the third ping handled", 5000);
    assert.deepEqual(answered, [false, true, false], "that answer went out just now");
    session.close("done");
  } finally {
    await fx.dispose();
  }
});

Deno.test("a closed connection ends no frame receiver twice: ws's receivers, on both sides, are not ended again once finished (each such end built an error with a stack trace)", async () => {
  // @ts-types="npm:@types/ws@8.18.1"
  const ws = await import("ws") as unknown as {
    Receiver?: { prototype: { end: () => unknown } };
    default: { Receiver?: { prototype: { end: () => unknown } } };
  };
  const proto = (ws.Receiver ?? ws.default.Receiver)!.prototype;
  const end = proto.end;
  let again = 0;
  let ends = 0;
  proto.end = function (this: { writableFinished: boolean; destroyed: boolean }) {
    ends++;
    if (this.writableFinished || this.destroyed) again++;
    return end.apply(this);
  };
  const closed: Promise<void>[] = [];
  let closing: Promise<void> | null = null;
  const server = await startTransportServer({
    hostname: "127.0.0.1",
    port: 0,
    onSocket: (socket) => {
      closed.push(new Promise((r) => socket.onclose = () => r()));
    },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const socket = await dialSocket(server.url);
      const gone = new Promise<void>((r) => socket.onclose = () => r());
      // The client closes the first two; the server's own close ends the third.
      if (i < 2) socket.close(1000, "done");
      else {
        await until(() => closed.length === 3, "the third socket upgraded", 5000);
        closing = server.close();
      }
      await gone;
    }
    await Promise.all(closed);
    await until(() => server.connections === 0, "every connection closed", 5000);
    assert.ok(ends >= 3, `the receivers were ended (${ends} times)`);
    assert.equal(again, 0, `a receiver was ended again after it finished (${again} of ${ends})`);
  } finally {
    proto.end = end;
    await (closing ?? server.close());
  }
});

// ---------------------------------------------------------------------------------------------
// fragmentation and size limits

Deno.test("a 300 KB ping is fragmented into several Noise frames and echoed intact", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx);
    const body = randomBytes(300_000);
    assert.ok(body.length > MAX_FRAGMENT * 4);

    // through the full MeshNode stack
    const session = await client.dial(address);
    const pong = await session.request("ping", { seq: 7 }, { timeoutMs: 10_000, body: body });
    assert.equal(pong.type, "pong");
    assert.equal(pong.from, server.id);
    assert.deepEqual(pong.payload, { seq: 7 });
    assert.deepEqual(joinParts(pong.body!), body);
    assert.ok(pong.body!.length >= 5, "the body is handed over as the fragments it came in");
    assert.ok((await session.ping(10_000, body)) >= 0);

    // and at frame level: every frame fits a Noise message, the message took several frames
    const key = generateKeyPair();
    await allow(server, nodeIdFromPublicKey(key.publicKey));
    const raw = await rawPeer(address, key);
    await raw.next((m) => m.type === "handshake_ack");
    const before = { sent: raw.tap.sent.length, received: raw.tap.received.length };
    const ping = createMessage("ping", {}, { from: raw.id, to: server.id });
    sendJson(raw.channel, ping, body);
    const echoed = await raw.next((m) => m.replyTo === ping.id);
    assert.equal(echoed.type, "pong");
    assert.deepEqual(joinParts(echoed.body!), body);
    const sentFrames = raw.tap.sent.slice(before.sent);
    const recvFrames = raw.tap.received.slice(before.received);
    assert.ok(sentFrames.length >= 5, `ping went out in ${sentFrames.length} frames`);
    assert.ok(recvFrames.length >= 5, `pong came back in ${recvFrames.length} frames`);
    for (const f of [...sentFrames, ...recvFrames]) {
      assert.ok(f.length <= MAX_SEND_FRAME, `frame of ${f.length} bytes`);
    }
    assert.ok(MAX_SEND_FRAME <= MAX_NOISE_MESSAGE);
    assert.equal(
      Math.max(...sentFrames.map((f) => f.length)),
      MAX_SEND_FRAME,
      "full fragments fill a frame",
    );
    assert.equal(server.counters.protocolErrors, 0);
    raw.channel.close();
    await raw.tap.closed();
  } finally {
    await fx.dispose();
  }
});

Deno.test("a peer's Noise message of the full 65,535 bytes is accepted (this side sends at most MAX_SEND_FRAME)", async () => {
  const fx = await Fixture.create();
  try {
    const { server, address } = await pairOfNodes(fx);
    const key = generateKeyPair();
    const id = nodeIdFromPublicKey(key.publicKey);
    await allow(server, id);
    // A hand-driven initiator, so it can send a frame of any size.
    const socket = await dialSocket(`ws://${address}/ws`, { timeoutMs: 5000 });
    const frames: Uint8Array[] = [];
    let arrived: (() => void) | null = null;
    socket.onframe = (f) => {
      frames.push(f.slice());
      arrived?.();
    };
    const nextFrame = async (): Promise<Uint8Array> => {
      while (frames.length === 0) {
        await within(new Promise<void>((r) => arrived = r), "a frame from the server", 5000);
      }
      return frames.shift()!;
    };
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL,
      initiator: true,
      prologue: PROLOGUE,
      s: key,
    });
    socket.send(hs.writeMessage());
    hs.readMessage(await nextFrame());
    socket.send(hs.writeMessage(rawPayload(id)));
    const { send, recv } = hs.split();
    const none = new Uint8Array(0);
    const ack = recv.decryptWithAd(none, await nextFrame());
    assert.match(decoder.decode(ack.subarray(2)), /"handshake_ack"/);

    // one ping whose frame is exactly the Noise limit: [kind 3, FIN][u32 length][JSON][body]
    const json = encoder.encode(
      JSON.stringify(createMessage("ping", {}, { from: id, to: server.id })),
    );
    const plaintext = new Uint8Array(MAX_NOISE_MESSAGE - 16);
    plaintext.set([KIND_CONTROL_BODY, 1]);
    new DataView(plaintext.buffer).setUint32(2, json.length);
    plaintext.set(json, 6);
    const bodyLength = plaintext.length - 6 - json.length;
    crypto.getRandomValues(plaintext.subarray(6 + json.length));
    const frame = send.encryptWithAd(none, plaintext);
    assert.equal(frame.length, MAX_NOISE_MESSAGE);
    socket.send(frame);

    // the pong echoes the body, in frames of at most MAX_SEND_FRAME
    const parts: Uint8Array[] = [];
    for (;;) {
      const f = await nextFrame();
      assert.ok(f.length <= MAX_SEND_FRAME, `frame of ${f.length} bytes`);
      const pt = recv.decryptWithAd(none, f);
      parts.push(pt.subarray(2));
      if (pt[1] & 1) break;
    }
    assert.ok(parts.length >= 2, "the echo needed two frames");
    const pong = joinParts(parts);
    const len = new DataView(pong.buffer, pong.byteOffset, 4).getUint32(0);
    assert.match(decoder.decode(pong.subarray(4, 4 + len)), /"type":"pong"/);
    assert.deepEqual(pong.subarray(4 + len), plaintext.subarray(6 + json.length));
    assert.equal(pong.length - 4 - len, bodyLength);
    assert.equal(server.counters.protocolErrors, 0);
    socket.close();
  } finally {
    await fx.dispose();
  }
});

Deno.test("a burst of 64 KiB pings sent at once comes back intact (frame buffer reuse is safe)", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx);
    const session = await client.dial(address);
    // 60 x 64 KiB issued in one go: more than the socket takes at once, so some writes queue
    // (the channel must not reuse a frame buffer the socket still holds) and the server answers
    // with a burst of its own. A reused buffer overwritten too early fails the AEAD check.
    const bodies = Array.from({ length: 60 }, () => randomBytes(64 * 1024));
    const pongs = await Promise.all(
      bodies.map((b) => session.request("ping", {}, { timeoutMs: 20_000, body: b })),
    );
    pongs.forEach((pong, i) => assert.deepEqual(joinParts(pong.body!), bodies[i], `pong ${i}`));
    assert.equal(server.counters.protocolErrors, 0);
    assert.equal(session.isClosed, false);
  } finally {
    await fx.dispose();
  }
});

Deno.test("a control message above maxMessageBytes is a protocol error that closes the session", async () => {
  const fx = await Fixture.create();
  try {
    const cap = 64 * 1024;
    const { server, client, address, log } = await pairOfNodes(fx, {
      limits: { maxMessageBytes: cap },
    });
    const serverSession = nextSession(server);
    const session = await client.dial(address);
    const inbound = await serverSession;
    // below the cap (a ping with a 60 KB body plus its envelope) passes
    const body = randomBytes(60_000);
    const pong = await session.request("ping", {}, { timeoutMs: 5000, body: body });
    assert.deepEqual(joinParts(pong.body!), body);
    assert.equal(server.counters.protocolErrors, 0);

    const serverClosed = sessionClosed(inbound);
    const clientClosed = sessionClosed(session);
    session.send("ping", {}, { body: new Uint8Array(cap + 1).fill(0x7b) });
    const { error } = await serverClosed;
    assert.equal(error?.code, "oversize");
    assert.match(error!.message, new RegExp(`exceeds ${cap} bytes`));
    assert.equal(server.counters.protocolErrors, 1);
    assert.equal(server.counters.rateLimited, 0);
    const c = await clientClosed;
    assert.match(c.reason, /closed by peer \(1008/);
    await log.waitFor(/session_error .*code=oversize .*protocolErrors=1/);
    assert.equal(server.sessions().length, 0);
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// rate limit

Deno.test("rate limit: a client blasting 50 messages is disconnected and counted", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address, log } = await pairOfNodes(fx, {
      limits: { rateBurst: 5, ratePerSecond: 1 },
    });
    const serverSession = nextSession(server);
    const session = await client.dial(address);
    const inbound = await serverSession;
    const serverClosed = sessionClosed(inbound);
    const clientClosed = sessionClosed(session);
    const pongs: Message[] = [];
    session.on("pong", (m) => void pongs.push(m));
    for (let i = 0; i < 50; i++) session.send("ping", { seq: i });
    const { error } = await serverClosed;
    assert.equal(error?.code, "rate_limited");
    assert.equal(server.counters.rateLimited, 1);
    assert.equal(server.counters.protocolErrors, 0);
    // the server closes with 1008; the client may instead see 1006 when the TCP connection is
    // reset under the 45 messages still in flight
    const c = await clientClosed;
    assert.match(c.reason, /closed by peer \((1008|1006)/);
    assert.ok(pongs.length <= 5, `at most the burst is answered, got ${pongs.length}`);
    await log.waitFor(/session_error .*code=rate_limited .*rateLimited=1/);
  } finally {
    await fx.dispose();
  }
});

Deno.test("rate limit: messages within the burst and refill are served", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx, {
      limits: { rateBurst: 5, ratePerSecond: 1 },
    });
    const session = await client.dial(address);
    for (let i = 0; i < 5; i++) await session.ping(5000);
    assert.equal(session.isClosed, false);
    assert.equal(server.counters.rateLimited, 0);
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// keepalive

Deno.test("keepalive: the server drops a peer that never answers its pings", async () => {
  const fx = await Fixture.create();
  try {
    const log = new LogCapture();
    const server = await fx.node("server", {
      logger: log.logger,
      keepalive: { intervalMs: 100, timeoutMs: 300 },
    });
    const srv = await listen(server);
    const key = generateKeyPair();
    await allow(server, nodeIdFromPublicKey(key.publicKey));
    const serverSession = nextSession(server);
    const raw = await rawPeer(addr(srv), key);
    const ack = await raw.next((m) => m.type === "handshake_ack");
    assert.deepEqual(ack.payload, {
      accepted: true,
      node: { name: "server", role: "dual", version: SOFTWARE_VERSION },
    });
    const t0 = performance.now();
    const inbound = await serverSession;
    const serverClosed = sessionClosed(inbound);
    // the server pings (we never answer) ...
    const ping = await raw.next((m) => m.type === "ping");
    assert.equal(ping.from, server.id);
    assert.equal(ping.to, raw.id);
    // ... then drops the socket
    const { code } = await raw.tap.closed();
    const elapsed = performance.now() - t0;
    assert.equal(code, 1000);
    assert.ok(elapsed >= 150, `dropped after ${elapsed} ms`);
    assert.ok(elapsed < 3000, `dropped after ${elapsed} ms`);
    const { reason } = await serverClosed;
    assert.match(reason, /no traffic for 300 ms/);
    assert.ok(raw.messages.filter((m) => m.type === "ping").length >= 1, "pinged before giving up");
    assert.equal(
      raw.messages.filter((m) => m.type === "disconnect").length,
      0,
      "silent drop (notify:false)",
    );
    await log.waitFor(/keepalive_timeout/);
    assert.equal(server.sessions().length, 0);
  } finally {
    await fx.dispose();
  }
});

Deno.test("keepalive: a check always lands between the ping threshold and the timeout", () => {
  // A link whose traffic keeps it alive (pushes and acks) is pinged only when quiet for
  // max(interval, timeout - 1 s); a check must land before the timeout, or two quiet sides can
  // both step over the window and drop a healthy link (the defaults once ticked every 1.25 s
  // against a 1 s window).
  assert.equal(keepaliveTickMs(5_000, 12_000), 500);
  for (const interval of [50, 100, 200, 1_000, 5_000, 10_000, 11_500, 29_000]) {
    for (const timeout of [100, 300, 1_200, 12_000, 30_000]) {
      if (interval >= timeout) continue;
      const tick = keepaliveTickMs(interval, timeout);
      const relaxedWindow = timeout - Math.max(interval, timeout - 1_000);
      assert.ok(tick >= 20, `${interval}/${timeout}: ${tick}`);
      assert.ok(
        tick === 20 || tick <= relaxedWindow / 2,
        `${interval}/${timeout}: tick ${tick} ms, window ${relaxedWindow} ms`,
      );
      assert.ok(tick <= Math.min(interval, timeout) / 4 || tick === 20);
    }
  }
});

Deno.test("keepalive: a peer that answers pings stays connected past the timeout", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx, {
      keepalive: { intervalMs: 100, timeoutMs: 300 },
    });
    const session = await client.dial(address);
    let pings = 0;
    const enough = new Promise<void>((resolve, reject) => {
      session.on("ping", (m, s) => {
        s.reply(m, "pong", {});
        if (++pings === 8) resolve();
      });
      session.onClose((reason) => reject(new Error(`dropped after ${pings} pings: ${reason}`)));
    });
    // ≥ 700 ms of keepalive, well beyond the 300 ms timeout
    await within(enough, "8 keepalive pings", 5000);
    assert.equal(session.isClosed, false);
    assert.equal(server.sessions().length, 1);
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// connection limit

Deno.test("max connections: established peers beyond the limit are refused; unauthenticated sockets never take their slots", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, srv, address, log } = await pairOfNodes(fx, {}, {
      maxConnections: 2,
      maxHandshakesPerAddress: 3,
    });
    const url = `ws://${address}/ws`;
    // three sockets that never handshake fill this address's handshake slots...
    const idle = [await dialSocket(url), await dialSocket(url), await dialSocket(url)];
    assert.deepEqual(srv.counts(), { established: 0, handshaking: 3, refused: 0 });
    // ...so a fourth from the same address is torn down at once, before any HTTP
    await assert.rejects(dialSocket(url), DialError);
    assert.equal(server.counters.refused, 1);
    await log.waitFor(
      /connection_refused .*3 connections from 127\.0\.0\.1 already in handshake.* count=1/,
    );
    // they hold no established slot: two peers from another address get in
    const other = await fx.node("other", {}, "controller");
    await allow(server, other.id);
    const third = await fx.node("third", {}, "controller");
    await allow(server, third.id);
    const dialFrom = (n: MeshNode) => n.dial(address, { localAddress: "127.0.0.2" });
    const s1 = await dialFrom(other);
    await s1.ping(5000);
    // established slots are counted apart: the limit of 2 is reached with the next one...
    idle[0].close(1000, "done");
    await log.waitFor(/handshake_failed .*count=1/);
    const s2 = await client.dial(address);
    await s2.ping(5000);
    assert.equal(srv.counts().established, 2);
    // ...and a third authenticated peer is refused with the reason, after its handshake
    await assert.rejects(dialFrom(third), /connection limit/);
    await log.waitFor(/connection_refused .*connection limit \(2\) reached/);
    // freeing a slot lets it in
    s1.close("done");
    await tick();
    const s3 = await dialFrom(third);
    await s3.ping(5000);
    for (const x of idle.slice(1)) x.close(1000, "done");
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// failed handshakes in a storm

Deno.test("failed handshakes are logged one line per window, with the count (a storm of rigs giving up halfway logged thousands of lines)", async () => {
  const fx = await Fixture.create();
  try {
    const { server, address, log } = await pairOfNodes(fx, { refusalLogWindowMs: 1000 });
    const failures = 30;
    for (let i = 0; i < failures; i++) {
      const socket = await dialSocket(`ws://${address}/ws`);
      const closed = closedCode(socket);
      socket.send(new Uint8Array(10)); // no Noise message 1 (too short for its key)
      await closed;
    }
    assert.equal(server.counters.handshakeFailures, failures);
    await log.waitFor(
      new RegExp(`handshake_failed .*handshake\\(s\\) failed in 1 s.* count=${failures}`),
    );
    const lines = log.count(/handshake_failed/);
    assert.ok(lines >= 2 && lines <= failures / 3, `${lines} lines for ${failures} failures`);
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// handshake timeout

Deno.test("handshake timeout: a silent socket is closed after handshakeTimeoutMs and counted", async () => {
  const fx = await Fixture.create();
  try {
    const { server, address, log } = await pairOfNodes(fx, { limits: { handshakeTimeoutMs: 300 } });
    const socket = await dialSocket(`ws://${address}/ws`);
    const t0 = performance.now();
    const code = await closedCode(socket);
    const elapsed = performance.now() - t0;
    // torn down at once (no close handshake to leave unanswered): 1006, abnormal closure
    assert.equal(code, 1006);
    assert.ok(elapsed >= 150 && elapsed < 3000, `closed after ${elapsed} ms`);
    assert.equal(server.counters.handshakeFailures, 1);
    await log.waitFor(/handshake_failed .*reason="handshake timed out" count=1/);

    // a socket that sends a valid message 1 and then stalls times out the same way
    const stalled = await dialSocket(`ws://${address}/ws`);
    const stalledClosed = closedCode(stalled);
    const frames: Uint8Array[] = [];
    stalled.onframe = (f) => void frames.push(f);
    const hs = new HandshakeState({
      protocolName: NOISE_PROTOCOL,
      initiator: true,
      prologue: PROLOGUE,
      s: generateKeyPair(),
    });
    stalled.send(hs.writeMessage());
    assert.equal(await stalledClosed, 1006);
    assert.equal(frames.length, 1, "got message 2");
    assert.equal(server.counters.handshakeFailures, 2);
    assert.equal(server.counters.accepted, 0);
    await log.waitFor(/handshake_failed .*reason="handshake timed out" count=2/);
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// reconnect and backoff

Deno.test("only a persistent link registers an allowlisted node it dials; a one-off dial never adds (or brings back) a registry entry", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx);
    // the client allowlists the server but has no registry entry for it (as after `peer remove`)
    assert.ok(client.auth.isAllowed(server.id));
    assert.equal(client.registry.get(server.id), undefined);
    const once = await client.dial(address, { expectId: server.id });
    await once.ping(5000);
    assert.equal(client.registry.get(server.id), undefined, "a one-off dial does not register");
    once.close("done");

    const connected = nextSession(client);
    const link = client.maintain(address, { baseDelayMs: 50, maxDelayMs: 200 });
    try {
      assert.equal((await connected).peer.id, server.id);
      const entry = client.registry.get(server.id);
      assert.equal(entry?.role, "worker", "a persistent link registers on first contact");
      assert.equal(entry?.address, address);
    } finally {
      link.stop();
    }
  } finally {
    await fx.dispose();
  }
});

Deno.test("maintain: the link reconnects to a server restarted on the same port", async () => {
  const fx = await Fixture.create();
  try {
    const clientLog = new LogCapture();
    const { server, client, srv } = await pairOfNodes(fx, {}, {}, { logger: clientLog.logger });
    const port = srv.port;
    const firstInbound = nextSession(server);
    const firstOutbound = nextSession(client);
    const link = client.maintain(`127.0.0.1:${port}`, { baseDelayMs: 50, maxDelayMs: 200 });
    const inbound = await firstInbound;
    assert.equal(inbound.peer.id, client.id);
    const outbound = await firstOutbound;
    await outbound.ping(5000);
    assert.equal(link.session, outbound);
    const dropped = sessionClosed(outbound);

    await server.close();
    fx.nodes.splice(fx.nodes.indexOf(server), 1);
    await dropped;
    // The server said it was going away: the first redial waits the longer delay (1-2 s, here
    // capped at the link's 200 ms: 100-200 ms, where the usual first one is 25-50 ms).
    await clientLog.waitFor(/reconnect_scheduled/);
    const first = Number(
      /delayMs=(\d+)/.exec(clientLog.lines.find((l) => l.includes("reconnect_scheduled"))!)![1],
    );
    assert.ok(first >= 100 && first <= 200, `first redial after the server left: ${first} ms`);
    // while the server is down, attempts fail and back off (capped at 200 ms)
    await clientLog.waitFor(/connect_failed .*attempt=1\b/);
    assert.equal(link.session, null);

    const restarted = await fx.node("server", {}, "worker", false);
    assert.equal(restarted.id, server.id);
    const secondInbound = nextSession(restarted);
    const secondOutbound = nextSession(client);
    await listen(restarted, { port });
    const again = await secondInbound;
    assert.equal(again.peer.id, client.id);
    const out2 = await secondOutbound;
    await out2.ping(5000);
    assert.equal(link.session, out2);

    const delays = clientLog.lines
      .filter((l) => l.includes("reconnect_scheduled"))
      .map((l) => Number(/delayMs=(\d+)/.exec(l)![1]));
    assert.ok(delays.length >= 2, `delays ${delays}`);
    for (const d of delays) assert.ok(d >= 25 && d <= 200, `delay ${d} outside [25, 200]`);
    const serverSide = sessionClosed(again);
    link.stop();
    assert.equal(out2.isClosed, true);
    assert.match((await serverSide).reason, /link stopped/);
    await tick();
    assert.equal(link.session, null);
  } finally {
    await fx.dispose();
  }
});

Deno.test("backoffDelay: doubles from base, caps at max, jitter within [1 - jitter, 1] of the raw delay", () => {
  const none = { baseMs: 100, maxMs: 1000, random: () => 0 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, none)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
    1000,
  ]);
  // the largest jitter a random in [0, 1) can produce
  const most = { baseMs: 100, maxMs: 1000, random: () => 0.999999 };
  assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, most)), [50, 100, 200, 400, 500]);
  assert.equal(backoffDelay(2, { baseMs: 100, maxMs: 1000, random: () => 0.5 }), 300);
  assert.equal(backoffDelay(3, { baseMs: 100, maxMs: 1000, jitter: 0, random: () => 0.9 }), 800);
  assert.equal(backoffDelay(1, { baseMs: 100, maxMs: 1000, jitter: 1, random: () => 0.25 }), 150);
  // defaults: 500 ms base, 30 s cap, half jitter
  assert.equal(backoffDelay(0, { random: () => 0 }), 500);
  assert.equal(backoffDelay(100, { random: () => 0 }), 30_000);
  assert.equal(backoffDelay(1e9, { random: () => 0.999999 }), 15_000);
  for (let attempt = 0; attempt < 40; attempt++) {
    for (const r of [0, 0.1, 0.5, 0.9, 0.999999]) {
      const raw = Math.min(1000, 100 * 2 ** attempt);
      const d = backoffDelay(attempt, { baseMs: 100, maxMs: 1000, random: () => r });
      assert.ok(Number.isInteger(d));
      assert.ok(
        d <= raw && d >= Math.floor(raw / 2),
        `attempt ${attempt} r ${r}: ${d} not in [${raw / 2}, ${raw}]`,
      );
    }
  }
});

Deno.test("a link redials a node that answered within 2 s, whatever its backoff had grown to; a dial says whether it reached the listener", async () => {
  const none = { random: () => 0 };
  // Away (nobody listening): 0.5 s doubling to 8 s. Reached (it listens: busy or restarting):
  // never more than 2 s, however many attempts failed while it was away.
  assert.deepEqual([0, 1, 2, 3, 4, 9].map((a) => linkRetryDelay(a, none)), [
    500,
    1000,
    2000,
    4000,
    8000,
    8000,
  ]);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 9].map((a) => linkRetryDelay(a, { ...none, reached: true })),
    [500, 1000, 2000, 2000, 2000, 2000],
  );
  assert.equal(linkRetryDelay(9, { reached: true, maxMs: 1000, random: () => 0 }), 1000);
  // It left (ended the session saying it was going away): the first redial waits 1-2 s, capped
  // by the link's own cap; later ones are the usual.
  assert.equal(linkRetryDelay(0, { ...none, left: true }), 2000);
  assert.equal(linkRetryDelay(0, { left: true, random: () => 0.999 }), 1001);
  assert.equal(linkRetryDelay(0, { ...none, left: true, maxMs: 200 }), 200);
  assert.equal(linkRetryDelay(4, { ...none, left: true }), 8000);
  // A listener that takes the connection and never answers the upgrade: reached.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })().catch(() => {});
  const port = (silent.addr as Deno.NetAddr).port;
  const dialFailure = async (): Promise<DialError> => {
    const err = await dialSocket(`ws://127.0.0.1:${port}/ws`, {
      timeoutMs: 200,
      connectTimeoutMs: 2000,
    }).then(() => null, (e) => e);
    assert.ok(err instanceof DialError, String(err));
    return err;
  };
  try {
    const err = await dialFailure();
    assert.equal(err.connected, true, err.message);
  } finally {
    silent.close();
    for (const c of held) c.close();
    await accepting;
  }
  // Nobody listening (the port just closed): not reached.
  const err = await dialFailure();
  assert.equal(err.connected, false, err.message);
});

// ---------------------------------------------------------------------------------------------
// envelope checks

Deno.test("a spoofed `from` gets an unauthorized error and the session closed", async () => {
  const fx = await Fixture.create();
  try {
    const log = new LogCapture();
    const server = await fx.node("server", { logger: log.logger });
    const srv = await listen(server);
    const key = generateKeyPair();
    await allow(server, nodeIdFromPublicKey(key.publicKey));
    const serverSession = nextSession(server);
    const raw = await rawPeer(addr(srv), key);
    await raw.next((m) => m.type === "handshake_ack");
    const inbound = await serverSession;
    const serverClosed = sessionClosed(inbound);

    // a message addressed to another node is answered but tolerated
    const misaddressed = createMessage("ping", {}, { from: raw.id, to: "f".repeat(32) });
    sendJson(raw.channel, misaddressed);
    const e1 = await raw.next((m) => m.replyTo === misaddressed.id);
    assert.equal(e1.type, "error");
    assert.equal((e1.payload as { code: string }).code, "invalid_message");
    assert.equal(inbound.isClosed, false);
    assert.equal(server.counters.protocolErrors, 1);

    const spoofed = createMessage("ping", {}, { from: "a".repeat(32), to: server.id });
    sendJson(raw.channel, spoofed);
    const e2 = await raw.next((m) => m.replyTo === spoofed.id);
    assert.equal(e2.type, "error");
    assert.equal((e2.payload as { code: string }).code, "unauthorized");
    assert.equal(
      raw.messages.filter((m) => m.type === "pong").length,
      0,
      "the spoofed ping was not answered",
    );
    const bye = await raw.next((m) => m.type === "disconnect");
    assert.match((bye.payload as { reason: string }).reason, /spoofed sender/);
    assert.equal((await raw.tap.closed()).code, 1000);
    assert.match((await serverClosed).reason, /spoofed sender/);
    assert.equal(server.counters.protocolErrors, 2);
    await log.waitFor(/protocol_violation .*message claims to be from a{32}/);
  } finally {
    await fx.dispose();
  }
});

Deno.test("unknown message types get an unknown_type error and the session stays open", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address } = await pairOfNodes(fx);
    const session = await client.dial(address);
    // not a protocol type at all
    await assert.rejects(
      session.request("mine_harder" as MessageType, {} as never, { timeoutMs: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof RemoteError, String(err));
        assert.equal(err.code, "unknown_type");
        assert.match(err.message, /unknown message type "mine_harder"/);
        return true;
      },
    );
    // a protocol type this node has no handler for
    await assert.rejects(
      session.request("handshake_ack", { accepted: false }, { timeoutMs: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof RemoteError, String(err));
        assert.equal(err.code, "unknown_type");
        assert.match(err.message, /does not handle handshake_ack/);
        return true;
      },
    );
    assert.equal(session.isClosed, false);
    await session.ping(5000);

    // raw bytes from a raw initiator: the reply goes to the crafted id
    const key = generateKeyPair();
    await allow(server, nodeIdFromPublicKey(key.publicKey));
    const raw = await rawPeer(address, key);
    await raw.next((m) => m.type === "handshake_ack");
    const crafted = {
      ...createMessage("ping", {}, { from: raw.id, to: server.id }),
      type: "bogus",
    };
    sendJson(raw.channel, crafted);
    const err = await raw.next((m) => m.replyTo === crafted.id);
    assert.equal(err.type, "error");
    assert.equal((err.payload as { code: string }).code, "unknown_type");
    // the session survives it
    const ping = createMessage("ping", { seq: 1 }, { from: raw.id, to: server.id });
    sendJson(raw.channel, ping);
    assert.equal((await raw.next((m) => m.replyTo === ping.id)).type, "pong");
    raw.channel.close();
    await raw.tap.closed();
  } finally {
    await fx.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// handshake identity

Deno.test("handshake: a msg-3 payload claiming another registered ID is refused; expectId is enforced", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, address, log } = await pairOfNodes(fx);
    // the client becomes a registered peer of the server
    const first = await client.dial(address);
    await first.ping(5000);
    await server.registry.flush();
    assert.ok(server.registry.get(client.id), "client registered on the server");
    const firstClosed = sessionClosed(first);
    first.close("done");
    await firstClosed;

    const impostorKey = generateKeyPair();
    const impostorId = nodeIdFromPublicKey(impostorKey.publicKey);
    const raw = await rawPeer(address, impostorKey, () => rawPayload(client.id, "client"));
    const ack = await raw.next((m) => m.type === "handshake_ack");
    assert.equal(ack.from, server.id);
    assert.equal(ack.to, impostorId);
    const p = ack.payload as { accepted: boolean; reason: string };
    assert.equal(p.accepted, false);
    assert.match(
      p.reason,
      new RegExp(`claims ID ${client.id} but its authenticated key hashes to ${impostorId}`),
    );
    await raw.tap.closed();
    assert.equal(server.counters.rejected, 1);
    await log.waitFor(new RegExp(`peer_rejected .*claims ID ${client.id}`));

    // dialing with the wrong expected ID aborts the handshake on the dialer's side
    const other = "0123456789abcdef0123456789abcdef";
    await assert.rejects(client.dial(address, { expectId: other }), (err: unknown) => {
      // PeerIdentityError thrown in onResponder currently comes out wrapped in a ChannelError
      // (see the known-bug test below)
      assert.ok(
        err instanceof PeerIdentityError ||
          (err instanceof ChannelError && err.code === "handshake_failed"),
        String(err),
      );
      assert.match(
        err.message,
        new RegExp(`is ${server.id}, not the expected ${other}`),
      );
      return true;
    });
    await log.waitFor(/handshake_failed .*count=1/);
    assert.equal(server.counters.handshakeFailures, 1);
    // the right expected ID works
    const ok = await client.dial(address, { expectId: server.id });
    await ok.ping(5000);
    assert.equal(server.counters.accepted, 2);
  } finally {
    await fx.dispose();
  }
});

Deno.test({
  // Known bug (reported): initiateChannel() wraps every error thrown by onResponder in a
  // ChannelError, so MeshNode.dial never rejects with PeerIdentityError for a wrong expectId,
  // a pinned-key mismatch or requireAuthorized. Enable once channel.ts rethrows those errors.
  name: "dial: a wrong expectId rejects with PeerIdentityError",
  fn: async () => {
    const fx = await Fixture.create();
    try {
      const { client, address } = await pairOfNodes(fx);
      await assert.rejects(client.dial(address, { expectId: "0".repeat(32) }), PeerIdentityError);
    } finally {
      await fx.dispose();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// wss

async function hasOpenssl(): Promise<boolean> {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const OPENSSL = await hasOpenssl();
if (!OPENSSL) console.warn("transport_test: openssl not found on PATH; skipping the wss test");

Deno.test({
  name: "wss: TLS endpoint with a self-signed certificate trusted via options.ca" +
    (OPENSSL ? "" : " (SKIPPED: no openssl)"),
  ignore: !OPENSSL,
  fn: async () => {
    const fx = await Fixture.create();
    try {
      const cert = join(fx.root, "c.pem");
      const key = join(fx.root, "k.pem");
      const out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(out.success, decoder.decode(out.stderr));
      const tls = { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) };
      const { server, client, srv } = await pairOfNodes(fx, {}, { tls });
      assert.match(srv.url, /^wss:\/\//);
      const url = `wss://localhost:${srv.port}/ws`;
      // untrusted without the CA
      await assert.rejects(client.dial(url, { timeoutMs: 5000 }), DialError);
      // plain ws to a TLS port fails too
      await assert.rejects(client.dial(`127.0.0.1:${srv.port}`, { timeoutMs: 5000 }), DialError);
      // a persistent link's dial (its deadline counted from the TCP connection) over TLS too
      const linked = await client.dial(url, { ca: tls.cert, connectTimeoutMs: 5000 });
      assert.equal(linked.peer.id, server.id);
      linked.close("done");
      const session = await client.dial(url, { ca: tls.cert });
      assert.equal(session.peer.id, server.id);
      const rtt = await session.ping(5000, encoder.encode("over tls"));
      assert.ok(rtt >= 0);
      const body = randomBytes(200_000);
      const pong = await session.request("ping", {}, { timeoutMs: 5000, body: body });
      assert.deepEqual(joinParts(pong.body!), body);
      // a burst through TLS too: the frame buffer is reused only once the TLS socket took it
      const bodies = Array.from({ length: 30 }, () => randomBytes(64 * 1024));
      const pongs = await Promise.all(
        bodies.map((b) => session.request("ping", {}, { timeoutMs: 20_000, body: b })),
      );
      pongs.forEach((p, i) => assert.deepEqual(joinParts(p.body!), bodies[i], `pong ${i}`));
    } finally {
      await fx.dispose();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// the stall watchdog (after a file-descriptor shortage)

Deno.test("stall watchdog: a listener that accepts its probes is never closed and listened again", async () => {
  let failures = 0;
  let relistens = 0;
  const server = await startTransportServer({
    hostname: "127.0.0.1",
    port: 0,
    onSocket: (socket) => socket.terminate(),
    onListenError: () => failures++,
    onRelisten: () => relistens++,
    stallWatch: { everyMs: 30, idleMs: 60, probeMs: 120 },
  });
  try {
    server.watchStall(60_000);
    // ~8 probes: each sees its own accept (in Deno the server accepts a probe before the probe's
    // own connect event fires, which once made every probe look unseen).
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(failures, 0, "a healthy listener was judged stalled");
    assert.equal(relistens, 0);
    // and it still serves
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conn.close();
  } finally {
    await server.close();
  }
});

Deno.test("dial with a connect deadline: the upgrade's own deadline still holds, counted from the connection", async () => {
  // A listener that takes the TCP connection at once and never answers the upgrade.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) held.push(conn);
  })().catch(() => {});
  try {
    const url = `ws://127.0.0.1:${listener.addr.port}/ws`;
    const t0 = performance.now();
    await assert.rejects(
      dialSocket(url, { connectTimeoutMs: 5000, timeoutMs: 300 }),
      (e: Error) => e instanceof DialError && /timed out$/.test(e.message),
    );
    const took = performance.now() - t0;
    // the upgrade's 300 ms, not the connect deadline's 5 s
    assert.ok(took >= 250 && took < 4000, `failed after ${took} ms`);
    // nothing listening: refused at once, not a timeout
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    await assert.rejects(
      dialSocket(`ws://127.0.0.1:${port}/ws`, { connectTimeoutMs: 5000, timeoutMs: 300 }),
      (e: Error) => e instanceof DialError && /ECONNREFUSED/.test(e.message),
    );
  } finally {
    listener.close();
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await serving;
  }
});

Deno.test("stopAccepting: new connections are refused by the kernel while the open ones keep working; a closing node stops accepting before it tells its peers", async () => {
  const fx = await Fixture.create();
  try {
    const { server, client, srv } = await pairOfNodes(fx);
    const inboundNext = nextSession(server);
    const session = await client.dial(addr(srv));
    const inbound = await inboundNext;
    await session.ping(5000);
    srv.stopAccepting();
    srv.stopAccepting(); // twice is harmless
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: srv.port }),
      Deno.errors.ConnectionRefused,
    );
    // the session made before still answers
    await session.ping(5000);
    // Closing the node stops accepting while its sessions are still open (before it tells its
    // peers it is going, so a redial meanwhile is refused, not queued and reset later).
    let openWhenStopped: boolean | undefined;
    const stop = srv.stopAccepting;
    (srv as { stopAccepting: () => void }).stopAccepting = () => {
      openWhenStopped ??= !inbound.isClosed;
      stop();
    };
    const closed = sessionClosed(session);
    await server.close();
    fx.nodes.splice(fx.nodes.indexOf(server), 1);
    assert.equal(openWhenStopped, true, "the node stopped accepting only after closing sessions");
    assert.match((await closed).reason, /node shutting down/);
    assert.equal(session.endedBy, "peer");
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: srv.port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    await fx.dispose();
  }
});
