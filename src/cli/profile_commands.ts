/**
 * `profile add|list|show|edit|remove`: mining profiles, validated per miner type. These edit the
 * profile file directly (atomically), so they work with or without a running node.
 * @module
 */
import { join } from "node:path";
import { maskProfile, type Profile, ProfileStore, ProfileValidationError } from "../miners/mod.ts";
import { bool, num, type Parsed, requireStr, str, UsageError } from "./args.ts";
import { AssignmentStore } from "../node/mod.ts";
import { PeerRegistry } from "../peers/mod.ts";
import type { CliContext } from "./context.ts";
import { table } from "./format.ts";

function store(ctx: CliContext): ProfileStore {
  return new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json"));
}

function list(p: Parsed, name: string): string[] | undefined {
  const v = p.values[name];
  return Array.isArray(v) ? v : undefined;
}

/** Builds a config object from flags, on top of `base` (for edit). */
function configFromFlags(
  type: string,
  p: Parsed,
  base: Record<string, unknown> = {},
): Record<string, unknown> {
  const cfg: Record<string, unknown> = structuredClone(base);
  const threads = str(p, "threads");
  const threadsValue = threads === undefined
    ? undefined
    : threads === "auto"
    ? "auto"
    : Number(threads);
  if (type === "xmrig") {
    const pools = list(p, "pool");
    if (pools) {
      cfg.pools = pools.map((url) => ({
        url,
        user: str(p, "user") ?? (base.pools as { user?: string }[] | undefined)?.[0]?.user,
        ...(str(p, "pass") !== undefined ? { pass: str(p, "pass") } : {}),
        ...(str(p, "algo") ? { algo: str(p, "algo") } : {}),
        ...(str(p, "coin") ? { coin: str(p, "coin") } : {}),
        ...(str(p, "rig-id") ? { rigId: str(p, "rig-id") } : {}),
        ...(bool(p, "tls") ? { tls: true } : {}),
      }));
    } else if (
      Array.isArray(cfg.pools) && (str(p, "user") || str(p, "pass") !== undefined || str(p, "algo"))
    ) {
      cfg.pools = (cfg.pools as Record<string, unknown>[]).map((pool) => ({
        ...pool,
        ...(str(p, "user") ? { user: str(p, "user") } : {}),
        ...(str(p, "pass") !== undefined ? { pass: str(p, "pass") } : {}),
        ...(str(p, "algo") ? { algo: str(p, "algo") } : {}),
      }));
    }
    if (threadsValue !== undefined) cfg.threads = threadsValue;
    const mode = str(p, "randomx-mode");
    if (mode !== undefined) cfg.randomxMode = mode;
    if (str(p, "donate-level") !== undefined) {
      cfg.donateLevel = num(p, "donate-level", { min: 0, max: 100 });
    }
    if (bool(p, "no-huge-pages")) cfg.cpu = { ...(cfg.cpu as object ?? {}), hugePages: false };
    if (bool(p, "opencl")) cfg.opencl = { enabled: true };
    if (bool(p, "cuda")) cfg.cuda = { enabled: true };
  } else if (type === "tt-miner") {
    const pools = list(p, "pool");
    if (pools) cfg.pool = pools[0];
    if (str(p, "user")) cfg.user = str(p, "user");
    if (str(p, "pass") !== undefined) cfg.pass = str(p, "pass");
    if (str(p, "algo")) cfg.algo = str(p, "algo");
  } else {
    if (str(p, "command")) cfg.command = str(p, "command");
    if (str(p, "hashrate-pattern")) cfg.hashratePattern = str(p, "hashrate-pattern");
    if (str(p, "hashrate-unit")) cfg.hashrateUnit = str(p, "hashrate-unit");
    if (str(p, "accepted-pattern")) cfg.acceptedPattern = str(p, "accepted-pattern");
    if (str(p, "rejected-pattern")) cfg.rejectedPattern = str(p, "rejected-pattern");
  }
  const args = list(p, "arg");
  if (args) cfg.args = args;
  return cfg;
}

