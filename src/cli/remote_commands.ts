/**
 * `remote status|start|stop|logs`: controlling workers over the encrypted mesh. Each command
 * dials the peers directly with this node's identity, so it works from cron without a daemon.
 * `remote status` exits 0 when every peer answered, 2 when some are offline or timed out, 1 on
 * error.
 * @module
 */
import { digestStream, openBundle, readManifest, writeStreamAtomic } from "../bundles/mod.ts";
import { formatHashrate, type MinerStats, ProfileStore } from "../miners/mod.ts";
import {
  fanOut,
  MeshNode,
  REQUEST_TIMEOUTS,
  requestPeer,
  RequestTimeoutError,
  sendDeploy,
  sessionFor,
} from "../node/mod.ts";
import type { Message, PayloadOf } from "../protocol/mod.ts";
import { join } from "node:path";
import { bool, duration, int, parseCommandArgs, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { progressBar, table } from "./format.ts";
import {
  buildBundleFromFlags,
  BUNDLE_FLAGS,
  formatBytes,
  readPasswordFile,
} from "./bundle_commands.ts";
import { formatUptime } from "./miner_commands.ts";

function openMesh(ctx: CliContext): Promise<MeshNode> {
  return MeshNode.open(ctx.paths, {
    keepalive: false,
    registryDebounceMs: 0,
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
}

type Stats = PayloadOf<"stats">;

/** `remote status [peer]`. */
export async function remoteStatus(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "remote status";
  const p = parseCommandArgs(cmd, args, {
    timeout: { type: "string" },
    concurrency: { type: "string" },
  });
  if (p.positionals.length > 1) {
    throw new UsageError("usage: miner-cli remote status [peer] [--json] [--timeout S]", cmd);
  }
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.stats,
  });
  const concurrency = int(p, "concurrency", { min: 1, max: 1024, fallback: 64 });
  const mesh = await openMesh(ctx);
  try {
    const peers = p.positionals.length
      ? [mesh.registry.resolve(p.positionals[0])]
      : mesh.registry.list().filter((x) => x.role !== "controller");
    const results = await fanOut(
      peers,
      async (peer) => (await requestPeer(mesh, peer, "get_stats", {}, timeoutMs)).payload as Stats,
      { concurrency },
    );
    const nodes = results.map((r) => ({
      id: r.peer.id,
      name: r.peer.name,
      address: r.peer.address,
      online: r.ok,
      ...(r.ok
        ? {
          uptime: r.value!.uptime,
          role: r.value!.role,
          hashrate: r.value!.miners.reduce((a, m) => a + (m.hashrate.now ?? 0), 0),
          miners: r.value!.miners,
          ...(r.value!.capabilities ? { capabilities: r.value!.capabilities } : {}),
        }
        : { error: r.error, miners: [] as MinerStats[] }),
      ms: Math.round(r.ms),
    }));
    const total = nodes.reduce(
      (a, n) => a + (n.online ? (n as { hashrate: number }).hashrate : 0),
      0,
    );
    const offline = nodes.filter((n) => !n.online).length;
    if (bool(p, "json")) {
      ctx.io.out(
        JSON.stringify(
          {
            totalHashrate: total,
            nodes: nodes.length,
            online: nodes.length - offline,
            offline,
            peers: nodes,
          },
          null,
          2,
        ),
      );
    } else if (nodes.length === 0) {
      ctx.io.out(
        "no worker peers registered: add one with `miner-cli peer add --address HOST:PORT`",
      );
    } else {
      const rows: (string | number)[][] = [];
      for (const n of nodes) {
        if (!n.online) {
          rows.push([
            n.name,
            "○ offline",
            "-",
            "-",
            "-",
            "-",
            "-",
            (n as { error?: string }).error?.slice(0, 60) ?? "",
          ]);
          continue;
        }
        if (n.miners.length === 0) {
          rows.push([n.name, "● online", "(no miners)", "-", "-", "-", "-", ""]);
        }
        for (const m of n.miners) {
          rows.push([
            n.name,
            "● online",
            m.name,
            m.state,
            formatHashrate(m.hashrate.now),
            `${m.shares.accepted}/${m.shares.rejected}`,
            formatUptime(m.uptime),
            m.pool ?? "",
          ]);
        }
      }
      ctx.io.out(
        table(
          ["NODE", "STATUS", "MINER", "STATE", "HASHRATE", "SHARES", "UPTIME", "POOL / ERROR"],
          rows,
        ),
      );
      ctx.io.out(
        `\nfleet: ${formatHashrate(total)} from ${
          nodes.length - offline
        }/${nodes.length} nodes online`,
      );
    }
    return offline > 0 ? 2 : 0;
  } finally {
    await mesh.close();
  }
}

/** `remote start <peer> --profile ID [--type TYPE]`. */
export async function remoteStart(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "remote start";
  const p = parseCommandArgs(cmd, args, {
    profile: { type: "string" },
    type: { type: "string" },
    timeout: { type: "string" },
  });
  if (p.positionals.length !== 1 || !str(p, "profile")) {
    throw new UsageError("usage: miner-cli remote start <peer> --profile ID [--type TYPE]", cmd);
  }
  const ref = str(p, "profile")!;
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.start,
  });
  const mesh = await openMesh(ctx);
  try {
    const peer = mesh.registry.resolve(p.positionals[0]);
    // Send our copy of the profile when we have it, so the worker need not have it already.
    const local = await new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json")).get(ref)
      .catch(() => undefined);
    const minerType = (str(p, "type") ?? local?.minerType) as
      | PayloadOf<"start_miner">["minerType"]
      | undefined;
    if (!minerType) {
      throw new UsageError(
        `profile ${ref} is not known here; give --type so the worker can start its own copy`,
        cmd,
      );
    }
    const res = await requestPeer(mesh, peer, "start_miner", {
      minerType,
      profileId: local?.id ?? ref,
      ...(local ? { config: local } : {}),
    }, timeoutMs);
    const ack = res.payload as PayloadOf<"miner_ack">;
    if (bool(p, "json")) ctx.io.out(JSON.stringify({ peer: peer.id, ...ack }));
    else ctx.io.out(`started ${ack.minerName} on ${peer.name}`);
    return 0;
  } finally {
    await mesh.close(); // also flushes the registry (scores, last seen)
  }
}

