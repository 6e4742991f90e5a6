/**
 * `alerts ...` and `health ...`: what fires, what fired, acknowledging, silencing, the rules and
 * the channels, and the thresholds of the health model. They work on this home's files with or
 * without a running node (the node re-reads them when they change), and a channel test is sent
 * from this process, so it checks the settings themselves.
 * @module
 */
import { AlertsAdmin, type ChannelConfig } from "../alerts/mod.ts";
import { parseThresholdPairs, resolveThresholds, THRESHOLD_KEYS } from "../health/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import type { Alert, ChannelType } from "../protocol/mod.ts";
import { ChannelTypeSchema, ReasonCodeSchema, SeveritySchema } from "../protocol/mod.ts";
import { bool, duration, int, type Parsed, requireStr, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { ago, table } from "./format.ts";

const admin = (ctx: CliContext) => new AlertsAdmin(ctx.paths);

function alertRows(alerts: readonly Alert[], now = Date.now()): (string | number)[][] {
  return alerts.map((a) => [
    a.id,
    a.state === "firing" && a.silencedBy ? "silenced" : a.ackedAt ? `${a.state} (acked)` : a.state,
    a.severity,
    a.rule,
    `${a.rig}${a.miner ? `/${a.miner}` : ""}${a.device !== null ? ` #${a.device}` : ""}`,
    ago(a.state === "resolved" ? a.resolvedAt : a.firedAt ?? a.activeAt, now),
    a.summary.slice(0, 100),
  ]);
}

const ALERT_HEAD = ["ID", "STATE", "SEVERITY", "RULE", "SUBJECT", "SINCE", "SUMMARY"];

/** `alerts list`. */
export async function alertsList(ctx: CliContext, p: Parsed): Promise<number> {
  const view = await admin(ctx).view();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(view, null, 2));
    return 0;
  }
  const active = [...view.firing, ...view.pending];
  if (!active.length) ctx.io.out("no alerts firing or pending");
  else ctx.io.out(table(ALERT_HEAD, alertRows(active)));
  if (view.resolved.length) {
    ctx.io.out(`\nresolved in the last 24 h:`);
    ctx.io.out(table(ALERT_HEAD, alertRows(view.resolved.slice(0, 20))));
  }
  if (view.silences.length) {
    ctx.io.out(`\nsilences: ${view.silences.map((s) => `${s.id} until ${s.endsAt}`).join(", ")}`);
  }
  return 0;
}

/** `alerts history`. */
export async function alertsHistory(ctx: CliContext, p: Parsed): Promise<number> {
  const alerts = await admin(ctx).history(int(p, "limit", { min: 1, max: 1000, fallback: 50 }));
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ alerts }, null, 2));
  else if (!alerts.length) ctx.io.out("no resolved alerts yet");
  else ctx.io.out(table(ALERT_HEAD, alertRows(alerts)));
  return 0;
}

/** `alerts ack <alert|rig|all>`. */
export async function alertsAck(ctx: CliContext, p: Parsed): Promise<number> {
  const acked = await admin(ctx).ack(p.positionals[0], {
    by: "cli",
    reason: str(p, "reason") ?? "",
  });
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ acked }, null, 2));
  else ctx.io.out(`acknowledged ${acked.length} alert(s): ${acked.map((a) => a.id).join(", ")}`);
  return 0;
}

/** `alerts silence <rig|rule> --for D --reason TEXT`. */
export async function alertsSilence(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "alerts silence";
  const target = p.positionals[0];
  let rule = str(p, "rule");
  let rig = str(p, "rig");
  if (target) {
    if (ReasonCodeSchema.safeParse(target).success) rule ??= target;
    else rig ??= target;
  }
  if (!rule && !rig) {
    throw new UsageError("silence what? give a rig or a rule (or --rig/--rule)", cmd);
  }
  const forMs = duration(p, "for", { min: 60_000, max: 90 * 86_400_000, fallback: 3_600_000 });
  const reason = requireStr(p, "reason", cmd);
  const s = await admin(ctx).silence({ rule, rig }, { forMs, reason, by: "cli" });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(s, null, 2));
  else {
    ctx.io.out(
      `silence ${s.id}: ${
        [s.rule && `rule ${s.rule}`, s.rig && `rig ${s.rig}`].filter(Boolean).join(", ")
      } until ${s.endsAt}`,
    );
  }
  return 0;
}

