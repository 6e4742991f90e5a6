/**
 * `miner-cli node ...` commands.
 * @module
 */
import { join } from "node:path";
import { createApiToken, loadOrCreateApiToken } from "../identity/mod.ts";
import { isLoopback } from "../netaddr/mod.ts";
import { installEmulatedMiner, ProfileStore, runEmulator } from "../miners/mod.ts";
import {
  DEFAULT_KEEPALIVE,
  DISCOVERY_PORT,
  type JoinSecret,
  loadJoinSecret,
  PairForSchema,
  POLICY_KEYS,
  PolicyStore,
  PolicyValueError,
  type WorkerPolicy,
} from "../node/mod.ts";
import {
  IdentityNotFoundError,
  initIdentity,
  loadIdentity,
  NodeRoleSchema,
  resetIdentity,
  updateIdentity,
} from "../identity/mod.ts";
import { Logger } from "../log/mod.ts";
import { AuthStore, geoKmBetween, PeerRegistry } from "../peers/mod.ts";
import { createPairCode } from "../node/mod.ts";
import {
  bool,
  duration,
  int,
  num,
  type Parsed,
  parseListen,
  requireStr,
  str,
  UsageError,
} from "./args.ts";
import type { CliContext } from "./context.ts";
import { addressOrThrow } from "./peer_commands.ts";
import { type DaemonOptions, startDaemon, type StratumServiceOptions } from "../daemon/mod.ts";

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
  p: Parsed,
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
export async function nodeInit(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node init";
  if (p.positionals.length) throw new UsageError(`unexpected argument ${p.positionals[0]}`, cmd);
  const id = await initIdentity(ctx.paths, {
    name: requireStr(p, "name", cmd),
    role: role(str(p, "role"), cmd),
    force: bool(p, "force"),
    ...location(p, cmd),
  });
  await createApiToken(ctx.paths);
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
export async function nodeInfo(ctx: CliContext, p: Parsed): Promise<number> {
  const id = await loadIdentity(ctx.paths);
  if (bool(p, "token")) {
    const token = await loadOrCreateApiToken(ctx.paths);
    ctx.io.out(`API token (send as \`Authorization: Bearer <token>\`; keep it secret):`);
    ctx.io.out(token);
    return 0;
  }
  const auth = await AuthStore.open(ctx.paths.registryDb, {
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
  const reg = await PeerRegistry.open(ctx.paths.registryDb, {
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
  const policy = (await PolicyStore.open(ctx.paths.policyJson)).policy;
  const peers = reg.list();
  await reg.close();
  auth.close();
  const info = {
    ...id.info,
    authMode: auth.mode,
    allowlist: auth.size,
    peers: peers.length,
    controlledBy: peers.filter((x) => x.grants.includes("control")).map((x) => x.name),
    policy,
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
  ctx.io.out(
    `control     ${
      info.controlledBy.length ? `granted to ${info.controlledBy.join(", ")}` : "granted to no peer"
    }`,
  );
  ctx.io.out(`policy      ${describePolicy(policy)}`);
  ctx.io.out(`config      ${info.configDir}`);
  ctx.io.out(`data        ${info.dataDir}`);
  return 0;
}

/** `node set`. */
export async function nodeSet(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node set";
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
  if (patch.lat !== undefined) {
    // The distances stored with the peers were measured from the old place.
    const reg = await PeerRegistry.open(ctx.paths.registryDb, { debounceMs: 0 });
    for (const peer of reg.list()) {
      reg.update(peer.id, (cur) => ({ ...cur, geoKm: geoKmBetween(info, cur) }));
    }
    await reg.close();
  }
  if (bool(p, "json")) ctx.io.out(JSON.stringify(info, null, 2));
  else ctx.io.out(`updated node ${info.name} (${info.id})`);
  return 0;
}

/** `node reset`. */
export async function nodeReset(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node reset";
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
export async function nodePairCode(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node pair-code";
  const ttlMs = duration(p, "ttl", { min: 1000, max: 24 * 3600_000, fallback: 10 * 60_000 });
  const who = PairForSchema.safeParse(str(p, "for") ?? "controller");
  if (!who.success) {
    throw new UsageError(
      `--for must be controller or peer, got ${JSON.stringify(str(p, "for"))}`,
      cmd,
    );
  }
  const id = await loadIdentity(ctx.paths);
  const { code, expiresAt } = await createPairCode(ctx.paths, id.info.id, {
    ttlMs,
    for: who.data,
  });
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ code, nodeId: id.info.id, for: who.data, expiresAt }));
  } else {
    ctx.io.out(`one-time pairing code for ${id.info.name} (valid until ${expiresAt}):`);
    ctx.io.out(code);
    ctx.io.out(
      who.data === "controller"
        ? "whoever redeems it may control this node (start and stop miners, deploy)"
        : "whoever redeems it is registered here, with no grant (it cannot read or control this node)",
    );
    ctx.io.out(`on the controller: miner-cli peer add --address <this-host>:<port> --code ${code}`);
  }
  return 0;
}

/** One line describing a worker policy. */
export function describePolicy(p: WorkerPolicy): string {
  return `remote-custom=${p.remoteCustom} deploy-miners=${p.deployMiners} allowed-binaries=${
    p.allowedBinaries === null ? "any" : `${p.allowedBinaries.length} listed`
  }`;
}

/** `node policy show|set KEY VALUE`. */
export async function nodePolicy(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node policy";
  const [action = "show", key, value, ...rest] = p.positionals;
  const store = await PolicyStore.open(ctx.paths.policyJson);
  let policy = store.policy;
  if (action === "set") {
    if (key === undefined || value === undefined || rest.length) {
      throw new UsageError(
        `usage: miner-cli node policy set KEY VALUE, with KEY one of: ${
          Object.entries(POLICY_KEYS).map(([k, v]) => `${k} ${v}`).join("; ")
        }`,
        cmd,
      );
    }
    try {
      policy = await store.set(key, value);
    } catch (err) {
      if (err instanceof PolicyValueError) throw new UsageError(err.message, cmd);
      throw err;
    }
  } else if (action !== "show" || key !== undefined) {
    throw new UsageError("usage: miner-cli node policy [show] | set KEY VALUE", cmd);
  }
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(policy, null, 2));
    return 0;
  }
  ctx.io.out(
    `remote-custom     ${policy.remoteCustom}  (may controllers start custom miners here)`,
  );
  ctx.io.out(`deploy-miners     ${policy.deployMiners}  (may controllers deploy miner binaries)`);
  ctx.io.out(
    `allowed-binaries  ${
      policy.allowedBinaries === null ? "any" : policy.allowedBinaries.join(",")
    }`,
  );
  if (action === "set") ctx.io.out("a running node applies it to the next request");
  return 0;
}

/** `--api-host NAME` values: DNS names (IP addresses and localhost are always accepted). */
function apiHosts(p: Parsed, cmd: string): string[] {
  const names = (p.values["api-host"] as string[] | undefined) ?? [];
  for (const n of names) {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(n)) {
      throw new UsageError(
        `--api-host must be a host name such as miner.lan, got ${JSON.stringify(n)}`,
        cmd,
      );
    }
  }
  return names.map((n) => n.toLowerCase());
}