/** `remote stop <peer> [miner]` (all miners when omitted). */
export async function remoteStop(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "remote stop";
  const p = parseCommandArgs(cmd, args, { timeout: { type: "string" } });
  if (p.positionals.length < 1 || p.positionals.length > 2) {
    throw new UsageError("usage: miner-cli remote stop <peer> [miner]", cmd);
  }
  const timeoutMs = duration(p, "timeout", {
    min: 100,
    max: 600_000,
    fallback: REQUEST_TIMEOUTS.stop,
  });
  const mesh = await openMesh(ctx);
  try {
    const peer = mesh.registry.resolve(p.positionals[0]);
    let names = p.positionals[1] ? [p.positionals[1]] : [];
    if (!names.length) {
      const stats = (await requestPeer(mesh, peer, "get_stats", {}, REQUEST_TIMEOUTS.stats))
        .payload as Stats;
      names = stats.miners.map((m) => m.name);
    }
    const stopped: string[] = [];
    for (const minerName of names) {
      await requestPeer(mesh, peer, "stop_miner", { minerName }, timeoutMs);
      stopped.push(minerName);
      if (!bool(p, "json")) ctx.io.out(`stopped ${minerName} on ${peer.name}`);
    }
    if (bool(p, "json")) ctx.io.out(JSON.stringify({ peer: peer.id, stopped }));
    else if (!names.length) ctx.io.out(`no miners running on ${peer.name}`);
    return 0;
  } finally {
    await mesh.close(); // also flushes the registry (scores, last seen)
  }
}