/** `alerts unsilence <id>`. */
export async function alertsUnsilence(ctx: CliContext, p: Parsed): Promise<number> {
  const s = await admin(ctx).unsilence(p.positionals[0]);
  if (bool(p, "json")) ctx.io.out(JSON.stringify(s, null, 2));
  else ctx.io.out(`silence ${s.id} ended`);
  return 0;
}

/** `alerts rules list`. */
export async function alertsRulesList(ctx: CliContext, p: Parsed): Promise<number> {
  const rules = await admin(ctx).rules();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ rules }, null, 2));
    return 0;
  }
  ctx.io.out(table(
    ["RULE", "ON", "SEVERITY", "FOR", "THRESHOLD", "SCOPE", "WHAT"],
    rules.map((r) => [
      r.id,
      r.enabled ? "yes" : "no",
      r.severity,
      `${r.forSeconds} s`,
      r.thresholdKey ? `${r.thresholdKey}=${r.threshold}` : "-",
      [...r.rigs.map((x) => `rig:${x}`), ...r.tags.map((t) => `tag:${t}`)].join(",") || "all rigs",
      r.title,
    ]),
  ));
  return 0;
}

const list = (v: string | undefined) =>
  v === undefined ? undefined : v.split(",").map((x) => x.trim()).filter(Boolean);

/** `alerts rules set <rule> [--enabled B] [--severity S] [--for D] [--threshold X] [--rigs] [--tags]`. */
export async function alertsRulesSet(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "alerts rules set";
  const enabledRaw = str(p, "enabled");
  if (enabledRaw !== undefined && enabledRaw !== "true" && enabledRaw !== "false") {
    throw new UsageError("--enabled must be true or false", cmd);
  }
  const severity = str(p, "severity");
  if (severity !== undefined && !SeveritySchema.safeParse(severity).success) {
    throw new UsageError(`--severity must be one of ${SeveritySchema.options.join(", ")}`, cmd);
  }
  const thresholdRaw = str(p, "threshold");
  const threshold = thresholdRaw === undefined ? undefined : Number(thresholdRaw);
  if (threshold !== undefined && !Number.isFinite(threshold)) {
    throw new UsageError("--threshold must be a number", cmd);
  }
  const change = {
    ...(enabledRaw !== undefined ? { enabled: enabledRaw === "true" } : {}),
    ...(severity !== undefined ? { severity: severity as "critical" | "warning" | "info" } : {}),
    ...(str(p, "for") !== undefined
      ? {
        forSeconds: Math.round(
          duration(p, "for", { min: 0, max: 604_800_000, fallback: 0 }) / 1000,
        ),
      }
      : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    ...(str(p, "rigs") !== undefined ? { rigs: list(str(p, "rigs"))! } : {}),
    ...(str(p, "tags") !== undefined ? { tags: list(str(p, "tags"))! } : {}),
  };
  if (!Object.keys(change).length) {
    throw new UsageError(
      "nothing to change: give --enabled, --severity, --for, --threshold, --rigs or --tags",
      cmd,
    );
  }
  const rule = await admin(ctx).setRule(p.positionals[0], change);
  if (bool(p, "json")) ctx.io.out(JSON.stringify(rule, null, 2));
  else {
    ctx.io.out(
      `rule ${rule.id}: ${rule.enabled ? "on" : "off"}, ${rule.severity}, for ${rule.forSeconds} s${
        rule.thresholdKey ? `, ${rule.thresholdKey}=${rule.threshold}` : ""
      }`,
    );
  }
  return 0;
}

/** `alerts channels list`. */
export async function alertsChannelsList(ctx: CliContext, p: Parsed): Promise<number> {
  const channels = await admin(ctx).channels();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ channels }, null, 2));
    return 0;
  }
  if (!channels.length) {
    ctx.io.out(
      "no alert channels: add one with `miner-cli alerts channels add NAME --type TYPE ...`",
    );
    return 0;
  }
  ctx.io.out(table(
    ["NAME", "TYPE", "MIN SEVERITY", "TARGET", "LAST DELIVERY", "DELIVERED", "FAILED", "QUEUED"],
    channels.map((c) => {
      const s = c.settings as Record<string, unknown>;
      const target = String(s.url ?? s.baseUrl ?? (s.host ? `${s.host}:${s.port}` : "")) +
        (s.topic ? `/${s.topic}` : "") + (s.chatId ? ` chat ${s.chatId}` : "") +
        (Array.isArray(s.to) ? ` → ${(s.to as string[]).join(",")}` : "");
      const last = c.status.at === null
        ? "never"
        : c.status.ok
        ? `ok ${ago(c.status.at)}`
        : `FAILING ${ago(c.status.at)} (${c.status.attempts} attempts): ${c.status.error ?? ""}`;
      return [
        c.name,
        c.type,
        c.minSeverity,
        target,
        last.slice(0, 120),
        c.status.delivered,
        c.status.failed,
        c.status.queued,
      ];
    }),
  ));
  return 0;
}