const IPV4_TARGET = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(:(\d{1,5}))?$/;

/** Parses the discovery flags (`--discover` and friends). */
async function discoveryOptions(
  p: Parsed,
  cmd: string,
): Promise<Pick<DaemonOptions, "discovery" | "joinSecret">> {
  const on = bool(p, "discover");
  const broadcast = (p.values["discover-broadcast"] as string[] | undefined) ?? [];
  for (const flag of ["discover-port", "discover-interval", "auto-controller"] as const) {
    if (!on && p.values[flag] !== undefined) {
      throw new UsageError(`--${flag} needs --discover`, cmd);
    }
  }
  if (!on && broadcast.length) throw new UsageError("--discover-broadcast needs --discover", cmd);
  for (const t of broadcast) {
    const m = IPV4_TARGET.exec(t);
    if (!m || (m[5] !== undefined && (Number(m[5]) < 1 || Number(m[5]) > 65535))) {
      throw new UsageError(
        `--discover-broadcast must be an IPv4 broadcast address, optionally with :PORT (e.g. 192.168.1.255), got ${
          JSON.stringify(t)
        }`,
        cmd,
      );
    }
  }
  let joinSecret: JoinSecret | null = null;
  const file = str(p, "join-secret-file");
  if (file !== undefined) {
    try {
      joinSecret = await loadJoinSecret(file);
    } catch (err) {
      throw new UsageError((err as Error).message, cmd);
    }
  }
  return {
    joinSecret,
    discovery: on
      ? {
        port: int(p, "discover-port", { min: 1, max: 65535, fallback: DISCOVERY_PORT }),
        broadcast,
        intervalMs: duration(p, "discover-interval", { min: 100, max: 600_000, fallback: 3000 }),
        autoEnroll: bool(p, "auto-controller"),
      }
      : null,
  };
}

