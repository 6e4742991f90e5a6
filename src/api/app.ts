/**
 * The node's HTTP API (Hono + @hono/zod-openapi): every route is declared with zod schemas, which
 * validate requests at the edge and generate the OpenAPI document served at
 * `/api/v1/mining/openapi.json`.
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bearerAuth } from "hono/bearer-auth";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { NodeInfo } from "../identity/mod.ts";
import {
  adapterFor,
  type HistoryStore,
  installedMiners,
  maskProfile,
  MinerManager,
  ProfileInputSchema,
  ProfileSchema,
  ProfileValidationError,
} from "../miners/mod.ts";
import {
  AuditRecordSchema,
  type AuditRecordView,
  type AuditScope,
  AuditScopeSchema,
  MinerStatsSchema,
  SOFTWARE_VERSION,
} from "../protocol/mod.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { json, r } from "./openapi.ts";
import type { EventHub } from "../events/mod.ts";
import { type MetricsSnapshot, renderMetrics } from "./metrics.ts";
import { type NodeOps, registerNodeRoutes } from "./node_routes.ts";
import { SseQueue } from "./sse.ts";
import type { Dashboard } from "../ui/mod.ts";
import { isBundleUpload, registerRemoteRoutes, type RemoteRoutesContext } from "./remote_routes.ts";
import { type HealthRoutesContext, registerHealthRoutes } from "./health_routes.ts";
import { registerStratumRoutes, type StratumRoutesContext } from "./stratum_routes.ts";
import { type AssignmentOps, registerAssignmentRoutes } from "./assignment_routes.ts";
import { sameSecret, SESSION_COOKIE, SessionStore } from "./sessions.ts";

/** API mount point. */
export const API_BASE = "/api/v1/mining";

/** What the API serves. */
export interface ApiContext {
  /** This node's public identity. */
  node: () => NodeInfo;
  /**
   * Host names (besides IP addresses and `localhost`) requests may name in their `Host` header
   * (`--api-host`); any other is refused with 421, so a DNS-rebinding page gets nothing.
   */
  allowedHosts?: readonly string[];
  /** Miner manager (null on controller-only nodes). */
  miners: MinerManager | null;
  /** Hashrate history (null when disabled). */
  history: HistoryStore | null;
  /** Bearer token. */
  token: string;
  /** When the node started. */
  startedAt: Date;
  /** Fleet operations and their dependencies (`/remote/*` routes), when this node controls. */
  remote?: Omit<RemoteRoutesContext, "onShutdown">;
  /** Health and alerts (`/health`, `/alerts/*`). */
  health?: HealthRoutesContext;
  /** Farm stratum (`/stratum/*`). */
  stratum?: StratumRoutesContext;
  /** Profiles assigned to tags (`/assignments`). */
  assignments?: AssignmentOps;
  /**
   * This node's audit log: `GET /audit` reads it, and every change made through the API (by the
   * dashboard, a script or the CLI) is recorded in it with its source.
   */
  audit?: {
    tail(options: { limit?: number; scope?: AuditScope }): Promise<AuditRecordView[]>;
    record(r: Omit<AuditRecordView, "ts">): Promise<void>;
  };
  /** Peer registry, allowlist and pairing (`/peers/*`, `/auth/*`, `/node/*`). */
  nodeOps?: NodeOps;
  /** Live events (`/events`). */
  events?: EventHub;
  /** The state a fresh `/events` client starts from. */
  snapshot?: () => Promise<unknown>;
  /** What `/metrics` exposes. */
  metrics?: () => MetricsSnapshot;
  /** The web dashboard's files (served at `/`). */
  dashboard?: Dashboard;
  /**
   * Runs before every authenticated API request: brings state another process changed up to
   * date (the CLI edits `peers.json` and `auth.json` while the node runs).
   */
  beforeRequest?: () => Promise<void>;
}

