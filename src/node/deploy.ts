/**
 * Deploying bundles over the encrypted link. The controller announces `deploy {type, name, size,
 * checksum}`; the worker authorizes it and answers `deploy_progress {received: 0}`; the bundle
 * then flows as data frames tagged with the announcement's ID, never larger than a data message
 * however big the bundle. The worker extracts while receiving (into a staging directory),
 * acknowledges consumed bytes (credit-based flow control, so neither side buffers more than a
 * window), verifies size and SHA-256 of the whole stream before anything becomes visible, and
 * ends with `deploy_ack`. A dropped connection, a checksum mismatch or a hostile bundle leaves the
 * previous state intact.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { createHash } from "node:crypto";
import { BundleError, installBundle, type InstalledBundle, type Manifest } from "../bundles/mod.ts";
import type { Profile, ProfileStore } from "../miners/mod.ts";
import type { Peer } from "../peers/mod.ts";
import type { Message, PayloadOf } from "../protocol/mod.ts";
import {
  type PeerSession,
  RemoteError,
  RequestTimeoutError,
  SessionClosedError,
} from "./session.ts";

/** Bytes per data frame. */
export const DEPLOY_CHUNK_BYTES = 256 * 1024;
/** Most unacknowledged bytes in flight. */
export const DEPLOY_WINDOW_BYTES = 32 * 1024 * 1024;
/** Largest bundle a worker accepts (bytes). */
export const MAX_DEPLOY_BYTES = 8 * 1024 ** 3;
const ACK_MIN_BYTES = 1024 * 1024;
const ACK_MIN_INTERVAL_MS = 50;

/** Options for {@link receiveDeploy}. */
export interface ReceiveDeployOptions {
  /** The node's miners directory. */
  minersDir: string;
  /** The profile store. */
  profiles: ProfileStore;
  /** Abort when no data arrives for this long (default 60 s). */
  stallMs?: number;
  /** Aborts the deploy (the controller sent `cancel`). */
  signal?: AbortSignal;
  /** Checks the manifest as soon as it is read, before anything is extracted (throw to refuse). */
  vetManifest?: (manifest: Manifest) => void;
  /** Checks the profiles the bundle carries before anything is installed (throw to refuse). */
  vetProfiles?: (profiles: readonly Profile[]) => void;
}

/**
 * Worker side of one `deploy`: answers ready, receives, installs, and returns what was
 * installed (the caller sends `deploy_ack` and audits).
 */
export async function receiveDeploy(
  session: PeerSession,
  request: Message<"deploy">,
  options: ReceiveDeployOptions,
): Promise<InstalledBundle> {
  const p = request.payload;
  if (p.size > MAX_DEPLOY_BYTES) {
    throw new BundleError(`the bundle is ${p.size} bytes, over the ${MAX_DEPLOY_BYTES}-byte limit`);
  }
  const hash = createHash("sha256");
  let received = 0;
  let consumed = 0;
  let lastAck = 0;
  let lastAckAt = 0;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  let draining = false;
  let failed: Error | null = null;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let allReceived!: () => void;
  let receiveFailed!: (e: Error) => void;
  const complete = new Promise<void>((res, rej) => {
    allReceived = res;
    receiveFailed = rej;
  });
  complete.catch(() => {});
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
    },
  }, { highWaterMark: 0 });
  const ack = () => {
    ackTimer = undefined;
    const at = draining ? received : consumed;
    if (at === lastAck || session.isClosed) return;
    lastAck = at;
    lastAckAt = Date.now();
    session.reply(request, "deploy_progress", { received: at });
  };
  const maybeAck = () => {
    const at = draining ? received : consumed;
    if (at - lastAck < ACK_MIN_BYTES && at !== p.size) return;
    const wait = lastAckAt + ACK_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) ack();
    else ackTimer ??= setTimeout(ack, wait);
  };
  const fail = (e: Error) => {
    if (failed) return;
    failed = e;
    try {
      ctrl.error(e);
    } catch { /* already closed */ }
    receiveFailed(e);
  };
  const stallMs = options.stallMs ?? 60_000;
  let lastData = Date.now();
  const stallTimer = setInterval(() => {
    if (Date.now() - lastData > stallMs) fail(new Error(`no data for ${stallMs / 1000} s`));
  }, Math.min(stallMs, 1000));
  // However slow the link, a deploy ends: at least 1 MB/s on average after a 2-minute grace.
  const deadlineAt = Date.now() + 120_000 + p.size / 1000;
  const deadlineTimer = setInterval(() => {
    if (Date.now() > deadlineAt) fail(new Error("the deploy is too slow (under 1 MB/s)"));
  }, 1000);
  options.signal?.addEventListener("abort", () => fail(new Error("cancelled by the controller")), {
    once: true,
  });
  const closeSink = session.openDataSink(request.id, (chunk) => {
    if (failed) return;
    lastData = Date.now();
    received += chunk.length;
    if (received > p.size) {
      fail(new BundleError(`more data than the announced ${p.size} bytes`));
      return;
    }
    if (received - lastAck > DEPLOY_WINDOW_BYTES + DEPLOY_CHUNK_BYTES) {
      fail(new BundleError("the controller ignored flow control (sent past its window)"));
      return;
    }
    hash.update(chunk);
    try {
      ctrl.enqueue(chunk);
    } catch {
      return; // the extractor gave up (a refused bundle) and cancelled the stream: drop the rest
    }
    if (draining) maybeAck();
    if (received === p.size) {
      try {
        ctrl.close();
      } catch { /* errored */ }
      allReceived();
    }
  });
  const onClose = () => fail(new SessionClosedError("the controller went away mid-deploy"));
  session.onClose(onClose);
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      consumed += chunk.length;
      maybeAck();
      c.enqueue(chunk);
    },
  });
  try {
    session.reply(request, "deploy_progress", { received: 0 });
    return await installBundle(source.pipeThrough(counted), {
      minersDir: options.minersDir,
      profiles: options.profiles,
      expect: { type: p.type, name: p.name },
      vetManifest: options.vetManifest,
      beforeCommit: async (_manifest, profiles) => {
        options.vetProfiles?.(profiles);
        // The archive may end before the stream does (tar padding): take the rest too.
        draining = true;
        maybeAck();
        await complete;
        const digest = hash.digest("hex");
        if (digest !== p.checksum) {
          throw new BundleError(
            `SHA-256 mismatch: received ${digest}, announced ${p.checksum}; nothing was installed`,
          );
        }
      },
    });
  } catch (err) {
    throw failed ?? err;
  } finally {
    clearInterval(stallTimer);
    clearInterval(deadlineTimer);
    clearTimeout(ackTimer);
    closeSink();
  }
}