async function pemPair(
  p: Parsed,
  cert: string,
  key: string,
  cmd: string,
): Promise<{ cert: string; key: string } | undefined> {
  const certFile = str(p, cert);
  const keyFile = str(p, key);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError(`give both --${cert} and --${key}`, cmd);
  }
  if (!certFile || !keyFile) return undefined;
  try {
    return { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) };
  } catch (err) {
    throw new UsageError(`cannot read TLS files: ${(err as Error).message}`, cmd);
  }
}

/** Parses the serve flags into daemon options. */
export async function daemonOptions(
  p: Parsed,
  cmd: string,
  logger: Logger,
): Promise<DaemonOptions> {
  const listen = parseListen(str(p, "listen") ?? ":9091");
  const path = str(p, "path") ?? "/ws";
  if (!/^\/[A-Za-z0-9._~\/-]*$/.test(path)) {
    throw new UsageError("--path must start with / and contain only URL-safe characters", cmd);
  }
  const tls = await pemPair(p, "tls-cert", "tls-key", cmd);
  const apiTls = await pemPair(p, "api-tls-cert", "api-tls-key", cmd);
  const apiListen = parseListen(str(p, "api-listen") ?? "127.0.0.1:9090", "api-listen");
  const allowedHosts = apiHosts(p, cmd);
  const metricsListen = str(p, "metrics-listen") !== undefined
    ? parseListen(str(p, "metrics-listen")!, "metrics-listen")
    : null;
  if (metricsListen && !isLoopback(metricsListen.hostname)) {
    throw new UsageError(
      "--metrics-listen serves without auth, so it must be a loopback address (127.0.0.1:PORT); scrape other hosts through the API's /metrics with the token",
      cmd,
    );
  }
  const d = (name: string, min: number, max: number, fallback: number) =>
    duration(p, name, { min, max, fallback });
  return {
    logger,
    serve: {
      hostname: listen.hostname,
      port: listen.port,
      path,
      tls,
      // Unset: the daemon derives it from the open-file limit.
      ...(str(p, "max-connections") !== undefined
        ? { maxConnections: int(p, "max-connections", { min: 1, max: 100_000, fallback: 1024 }) }
        : {}),
      maxHandshakes: int(p, "max-handshakes", { min: 1, max: 100_000, fallback: 256 }),
      maxHandshakesPerAddress: int(p, "max-handshakes-per-address", {
        min: 1,
        max: 100_000,
        fallback: 16,
      }),
    },
    // A bad --connect is the operator's typo: refused now, not redialed forever.
    connect: ((p.values.connect as string[] | undefined) ?? []).map((a) => addressOrThrow(a, cmd)),
    mesh: {
      limits: {
        handshakeTimeoutMs: d("handshake-timeout", 100, 600_000, 10_000),
        ratePerSecond: int(p, "rate-limit", { min: 0, max: 1_000_000, fallback: 50 }),
        rateBurst: int(p, "rate-burst", { min: 1, max: 1_000_000, fallback: 100 }),
        maxMessageBytes: int(p, "max-message", {
          min: 1024,
          max: 64 * 1024 * 1024,
          fallback: 1024 * 1024,
        }),
      },
      keepalive: {
        intervalMs: d("ping-interval", 50, 3_600_000, DEFAULT_KEEPALIVE.intervalMs),
        timeoutMs: d("idle-timeout", 100, 3_600_000, DEFAULT_KEEPALIVE.timeoutMs),
      },
      refusalLogWindowMs: d("refusal-log-interval", 50, 3_600_000, 10_000),
    },
    api: bool(p, "no-api") ? null : {
      hostname: apiListen.hostname,
      port: apiListen.port,
      tls: apiTls,
      insecure: bool(p, "insecure-api"),
      allowedHosts,
    },
    supervisor: {
      pollMs: d("poll-interval", 100, 600_000, 5000),
      graceMs: d("stop-grace", 100, 600_000, 5000),
      backoffBaseMs: d("restart-backoff", 10, 600_000, 1000),
      backoffMaxMs: d("restart-backoff-max", 10, 3_600_000, 60_000),
      hangMs: d("hang-timeout", 500, 3_600_000, 60_000),
      ...(str(p, "stall-timeout") ? { stallMs: d("stall-timeout", 500, 86_400_000, 120_000) } : {}),
      logLines: int(p, "log-lines", { min: 10, max: 1_000_000, fallback: 1000 }),
    },
    historyIntervalMs: d("history-interval", 0, 3_600_000, 10_000),
    historyRetentionMs: d("history-retention", 3_600_000, 3650 * 86_400_000, 30 * 86_400_000),
    fleetPollMs: d("fleet-poll", 0, 3_600_000, 10_000),
    statsPushMs: d("stats-push", 0, 3_600_000, 10_000),
    stratum: await stratumOptions(p, cmd),
    health: {
      intervalMs: d("health-interval", 200, 600_000, 5000),
      groupWaitMs: d("alert-group-wait", 0, 3_600_000, 10_000),
      repeatMs: d("alert-repeat", 60_000, 30 * 86_400_000, 4 * 3_600_000),
      heartbeatUrl: heartbeatUrl(p, cmd),
      heartbeatMs: d("heartbeat-interval", 1000, 86_400_000, 60_000),
    },
    metricsListen,
    ...await discoveryOptions(p, cmd),
  };
}

