/**
 * `/stratum/*`: the farm's proxy (status with upstreams and per-miner accounting, the share log,
 * the pool set in failover order and the miners' difficulty) and, on a rig, its miners' endpoint.
 * Pool passwords are accepted, stored 0600 and never returned.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { MinerCliError } from "../errors/mod.ts";
import {
  PoolSetViewSchema,
  type ShareRecord,
  ShareRecordSchema,
  type StratumStatus,
  StratumStatusSchema,
} from "../protocol/mod.ts";
import { poolSetView, type StratumConfigStore } from "../stratum/mod.ts";
import { json, r } from "./openapi.ts";

/** Dependencies of {@link registerStratumRoutes}. */
export interface StratumRoutesContext {
  /** The proxy's status (null: this node runs no proxy). */
  status(): StratumStatus | null;
  /** The share log. */
  shares(options: { rig?: string; limit?: number }): ShareRecord[];
  /** The pool set (null: this node runs no proxy). */
  store: StratumConfigStore | null;
  /** Applies a changed pool set now. */
  reload(): Promise<void>;
  /** The miners' endpoint on this node (null: none). */
  rig(): { url: string; miners: { key: string; login: string; upstream: string | null }[] } | null;
}

class NoProxyError extends MinerCliError {
  constructor() {
    super(
      "this node runs no stratum proxy: it is a worker (the farm's proxy runs on its controller; see /stratum/rig here)",
      { status: 409, code: "no_proxy" },
    );
  }
}

const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** Adds the stratum routes under `base`. */
export function registerStratumRoutes(
  app: OpenAPIHono,
  base: string,
  ctx: StratumRoutesContext,
): void {
  const store = () => {
    if (!ctx.store) throw new NoProxyError();
    return ctx.store;
  };
  app.openapi(
    r({
      method: "get",
      path: `${base}/stratum/status`,
      responses: {
        200: json(
          StratumStatusSchema,
          "Upstreams (state, latency, accepted/rejected), miners with their ranges and shares, totals",
        ),
      },
    }),
    (c) => {
      const s = ctx.status();
      if (!s) throw new NoProxyError();
      return c.json(s, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/stratum/shares`,
      request: {
        query: z.object({
          rig: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(10_000).optional(),
        }),
      },
      responses: {
        200: json(z.object({ shares: z.array(ShareRecordSchema) }), "The share log, oldest first"),
      },
    }),
    (c) => {
      if (!ctx.status()) throw new NoProxyError();
      const q = c.req.valid("query");
      return c.json({ shares: ctx.shares({ rig: q.rig, limit: q.limit ?? 1000 }) }, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/stratum/upstreams`,
      responses: {
        200: json(PoolSetViewSchema, "The pool set in failover order (passwords never returned)"),
      },
    }),
    async (c) => c.json(poolSetView(await store().load()), 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/stratum/upstreams`,
      request: body(
        z.object({
          url: z.string().min(1).max(300),
          user: z.string().min(1).max(256),
          pass: z.string().max(256).optional(),
          /** 0-based place in the failover order (default: last). */
          position: z.number().int().min(0).max(15).optional(),
        }).strict(),
      ),
      responses: { 200: json(PoolSetViewSchema, "The pool set after the change") },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const after = await store().addUpstream({ url: b.url, user: b.user, pass: b.pass }, {
        position: b.position,
      });
      await ctx.reload();
      return c.json(poolSetView(after), 200);
    },
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/stratum/upstreams/{ref}`,
      request: { params: z.object({ ref: z.string().min(1).max(300) }) },
      responses: { 200: json(PoolSetViewSchema, "The pool set after the change") },
    }),
    async (c) => {
      const after = await store().removeUpstream(c.req.valid("param").ref);
      await ctx.reload();
      return c.json(poolSetView(after), 200);
    },
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/stratum/settings`,
      request: body(
        z.object({
          /** The difficulty miners are given (capped at the upstream's). */
          difficulty: z.number().int().min(1).max(1e12).optional(),
          /** Nonce ranges per blob before a daemon upstream's next extra nonce. */
          ranges: z.number().int().min(1).max(256).optional(),
        }).strict(),
      ),
      responses: { 200: json(PoolSetViewSchema, "The pool set after the change") },
    }),
    async (c) => {
      const after = await store().setSettings(c.req.valid("json"));
      await ctx.reload();
      return c.json(poolSetView(after), 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/stratum/rig`,
      responses: {
        200: json(
          z.object({
            url: z.string().nullable(),
            miners: z.array(
              z.object({ key: z.string(), login: z.string(), upstream: z.string().nullable() }),
            ),
          }),
          "This node's miners' endpoint and where each connected miner takes its work",
        ),
      },
    }),
    (c) => {
      const rig = ctx.rig();
      return c.json({ url: rig?.url ?? null, miners: rig?.miners ?? [] }, 200);
    },
  );
}
