/**
 * `remote status|start|stop|logs|deploy`: controlling workers over the encrypted mesh. When this
 * home's node runs (`node serve`), commands go through its API, which also reaches workers that
 * connected in with `--connect`; otherwise (or with `--direct`) they dial the peers with this
 * node's identity, so they work from cron without a daemon. `remote status` exits 0 when every
 * rig is ok or idle, 2 when one is down (or degraded, unless `--fail-on down`), 1 on error.
 * @module
 */
import {
  digestStream,
  type Manifest,
  openBundle,
  readManifest,
  writeStreamAtomic,
} from "../bundles/mod.ts";
import { ProfileStore } from "../miners/mod.ts";
import { AuditLog, auditLogPath, Fleet, MeshNode, REQUEST_TIMEOUTS } from "../node/mod.ts";
import { PeerRegistry } from "../peers/mod.ts";
import type { FleetOps, LogLineView } from "../protocol/mod.ts";
import { sweepTempFiles } from "../store/mod.ts";
import { ApiClient } from "./api_client.ts";
import { HttpFleetOps } from "./http_fleet.ts";
import { join } from "node:path";
import { bool, duration, int, type Parsed, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { summarizeCapabilities } from "../capabilities/mod.ts";
import { progressBar } from "./format.ts";
import { buildBundleFromFlags, formatBytes, readPasswordFile } from "./bundle_commands.ts";
import { healthExitCode, renderDevices, renderFleet, withHealth } from "./health_view.ts";
import { type MinerType, MinerTypeSchema } from "../protocol/mod.ts";

function openMesh(ctx: CliContext): Promise<MeshNode> {
  return MeshNode.open(ctx.paths, {
    keepalive: false,
    // Scores and last-seen times of every answer are written once, when the command ends (the
    // mesh's close flushes), not after each answer: one rewrite of the registry per command.
    // A first contact (a peer registering itself) is still written before its handshake ack.
    registryDebounceMs: 3_600_000,
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
}

/** How `remote` commands reach workers: the running node's API, or this node's own dials. */
interface Reach {
  /** The operations. */
  ops: FleetOps;
  /** Which way. */
  via: "daemon" | "direct";
  /**
   * Records an operator action in this node's audit log (direct dials only: through the daemon,
   * its API records it).
   */
  record(action: string, params: Record<string, unknown>, error?: unknown): Promise<void>;
  /** Ends the direct mesh node (flushing scores and last-seen times). */
  close(): Promise<void>;
}

/** The daemon when one runs for this home (unless `--direct`), else a direct dial. */
async function reach(ctx: CliContext, p: Parsed): Promise<Reach> {
  const api = bool(p, "direct") ? null : await ApiClient.running(ctx.paths, str(p, "api"));
  if (api) {
    return {
      ops: new HttpFleetOps(api),
      via: "daemon",
      record: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
  const mesh = await openMesh(ctx);
  const fleet = new Fleet(
    mesh,
    new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json")),
  );
  const audit = new AuditLog(auditLogPath(ctx.paths));
  return {
    ops: fleet,
    via: "direct",
    record: (action, params, error) =>
      audit.append({
        peer: mesh.identity.info.id,
        peerName: "operator",
        role: null,
        action,
        params,
        outcome: error ? "failed" : "ok",
        ...(error ? { reason: (error as Error).message?.slice(0, 500) } : {}),
        source: "cli",
      }).catch(() => {}),
    close: () => mesh.close(),
  };
}

/** `remote status [peer]`. */
export async function remoteStatus(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "remote status";
  if (p.positionals.length > 1) {
    throw new UsageError("usage: miner-cli remote status [peer] [--json] [--timeout S]", cmd);
  }
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.stats,
  });
  const concurrency = int(p, "concurrency", { min: 1, max: 1024, fallback: 64 });
  const failOn = str(p, "fail-on") ?? "degraded";
  if (failOn !== "down" && failOn !== "degraded") {
    throw new UsageError("--fail-on must be down or degraded", cmd);
  }
  const b = await reach(ctx, p);
  try {
    const doc = await withHealth(
      ctx.paths,
      await b.ops.status(p.positionals[0], { timeoutMs, concurrency, fresh: bool(p, "fresh") }),
    );
    if (bool(p, "json")) {
      ctx.io.out(JSON.stringify(doc, null, 2));
    } else if (doc.nodes === 0) {
      ctx.io.out(
        "no worker peers registered: add one with `miner-cli peer add --address HOST:PORT`",
      );
    } else {
      for (const line of renderFleet(doc)) ctx.io.out(line);
      if (bool(p, "devices")) {
        ctx.io.out("");
        for (const line of renderDevices(doc)) ctx.io.out(line);
      }
      const withCaps = doc.peers.filter((n) => n.online && n.capabilities);
      if (withCaps.length && !bool(p, "devices")) {
        ctx.io.out("");
        for (const n of withCaps) {
          ctx.io.out(`${n.name}: ${summarizeCapabilities(n.capabilities!)}`);
        }
      }
    }
    return healthExitCode(doc, failOn);
  } finally {
    await b.close();
  }
}

/** The rigs a command is for: `--tag T` (every rig with the tag) or the one named. */
async function targetsOf(
  ctx: CliContext,
  p: Parsed,
  named: string | undefined,
  cmd: string,
): Promise<string[]> {
  const tag = str(p, "tag");
  if (tag === undefined) {
    if (!named) throw new UsageError(`name a rig, or give --tag TAG`, cmd);
    return [named];
  }
  const reg = await PeerRegistry.open(ctx.paths.registryDb);
  try {
    const rigs = reg.list().filter((r) => r.role !== "controller" && r.tags.includes(tag));
    if (!rigs.length) {
      throw new UsageError(
        `no rig is tagged ${tag} (tag rigs with \`miner-cli peer tag RIG ${tag}\`)`,
        cmd,
      );
    }
    return rigs.map((r) => r.name);
  } finally {
    await reg.close();
  }
}

/** `remote start <peer>|--tag T --profile ID [--type TYPE]`. */
export async function remoteStart(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "remote start";
  const byTag = str(p, "tag") !== undefined;
  if (p.positionals.length !== (byTag ? 0 : 1) || !str(p, "profile")) {
    throw new UsageError(
      "usage: miner-cli remote start <peer> --profile ID [--type TYPE], or --tag TAG instead of <peer>",
      cmd,
    );
  }
  const type = str(p, "type");
  if (type && !MinerTypeSchema.safeParse(type).success) {
    throw new UsageError(`--type must be one of ${MinerTypeSchema.options.join(", ")}`, cmd);
  }
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.start,
  });
  const targets = await targetsOf(ctx, p, p.positionals[0], cmd);
  const b = await reach(ctx, p);
  let failed = 0;
  try {
    for (const ref of targets) {
      const what = { path: `/remote/${ref}/start`, profileId: str(p, "profile") };
      try {
        const ack = await b.ops.start(ref, {
          profileRef: str(p, "profile")!,
          minerType: type as MinerType | undefined,
          timeoutMs,
        }).catch(async (err) => {
          await b.record("POST /remote/{peer}/start", what, err);
          throw err;
        });
        await b.record("POST /remote/{peer}/start", what);
        if (bool(p, "json")) ctx.io.out(JSON.stringify({ peer: ref, ...ack }));
        else if (ack.already) {
          ctx.io.out(
            `${ack.minerName} is already running on ${ref}${
              ack.since ? ` (since ${ack.since})` : ""
            }`,
          );
        } else ctx.io.out(`started ${ack.minerName} on ${ref}`);
        for (const w of ack.warnings ?? []) {
          ctx.io.err(`warning: ${ref}: ${w}`);
        }
      } catch (err) {
        if (!byTag) throw err;
        failed++;
        ctx.io.err(`error: ${ref}: ${(err as Error).message}`);
      }
    }
    return failed ? 1 : 0;
  } finally {
    await b.close();
  }
}

/** `remote stop <peer> [miner]`, or `remote stop --tag T [miner]` (all miners when omitted). */
export async function remoteStop(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "remote stop";
  const byTag = str(p, "tag") !== undefined;
  const max = byTag ? 1 : 2;
  if (p.positionals.length < (byTag ? 0 : 1) || p.positionals.length > max) {
    throw new UsageError("usage: miner-cli remote stop <peer> [miner], or --tag TAG [miner]", cmd);
  }
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.stop,
  });
  const targets = await targetsOf(ctx, p, p.positionals[0], cmd);
  const minerName = byTag ? p.positionals[0] : p.positionals[1];
  const b = await reach(ctx, p);
  let failed = 0;
  try {
    for (const ref of targets) {
      const what = { path: `/remote/${ref}/stop`, ...(minerName ? { minerName } : {}) };
      try {
        const ack = await b.ops.stop(ref, { minerName, timeoutMs }).catch(async (err) => {
          await b.record("POST /remote/{peer}/stop", what, err);
          throw err;
        });
        await b.record("POST /remote/{peer}/stop", what);
        if (bool(p, "json")) ctx.io.out(JSON.stringify({ peer: ref, ...ack }));
        else if (!ack.stopped.length && !ack.alreadyStopped.length) {
          ctx.io.out(`no miners running on ${ref}`);
        } else {
          for (const m of ack.stopped) ctx.io.out(`stopped ${m} on ${ref}`);
          for (const m of ack.alreadyStopped) ctx.io.out(`${m} on ${ref} was already stopped`);
        }
      } catch (err) {
        if (!byTag) throw err;
        failed++;
        ctx.io.err(`error: ${ref}: ${(err as Error).message}`);
      }
    }
    return failed ? 1 : 0;
  } finally {
    await b.close();
  }
}

