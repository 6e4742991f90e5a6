/**
 * Notification channels: a generic webhook (JSON, optional HMAC-SHA256 signature), Alertmanager
 * (`POST /api/v2/alerts`), email over SMTP (nodemailer: TLS, STARTTLS, auth), Telegram's bot
 * API, Discord webhooks, ntfy and Pushover, each by its documented HTTP API with a configurable
 * base URL. Channels live in `alert_channels.json` (config home, 0600: it holds tokens and
 * passwords); views mask every secret.
 * @module
 */
import { z } from "zod";
import nodemailer from "nodemailer";
import { MinerCliError } from "../errors/mod.ts";
import { type Alert, type ChannelType, type Severity, SeveritySchema } from "../protocol/mod.ts";
import { MtimeCache, readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";

const Name = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/,
  "channel name: 1-32 letters, digits, . _ -, starting with a letter or digit",
);
const HttpUrl = z.string().max(2048).url().refine(
  (u) => /^https?:\/\//.test(u),
  "must be an http:// or https:// URL",
);
const Headers = z.record(
  z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "header names are letters, digits and -"),
  z.string().max(1024).regex(/^[^\r\n]*$/, "header values are one line"),
).default({});
const Common = { name: Name, minSeverity: SeveritySchema.default("info") };

/** A channel's settings (secrets included), by type. */
export const ChannelConfigSchema = z.discriminatedUnion("type", [
  z.object({
    ...Common,
    type: z.literal("webhook"),
    url: HttpUrl,
    /** HMAC-SHA256 key: the body's signature goes in `X-Miner-Cli-Signature: sha256=<hex>`. */
    secret: z.string().min(8).max(256).optional(),
    headers: Headers,
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("alertmanager"),
    /** Base URL, e.g. `http://127.0.0.1:9093`. */
    url: HttpUrl,
    headers: Headers,
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("email"),
    host: z.string().min(1).max(253).regex(
      /^[A-Za-z0-9.:\[\]-]+$/,
      "SMTP host: a host name or address",
    ),
    port: z.number().int().min(1).max(65535),
    /** `tls`: TLS from the start (465); `starttls`: upgrade required (587); `none`: plain. */
    security: z.enum(["tls", "starttls", "none"]),
    user: z.string().max(256).optional(),
    password: z.string().max(256).optional(),
    from: z.string().email().max(256),
    to: z.array(z.string().email().max(256)).min(1).max(20),
    /** PEM CA certificate(s) to trust besides the system's (a private mail server). */
    ca: z.string().max(65536).optional(),
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("telegram"),
    baseUrl: HttpUrl.default("https://api.telegram.org"),
    token: z.string().regex(
      /^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$/,
      "a bot token looks like 123456:ABC-...",
    ),
    chatId: z.string().regex(
      /^(-?[0-9]{1,20}|@[A-Za-z0-9_]{4,64})$/,
      "chat ID: a number or @channelname",
    ),
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("discord"),
    /** The webhook URL (`https://discord.com/api/webhooks/ID/TOKEN`). */
    url: HttpUrl,
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("ntfy"),
    baseUrl: HttpUrl.default("https://ntfy.sh"),
    topic: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "topic: 1-64 letters, digits, _ -"),
    token: z.string().max(256).optional(),
  }).strict(),
  z.object({
    ...Common,
    type: z.literal("pushover"),
    baseUrl: HttpUrl.default("https://api.pushover.net"),
    token: z.string().regex(
      /^[A-Za-z0-9]{30}$/,
      "a Pushover application token is 30 letters and digits",
    ),
    user: z.string().regex(/^[A-Za-z0-9]{30}$/, "a Pushover user key is 30 letters and digits"),
  }).strict(),
]);
/** A channel's settings. */
export type ChannelConfig = z.infer<typeof ChannelConfigSchema>;

const ChannelsFile = z.object({ version: z.literal(1), channels: z.array(ChannelConfigSchema) });

/** The fields of each type that are secrets (never shown, never returned by the API). */
const SECRETS: Record<ChannelType, readonly string[]> = {
  webhook: ["secret"],
  alertmanager: [],
  email: ["password"],
  telegram: ["token"],
  discord: [],
  ntfy: ["token"],
  pushover: ["token", "user"],
};