function common(p: Parsed): Record<string, unknown> {
  return {
    ...(bool(p, "autostart") ? { autostart: true } : {}),
    ...(bool(p, "no-autostart") ? { autostart: false } : {}),
    ...(str(p, "min-hashrate") !== undefined
      ? { minHashrate: num(p, "min-hashrate", { min: 0, max: 1e15 }) }
      : {}),
    ...(str(p, "stall-seconds") !== undefined
      ? { stallSeconds: num(p, "stall-seconds", { min: 5, max: 86_400 }) }
      : {}),
    ...(str(p, "expected-hashrate") !== undefined
      ? { expectedHashrate: num(p, "expected-hashrate", { min: 0.000001, max: 1e18 }) }
      : {}),
  };
}

async function fromFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`cannot read --file ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Shows a profile with its passwords masked (`mining_profiles.json`, mode 0600, keeps them). */
function show(ctx: CliContext, profile: Profile, json: boolean, verb?: string): void {
  const shown = maskProfile(profile);
  if (json) ctx.io.out(JSON.stringify(shown, null, 2));
  else {
    if (verb) ctx.io.out(`${verb} profile ${profile.name} (${profile.id}, ${profile.minerType})`);
    else ctx.io.out(JSON.stringify(shown, null, 2));
  }
}

/** The flag that sets each profile field (for messages that name what to type). */
const FLAG_OF: Record<string, string> = {
  name: "--name",
  minerType: "--type",
  "config.pools": "--pool",
  "config.pool": "--pool",
  "config.user": "--user",
  "config.pass": "--pass",
  "config.algo": "--algo",
  "config.coin": "--coin",
  "config.rigId": "--rig-id",
  "config.threads": "--threads",
  "config.donateLevel": "--donate-level",
  "config.randomxMode": "--randomx-mode",
  "config.command": "--command",
  "config.args": "--arg",
  "config.hashratePattern": "--hashrate-pattern",
  "config.hashrateUnit": "--hashrate-unit",
  "config.acceptedPattern": "--accepted-pattern",
  "config.rejectedPattern": "--rejected-pattern",
  minHashrate: "--min-hashrate",
  stallSeconds: "--stall-seconds",
  expectedHashrate: "--expected-hashrate",
};

/** A profile validation failure as sentences about the flags, not the schema's fields. */
function flagMessage(err: ProfileValidationError, fromFile: boolean): string {
  const parts = err.issues.map((i) => {
    const key = i.path.replace(/\.\d+(\..*)?$/, "").replace(
      /^config\.pools\.\d+\..*/,
      "config.pools",
    );
    const pool = /^config\.pools\.\d+\.(\w+)/.exec(i.path)?.[1];
    const flag = fromFile
      ? i.path || "the profile"
      : (pool ? FLAG_OF[`config.${pool}`] : undefined) ??
        FLAG_OF[key] ?? (i.path || "the profile");
    return /received undefined|expected array, received/.test(i.message)
      ? `${flag} is required`
      : `${flag}: ${i.message}`;
  });
  return `invalid profile: ${parts.join("; ")}`;
}

/** `profile add`. */
export async function profileAdd(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "profile add";
  const file = str(p, "file");
  const input = file ? await fromFile(file) : (() => {
    const type = str(p, "type");
    if (!type) {
      throw new UsageError(
        "--type is required (xmrig, tt-miner or custom), or give --file profile.json",
        cmd,
      );
    }
    return {
      name: str(p, "name") ?? "",
      minerType: type,
      config: configFromFlags(type, p),
      ...common(p),
    };
  })();
  try {
    show(ctx, await store(ctx).add(input), bool(p, "json"), "added");
  } catch (err) {
    if (err instanceof ProfileValidationError) {
      throw new UsageError(flagMessage(err, file !== undefined), cmd);
    }
    throw err;
  }
  return 0;
}

/** `profile edit <ref>`. */
export async function profileEdit(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "profile edit";
  if (p.positionals.length !== 1) {
    throw new UsageError("usage: miner-cli profile edit <profile> [flags]", cmd);
  }
  const s = store(ctx);
  const cur = await s.get(p.positionals[0]);
  const file = str(p, "file");
  const patch = file ? await fromFile(file) : {
    ...(str(p, "name") ? { name: str(p, "name") } : {}),
    config: configFromFlags(cur.minerType, p, cur.config as Record<string, unknown>),
    ...common(p),
  };
  try {
    show(ctx, await s.update(cur.id, patch), bool(p, "json"), "updated");
  } catch (err) {
    if (err instanceof ProfileValidationError) {
      throw new UsageError(flagMessage(err, str(p, "file") !== undefined), cmd);
    }
    throw err;
  }
  return 0;
}

/** `profile list`. */
export async function profileList(ctx: CliContext, p: Parsed): Promise<number> {
  const profiles = await store(ctx).list();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ profiles: profiles.map(maskProfile) }, null, 2));
    return 0;
  }
  if (profiles.length === 0) {
    ctx.io.out(
      "no profiles: add one with `miner-cli profile add --type xmrig --name NAME --pool URL --user WALLET`",
    );
    return 0;
  }
  ctx.io.out(table(
    ["NAME", "ID", "TYPE", "POOL", "AUTOSTART"],
    profiles.map((x) => [
      x.name,
      x.id.slice(0, 8),
      x.minerType,
      x.minerType === "xmrig"
        ? x.config.pools[0].url
        : x.minerType === "tt-miner"
        ? x.config.pool
        : x.config.command,
      x.autostart ? "yes" : "no",
    ]),
  ));
  return 0;
}

/** `profile show <ref>`. */
export async function profileShow(ctx: CliContext, p: Parsed): Promise<number> {
  if (p.positionals.length !== 1) {
    throw new UsageError("usage: miner-cli profile show <profile>", "profile show");
  }
  show(ctx, await store(ctx).get(p.positionals[0]), true);
  return 0;
}

/** `profile remove <ref>`. */
export async function profileRemove(ctx: CliContext, p: Parsed): Promise<number> {
  if (p.positionals.length !== 1) {
    throw new UsageError("usage: miner-cli profile remove <profile>", "profile remove");
  }
  const removed = await store(ctx).remove(p.positionals[0]);
  if (bool(p, "json")) ctx.io.out(JSON.stringify(removed));
  else ctx.io.out(`removed profile ${removed.name} (${removed.id})`);
  return 0;
}

function assignmentStore(ctx: CliContext): AssignmentStore {
  return new AssignmentStore(join(ctx.paths.configDir, "assignments.json"));
}

/** `profile assign <profile> --tag T`: rigs with the tag run the profile (now, and when tagged later). */
export async function profileAssign(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "profile assign";
  const tag = requireStr(p, "tag", cmd);
  const profile = await new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json")).get(
    p.positionals[0],
  );
  const a = await assignmentStore(ctx).assign(tag, { id: profile.id, name: profile.name });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(a, null, 2));
  else {
    ctx.io.out(
      `rigs tagged ${tag} run ${profile.name}: the running node starts it on each (see \`miner-cli profile assignments\`)`,
    );
  }
  return 0;
}

