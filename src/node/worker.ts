/**
 * The worker half of a node: answers controllers' requests on every session. Every request goes
 * through {@link admitRequest}: reads (stats, logs) need the `read` or `control` grant, state
 * changes (start, stop, deploy) need `control` and must pass the worker policy; control requests
 * are audited, accepted or refused. Authorization is by authenticated identity and the grants this
 * node's operator gave it, never by the role a peer announces or by who dialed.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { Manifest } from "../bundles/mod.ts";
import type { Capabilities } from "../capabilities/mod.ts";
import type { MinerManager, Profile } from "../miners/mod.ts";
import { ProfileNotFoundError, ProfileSchema } from "../miners/mod.ts";
import type {
  AuditRecordView,
  ErrorCode,
  Message,
  PayloadOf,
  StatsPayload,
} from "../protocol/mod.ts";
import type { AuditLog, AuditRecord } from "./audit.ts";
import { admitRequest, type PeerRequest } from "./authorize.ts";
import { receiveDeploy } from "./deploy.ts";
import type { MeshNode } from "./mesh.ts";
import type { PolicyStore } from "./policy.ts";
import type { PeerSession } from "./session.ts";
import { startStatsPush } from "./stats_push.ts";
import { type MinerStats } from "../protocol/mod.ts";

/** Options for {@link attachWorker}. */
export interface WorkerOptions {
  /** The miner manager. */
  miners: MinerManager;
  /** Audit log for state-changing commands. */
  audit: AuditLog;
  /** When the node started. */
  startedAt: Date;
  /** Where deployed miners are installed (`<data>/miners`). */
  minersDir: string;
  /** This node's capabilities for `stats`. */
  capabilities?: () => Capabilities | null;
  /** The worker policy (re-read when it changes). */
  policy: PolicyStore;
  /**
   * How often stats are pushed on links this node dialed to controllers that may read them
   * (default 10 s, jittered ±10 %; at once on a miner change; 0: never, the controller asks).
   */
  pushIntervalMs?: number;
}

class RefusedError extends MinerCliError {
  constructor(message: string, readonly policy?: string) {
    super(message, { status: 403, code: "unauthorized" });
  }
}

/** An audit record cut to the bounds of its shared schema (it is sent to a controller). */
function bounded(r: AuditRecord): AuditRecordView {
  const cut = (v: string | undefined, n: number) => (v === undefined ? undefined : v.slice(0, n));
  const params = JSON.stringify(r.params ?? {}).length <= 4000
    ? r.params ?? {}
    : { truncated: true };
  return {
    ts: r.ts.slice(0, 40),
    peer: r.peer.slice(0, 64),
    peerName: r.peerName.slice(0, 128),
    role: r.role?.slice(0, 16) ?? null,
    action: r.action.slice(0, 128),
    params,
    outcome: r.outcome,
    ...(r.reason !== undefined ? { reason: cut(r.reason, 2000) } : {}),
    ...(r.policy !== undefined ? { policy: cut(r.policy, 200) } : {}),
    ...(r.request !== undefined ? { request: cut(r.request, 64) } : {}),
    ...(r.source !== undefined ? { source: r.source } : {}),
  };
}

/** The fields every audit record of one action shares. */
interface AuditBase {
  peer: string;
  peerName: string;
  role: string | null;
  action: string;
  params: Record<string, unknown>;
}

/** SHA-256 of every executable file a miner bundle installs. */
function executablesOf(manifest: Manifest): string[] {
  return manifest.files.filter((f) => f.path.startsWith("miner/") && (f.mode & 0o111) !== 0)
    .map((f) => f.sha256);
}

/** How long, and how many, answers to start/stop are kept to answer a retried request. */
const REPLAY_TTL_MS = 10 * 60_000;
const REPLAY_MAX = 1024;

/** A control request's answer, kept for its retries. */
type ControlAnswer =
  | { ok: true; payload: PayloadOf<"miner_ack"> }
  | { ok: false; code: ErrorCode; message: string };