/** A channel's settings with secrets, header values and URL tokens masked. */
export function maskChannel(c: ChannelConfig): Record<string, unknown> {
  const { name: _n, type: _t, minSeverity: _m, ...rest } = c;
  const out: Record<string, unknown> = { ...rest };
  for (const k of SECRETS[c.type]) if (out[k] !== undefined) out[k] = "***";
  if ("headers" in c) {
    out.headers = Object.fromEntries(Object.keys(c.headers).map((k) => [k, "***"]));
  }
  if (c.type === "discord") out.url = c.url.replace(/\/webhooks\/([^/]+)\/.*/, "/webhooks/$1/***");
  if (c.type === "email" && c.ca) out.ca = "(PEM)";
  return out;
}

/** Bad channel input, or no such channel. */
export class ChannelError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, status: 400 | 404 | 409 = 400) {
    super(message, {
      status,
      code: status === 404 ? "not_found" : status === 409 ? "conflict" : "bad_request",
    });
    this.name = "ChannelError";
  }
}

/** Validates channel settings (throws {@link ChannelError} naming the field). */
export function parseChannel(raw: unknown): ChannelConfig {
  const parsed = ChannelConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ChannelError(
      `invalid channel: ${
        parsed.error.issues.slice(0, 4).map((i) => `${i.path.join(".") || "channel"}: ${i.message}`)
          .join("; ")
      }`,
    );
  }
  return parsed.data;
}

/** `alert_channels.json` (0600). */
export class ChannelStore {
  readonly #cache: MtimeCache<ChannelConfig[]>;

  /** The store at `path`. */
  constructor(readonly path: string) {
    this.#cache = new MtimeCache(path, () => this.list(), () => []);
  }

  /** Every channel. */
  async list(): Promise<ChannelConfig[]> {
    return (await readJsonFile(this.path, ChannelsFile))?.channels ?? [];
  }

  /** The channels, re-read only when the file changed. */
  current(): Promise<ChannelConfig[]> {
    return this.#cache.get();
  }

  /** One channel by name. */
  async get(name: string): Promise<ChannelConfig> {
    const c = (await this.list()).find((x) => x.name === name);
    if (!c) {
      throw new ChannelError(
        `no alert channel ${JSON.stringify(name)} (see \`miner-cli alerts channels list\`)`,
        404,
      );
    }
    return c;
  }

  /** Adds a channel (or replaces one of the same name with `replace`). */
  async add(raw: unknown, options: { replace?: boolean } = {}): Promise<ChannelConfig> {
    const channel = parseChannel(raw);
    return await withFileLock(this.path, async () => {
      const all = await this.list();
      const i = all.findIndex((c) => c.name === channel.name);
      if (i >= 0 && !options.replace) {
        throw new ChannelError(
          `channel ${channel.name} exists: remove it first or pass --replace`,
          409,
        );
      }
      if (i >= 0) all[i] = channel;
      else all.push(channel);
      await writeJsonAtomic(this.path, { version: 1, channels: all }, { mode: 0o600 });
      this.#cache.invalidate();
      return channel;
    });
  }

  /** Removes a channel. */
  remove(name: string): Promise<void> {
    return withFileLock(this.path, async () => {
      const all = await this.list();
      const rest = all.filter((c) => c.name !== name);
      if (rest.length === all.length) {
        throw new ChannelError(`no alert channel ${JSON.stringify(name)}`, 404);
      }
      await writeJsonAtomic(this.path, { version: 1, channels: rest }, { mode: 0o600 });
      this.#cache.invalidate();
    });
  }
}

/** What a channel delivers: one message about one group of alerts (or a test). */
export interface Notification {
  /** `firing`, `resolved`, `repeat` (still firing) or `test`. */
  status: "firing" | "resolved" | "repeat" | "test";
  /** The rule (null for a test). */
  rule: string | null;
  severity: Severity;
  /** One line: `[FIRING:3] rig offline: rig-a, rig-b, rig-c`. */
  title: string;
  /** The alerts, one line each. */
  text: string;
  alerts: Alert[];
  /** The node that sends. */
  node: { id: string; name: string };
  sentAt: string;
  /** The dashboard's address, when known. */
  url?: string | null;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Whether a channel takes a notification of this severity. */
export function channelWants(c: Pick<ChannelConfig, "minSeverity">, severity: Severity): boolean {
  return SEVERITY_RANK[severity] <= SEVERITY_RANK[c.minSeverity];
}

/** A delivery failed (the channel's answer or the network error). */
export class DeliveryError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { status: 502, code: "delivery_failed", cause: options.cause });
    this.name = "DeliveryError";
  }
}