/** `profile unassign --tag T`. */
export async function profileUnassign(ctx: CliContext, p: Parsed): Promise<number> {
  const tag = requireStr(p, "tag", "profile unassign");
  const a = await assignmentStore(ctx).unassign(tag);
  if (bool(p, "json")) ctx.io.out(JSON.stringify(a, null, 2));
  else ctx.io.out(`tag ${tag} no longer runs ${a.profileName} (its miners keep running)`);
  return 0;
}

/** `profile assignments`: each tag's profile and how its rollout went per rig. */
export async function profileAssignments(ctx: CliContext, p: Parsed): Promise<number> {
  const all = await assignmentStore(ctx).list();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ assignments: all }, null, 2));
    return 0;
  }
  if (!all.length) {
    ctx.io.out("no assignments: `miner-cli profile assign PROFILE --tag TAG`");
    return 0;
  }
  const reg = await PeerRegistry.open(ctx.paths.registryDb).catch(() => null);
  const name = (id: string) => reg?.get(id)?.name ?? id.slice(0, 12);
  ctx.io.out(table(
    ["TAG", "PROFILE", "RIG", "ROLLOUT", "WHEN", "ERROR"],
    all.flatMap((a) => {
      const rows = Object.entries(a.rollout).map(([id, r]) => [
        a.tag,
        a.profileName,
        name(id),
        r.outcome,
        r.at,
        r.error ?? "",
      ]);
      return rows.length ? rows : [[a.tag, a.profileName, "(no rig yet)", "-", "-", ""]];
    }),
  ));
  await reg?.close();
  return 0;
}