/** Registers the worker's handlers on every session of `mesh`. */
export function attachWorker(mesh: MeshNode, options: WorkerOptions): void {
  const { miners } = options;
  // An audit record that cannot be written (a full disk) never changes what was done, or the
  // answer: it is logged instead.
  const audit = {
    append: (record: Parameters<AuditLog["append"]>[0]): Promise<void> =>
      options.audit.append(record).catch((err) =>
        mesh.logger.warn("audit_write_failed", {
          action: record.action,
          outcome: record.outcome,
          reason: (err as Error).message,
        })
      ),
  };
  // Answers by (peer, request ID): a retried start or stop gets the first answer, even over a
  // new session; the first run's promise is shared while it is still running.
  const answers = new Map<string, { at: number; answer: Promise<ControlAnswer> }>();
  const remember = (key: string, answer: Promise<ControlAnswer>) => {
    const now = Date.now();
    for (const [k, v] of answers) {
      if (answers.size < REPLAY_MAX && now - v.at < REPLAY_TTL_MS) break;
      answers.delete(k);
    }
    answers.set(key, { at: now, answer });
  };

  /** Throws {@link RefusedError} unless `s`'s peer may make `request` (see {@link admitRequest}). */
  const authorize = async (s: PeerSession, request: PeerRequest): Promise<void> => {
    if (request.kind !== "stats" && request.kind !== "logs") await options.policy.refresh();
    const verdict = admitRequest({
      peer: mesh.registry.get(s.peer.id),
      policy: options.policy.policy,
    }, request);
    if (!verdict.ok) throw new RefusedError(verdict.reason, verdict.policy);
  };

  const auditBase = (
    s: PeerSession,
    action: string,
    params: Record<string, unknown>,
  ): AuditBase => {
    const peer = mesh.registry.get(s.peer.id);
    return {
      peer: s.peer.id,
      peerName: peer?.name ?? s.peer.name,
      role: peer?.role ?? null,
      action,
      params,
    };
  };

  /** Audits a refusal, naming the policy setting that refused it, if one did. */
  const refuseAudit = async (base: AuditBase, err: unknown) => {
    const e = err as Error;
    const policy = err instanceof RefusedError ? err.policy : undefined;
    await audit.append({
      ...base,
      outcome: "refused",
      reason: e.message,
      ...(policy ? { policy } : {}),
    });
  };

  /** Audits and answers a refusal. */
  const refuse = async (m: Message, s: PeerSession, base: AuditBase, err: unknown) => {
    await refuseAudit(base, err);
    s.replyError(m, "unauthorized", (err as Error).message);
  };

  /**
   * A control action: `run` admits what it does (it knows the details, say the profile's miner
   * type) through `admit`, then acts. The attempt is audited before the action and the outcome
   * after it; a repeat of the same request ID (a retry whose answer was lost) gets the first
   * answer without acting again.
   */
  const control = <T extends "start_miner" | "stop_miner">(
    action: T,
    params: (m: Message<T>) => Record<string, unknown>,
    run: (
      m: Message<T>,
      admit: (r: PeerRequest) => Promise<void>,
      attempt: () => Promise<void>,
    ) => Promise<PayloadOf<"miner_ack">>,
  ) =>
  async (m: Message<T>, s: PeerSession): Promise<void> => {
    const key = `${s.peer.id}:${m.id}`;
    const seen = answers.get(key);
    const answer = seen?.answer ?? (async (): Promise<ControlAnswer> => {
      const base = { ...auditBase(s, action, params(m)), request: m.id };
      try {
        const ack = await run(
          m,
          (r) => authorize(s, r),
          () => audit.append({ ...base, outcome: "attempt" }),
        );
        await audit.append({
          ...base,
          outcome: "ok",
          params: { ...base.params, minerName: ack.minerName, already: ack.already ?? false },
        });
        return { ok: true, payload: ack };
      } catch (err) {
        if (err instanceof RefusedError) {
          await refuseAudit(base, err);
          return { ok: false, code: "unauthorized", message: err.message };
        }
        const e = err as Error;
        await audit.append({ ...base, outcome: "failed", reason: e.message });
        const code = err instanceof MinerCliError && err.status === 404
          ? "not_found"
          : "operation_failed";
        return { ok: false, code, message: e.message };
      }
    })();
    if (!seen) remember(key, answer);
    else mesh.logger.info("request_replayed", { peer: s.peer.id, action, request: m.id });
    const a = await answer;
    if (a.ok) s.reply(m, "miner_ack", a.payload);
    else s.replyError(m, a.code, a.message);
  };

  const read = <T extends "get_stats" | "get_logs" | "get_audit">(
    kind: "stats" | "logs",
    fn: (m: Message<T>, s: PeerSession) => void | Promise<void>,
  ) =>
  async (m: Message<T>, s: PeerSession) => {
    try {
      await authorize(s, { kind });
    } catch (err) {
      s.replyError(m, "unauthorized", (err as Error).message);
      return;
    }
    try {
      await fn(m, s);
    } catch (err) {
      const e = err as Error;
      s.replyError(
        m,
        err instanceof MinerCliError && err.status === 404 ? "not_found" : "operation_failed",
        e.message,
      );
    }
  };

  const follows = new Map<PeerSession, Map<string, () => void>>();
  let deploysRunning = 0;
  // Running deploys by request ID (IDs are random UUIDs, so one map serves every session).
  const deploys = new Map<string, AbortController>();
  const deploySessions = new Map<string, PeerSession>();
  const MAX_DEPLOYS = 4;

  const statsPayload = (withCapabilities = true): StatsPayload => ({
    nodeId: mesh.id,
    nodeName: mesh.identity.info.name,
    role: mesh.identity.info.role,
    uptime: Math.round((Date.now() - options.startedAt.getTime()) / 1000),
    miners: miners.list() as MinerStats[],
    ...(withCapabilities && options.capabilities?.()
      ? { capabilities: options.capabilities()! }
      : {}),
  });
  const push = startStatsPush(mesh, {
    intervalMs: options.pushIntervalMs ?? 10_000,
    payload: statsPayload,
    mayRead: async (s) => {
      try {
        await authorize(s, { kind: "stats" });
        return true;
      } catch {
        return false;
      }
    },
  });
  miners.onEvent(() => push.changed());

  mesh.onSession((s) => {
    s.on(
      "get_stats",
      read("stats", (m, s) => {
        s.reply(m, "stats", statsPayload());
        push.answered(s);
      }),
    );

    // Its audit records, for a controller that may read here: what it accepted and refused.
    s.on(
      "get_audit",
      read("logs", async (m, s) => {
        const records = await options.audit.tail({
          limit: m.payload.limit ?? 200,
          scope: m.payload.scope ?? "commands",
        });
        s.reply(m, "audit", { records: records.map(bounded) });
      }),
    );

    s.on(
      "start_miner",
      control("start_miner", (m) => {
        const p = m.payload;
        return {
          minerType: p.minerType,
          profileId: p.profileId,
          withConfig: p.config !== undefined,
        };
      }, async (m, admit, attempt) => {
        const p = m.payload;
        // Admitted on the miner type asked for, then (below) on the profile's own.
        await admit({ kind: "start_miner", minerType: p.minerType });
        let profile: Profile | undefined;
        if (p.profileId) {
          profile = (await miners.profiles.list()).find((x) =>
            x.id === p.profileId || x.name === p.profileId
          );
        }
        if (!profile && p.config !== undefined) {
          const parsed = ProfileSchema.safeParse(p.config);
          if (parsed.success) {
            await admit({ kind: "start_miner", minerType: parsed.data.minerType });
          } else {
            throw new Error(
              `invalid profile: ${
                parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`)
                  .join("; ")
              }`,
            );
          }
          profile = await miners.profiles.put(parsed.data);
        }
        if (!profile) {
          throw new ProfileNotFoundError(
            p.profileId ?? "(none)",
            "it is not on this worker: deploy it, or send its config",
          );
        }
        if (profile.minerType !== p.minerType) {
          throw new Error(
            `profile ${profile.name} is for ${profile.minerType}, not ${p.minerType}`,
          );
        }
        await admit({ kind: "start_miner", minerType: profile.minerType });
        await attempt();
        const { miner, already } = await miners.start(profile);
        return {
          success: true,
          minerName: miner.name,
          ...(already ? { already: true, since: miner.stats().startedAt ?? undefined } : {}),
        };
      }),
    );

    s.on(
      "stop_miner",
      control(
        "stop_miner",
        (m) => ({ minerName: m.payload.minerName }),
        async (m, admit, attempt) => {
          await admit({ kind: "stop_miner" });
          await attempt();
          const name = m.payload.minerName;
          const { already } = await miners.stop(name);
          return { success: true, minerName: name, ...(already ? { already: true } : {}) };
        },
      ),
    );

    s.on(
      "get_logs",
      read("logs", (m, s) => {
        const p = m.payload;
        const proc = miners.get(p.minerName);
        const res = proc.logs.read({ lines: p.lines, since: p.since });
        const strip = (l: { seq: number; ts: string; text: string }) => ({
          seq: l.seq,
          ts: l.ts,
          text: l.text,
        });
        s.reply(m, "logs", {
          minerName: p.minerName,
          lines: res.lines.map(strip),
          hasMore: res.hasMore,
        });
        if (!p.follow) return;
        // Batch lines so a chatty miner does not exceed the peer's message rate limit.
        let batch: ReturnType<typeof strip>[] = [];
        let timer: ReturnType<typeof setTimeout> | undefined;
        let last = res.lastSeq;
        const flush = () => {
          timer = undefined;
          if (!batch.length || s.isClosed) return;
          const lines = batch;
          batch = [];
          s.reply(m, "log_lines", { minerName: p.minerName, lines });
        };
        const unsub = proc.logs.subscribe((l) => {
          if (l.seq <= last) return;
          last = l.seq;
          batch.push(strip(l));
          timer ??= setTimeout(flush, 100);
        });
        let unclose = () => {};
        const stop = () => {
          unsub();
          unclose();
          clearTimeout(timer);
        };
        unclose = proc.logs.onClose(() => {
          // The miner stopped: send what is left and tell the follower it has ended.
          clearTimeout(timer);
          const lines = batch;
          batch = [];
          if (!s.isClosed) s.reply(m, "log_lines", { minerName: p.minerName, lines, ended: true });
          stop();
          follows.get(s)?.delete(m.id);
        });
        let map = follows.get(s);
        if (!map) {
          const created = new Map<string, () => void>();
          follows.set(s, created);
          s.onClose(() => {
            for (const f of created.values()) f();
            follows.delete(s);
          });
          map = created;
        }
        map.set(m.id, stop);
      }),
    );

    s.on("deploy", async (m, s) => {
      const p = m.payload;
      const base = auditBase(s, "deploy", {
        type: p.type,
        name: p.name,
        size: p.size,
        checksum: p.checksum,
      });
      try {
        await authorize(s, { kind: "deploy", bundleType: p.type });
      } catch (err) {
        return await refuse(m, s, base, err);
      }
      if (deploysRunning >= MAX_DEPLOYS) {
        await audit.append({ ...base, outcome: "refused", reason: "too many deploys" });
        s.replyError(m, "operation_failed", `busy: ${MAX_DEPLOYS} deploys already running`);
        return;
      }
      deploysRunning++;
      const abort = new AbortController();
      deploys.set(m.id, abort);
      deploySessions.set(m.id, s);
      // The policy is checked again on what the bundle turns out to carry.
      let policyRefusal: RefusedError | null = null;
      const vet = (r: PeerRequest) => {
        const v = admitRequest({
          peer: mesh.registry.get(s.peer.id),
          policy: options.policy.policy,
        }, r);
        if (!v.ok) throw policyRefusal = new RefusedError(v.reason, v.policy);
      };
      try {
        const res = await receiveDeploy(s, m, {
          minersDir: options.minersDir,
          profiles: miners.profiles,
          signal: abort.signal,
          vetManifest: (manifest) =>
            vet({ kind: "deploy", bundleType: p.type, executables: executablesOf(manifest) }),
          vetProfiles: (profiles) =>
            vet({
              kind: "deploy",
              bundleType: p.type,
              profileTypes: profiles.map((x) => x.minerType),
            }),
        });
        const installed = {
          minerType: res.manifest.minerType,
          version: res.manifest.version,
          profileIds: res.profiles.map((x) => x.id),
        };
        await audit.append({ ...base, outcome: "ok", params: { ...base.params, ...installed } });
        s.reply(m, "deploy_ack", { success: true, name: res.manifest.name, ...installed });
      } catch (err) {
        const e = (policyRefusal ?? err) as Error;
        const refusedBy = policyRefusal as RefusedError | null;
        await audit.append({
          ...base,
          outcome: refusedBy ? "refused" : "failed",
          reason: e.message,
          ...(refusedBy?.policy ? { policy: refusedBy.policy } : {}),
        });
        s.reply(m, "deploy_ack", { success: false, name: p.name, error: e.message.slice(0, 2000) });
      } finally {
        deploysRunning--;
        deploys.delete(m.id);
        deploySessions.delete(m.id);
      }
    });

    s.on("cancel", (m, s) => {
      const id = m.payload.requestId;
      const deploy = deploys.get(id);
      // Only the session that started a deploy may cancel it.
      if (deploy && deploySessions.get(id) === s) deploy.abort();
      const stop = follows.get(s)?.get(id);
      stop?.();
      follows.get(s)?.delete(id);
    });
  });
}