async function secretFrom(p: Parsed, cmd: string): Promise<string | undefined> {
  const file = str(p, "secret-file");
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new UsageError(`cannot read --secret-file ${file}: ${(err as Error).message}`, cmd);
  }
  const v = text.trim();
  if (!v) throw new UsageError(`--secret-file ${file} is empty`, cmd);
  return v;
}

/** The settings the flags describe, for one channel type (validated by the channel schema). */
async function channelFromFlags(
  ctx: CliContext,
  p: Parsed,
  cmd: string,
): Promise<Record<string, unknown>> {
  const name = p.positionals[0];
  const type = requireStr(p, "type", cmd);
  if (!ChannelTypeSchema.safeParse(type).success) {
    throw new UsageError(`--type must be one of ${ChannelTypeSchema.options.join(", ")}`, cmd);
  }
  const secret = await secretFrom(p, cmd);
  const headers: Record<string, string> = {};
  for (const h of (p.values.header as string[] | undefined) ?? []) {
    const i = h.indexOf(":");
    if (i <= 0) throw new UsageError(`--header ${JSON.stringify(h)}: expected NAME:VALUE`, cmd);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const need = (flag: string) => requireStr(p, flag, `${cmd} --type ${type}`);
  const base = {
    name,
    type,
    ...(str(p, "min-severity") ? { minSeverity: str(p, "min-severity") } : {}),
  };
  const baseUrl = str(p, "base-url");
  switch (type as ChannelType) {
    case "webhook":
      return { ...base, url: need("url"), ...(secret ? { secret } : {}), headers };
    case "alertmanager":
      return { ...base, url: need("url"), headers };
    case "email": {
      const ca = str(p, "ca-file");
      let caText: string | undefined;
      if (ca) {
        try {
          caText = await Deno.readTextFile(ca);
        } catch (err) {
          throw new UsageError(`cannot read --ca-file ${ca}: ${(err as Error).message}`, cmd);
        }
      }
      return {
        ...base,
        host: need("smtp-host"),
        port: int(p, "smtp-port", { min: 1, max: 65535, fallback: 587 }),
        security: str(p, "smtp-security") ?? "starttls",
        ...(str(p, "smtp-user") ? { user: str(p, "smtp-user") } : {}),
        ...(secret ? { password: secret } : {}),
        from: need("from"),
        to: list(need("to")),
        ...(caText ? { ca: caText } : {}),
      };
    }
    case "telegram":
      if (!secret) {
        throw new UsageError("telegram needs --secret-file FILE holding the bot token", cmd);
      }
      return { ...base, token: secret, chatId: need("chat-id"), ...(baseUrl ? { baseUrl } : {}) };
    case "discord":
      return { ...base, url: need("url") };
    case "ntfy":
      return {
        ...base,
        topic: need("topic"),
        ...(secret ? { token: secret } : {}),
        ...(baseUrl ? { baseUrl } : {}),
      };
    case "pushover":
      if (!secret) {
        throw new UsageError(
          "pushover needs --secret-file FILE holding the application token",
          cmd,
        );
      }
      return { ...base, token: secret, user: need("user-key"), ...(baseUrl ? { baseUrl } : {}) };
  }
  void ctx;
  throw new UsageError(`unknown type ${type}`, cmd);
}

/** `alerts channels add NAME --type TYPE ...`. */
export async function alertsChannelsAdd(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "alerts channels add";
  const raw = await channelFromFlags(ctx, p, cmd);
  const view = await admin(ctx).addChannel(raw, { replace: bool(p, "replace") });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(view, null, 2));
  else {
    ctx.io.out(
      `added ${view.type} channel ${view.name}; send a test message with \`miner-cli alerts channels test ${view.name}\``,
    );
  }
  return 0;
}

