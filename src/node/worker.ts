/**
 * The worker half of a node: answers controllers' requests on every session. State-changing
 * commands (start, stop, deploy) are executed only for peers registered here whose recorded role is
 * controller or dual, and are audited; read-only requests (stats, logs) need a registered peer.
 * Authorization is by authenticated identity and recorded role, never by who dialed.
 * @module
 */
import type { Capabilities } from "../identity/mod.ts";
import type { MinerManager, MinerStats, Profile } from "../miners/mod.ts";
import { ProfileSchema } from "../miners/mod.ts";
import type { Message, PayloadOf } from "../protocol/mod.ts";
import type { AuditLog } from "./audit.ts";
import { receiveDeploy } from "./deploy.ts";
import type { MeshNode } from "./mesh.ts";
import type { PeerSession } from "./session.ts";

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
}

type Access = "read" | "control";

class RefusedError extends Error {}

/** The fields every audit record of one action shares. */
interface AuditBase {
  peer: string;
  peerName: string;
  action: string;
  params: Record<string, unknown>;
}

/** Registers the worker's handlers on every session of `mesh`. */
export function attachWorker(mesh: MeshNode, options: WorkerOptions): void {
  const { miners, audit } = options;

  const authorize = (s: PeerSession, access: Access): { role: string | null } => {
    const peer = mesh.registry.get(s.peer.id);
    if (!peer) throw new RefusedError(`node ${s.peer.id} is not registered on this worker`);
    if (access === "control" && peer.role !== "controller" && peer.role !== "dual") {
      throw new RefusedError(
        `node ${peer.name} is registered here as a ${peer.role}; only controller or dual peers may change miners`,
      );
    }
    return { role: peer.role };
  };

  /**
   * The audit record's common fields and the peer's role for a control action, or null when the
   * peer may not run it (then the refusal is audited and answered).
   */
  const admitControl = async (
    m: Message,
    s: PeerSession,
    action: string,
    params: Record<string, unknown>,
  ): Promise<{ base: AuditBase; role: string | null } | null> => {
    const base = {
      peer: s.peer.id,
      peerName: mesh.registry.get(s.peer.id)?.name ?? s.peer.name,
      action,
      params,
    };
    const role: string | null = mesh.registry.get(s.peer.id)?.role ?? null;
    try {
      return { base, role: authorize(s, "control").role };
    } catch (err) {
      await audit.append({ ...base, role, outcome: "refused", reason: (err as Error).message });
      s.replyError(m, "unauthorized", (err as Error).message);
      return null;
    }
  };

  const control = (
    action: string,
    params: (m: Message) => Record<string, unknown>,
    run: (m: Message, s: PeerSession) => Promise<string>,
  ) =>
  async (m: Message, s: PeerSession): Promise<void> => {
    const admitted = await admitControl(m, s, action, params(m));
    if (!admitted) return;
    const { base, role } = admitted;
    try {
      const minerName = await run(m, s);
      await audit.append({ ...base, role, outcome: "ok", params: { ...base.params, minerName } });
      s.reply(m, "miner_ack", { success: true, minerName });
    } catch (err) {
      const e = err as Error;
      await audit.append({ ...base, role, outcome: "failed", reason: e.message });
      const code = e.name === "ProfileNotFoundError" || e.name === "MinerNotFoundError"
        ? "not_found"
        : "operation_failed";
      s.replyError(m, code, e.message);
    }
  };

  const read =
    (fn: (m: Message, s: PeerSession) => void | Promise<void>) =>
    async (m: Message, s: PeerSession) => {
      try {
        authorize(s, "read");
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
          e.name === "MinerNotFoundError" ? "not_found" : "operation_failed",
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

  mesh.onSession((s) => {
    s.on(
      "get_stats",
      read((m, s) => {
        s.reply(m, "stats", {
          nodeId: mesh.id,
          nodeName: mesh.identity.info.name,
          role: mesh.identity.info.role,
          uptime: Math.round((Date.now() - options.startedAt.getTime()) / 1000),
          miners: miners.list() as MinerStats[],
          ...(options.capabilities?.() ? { capabilities: options.capabilities()! } : {}),
        });
      }),
    );

    s.on(
      "start_miner",
      control("start_miner", (m) => {
        const p = m.payload as PayloadOf<"start_miner">;
        return {
          minerType: p.minerType,
          profileId: p.profileId,
          withConfig: p.config !== undefined,
        };
      }, async (m) => {
        const p = m.payload as PayloadOf<"start_miner">;
        let profile: Profile | undefined;
        if (p.profileId) {
          profile = (await miners.profiles.list()).find((x) =>
            x.id === p.profileId || x.name === p.profileId
          );
        }
        if (!profile && p.config !== undefined) {
          const parsed = ProfileSchema.safeParse(p.config);
          if (!parsed.success) {
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
          const e = new Error(
            `profile ${
              p.profileId ?? "(none)"
            } is not on this worker: deploy it, or send its config`,
          );
          e.name = "ProfileNotFoundError";
          throw e;
        }
        if (profile.minerType !== p.minerType) {
          throw new Error(
            `profile ${profile.name} is for ${profile.minerType}, not ${p.minerType}`,
          );
        }
        return (await miners.start(profile)).name;
      }),
    );

    s.on(
      "stop_miner",
      control(
        "stop_miner",
        (m) => ({ minerName: (m.payload as PayloadOf<"stop_miner">).minerName }),
        async (m) => {
          const name = (m.payload as PayloadOf<"stop_miner">).minerName;
          await miners.stop(name);
          return name;
        },
      ),
    );

    s.on(
      "get_logs",
      read((m, s) => {
        const p = m.payload as PayloadOf<"get_logs">;
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
      const p = m.payload as PayloadOf<"deploy">;
      const admitted = await admitControl(m, s, "deploy", {
        type: p.type,
        name: p.name,
        size: p.size,
        checksum: p.checksum,
      });
      if (!admitted) return;
      const { base, role } = admitted;
      if (deploysRunning >= MAX_DEPLOYS) {
        await audit.append({ ...base, role, outcome: "refused", reason: "too many deploys" });
        s.replyError(m, "operation_failed", `busy: ${MAX_DEPLOYS} deploys already running`);
        return;
      }
      deploysRunning++;
      const abort = new AbortController();
      deploys.set(m.id, abort);
      deploySessions.set(m.id, s);
      try {
        const res = await receiveDeploy(s, m, {
          minersDir: options.minersDir,
          profiles: miners.profiles,
          signal: abort.signal,
        });
        const installed = {
          minerType: res.manifest.minerType,
          version: res.manifest.version,
          profileIds: res.profiles.map((x) => x.id),
        };
        await audit.append({
          ...base,
          role,
          outcome: "ok",
          params: { ...base.params, ...installed },
        });
        s.reply(m, "deploy_ack", { success: true, name: res.manifest.name, ...installed });
      } catch (err) {
        const e = err as Error;
        await audit.append({ ...base, role, outcome: "failed", reason: e.message });
        s.reply(m, "deploy_ack", { success: false, name: p.name, error: e.message.slice(0, 2000) });
      } finally {
        deploysRunning--;
        deploys.delete(m.id);
        deploySessions.delete(m.id);
      }
    });

    s.on("cancel", (m, s) => {
      const id = (m.payload as PayloadOf<"cancel">).requestId;
      const deploy = deploys.get(id);
      // Only the session that started a deploy may cancel it.
      if (deploy && deploySessions.get(id) === s) deploy.abort();
      const stop = follows.get(s)?.get(id);
      stop?.();
      follows.get(s)?.delete(id);
    });
  });
}