/** What a bundle announcement carries. */
export interface DeployAnnouncement {
  /** Bundle type. */
  type: PayloadOf<"deploy">["type"];
  /** Bundle name. */
  name: string;
  /** Plaintext tar size. */
  size: number;
  /** SHA-256 (hex) of the plaintext tar. */
  checksum: string;
}

/** Options for {@link sendDeploy}. */
export interface SendDeployOptions {
  /** The plaintext tar to send. */
  file: string;
  /** Called as the worker acknowledges bytes. */
  onProgress?: (received: number, total: number) => void;
  /** Time allowed for the worker to accept the announcement (default 30 s). */
  acceptTimeoutMs?: number;
  /** Abort when the worker acknowledges nothing for this long (default 60 s). */
  stallMs?: number;
}

/** The worker refused or failed the deployment. */
export class DeployFailedError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly peer: Pick<Peer, "name">, detail: string) {
    super(`deploy to ${peer.name} failed: ${detail}`, { status: 502, code: "deploy_failed" });
    this.name = "DeployFailedError";
  }
}

/** Controller side: streams `file` to the peer of `session` and returns the worker's ack. */
export async function sendDeploy(
  session: PeerSession,
  announce: DeployAnnouncement,
  options: SendDeployOptions,
): Promise<PayloadOf<"deploy_ack">> {
  const peer = { name: session.peer.name };
  // Opened first: nothing is announced for a file that cannot be read.
  const file = await Deno.open(options.file, { read: true });
  let acked = 0;
  let wake: (() => void) | null = null;
  let lastItem = Date.now();
  let settle!: { resolve: (a: PayloadOf<"deploy_ack">) => void; reject: (e: Error) => void };
  const done = new Promise<PayloadOf<"deploy_ack">>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {});
  let finished = false;
  const finish = (fn: () => void) => {
    if (finished) return;
    finished = true;
    fn();
    wake?.();
  };
  let stream: ReturnType<PeerSession["stream"]>;
  try {
    stream = session.stream("deploy", announce, options.acceptTimeoutMs ?? 30_000, (m) => {
      lastItem = Date.now();
      if (m.type === "deploy_progress") {
        acked = Math.max(acked, m.payload.received);
        options.onProgress?.(acked, announce.size);
        wake?.();
      } else if (m.type === "deploy_ack") {
        const a = m.payload;
        finish(() =>
          a.success
            ? settle.resolve(a)
            : settle.reject(new DeployFailedError(peer, a.error ?? "unknown error"))
        );
      } else if (m.type === "error") {
        const e = m.payload;
        finish(() => settle.reject(new RemoteError(e.code, e.message)));
      }
    });
  } catch (err) {
    file.close();
    throw err;
  }
  session.onClose((reason) =>
    finish(() => settle.reject(new SessionClosedError(`${reason} (during deploy)`)))
  );
  const stallMs = options.stallMs ?? 60_000;
  const stallTimer = setInterval(() => {
    if (Date.now() - lastItem > stallMs) {
      finish(() =>
        settle.reject(new RequestTimeoutError("deploy (no progress from the worker)", stallMs))
      );
    }
  }, Math.min(1000, stallMs));
  try {
    const first = await stream.first;
    if (first.type === "deploy_ack") {
      // Refused before it started (for example over the size limit).
      const a = first.payload;
      throw new DeployFailedError(peer, a.error ?? "refused");
    }
    if (first.type !== "deploy_progress") {
      throw new DeployFailedError(peer, `unexpected ${first.type} answer`);
    }
    lastItem = Date.now();
    const id = first.replyTo!;
    const buf = new Uint8Array(DEPLOY_CHUNK_BYTES);
    let sent = 0;
    while (sent < announce.size && !finished) {
      while (sent - acked >= DEPLOY_WINDOW_BYTES && !finished) {
        await new Promise<void>((r) => wake = r);
        wake = null;
      }
      if (finished) break;
      const n = await file.read(buf);
      if (n === null) throw new DeployFailedError(peer, "the bundle file shrank while sending");
      session.sendData(id, buf.subarray(0, Math.min(n, announce.size - sent)));
      sent += n;
    }
    return await done;
  } catch (err) {
    if (err instanceof RemoteError) throw new DeployFailedError(peer, err.message);
    throw err;
  } finally {
    clearInterval(stallTimer);
    stream.stop({ notify: !finished }); // a finished deploy needs no cancel
    file.close();
  }
}