const MinerName = z.object({ name: z.string().min(1).max(64) });
/** A start's or stop's answer: the miner, and whether it already was in that state. */
const MinerOutcomeSchema = MinerStatsSchema.extend({ already: z.boolean() });
const ProfileRef = z.object({ ref: z.string().min(1).max(64) });
const LogsQuery = z.object({
  lines: z.coerce.number().int().min(1).max(100_000).optional(),
  since: z.coerce.number().int().min(0).optional(),
});
const LogLineSchema = z.object({
  seq: z.number(),
  ts: z.string(),
  text: z.string(),
  stream: z.string(),
});
const LogsSchema = z.object({
  minerName: z.string(),
  lines: z.array(LogLineSchema),
  hasMore: z.boolean(),
  lastSeq: z.number(),
});
const HistoryQuery = z.object({
  miner: z.string().min(1).max(200).optional(),
  from: z.coerce.number().int().min(0),
  to: z.coerce.number().int().min(0),
  resolution: z.enum(["raw", "1m", "1h", "auto"]).optional(),
  /** Fleet series (no `miner`) of one algorithm. */
  algorithm: z.string().min(1).max(64).optional(),
});
const PointSchema = z.object({
  ts: z.number(),
  hashrate: z.number(),
  min: z.number(),
  max: z.number(),
  accepted: z.number(),
  rejected: z.number(),
});
const HistorySchema = z.object({
  miner: z.string().nullable(),
  /** The algorithm of a fleet series (null for a miner's). */
  algorithm: z.string().nullable(),
  resolution: z.string(),
  /** One miner's series, or the fleet's of `algorithm` (empty for a fleet query without one). */
  points: z.array(PointSchema),
  /** A fleet query without `algorithm`: one series per algorithm, never one summed figure. */
  series: z.array(z.object({ algorithm: z.string(), points: z.array(PointSchema) })).optional(),
});

/** The API application plus a hook that ends long-lived streams (call before shutting down). */
export interface ApiApp {
  /** The Hono application. */
  app: OpenAPIHono;
  /** Ends every open event stream so the server can shut down. */
  closeStreams(): void;
}

/**
 * Whether a `Host` header names this node: an IP literal (v4, or v6 in brackets), `localhost`,
 * or one of `allowed` (lower case), with any port.
 */
export function hostAllowed(host: string, allowed: ReadonlySet<string>): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (name.startsWith("[")) return true;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(name)) return true;
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  return bare === "localhost" || allowed.has(bare);
}

