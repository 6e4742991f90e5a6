/**
 * `/health` and `/alerts/*`: the fleet's health (states, reasons, per-algorithm totals,
 * devices), its thresholds, and the alerts: list, history, acknowledge, silences, rules and
 * channels (secrets are accepted, stored 0600 and never returned).
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { type AlertsAdmin, RuleOverrideSchema } from "../alerts/mod.ts";
import {
  AlertRuleSchema,
  AlertSchema,
  AlertsViewSchema,
  ChannelViewSchema,
  type FleetHealth,
  FleetHealthSchema,
  HealthConfigSchema,
  ReasonCodeSchema,
  SilenceSchema,
  ThresholdOverrideSchema,
  ThresholdsSchema,
} from "../protocol/mod.ts";
import { resolveThresholds } from "../health/mod.ts";
import { json, r } from "./openapi.ts";

/** Dependencies of {@link registerHealthRoutes}. */
export interface HealthRoutesContext {
  /** The last health evaluation. */
  health: () => Promise<FleetHealth>;
  /** Alert administration (with the running engine). */
  admin: AlertsAdmin;
  /** This node (the sender of test messages). */
  node: () => { id: string; name: string };
}

const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/** Adds the health and alert routes under `base`. */
export function registerHealthRoutes(
  app: OpenAPIHono,
  base: string,
  ctx: HealthRoutesContext,
): void {
  const admin = ctx.admin;
  app.openapi(
    r({
      method: "get",
      path: `${base}/health`,
      responses: {
        200: json(
          FleetHealthSchema,
          "State and reasons of every rig, miner and device (needing attention first), per-algorithm totals",
        ),
      },
    }),
    async (c) => c.json(await ctx.health(), 200),
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/health/thresholds`,
      responses: {
        200: json(
          z.object({ config: HealthConfigSchema, effective: ThresholdsSchema }),
          "Stored overrides and the effective fleet defaults",
        ),
      },
    }),
    async (c) => {
      const config = await admin.health.load();
      return c.json({ config, effective: resolveThresholds(config) }, 200);
    },
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/health/thresholds`,
      request: body(
        z.object({
          scope: z.enum(["defaults", "rig", "profile"]),
          /** Rig or profile (name or ID) for those scopes. */
          ref: z.string().min(1).max(64).optional(),
          set: ThresholdOverrideSchema.optional(),
          unset: z.array(z.string().max(64)).max(64).optional(),
        }).strict(),
      ),
      responses: { 200: json(HealthConfigSchema, "The thresholds after the change") },
    }),
    async (c) => {
      const b = c.req.valid("json");
      if (b.scope !== "defaults" && !b.ref) {
        return c.json(
          { error: { code: "bad_request", message: `scope ${b.scope} needs ref` } },
          400,
        ) as never;
      }
      const scope = b.scope === "defaults"
        ? { kind: "defaults" as const }
        : { kind: b.scope, ref: b.ref! };
      return c.json(await admin.health.update(scope, { set: b.set, unset: b.unset }), 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/alerts`,
      responses: { 200: json(AlertsViewSchema, "Firing, pending, recently resolved; silences") },
    }),
    async (c) => c.json(await admin.view(), 200),
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/alerts/history`,
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }) },
      responses: {
        200: json(z.object({ alerts: z.array(AlertSchema) }), "Resolved, newest first"),
      },
    }),
    async (c) => c.json({ alerts: await admin.history(c.req.valid("query").limit ?? 100) }, 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/alerts/ack`,
      request: body(
        z.object({
          /** Alert ID (or 4+ character prefix), rig name or ID, or `all`. */
          ref: z.string().min(1).max(64),
          reason: z.string().max(500).optional(),
        }).strict(),
      ),
      responses: {
        200: json(
          z.object({
            acked: z.array(z.object({ id: z.string(), key: z.string(), at: z.string() })),
          }),
          "Acknowledged: no repeats until they resolve",
        ),
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const acked = await admin.ack(b.ref, { by: "api", reason: b.reason });
      return c.json({ acked: acked.map((a) => ({ id: a.id, key: a.key, at: a.at })) }, 200);
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/alerts/silences`,
      request: body(
        z.object({
          rule: ReasonCodeSchema.optional(),
          rig: z.string().min(1).max(64).optional(),
          /** Duration in seconds (60 s to 90 days). */
          seconds: z.number().int().min(60).max(90 * 86_400),
          reason: z.string().min(1).max(500),
        }).strict(),
      ),
      responses: { 201: json(SilenceSchema, "The silence") },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const s = await admin.silence({ rule: b.rule, rig: b.rig }, {
        forMs: b.seconds * 1000,
        reason: b.reason,
        by: "api",
      });
      return c.json(s, 201);
    },
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/alerts/silences/{id}`,
      request: { params: z.object({ id: z.string().min(1).max(16) }) },
      responses: { 200: json(SilenceSchema, "The silence, ended now") },
    }),
    async (c) => c.json(await admin.unsilence(c.req.valid("param").id), 200),
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/alerts/rules`,
      responses: { 200: json(z.object({ rules: z.array(AlertRuleSchema) }), "The rules") },
    }),
    async (c) => c.json({ rules: await admin.rules() }, 200),
  );
  app.openapi(
    r({
      method: "patch",
      path: `${base}/alerts/rules/{id}`,
      request: {
        params: z.object({ id: z.string().min(1).max(64) }),
        ...body(RuleOverrideSchema.extend({ threshold: z.number().optional() }).strict()),
      },
      responses: { 200: json(AlertRuleSchema, "The rule after the change") },
    }),
    async (c) => c.json(await admin.setRule(c.req.valid("param").id, c.req.valid("json")), 200),
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/alerts/channels`,
      responses: {
        200: json(
          z.object({ channels: z.array(ChannelViewSchema) }),
          "Channels (secrets masked) with their last delivery",
        ),
      },
    }),
    async (c) => c.json({ channels: await admin.channels() }, 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/alerts/channels`,
      request: body(z.object({ channel: z.unknown(), replace: z.boolean().optional() }).strict()),
      responses: { 201: json(ChannelViewSchema, "The channel (secrets masked)") },
    }),
    async (c) => {
      const b = c.req.valid("json");
      return c.json(await admin.addChannel(b.channel, { replace: b.replace }), 201);
    },
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/alerts/channels/{name}`,
      request: { params: z.object({ name: z.string().min(1).max(32) }) },
      responses: { 200: json(z.object({ removed: z.string() }), "Removed") },
    }),
    async (c) => {
      const name = c.req.valid("param").name;
      await admin.removeChannel(name);
      return c.json({ removed: name }, 200);
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/alerts/channels/{name}/test`,
      request: { params: z.object({ name: z.string().min(1).max(32) }) },
      responses: {
        200: json(
          z.object({ ok: z.boolean(), error: z.string().nullable(), ms: z.number() }),
          "What the test message met",
        ),
      },
    }),
    async (c) => c.json(await admin.testChannel(c.req.valid("param").name, ctx.node()), 200),
  );
}
