/**
 * `miner-cli node ...` commands.
 * @module
 */
import {
  initIdentity,
  loadIdentity,
  NodeRoleSchema,
  resetIdentity,
  updateIdentity,
} from "../identity/mod.ts";
import { Logger } from "../log/mod.ts";
import { AuthStore, PeerRegistry } from "../peers/mod.ts";
import { createPairCode, MeshNode } from "../node/mod.ts";
import {
  bool,
  duration,
  int,
  num,
  parseCommandArgs,
  parseListen,
  requireStr,
  str,
  UsageError,
} from "./args.ts";
import type { CliContext } from "./context.ts";

function role(value: string | undefined, command: string) {
  if (value === undefined) return undefined;
  const r = NodeRoleSchema.safeParse(value);
  if (!r.success) {
    throw new UsageError(
      `--role must be controller, worker or dual, got ${JSON.stringify(value)}`,
      command,
    );
  }
  return r.data;
}

function location(
  p: ReturnType<typeof parseCommandArgs>,
  command: string,
): { lat?: number; lon?: number } {
  const lat = num(p, "lat", { min: -90, max: 90 });
  const lon = num(p, "lon", { min: -180, max: 180 });
  if ((lat === undefined) !== (lon === undefined)) {
    throw new UsageError("give both --lat and --lon, or neither", command);
  }
  return lat === undefined ? {} : { lat, lon };
}

/** `node init`. */
export async function nodeInit(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "node init";
  const p = parseCommandArgs(cmd, args, {
    name: { type: "string" },
    role: { type: "string" },
    force: { type: "boolean" },
    lat: { type: "string" },
    lon: { type: "string" },
  });
  if (p.positionals.length) throw new UsageError(`unexpected argument ${p.positionals[0]}`, cmd);
  const id = await initIdentity(ctx.paths, {
    name: requireStr(p, "name", cmd),
    role: role(str(p, "role"), cmd),
    force: bool(p, "force"),
    ...location(p, cmd),
  });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(id.info, null, 2));
  else {
    ctx.io.out(`initialized node ${id.info.name} (${id.info.role})`);
    ctx.io.out(`  id         ${id.info.id}`);
    ctx.io.out(`  public key ${id.info.publicKey}`);
    ctx.io.out(`  config     ${ctx.paths.configDir}`);
  }
  return 0;
}

/** `node info`. */
export async function nodeInfo(ctx: CliContext, args: string[]): Promise<number> {
  const p = parseCommandArgs("node info", args, {});
  const id = await loadIdentity(ctx.paths);
  const auth = await AuthStore.open(ctx.paths.authJson);
  const reg = await PeerRegistry.open(ctx.paths.peersJson, {
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
  const info = {
    ...id.info,
    authMode: auth.settings.mode,
    allowlist: auth.settings.allow.length,
    peers: reg.list().length,
    configDir: ctx.paths.configDir,
    dataDir: ctx.paths.dataDir,
  };
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(info, null, 2));
    return 0;
  }
  ctx.io.out(`name        ${info.name}`);
  ctx.io.out(`id          ${info.id}`);
  ctx.io.out(`public key  ${info.publicKey}`);
  ctx.io.out(`role        ${info.role}`);
  ctx.io.out(`created     ${info.createdAt}`);
  if (info.lat !== undefined) ctx.io.out(`location    ${info.lat}, ${info.lon}`);
  ctx.io.out(
    `auth mode   ${info.authMode} (${info.allowlist} allowed, ${info.peers} registered peers)`,
  );
  ctx.io.out(`config      ${info.configDir}`);
  ctx.io.out(`data        ${info.dataDir}`);
  return 0;
}

/** `node set`. */
export async function nodeSet(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "node set";
  const p = parseCommandArgs(cmd, args, {
    name: { type: "string" },
    lat: { type: "string" },
    lon: { type: "string" },
  });
  const patch = {
    ...(str(p, "name") !== undefined ? { name: str(p, "name") } : {}),
    ...location(p, cmd),
  };
  if (Object.keys(patch).length === 0) {
    throw new UsageError("nothing to change: give --name and/or --lat/--lon", cmd);
  }
  const info = await updateIdentity(ctx.paths, patch).catch((err) => {
    if (err?.name === "ZodError") {
      throw new UsageError(`invalid value: ${err.issues[0].message}`, cmd);
    }
    throw err;
  });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(info, null, 2));
  else ctx.io.out(`updated node ${info.name} (${info.id})`);
  return 0;
}