/** `--stratum-listen` and its TLS files. */
async function stratumOptions(p: Parsed, cmd: string): Promise<StratumServiceOptions> {
  const given = str(p, "stratum-listen");
  const listen = given === "off" ? null : parseListen(given ?? "127.0.0.1:3333", "stratum-listen");
  const certFile = str(p, "stratum-tls-cert");
  const keyFile = str(p, "stratum-tls-key");
  if (!!certFile !== !!keyFile) {
    throw new UsageError("--stratum-tls-cert and --stratum-tls-key go together", cmd);
  }
  const read = async (f: string, flag: string) => {
    try {
      return await Deno.readTextFile(f);
    } catch (err) {
      throw new UsageError(`${flag} ${f}: ${(err as Error).message}`, cmd);
    }
  };
  return {
    listen,
    // Not asked for: a taken 3333 (another proxy) leaves the node without an endpoint, with a
    // warning, instead of failing it.
    optional: given === undefined,
    maxMiners: int(p, "stratum-max-miners", { min: 1, max: 65_536, fallback: 256 }),
    ...(certFile && keyFile
      ? {
        tls: {
          cert: await read(certFile, "--stratum-tls-cert"),
          key: await read(keyFile, "--stratum-tls-key"),
        },
      }
      : {}),
  };
}

/** `--heartbeat-url`: an http(s) URL, or none. */
function heartbeatUrl(p: Parsed, cmd: string): string | null {
  const u = str(p, "heartbeat-url");
  if (u === undefined) return null;
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new UsageError(`--heartbeat-url ${JSON.stringify(u)} is not a URL`, cmd);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError("--heartbeat-url must be an http:// or https:// URL", cmd);
  }
  return url.toString();
}

/** Runs a daemon until the stop signal, printing its listening line. */
export async function runDaemon(
  ctx: CliContext,
  options: DaemonOptions,
  json: boolean,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const daemon = await startDaemon(ctx.paths, options);
  const info = daemon.mesh.identity.info;
  if (json) {
    ctx.io.out(JSON.stringify({
      event: "listening",
      id: info.id,
      name: info.name,
      role: info.role,
      url: daemon.server.url,
      port: daemon.server.port,
      api: daemon.api?.url ?? null,
      apiPort: daemon.api?.port ?? null,
      metrics: daemon.metricsUrl,
      stratum: daemon.stratum.rig?.server.url ?? null,
      discovery: daemon.discovery
        ? (({ port, broadcast, autoEnroll }) => ({ port, broadcast, autoEnroll }))(
          daemon.discovery.state(),
        )
        : null,
      ...extra,
    }));
  } else {
    ctx.io.out(`node ${info.name} (${info.id}, ${info.role}) listening on ${daemon.server.url}`);
    if (daemon.api) {
      ctx.io.out(`API and dashboard on ${daemon.api.url} (token: \`miner-cli node info --token\`)`);
    }
    if (daemon.metricsUrl) ctx.io.out(`metrics (no auth) on ${daemon.metricsUrl}`);
    if (daemon.stratum.rig) {
      ctx.io.out(`stratum for pool-farm miners on ${daemon.stratum.rig.server.url}`);
    }
    if (daemon.stratum.proxy) {
      const n = daemon.stratum.proxy.status().upstreams.length;
      ctx.io.out(
        n
          ? `stratum proxy: ${n} upstream(s) (miner-cli stratum status)`
          : "stratum proxy: no upstreams yet (miner-cli stratum upstream add URL --user WALLET)",
      );
    }
    if (daemon.discovery) {
      const d = daemon.discovery.state();
      ctx.io.out(
        `discovery: beacons on UDP ${d.port} to ${
          d.broadcast.join(", ")
        }; discovered nodes wait for \`miner-cli peer approve\`${
          d.autoEnroll ? " (workers proving the join secret are enrolled automatically)" : ""
        }`,
      );
    }
    ctx.io.out(`auth mode: ${daemon.mesh.auth.mode}; press Ctrl+C to stop`);
  }
  await new Promise<void>((resolve) => {
    if (ctx.stopSignal.aborted) resolve();
    ctx.stopSignal.addEventListener("abort", () => resolve(), { once: true });
  });
  options.logger?.info("shutting_down", { ...daemon.mesh.counters });
  await daemon.close();
  return 0;
}