/** The webhook body (documented in README and docs/alerts.md). */
export function webhookBody(n: Notification): Record<string, unknown> {
  return {
    version: 1,
    source: "miner-cli",
    status: n.status,
    rule: n.rule,
    severity: n.severity,
    title: n.title,
    text: n.text,
    node: n.node,
    sentAt: n.sentAt,
    alerts: n.alerts.map((a) => ({
      id: a.id,
      rule: a.rule,
      severity: a.severity,
      state: a.state,
      rig: a.rig,
      rigId: a.rigId,
      miner: a.miner,
      device: a.device,
      summary: a.summary,
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      resolvedAt: a.resolvedAt,
    })),
  };
}

/** The Alertmanager alerts of a notification (`POST /api/v2/alerts` body). */
export function alertmanagerAlerts(
  alerts: readonly Alert[],
  options: {
    node: { id: string; name: string };
    now: number;
    resendMs: number;
    url?: string | null;
  },
): Record<string, unknown>[] {
  return alerts.map((a) => {
    const labels: Record<string, string> = {
      alertname: a.rule,
      severity: a.severity,
      rig: a.rig,
      rig_id: a.rigId,
      source: "miner-cli",
      controller: options.node.name,
    };
    if (a.miner) labels.miner = a.miner;
    if (a.device !== null) labels.device = String(a.device);
    return {
      labels,
      annotations: { summary: `${a.rig}${a.miner ? `/${a.miner}` : ""}: ${a.summary}` },
      startsAt: a.firedAt ?? a.activeAt,
      // A firing alert is re-sent before this passes; a resolved one ends when it resolved.
      endsAt: a.state === "resolved" && a.resolvedAt
        ? a.resolvedAt
        : new Date(options.now + 4 * options.resendMs).toISOString(),
      ...(options.url ? { generatorURL: options.url } : {}),
    };
  });
}

async function hmacHex(key: string, body: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(body)));
  return [...sig].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function post(
  url: string,
  init: { body: string | URLSearchParams; headers: Record<string, string>; signal: AbortSignal },
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", ...init, redirect: "error" });
  } catch (err) {
    if (init.signal.aborted) throw new DeliveryError(`no answer from ${redact(url)} in time`);
    // fetch says "fetch failed"; its cause says what happened (connection refused, DNS...).
    const cause = (err as { cause?: { message?: string } }).cause?.message
      ?.replace(/^error sending request for url \([^)]*\): /, "")
      .replace(/^client error \(Connect\): /, "");
    throw new DeliveryError(
      `${redact(url)}: ${(err as Error).message}${cause ? `: ${cause}` : ""}`,
      { cause: err },
    );
  }
  const text = (await res.text().catch(() => "")).slice(0, 300).replace(/\s+/g, " ");
  if (!res.ok) {
    throw new DeliveryError(`${redact(url)} answered ${res.status}${text ? `: ${text}` : ""}`);
  }
}

/** A URL without the tokens some channels carry in their path. */
function redact(url: string): string {
  return url.replace(/\/bot[^/]+\//, "/bot***/").replace(
    /\/webhooks\/([^/]+)\/[^/?]+/,
    "/webhooks/$1/***",
  );
}