/** `remote logs <peer> <miner> [--lines N] [--follow]`. */
export async function remoteLogs(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "remote logs";
  if (p.positionals.length !== 2) {
    throw new UsageError("usage: miner-cli remote logs <peer> <miner> [--lines N] [--follow]", cmd);
  }
  const lines = int(p, "lines", { min: 1, max: 100_000, fallback: 50 });
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.logs,
  });
  const json = bool(p, "json");
  const [ref, miner] = p.positionals;
  const print = (l: LogLineView) =>
    json ? ctx.io.out(JSON.stringify(l)) : (ctx.io.log ?? ctx.io.out)(l.text);
  const b = await reach(ctx, p);
  try {
    if (!bool(p, "follow")) {
      const res = await b.ops.logs(ref, miner, { lines, timeoutMs });
      if (json) ctx.io.out(JSON.stringify(res, null, 2));
      else res.lines.forEach(print);
      return 0;
    }
    const reason = await b.ops.follow(ref, miner, (ls) => ls.forEach(print), {
      lines,
      signal: ctx.stopSignal,
      timeoutMs,
    });
    if (reason === null) return 0;
    if (reason === "miner stopped") {
      ctx.io.err(`${miner} on ${ref} stopped`);
      return 0;
    }
    ctx.io.err(`connection to ${ref} closed: ${reason}`);
    return 2;
  } finally {
    await b.close();
  }
}