/** `node serve`. */
export async function nodeServe(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "node serve";
  if (p.positionals.length) throw new UsageError(`unexpected argument ${p.positionals[0]}`, cmd);
  const logger = new Logger();
  return await runDaemon(ctx, await daemonOptions(p, cmd, logger), bool(p, "json"));
}

const PRESETS = {
  "cpu-low": { kind: "xmrig", hashrate: 800, gpus: 0, threads: 2 },
  "cpu-high": { kind: "xmrig", hashrate: 15_000, gpus: 0, threads: 16 },
  gpu: { kind: "tt-miner", hashrate: 60e6, gpus: 2, threads: 0 },
} as const;

/** `simulate`: a node with emulated miners. */
export async function simulate(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "simulate";
  const count = int(p, "count", { min: 1, max: 64, fallback: 2 });
  const presetName = str(p, "preset") ?? "cpu-low";
  if (!(presetName in PRESETS)) {
    throw new UsageError(
      `--preset must be cpu-low, cpu-high or gpu, got ${JSON.stringify(presetName)}`,
      cmd,
    );
  }
  const preset = PRESETS[presetName as keyof typeof PRESETS];
  const logger = new Logger();
  let identity;
  try {
    identity = await loadIdentity(ctx.paths);
  } catch (err) {
    if (!(err instanceof IdentityNotFoundError)) throw err;
    identity = await initIdentity(ctx.paths, { name: str(p, "name") ?? "sim-node", role: "dual" });
    await createApiToken(ctx.paths);
    ctx.io.err(
      `initialized simulation node ${identity.info.name} (${identity.info.id}) in ${ctx.paths.configDir}`,
    );
  }
  if (identity.info.role === "controller") {
    throw new UsageError("simulate needs a worker or dual node; this one is a controller", cmd);
  }
  await installEmulatedMiner(ctx.paths, preset.kind, {
    env: {
      MINER_EMU_HASHRATE: String(preset.hashrate),
      MINER_EMU_GPUS: String(preset.gpus),
      MINER_EMU_PRINT_MS: "2000",
      MINER_EMU_SHARE_MS: "4000",
    },
  });
  const store = new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json"));
  const existing = await store.list();
  const names: string[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `sim-${presetName}-${i}`;
    names.push(name);
    const old = existing.find((x) => x.name === name);
    const input = preset.kind === "xmrig"
      ? {
        name,
        minerType: "xmrig",
        autostart: true,
        config: {
          pools: [{
            url: "stratum+tcp://pool.example.org:3333",
            user: `44SIMULATEDWALLET.${name}`,
          }],
          threads: preset.threads,
        },
      }
      : {
        name,
        minerType: "tt-miner",
        autostart: true,
        config: {
          pool: "stratum+tcp://pool.example.org:4444",
          user: `0xSIMULATED.${name}`,
          algo: "kawpow",
        },
      };
    if (old) await store.update(old.id, { autostart: true });
    else await store.add(input);
  }
  const options = await daemonOptions(p, cmd, logger);
  return await runDaemon(ctx, options, bool(p, "json"), { simulated: names });
}

/** Hidden: `__emulate-miner xmrig|tt-miner <args>` (lets a compiled binary act as the emulator). */
export async function emulateMiner(_ctx: CliContext, p: Parsed): Promise<number> {
  const [kind, ...rest] = p.positionals;
  if (kind !== "xmrig" && kind !== "tt-miner") {
    throw new UsageError("usage: miner-cli __emulate-miner xmrig|tt-miner [args]");
  }
  runEmulator(kind, rest);
  await new Promise(() => {}); // the emulator runs until killed
  return 0;
}