/** `node reset`. */
export async function nodeReset(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "node reset";
  const p = parseCommandArgs(cmd, args, { force: { type: "boolean" } });
  if (!bool(p, "force")) {
    throw new UsageError(
      "node reset deletes this node's identity (peers will no longer recognise it); pass --force to confirm",
      cmd,
    );
  }
  const removed = await resetIdentity(ctx.paths);
  ctx.io.out(removed ? "node identity deleted" : "no identity to delete");
  return 0;
}

/** `node pair-code`. */
export async function nodePairCode(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "node pair-code";
  const p = parseCommandArgs(cmd, args, { ttl: { type: "string" } });
  const ttlMs = duration(p, "ttl", { min: 1000, max: 24 * 3600_000, fallback: 10 * 60_000 });
  const id = await loadIdentity(ctx.paths);
  const { code, expiresAt } = await createPairCode(ctx.paths, id.info.id, { ttlMs });
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ code, nodeId: id.info.id, expiresAt }));
  else {
    ctx.io.out(`one-time pairing code for ${id.info.name} (valid until ${expiresAt}):`);
    ctx.io.out(code);
    ctx.io.out(`on the controller: miner-cli peer add --address <this-host>:<port> --code ${code}`);
  }
  return 0;
}

/** `node serve`. */
export async function nodeServe(ctx: CliContext, args: string[]): Promise<number> {
  const cmd = "node serve";
  const p = parseCommandArgs(cmd, args, {
    listen: { type: "string" },
    path: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    connect: { type: "string", multiple: true },
    "max-connections": { type: "string" },
    "ping-interval": { type: "string" },
    "idle-timeout": { type: "string" },
    "handshake-timeout": { type: "string" },
    "rate-limit": { type: "string" },
    "rate-burst": { type: "string" },
    "max-message": { type: "string" },
  });
  const listen = parseListen(str(p, "listen") ?? ":9091");
  const path = str(p, "path") ?? "/ws";
  if (!/^\/[A-Za-z0-9._~\/-]*$/.test(path)) {
    throw new UsageError("--path must start with / and contain only URL-safe characters", cmd);
  }
  const certFile = str(p, "tls-cert");
  const keyFile = str(p, "tls-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("give both --tls-cert and --tls-key", cmd);
  }
  const tls = certFile && keyFile
    ? { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) }
    : undefined;
  const logger = new Logger();
  const node = await MeshNode.open(ctx.paths, {
    logger,
    limits: {
      handshakeTimeoutMs: duration(p, "handshake-timeout", {
        min: 100,
        max: 600_000,
        fallback: 10_000,
      }),
      ratePerSecond: int(p, "rate-limit", { min: 0, max: 1_000_000, fallback: 50 }),
      rateBurst: int(p, "rate-burst", { min: 1, max: 1_000_000, fallback: 100 }),
      maxMessageBytes: int(p, "max-message", {
        min: 1024,
        max: 64 * 1024 * 1024,
        fallback: 1024 * 1024,
      }),
    },
    keepalive: {
      intervalMs: duration(p, "ping-interval", { min: 50, max: 3_600_000, fallback: 30_000 }),
      timeoutMs: duration(p, "idle-timeout", { min: 100, max: 3_600_000, fallback: 40_000 }),
    },
  });
  const server = node.serve({
    hostname: listen.hostname,
    port: listen.port,
    path,
    tls,
    maxConnections: int(p, "max-connections", { min: 1, max: 100_000, fallback: 1024 }),
  });
  for (const addr of (p.values.connect as string[] | undefined) ?? []) node.maintain(addr);
  const info = node.identity.info;
  if (bool(p, "json")) {
    ctx.io.out(
      JSON.stringify({
        event: "listening",
        id: info.id,
        name: info.name,
        role: info.role,
        url: server.url,
        port: server.port,
      }),
    );
  } else {
    ctx.io.out(`node ${info.name} (${info.id}, ${info.role}) listening on ${server.url}`);
    ctx.io.out(`auth mode: ${node.auth.settings.mode}; press Ctrl+C to stop`);
  }
  await new Promise<void>((resolve) => {
    if (ctx.stopSignal.aborted) resolve();
    ctx.stopSignal.addEventListener("abort", () => resolve(), { once: true });
  });
  logger.info("shutting_down", { ...node.counters });
  await node.close();
  return 0;
}