/** Builds the API application. */
export function createApiApp(ctx: ApiContext): ApiApp {
  const shutdownHooks = new Set<() => void>();
  const onShutdown = (fn: () => void) => {
    shutdownHooks.add(fn);
    return () => shutdownHooks.delete(fn);
  };
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const msg = result.error.issues.slice(0, 5).map((i) =>
          `${i.path.join(".") || "body"}: ${i.message}`
        ).join("; ");
        return c.json({ error: { code: "bad_request", message: msg } }, 400);
      }
    },
  });
  app.onError((err, c) => {
    if ((err as { status?: number }).status === 401) {
      return c.json({
        error: {
          code: "unauthorized",
          message: "missing or wrong bearer token (see `miner-cli node info --token`)",
        },
      }, 401);
    }
    // Hono's HTTPException (the validator's 415 for a non-JSON body...), matched by shape: the
    // validator package may load its own copy of the class.
    const http = err as Partial<HTTPException>;
    if (
      typeof http.status === "number" && typeof http.getResponse === "function" &&
      http.status >= 400 && http.status < 500
    ) {
      const code = http.status === 415 ? "unsupported_media_type" : "bad_request";
      return c.json(
        { error: { code, message: (err as Error).message || "bad request" } },
        http.status,
      );
    }
    if (err instanceof SyntaxError) {
      return c.json({
        error: { code: "bad_request", message: `malformed JSON body: ${err.message}` },
      }, 400);
    }
    return errorResponse(c, err);
  });
  app.notFound((c) =>
    c.json({
      error: {
        code: "not_found",
        message: `no route ${c.req.method} ${new URL(c.req.url).pathname}`,
      },
    }, 404)
  );
  // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends
  // `Host: evil.example`. Only IP literals, localhost and the configured names are this node's.
  const allowedHosts = new Set((ctx.allowedHosts ?? []).map((h) => h.toLowerCase()));
  app.use("*", async (c, next) => {
    // (HTTP/1.1 requires Host; without one, the URL's host, which Deno builds from it)
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!hostAllowed(host, allowedHosts)) {
      return c.json({
        error: {
          code: "misdirected_request",
          message: `Host ${
            JSON.stringify(host.slice(0, 100))
          } is not this node's: use its IP address or localhost, or start it with --api-host NAME`,
        },
      }, 421);
    }
    await next();
  });
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        connectSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    }),
  );
  // CORS: only the node's own origin. Browsers send Origin on cross-origin requests; anything
  // but this server's own origin is refused before it reaches a route.
  app.use("*", async (c, next) => {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) {
      return c.json({
        error: { code: "forbidden_origin", message: `cross-origin request from ${origin} refused` },
      }, 403);
    }
    await next();
  });
  const smallBodies = bodyLimit({
    maxSize: 1024 * 1024,
    onError: (c) =>
      c.json({ error: { code: "payload_too_large", message: "request body over 1 MiB" } }, 413),
  });
  // Bundle uploads stream to disk and are counted there (hono's bodyLimit would hold a chunked
  // upload in memory to measure it); every other body is at most 1 MiB.
  app.use(
    "*",
    (c, next) =>
      isBundleUpload(c.req.path, c.req.header("content-type")) ? next() : smallBodies(
        c,
        next,
      ),
  );
  app.get(
    "/health",
    (c) =>
      c.json({
        status: "ok",
        id: ctx.node().id,
        version: SOFTWARE_VERSION,
        uptime: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      }),
  );
  const bearer = bearerAuth({ token: ctx.token });
  // A request is authenticated by the bearer token (scripts, the CLI) or by a dashboard session
  // cookie (HttpOnly, SameSite=Strict: other sites' pages cannot send it, scripts cannot read it).
  const sessions = new SessionStore();
  const sessionOf = new WeakMap<Request, string>();
  const auth = async (c: Parameters<typeof bearer>[0], next: () => Promise<void>) => {
    const sid = getCookie(c, SESSION_COOKIE);
    if (!c.req.header("authorization") && sid && sessions.valid(sid)) {
      sessionOf.set(c.req.raw, sid);
      return await next();
    }
    return await bearer(c, next);
  };
  const secureCookie = (c: { req: { url: string } }) => new URL(c.req.url).protocol === "https:";
  app.post(`${API_BASE}/session`, async (c) => {
    let token: unknown;
    try {
      token = (await c.req.json())?.token;
    } catch {
      token = undefined;
    }
    if (typeof token !== "string" || !sameSecret(token, ctx.token)) {
      return c.json({
        error: {
          code: "unauthorized",
          message: "wrong token (see `miner-cli node info --token`)",
        },
      }, 401);
    }
    const s = sessions.create();
    setCookie(c, SESSION_COOKIE, s.id, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: secureCookie(c),
      maxAge: Math.floor(sessions.maxAgeMs / 1000),
    });
    return c.json({ expiresAt: new Date(s.expiresAt).toISOString() }, 201);
  });
  app.get(`${API_BASE}/session`, (c) => {
    const sid = getCookie(c, SESSION_COOKIE);
    if (sid && sessions.valid(sid)) return c.json({ signedIn: true }, 200);
    return c.json({ error: { code: "unauthorized", message: "not signed in" } }, 401);
  });
  app.delete(`${API_BASE}/session`, (c) => {
    const sid = getCookie(c, SESSION_COOKIE);
    const ended = sid ? sessions.end(sid) : false;
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secureCookie(c) });
    return c.json({ ended }, 200);
  });
  app.use(`${API_BASE}/*`, async (c, next) => {
    if (c.req.path === `${API_BASE}/openapi.json`) return await next();
    return await auth(c, async () => {
      await ctx.beforeRequest?.();
      await next();
    });
  });
  // The operator's own changes, recorded with who made them (dashboard, script, CLI).
  if (ctx.audit) {
    const audit = ctx.audit;
    const PICK = [
      "profileId",
      "profile",
      "minerName",
      "minerType",
      "name",
      "rule",
      "rig",
      "ref",
      "seconds",
      "scope",
      "grants",
      "tags",
      "mode",
      "url",
      "difficulty",
      "position",
    ];
    app.use(`${API_BASE}/*`, async (c, next) => {
      const method = c.req.method;
      if (
        method === "GET" || method === "HEAD" || method === "OPTIONS" ||
        c.req.path === `${API_BASE}/session`
      ) {
        return await next();
      }
      const params: Record<string, unknown> = { path: c.req.path.slice(API_BASE.length) };
      if ((c.req.header("content-type") ?? "").startsWith("application/json")) {
        try {
          const body = await c.req.raw.clone().json();
          for (const k of PICK) {
            if (body && typeof body === "object" && k in body) params[k] = body[k];
          }
        } catch { /* the handler reports a bad body */ }
      } else if (isBundleUpload(c.req.path, c.req.header("content-type"))) params.upload = "bundle";
      await next();
      const status = c.res.status;
      let reason: string | undefined;
      if (status >= 400) {
        try {
          reason = String((await c.res.clone().json())?.error?.message ?? "").slice(0, 500) ||
            undefined;
        } catch { /* not JSON */ }
      }
      const source = sessionOf.has(c.req.raw)
        ? "ui"
        : c.req.header("x-miner-cli-source") === "cli"
        ? "cli"
        : "api";
      const route = (c.req.routePath || c.req.path).replace(API_BASE, "").replace(
        /:(\w+)/g,
        "{$1}",
      );
      audit.record({
        peer: ctx.node().id,
        peerName: "operator",
        role: null,
        action: `${method} ${route}`,
        params,
        outcome: status < 400 ? "ok" : status === 401 || status === 403 ? "refused" : "failed",
        ...(reason ? { reason } : {}),
        source,
      }).catch(() => {});
    });
  }
  if (ctx.metrics) {
    const metrics = ctx.metrics;
    app.get("/metrics", auth, (c) =>
      c.text(renderMetrics(metrics()), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }));
  }

  const miners = (): MinerManager => {
    if (!ctx.miners) {
      throw new ApiError(404, "not_found", "this node is a controller: it runs no miners");
    }
    return ctx.miners;
  };

  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/node/info`,
      responses: { 200: json(z.object({ id: z.string() }).passthrough(), "This node") },
    }),
    (c) =>
      c.json({
        ...ctx.node(),
        version: SOFTWARE_VERSION,
        uptime: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
        runsMiners: ctx.miners !== null,
      }, 200),
  );

  // ---- local miners
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/miners`,
      responses: { 200: json(z.object({ miners: z.array(MinerStatsSchema) }), "Local miners") },
    }),
    (c) => c.json({ miners: ctx.miners?.list() ?? [] }, 200),
  );

  app.openapi(
    r({
      method: "post",
      path: `${API_BASE}/miners`,
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.object({ profile: z.string().min(1).max(64) }).strict(),
            },
          },
          required: true,
        },
      },
      responses: {
        201: json(MinerOutcomeSchema, "Started"),
        200: json(MinerOutcomeSchema, "Already running (nothing was started)"),
      },
    }),
    async (c) => {
      const { profile } = c.req.valid("json");
      const { miner, already } = await miners().start(profile);
      return already
        ? c.json({ ...miner.stats(), already: true }, 200)
        : c.json({ ...miner.stats(), already: false }, 201);
    },
  );

  // Before /miners/{name}, or "installed" would be taken for a miner name.
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/miners/installed`,
      responses: {
        200: json(
          z.object({
            miners: z.array(
              z.object({
                type: z.string(),
                path: z.string(),
                source: z.string(),
                version: z.string().nullable(),
              }),
            ),
          }),
          "Installed miner binaries",
        ),
      },
    }),
    async (c) =>
      c.json(
        { miners: ctx.miners ? await installedMiners(ctx.miners.paths, adapterFor) : [] },
        200,
      ),
  );

  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/miners/{name}`,
      request: { params: MinerName },
      responses: { 200: json(MinerStatsSchema, "Miner stats") },
    }),
    (c) => c.json(miners().get(c.req.valid("param").name).stats(), 200),
  );

  app.openapi(
    r({
      method: "post",
      path: `${API_BASE}/miners/{name}/stop`,
      request: { params: MinerName },
      responses: { 200: json(MinerOutcomeSchema, "Stopped, or already stopped") },
    }),
    async (c) => {
      const { stats, already } = await miners().stop(c.req.valid("param").name);
      return c.json({ ...stats, already }, 200);
    },
  );

  for (const action of ["pause", "resume"] as const) {
    app.openapi(
      r({
        method: "post",
        path: `${API_BASE}/miners/{name}/${action}`,
        request: { params: MinerName },
        responses: { 200: json(MinerStatsSchema, `${action}d`) },
      }),
      async (c) => {
        const m = miners().get(c.req.valid("param").name);
        try {
          await m[action]();
        } catch (err) {
          throw new ApiError(409, "operation_failed", (err as Error).message);
        }
        return c.json(m.stats(), 200);
      },
    );
  }

  app.openapi(
    r({
      method: "post",
      path: `${API_BASE}/miners/{name}/stdin`,
      request: {
        params: MinerName,
        body: {
          content: {
            "application/json": { schema: z.object({ text: z.string().min(1).max(256) }).strict() },
          },
          required: true,
        },
      },
      responses: { 200: json(z.object({ written: z.number() }), "Written") },
    }),
    async (c) => {
      const { text } = c.req.valid("json");
      const m = miners().get(c.req.valid("param").name);
      try {
        await m.writeStdin(text);
      } catch (err) {
        throw new ApiError(409, "operation_failed", (err as Error).message);
      }
      return c.json({ written: text.length }, 200);
    },
  );

  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/miners/{name}/logs`,
      request: { params: MinerName, query: LogsQuery },
      responses: { 200: json(LogsSchema, "Console lines") },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const res = miners().logs(name, c.req.valid("query"));
      return c.json({ minerName: name, ...res }, 200);
    },
  );

  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/miners/{name}/logs/follow`,
      request: { params: MinerName, query: LogsQuery },
      responses: { 200: { description: "Server-Sent Events: one `line` event per console line" } },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const q = c.req.valid("query");
      const m = miners().get(name);
      return streamSSE(c, async (stream) => {
        const queue = new SseQueue(10_000);
        const line = (l: { seq: number }) => ({
          event: "line",
          id: String(l.seq),
          data: JSON.stringify(l),
        });
        // Backlog and subscription in one synchronous step, so no line falls between them.
        const backlog = m.logs.read(q);
        const last = backlog.lines.at(-1)?.seq ?? 0;
        const unsub = m.logs.subscribe((l) => {
          if (l.seq > last) queue.push(line(l));
        });
        const unclose = m.logs.onClose(() => queue.close());
        const unshut = onShutdown(() => queue.close());
        try {
          for (const l of backlog.lines) await stream.writeSSE(line(l));
          await queue.drain(stream);
          if (m.logs.closed) {
            await stream.writeSSE({
              event: "end",
              data: JSON.stringify({ reason: "miner stopped" }),
            });
          }
        } finally {
          unsub();
          unclose();
          unshut();
        }
      });
    },
  );

  // ---- profiles
  // A controller runs no miners but keeps profiles (it starts and deploys them on workers).
  const store = () => {
    const profiles = ctx.miners?.profiles ?? ctx.remote?.profiles;
    if (!profiles) throw new ApiError(404, "not_found", "this node keeps no profiles");
    return profiles;
  };
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/profiles`,
      responses: { 200: json(z.object({ profiles: z.array(ProfileSchema) }), "Profiles") },
    }),
    async (c) => c.json({ profiles: (await store().list()).map(maskProfile) }, 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${API_BASE}/profiles`,
      request: {
        body: { content: { "application/json": { schema: ProfileInputSchema } }, required: true },
      },
      responses: { 201: json(ProfileSchema, "Created") },
    }),
    async (c) => c.json(maskProfile(await store().add(c.req.valid("json"))), 201),
  );
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/profiles/{ref}`,
      request: { params: ProfileRef },
      responses: { 200: json(ProfileSchema, "Profile") },
    }),
    async (c) => c.json(maskProfile(await store().get(c.req.valid("param").ref)), 200),
  );
  app.openapi(
    r({
      method: "put",
      path: `${API_BASE}/profiles/{ref}`,
      request: {
        params: ProfileRef,
        body: {
          content: { "application/json": { schema: ProfileInputSchema.partial() } },
          required: true,
        },
      },
      responses: { 200: json(ProfileSchema, "Updated") },
    }),
    async (c) =>
      c.json(
        maskProfile(await store().update(c.req.valid("param").ref, c.req.valid("json"))),
        200,
      ),
  );
  app.openapi(
    r({
      method: "delete",
      path: `${API_BASE}/profiles/{ref}`,
      request: { params: ProfileRef },
      responses: { 200: json(ProfileSchema, "Removed") },
    }),
    async (c) => {
      const ref = c.req.valid("param").ref;
      const p = await store().get(ref);
      if (ctx.miners?.list().some((m) => m.profileId === p.id)) {
        throw new ProfileValidationError([{
          path: "",
          message: `profile ${p.name} is in use by a running miner; stop it first`,
        }]);
      }
      return c.json(maskProfile(await store().remove(ref)), 200);
    },
  );

  // ---- history
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/history/miners`,
      responses: {
        200: json(
          z.object({ miners: z.array(z.string()), algorithms: z.array(z.string()) }),
          "Series with data (local miners by name, remote ones as `node/miner`; fleet series per algorithm)",
        ),
      },
    }),
    (c) => {
      if (!ctx.history) throw new ApiError(404, "not_found", "history is disabled on this node");
      return c.json({ miners: ctx.history.miners(), algorithms: ctx.history.algorithms() }, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/history/devices`,
      request: {
        query: z.object({
          miner: z.string().min(1).max(200),
          from: z.coerce.number().int().min(0),
          to: z.coerce.number().int().min(0),
        }),
      },
      responses: {
        200: json(
          z.object({
            miner: z.string(),
            devices: z.array(z.object({
              device: z.number(),
              points: z.array(z.object({
                ts: z.number(),
                temp: z.number().nullable(),
                fan: z.number().nullable(),
                power: z.number().nullable(),
              })),
            })),
          }),
          "A miner's device temperatures, fans (percent, or RPM where that is all it reports) and power over a range (raw retention)",
        ),
      },
    }),
    (c) => {
      const q = c.req.valid("query");
      if (!ctx.history) throw new ApiError(404, "not_found", "history is disabled on this node");
      if (q.to < q.from) throw new ApiError(400, "bad_request", "`to` is before `from`");
      return c.json({ miner: q.miner, devices: ctx.history.devices(q.miner, q) }, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${API_BASE}/history`,
      request: { query: HistoryQuery },
      responses: { 200: json(HistorySchema, "Hashrate series") },
    }),
    (c) => {
      const q = c.req.valid("query");
      if (!ctx.history) throw new ApiError(404, "not_found", "history is disabled on this node");
      if (q.to < q.from) throw new ApiError(400, "bad_request", "`to` is before `from`");
      const range = { from: q.from, to: q.to, resolution: q.resolution };
      if (q.miner || q.algorithm) {
        const res = ctx.history.query(q.miner ?? null, {
          ...range,
          ...(q.miner ? {} : { algorithm: q.algorithm }),
        });
        return c.json(
          { miner: q.miner ?? null, algorithm: q.miner ? null : q.algorithm!, ...res },
          200,
        );
      }
      const fleet = ctx.history.fleetSeries(range);
      return c.json(
        {
          miner: null,
          algorithm: null,
          resolution: fleet.resolution,
          points: [],
          series: fleet.series,
        },
        200,
      );
    },
  );

  if (ctx.audit) {
    const audit = ctx.audit;
    app.openapi(
      r({
        method: "get",
        path: `${API_BASE}/audit`,
        request: {
          query: z.object({
            scope: AuditScopeSchema.optional(),
            limit: z.coerce.number().int().min(1).max(1000).optional(),
          }),
        },
        responses: {
          200: json(
            z.object({ records: z.array(AuditRecordSchema) }),
            "This node's audit records, newest first: commands and operator actions (`scope=commands`, default), online/offline (`presence`) or `all`",
          ),
        },
      }),
      async (c) => {
        const q = c.req.valid("query");
        return c.json({ records: await audit.tail({ scope: q.scope, limit: q.limit }) }, 200);
      },
    );
  }
  if (ctx.remote) registerRemoteRoutes(app, API_BASE, { ...ctx.remote, onShutdown });
  if (ctx.health) registerHealthRoutes(app, API_BASE, ctx.health);
  if (ctx.stratum) registerStratumRoutes(app, API_BASE, ctx.stratum);
  if (ctx.assignments) registerAssignmentRoutes(app, API_BASE, ctx.assignments);
  if (ctx.nodeOps) registerNodeRoutes(app, API_BASE, { ops: ctx.nodeOps, node: ctx.node });

  // ---- live events
  if (ctx.events) {
    const hub = ctx.events;
    const snapshot = ctx.snapshot ?? (() => Promise.resolve({}));
    app.openapi(
      r({
        method: "get",
        path: `${API_BASE}/events`,
        responses: {
          200: {
            description:
              "Server-Sent Events: `snapshot` first, then `miner`, `stats`, `fleet`, `peer`, `peers` and `deploy` events (data: JSON)",
          },
        },
      }),
      (c) =>
        streamSSE(c, async (stream) => {
          const queue = new SseQueue(5_000);
          let seq = 0;
          // Subscribe before taking the snapshot, so nothing that happens meanwhile is lost.
          const unsub = hub.subscribe((e) =>
            queue.push({ event: e.type, data: JSON.stringify(e), id: String(++seq) })
          );
          const unshut = onShutdown(() => queue.close());
          // Signed in by a session: the stream ends with it (logout in another tab).
          const sid = sessionOf.get(c.req.raw);
          const unsession = sid ? sessions.onEnd(sid, () => queue.close()) : () => {};
          try {
            await stream.writeSSE({ event: "snapshot", data: JSON.stringify(await snapshot()) });
            await queue.drain(stream);
          } finally {
            unsub();
            unshut();
            unsession();
          }
        }),
    );
  }

  app.doc(`${API_BASE}/openapi.json`, {
    openapi: "3.0.0",
    info: { title: "miner-cli node API", version: SOFTWARE_VERSION },
  });
  if (ctx.dashboard) ctx.dashboard.mount(app);
  return {
    app,
    closeStreams: () => {
      for (const fn of [...shutdownHooks]) fn();
    },
  };
}