interface Mailer {
  sendMail(m: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
  close(): void;
}

const PRIORITY: Record<Severity, string> = { critical: "5", warning: "4", info: "3" };

/** Delivers one notification through one channel (throws {@link DeliveryError}). */
export async function deliver(
  c: ChannelConfig,
  n: Notification,
  options: { timeoutMs?: number; resendMs?: number } = {},
): Promise<void> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const json = { "content-type": "application/json" };
  switch (c.type) {
    case "webhook": {
      const body = JSON.stringify(webhookBody(n));
      const headers: Record<string, string> = { ...c.headers, ...json, "user-agent": "miner-cli" };
      if (c.secret) headers["x-miner-cli-signature"] = `sha256=${await hmacHex(c.secret, body)}`;
      return await post(c.url, { body, headers, signal });
    }
    case "alertmanager": {
      const alerts = n.status === "test"
        ? alertmanagerAlerts([testAlert(n)], { node: n.node, now: Date.now(), resendMs: 60_000 })
        : alertmanagerAlerts(n.alerts, {
          node: n.node,
          now: Date.now(),
          resendMs: options.resendMs ?? 60_000,
          url: n.url,
        });
      return await post(`${c.url.replace(/\/+$/, "")}/api/v2/alerts`, {
        body: JSON.stringify(alerts),
        headers: { ...c.headers, ...json },
        signal,
      });
    }
    case "email": {
      const transport = (nodemailer as unknown as { createTransport(o: unknown): Mailer })
        .createTransport({
          host: c.host,
          port: c.port,
          secure: c.security === "tls",
          requireTLS: c.security === "starttls",
          ignoreTLS: c.security === "none",
          ...(c.user ? { auth: { user: c.user, pass: c.password ?? "" } } : {}),
          ...(c.ca ? { tls: { ca: c.ca } } : {}),
          connectionTimeout: options.timeoutMs ?? 10_000,
          greetingTimeout: options.timeoutMs ?? 10_000,
          socketTimeout: options.timeoutMs ?? 10_000,
        });
      try {
        await transport.sendMail({
          from: c.from,
          to: c.to.join(", "),
          subject: n.title,
          text: n.text,
        });
      } catch (err) {
        throw new DeliveryError(`SMTP ${c.host}:${c.port}: ${(err as Error).message}`, {
          cause: err,
        });
      } finally {
        transport.close();
      }
      return;
    }
    case "telegram":
      return await post(`${c.baseUrl.replace(/\/+$/, "")}/bot${c.token}/sendMessage`, {
        body: JSON.stringify({
          chat_id: c.chatId,
          text: `${n.title}\n\n${n.text}`.slice(0, 4096),
          disable_web_page_preview: true,
        }),
        headers: json,
        signal,
      });
    case "discord":
      return await post(c.url, {
        body: JSON.stringify({
          username: "miner-cli",
          content: `**${n.title}**\n${n.text}`.slice(0, 2000),
          allowed_mentions: { parse: [] },
        }),
        headers: json,
        signal,
      });
    case "ntfy":
      return await post(`${c.baseUrl.replace(/\/+$/, "")}/${c.topic}`, {
        body: n.text.slice(0, 4096),
        headers: {
          // ntfy reads these headers; non-ASCII titles would be mangled, so they are ASCII-only.
          title: n.title.replace(/[^\x20-\x7e]/g, "").slice(0, 250),
          priority: PRIORITY[n.severity],
          tags: n.status === "resolved"
            ? "white_check_mark"
            : n.severity === "critical"
            ? "rotating_light"
            : "warning",
          ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
        },
        signal,
      });
    case "pushover":
      return await post(`${c.baseUrl.replace(/\/+$/, "")}/1/messages.json`, {
        body: new URLSearchParams({
          token: c.token,
          user: c.user,
          title: n.title.slice(0, 250),
          message: n.text.slice(0, 1024),
          priority: n.status === "resolved" ? "0" : n.severity === "critical" ? "1" : "0",
        }),
        headers: {},
        signal,
      });
  }
}

function testAlert(n: Notification): Alert {
  const at = n.sentAt;
  return {
    id: "test",
    key: "test",
    rule: "rig_offline",
    severity: "info",
    state: "resolved",
    rigId: n.node.id,
    rig: n.node.name,
    miner: null,
    device: null,
    summary: "test alert from miner-cli (resolves at once)",
    activeAt: at,
    firedAt: at,
    resolvedAt: new Date(Date.parse(at) + 1000).toISOString(),
    notifiedAt: at,
    lastNotifiedAt: at,
    ackedAt: null,
    ackedBy: null,
    silencedBy: null,
  };
}

/** A test notification for `alerts test <channel>`. */
export function testNotification(node: { id: string; name: string }): Notification {
  return {
    status: "test",
    rule: null,
    severity: "info",
    title: `[TEST] miner-cli alerts from ${node.name}`,
    text: `This is a test message from miner-cli on ${node.name}: this channel works.`,
    alerts: [],
    node,
    sentAt: new Date().toISOString(),
  };
}