/** `remote deploy <peer>... --profile ID | --miner TYPE|PATH | --bundle FILE`. */
export async function remoteDeploy(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "remote deploy";
  if (str(p, "tag") !== undefined) {
    if (p.positionals.length) throw new UsageError("give rigs or --tag TAG, not both", cmd);
    p = { ...p, positionals: await targetsOf(ctx, p, undefined, cmd) };
  }
  if (p.positionals.length < 1) {
    throw new UsageError(
      "usage: miner-cli remote deploy <peer>... --profile ID | --miner TYPE|PATH | --bundle FILE",
      cmd,
    );
  }
  const bundleFile = str(p, "bundle");
  const building = ((p.values.profile as string[] | undefined) ?? []).length > 0 ||
    str(p, "miner") !== undefined;
  if (bundleFile && building) {
    throw new UsageError("give either --bundle FILE or --profile/--miner, not both", cmd);
  }
  if (!bundleFile && !building) {
    throw new UsageError("give --profile ID, --miner TYPE|PATH, or --bundle FILE", cmd);
  }
  const stallMs = duration(p, "timeout", { min: 1000, max: 3_600_000, fallback: 60_000 });
  const json = bool(p, "json");
  const tmpDir = join(ctx.paths.dataDir, "tmp");
  await Deno.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const tmp = join(tmpDir, `deploy-${crypto.randomUUID()}.tar`);
  const b = await reach(ctx, p);
  if (b.via === "direct") {
    // No node runs on this home: spools older than this process are an interrupted deploy's.
    await sweepTempFiles([tmpDir], { before: performance.timeOrigin, maxDepth: 0 });
  }
  try {
    let plain: string;
    let manifest: Manifest;
    let size: number;
    let checksum: string;
    if (bundleFile) {
      const pwFile = str(p, "password-file");
      const password = pwFile ? await readPasswordFile(pwFile) : undefined;
      const opened = await openBundle(bundleFile, { password });
      if (opened.encrypted) {
        // The link is encrypted already: the worker receives the plaintext tar.
        await writeStreamAtomic(tmp, opened.stream, 0o600);
        plain = tmp;
      } else {
        await opened.stream.cancel();
        plain = bundleFile;
      }
      manifest = await readManifest((await Deno.open(plain)).readable);
      ({ bytes: size, sha256: checksum } = await digestStream((await Deno.open(plain)).readable));
    } else {
      const made = await buildBundleFromFlags(ctx, p, tmp, { command: cmd, quiet: json });
      plain = tmp;
      manifest = made.manifest;
      size = made.plainBytes;
      checksum = made.plainSha256;
    }
    const results = [];
    let failed = 0;
    for (const ref of p.positionals) {
      const t0 = performance.now();
      const bar = json ? null : progressBar(ctx.io, `deploy → ${ref}`);
      try {
        const announce = { type: manifest.type, name: manifest.name, size, checksum };
        const onProgress = (n: number, total: number) => bar?.update(n, total);
        const ack = await b.ops.deploy(ref, plain, announce, { onProgress, stallMs });
        const seconds = (performance.now() - t0) / 1000;
        bar?.done();
        results.push({ peer: ref, ok: true, ...ack, bytes: size, seconds });
        if (!json) {
          ctx.io.out(
            `deployed ${manifest.type} bundle ${manifest.name} ${manifest.version} to ${ref}: ${
              formatBytes(size)
            } in ${seconds.toFixed(2)} s (${(size / 1e6 / seconds).toFixed(1)} MB/s)`,
          );
        }
      } catch (err) {
        bar?.done();
        failed++;
        const e = err as Error;
        results.push({ peer: ref, ok: false, error: e.message });
        if (!json) ctx.io.err(`error: ${e.message}`);
      }
    }
    if (json) {
      ctx.io.out(JSON.stringify(
        { via: b.via, bundle: { ...manifest, bytes: size, sha256: checksum }, results },
        null,
        2,
      ));
    }
    return failed ? 1 : 0;
  } finally {
    await Deno.remove(tmp).catch(() => {});
    await b.close();
  }
}