/** `alerts channels remove NAME`. */
export async function alertsChannelsRemove(ctx: CliContext, p: Parsed): Promise<number> {
  await admin(ctx).removeChannel(p.positionals[0]);
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ removed: p.positionals[0] }));
  else ctx.io.out(`removed channel ${p.positionals[0]}`);
  return 0;
}

/** `alerts channels test NAME` (also `alerts test NAME`): exit 0 delivered, 1 not. */
export async function alertsChannelsTest(ctx: CliContext, p: Parsed): Promise<number> {
  const me = await loadIdentity(ctx.paths);
  const r = await admin(ctx).testChannel(p.positionals[0], { id: me.info.id, name: me.info.name });
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ channel: p.positionals[0], ...r }));
  else if (r.ok) ctx.io.out(`test message delivered to ${p.positionals[0]} in ${r.ms} ms`);
  else ctx.io.err(`error: test message to ${p.positionals[0]} failed: ${r.error}`);
  return r.ok ? 0 : 1;
}

/** `health thresholds`: effective fleet defaults and every override. */
export async function healthThresholds(ctx: CliContext, p: Parsed): Promise<number> {
  const a = admin(ctx);
  const config = await a.health.load();
  const effective = resolveThresholds(config);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ config, effective }, null, 2));
    return 0;
  }
  ctx.io.out(table(
    ["THRESHOLD", "FLEET DEFAULT", "OVERRIDES"],
    THRESHOLD_KEYS.map((k) => {
      const o = [
        ...Object.entries(config.rigs).filter(([, v]) => v[k] !== undefined).map(([r, v]) =>
          `rig ${r}=${v[k]}`
        ),
        ...Object.entries(config.profiles).filter(([, v]) => v[k] !== undefined).map(([r, v]) =>
          `profile ${r}=${v[k]}`
        ),
      ];
      return [
        k,
        `${effective[k]}${config.defaults[k] !== undefined ? " (set)" : ""}`,
        o.join(", ") || "-",
      ];
    }),
  ));
  return 0;
}

function scopeOf(p: Parsed, cmd: string) {
  const rig = str(p, "rig");
  const profile = str(p, "profile");
  if (rig && profile) throw new UsageError("give --rig or --profile, not both", cmd);
  return rig
    ? { kind: "rig" as const, ref: rig }
    : profile
    ? { kind: "profile" as const, ref: profile }
    : { kind: "defaults" as const };
}

/** `health set KEY=VALUE... [--rig R | --profile P]`. */
export async function healthSet(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "health set";
  const set = parseThresholdPairs(p.positionals);
  const scope = scopeOf(p, cmd);
  const config = await admin(ctx).health.update(scope, { set });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(config, null, 2));
  else {
    ctx.io.out(
      `set ${Object.entries(set).map(([k, v]) => `${k}=${v}`).join(", ")} for ${
        scope.kind === "defaults" ? "the fleet" : `${scope.kind} ${scope.ref}`
      }`,
    );
  }
  return 0;
}

/** `health unset KEY... [--rig R | --profile P]`. */
export async function healthUnset(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "health unset";
  const scope = scopeOf(p, cmd);
  const config = await admin(ctx).health.update(scope, { unset: p.positionals });
  if (bool(p, "json")) ctx.io.out(JSON.stringify(config, null, 2));
  else ctx.io.out(`unset ${p.positionals.join(", ")}`);
  return 0;
}

/** Channel settings (for typing). */
export type { ChannelConfig };