/** `remote logs <peer> <miner> [--lines N] [--follow]`. */
export async function remoteLogs(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "remote logs";
  const p = parseCommandArgs(cmd, args, {
    lines: { type: "string", short: "n" },
    follow: { type: "boolean", short: "f" },
    timeout: { type: "string" },
  });
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
  const mesh = await openMesh(ctx);
  try {
    const peer = mesh.registry.resolve(p.positionals[0]);
    const print = (l: { seq: number; ts: string; text: string }) =>
      ctx.io.out(json ? JSON.stringify(l) : l.text);
    if (!bool(p, "follow")) {
      const res = (await requestPeer(
        mesh,
        peer,
        "get_logs",
        { minerName: p.positionals[1], lines },
        timeoutMs,
      )).payload as PayloadOf<"logs">;
      if (json) ctx.io.out(JSON.stringify(res, null, 2));
      else res.lines.forEach(print);
      return 0;
    }
    const { session, dialed } = await sessionFor(mesh, peer, timeoutMs);
    try {
      const stream = session.stream(
        "get_logs",
        { minerName: p.positionals[1], lines, follow: true },
        timeoutMs,
        (m: Message) => {
          if (m.type === "log_lines") (m.payload as PayloadOf<"log_lines">).lines.forEach(print);
        },
      );
      const first = (await stream.first).payload as PayloadOf<"logs">;
      first.lines.forEach(print);
      await new Promise<void>((resolve) => {
        if (ctx.stopSignal.aborted) return resolve();
        ctx.stopSignal.addEventListener("abort", () => resolve(), { once: true });
        session.onClose((reason) => {
          ctx.io.err(`connection to ${peer.name} closed: ${reason}`);
          resolve();
        });
      });
      stream.stop();
      return session.isClosed && !ctx.stopSignal.aborted ? 2 : 0;
    } finally {
      if (dialed) session.close("done");
    }
  } finally {
    await mesh.close(); // also flushes the registry (scores, last seen)
  }
}

/** `remote deploy <peer>... --profile ID | --miner TYPE|PATH | --bundle FILE`. */
export async function remoteDeploy(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "remote deploy";
  const p = parseCommandArgs(cmd, args, {
    ...BUNDLE_FLAGS,
    bundle: { type: "string" },
    "password-file": { type: "string" },
    timeout: { type: "string" },
  });
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
  const mesh = await openMesh(ctx);
  try {
    // Resolve every peer first: a typo fails before anything is built or sent.
    const peers = p.positionals.map((ref) => mesh.registry.resolve(ref));
    let plain: string;
    let manifest;
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
    for (const peer of peers) {
      const t0 = performance.now();
      const bar = json ? null : progressBar(ctx.io, `deploy → ${peer.name}`);
      try {
        const { session, dialed } = await sessionFor(mesh, peer, REQUEST_TIMEOUTS.start);
        try {
          const ack = await sendDeploy(session, {
            type: manifest.type,
            name: manifest.name,
            size,
            checksum,
          }, { file: plain, stallMs, onProgress: (n, total) => bar?.update(n, total) });
          const seconds = (performance.now() - t0) / 1000;
          mesh.recordOutcome(peer.id, "success", performance.now() - t0);
          bar?.done();
          results.push({
            peer: peer.id,
            peerName: peer.name,
            ok: true,
            ...ack,
            bytes: size,
            seconds,
          });
          if (!json) {
            ctx.io.out(
              `deployed ${manifest.type} bundle ${manifest.name} ${manifest.version} to ${peer.name}: ${
                formatBytes(size)
              } in ${seconds.toFixed(2)} s (${(size / 1e6 / seconds).toFixed(1)} MB/s)`,
            );
          }
        } finally {
          if (dialed) session.close("deploy done");
        }
      } catch (err) {
        bar?.done();
        failed++;
        const e = err as Error;
        mesh.recordOutcome(peer.id, e instanceof RequestTimeoutError ? "timeout" : "failure");
        results.push({ peer: peer.id, peerName: peer.name, ok: false, error: e.message });
        if (!json) ctx.io.err(`error: ${e.message}`);
      }
    }
    if (json) {
      ctx.io.out(JSON.stringify(
        { bundle: { ...manifest, bytes: size, sha256: checksum }, results },
        null,
        2,
      ));
    }
    return failed ? 1 : 0;
  } finally {
    await Deno.remove(tmp).catch(() => {});
    await mesh.close(); // also flushes the registry (scores, last seen)
  }
}
