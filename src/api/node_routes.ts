/**
 * `/node/*`, `/peers/*` and `/auth/*`: this node's identity, pairing codes, the peer registry and
 * the allowlist, as the dashboard's Nodes page and scripts use them.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { NodeNameSchema, NodeRoleSchema } from "../identity/mod.ts";
import {
  AuthModeSchema,
  type Grant,
  GrantSchema,
  type Peer,
  PeerAddressSchema,
  PeerSchema,
  TagSchema,
} from "../peers/mod.ts";
import {
  type ApproveResult,
  ApproveResultSchema,
  type AuthView,
  AuthViewSchema,
  type DiscoveryState,
  DiscoveryStateSchema,
  type PeerView,
  PeerViewSchema,
} from "../protocol/mod.ts";
import { ApiError } from "./errors.ts";
import { json, r } from "./openapi.ts";

const PingSummarySchema = z.object({
  peer: z.string(),
  id: z.string(),
  sent: z.number(),
  received: z.number(),
  rttMs: z.array(z.number()),
  avgMs: z.number().nullable(),
  minMs: z.number().nullable(),
  maxMs: z.number().nullable(),
  score: z.number().optional(),
});

/** Body of `POST /peers`. */
export const AddPeerBodySchema = z.object({
  address: PeerAddressSchema,
  name: NodeNameSchema.optional(),
  code: z.string().min(10).max(200).optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  hops: z.number().int().min(0).max(255).optional(),
}).strict().refine((b) => (b.lat === undefined) === (b.lon === undefined), {
  message: "give both lat and lon, or neither",
  path: ["lat"],
});

const RoleSchema = z.enum(["controller", "worker", "dual"]);

/** Body of `POST /peers/pending/approve` and `/reject`: IDs, or every pending node of a role. */
export const PendingSelectionSchema = z.object({
  ids: z.array(z.string().regex(/^[0-9a-f]{4,32}$/i, "a node ID or a prefix of 4+ hex chars"))
    .min(1).max(256).optional(),
  role: RoleSchema.optional(),
  /**
   * Approve: let the approved nodes control this one (start, stop, deploy). Default: on a worker
   * yes (approving is its operator letting a controller in), on controller and dual nodes no.
   */
  control: z.boolean().optional(),
}).strict().refine((b) => (b.ids === undefined) !== (b.role === undefined), {
  message: "give either ids or role",
  path: ["ids"],
});

const GrantsChangeSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  before: z.array(GrantSchema),
  grants: z.array(GrantSchema),
});

/** What the routes need from the node (implemented in the node module). */
export interface NodeOps {
  /** Registered peers with their live state. */
  peers(): PeerView[];
  /** One peer by ID, unique prefix or name (throws PeerNotFoundError / AmbiguousPeerError). */
  peer(ref: string): PeerView;
  /** Dials, handshakes and registers a peer. */
  addPeer(body: z.infer<typeof AddPeerBodySchema>): Promise<{ added: boolean; peer: Peer }>;
  /** Removes a peer from the registry (by ID, unique prefix or name). */
  removePeer(ref: string): Promise<Peer>;
  /** Pings a peer. */
  pingPeer(ref: string, count: number): Promise<z.infer<typeof PingSummarySchema>>;
  /** Auth mode and allowlist. */
  auth(): AuthView;
  /** Allows node IDs or public keys (with grants for when they register). */
  allow(
    targets: string[],
    options?: { grants?: Grant[] },
  ): Promise<{ id: string; added: boolean }[]>;
  /** Sets exactly what a registered or allowlisted node may do here. */
  setGrants(ref: string, grants: Grant[]): Promise<z.infer<typeof GrantsChangeSchema>>;
  /** Replaces a peer's tags. */
  setTags(ref: string, tags: string[]): Promise<PeerView>;
  /** Revokes a node (allowlist and registry); throws PeerNotFoundError when it is neither. */
  revoke(ref: string): Promise<{ id: string; revoked: boolean; removedFromRegistry: boolean }>;
  /** Sets the auth mode. */
  setAuthMode(mode: z.infer<typeof AuthModeSchema>): Promise<void>;
  /** Issues a one-time pairing code. */
  pairCode(
    ttlMs: number,
    forWhom: "controller" | "peer",
  ): Promise<{ code: string; nodeId: string; expiresAt: string }>;
  /** Discovery state (throws DiscoveryOffError when the node runs without `--discover`). */
  discovery(): DiscoveryState;
  /** Approves pending nodes. */
  approve(
    selection: z.infer<typeof PendingSelectionSchema>,
  ): Promise<ApproveResult[]>;
  /** Rejects pending nodes (their beacons are ignored from now on). */
  reject(selection: z.infer<typeof PendingSelectionSchema>): Promise<string[]>;
  /** Forgets rejections. */
  unreject(ids: string[]): Promise<string[]>;
}

const PeerRef = z.object({ id: z.string().min(1).max(128) });

function body<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } }, required: true };
}

/** Adds the node, peer and auth routes under `base`. */
export function registerNodeRoutes(
  app: OpenAPIHono,
  base: string,
  ctx: { ops: NodeOps; node: () => { id: string; name: string; role: string } },
): void {
  const { ops } = ctx;
  app.openapi(
    r({
      method: "post",
      path: `${base}/node/init`,
      request: {
        body: body(
          z.object({
            name: NodeNameSchema,
            role: NodeRoleSchema.optional(),
          }).strict(),
        ),
      },
      responses: {
        200: json(z.object({ id: z.string(), created: z.boolean() }).passthrough(), "Node"),
        409: json(
          z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
          "In use",
        ),
      },
    }),
    (c) => {
      const want = c.req.valid("json");
      const me = ctx.node();
      if (want.name === me.name && (want.role ?? "dual") === me.role) {
        return c.json({ ...me, created: false }, 200);
      }
      throw new ApiError(
        409,
        "already_initialized",
        `this node is already initialized as ${me.name} (${me.id}, ${me.role}); a running node cannot be re-keyed: stop it, run \`miner-cli node reset --force\`, then \`miner-cli node init\``,
      );
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/node/pair-code`,
      request: {
        body: body(
          z.object({
            ttl: z.number().int().min(1).max(86_400).optional(),
            /** controller (default): the redeemer may control this node; peer: no grant. */
            for: z.enum(["controller", "peer"]).optional(),
          }).strict(),
        ),
      },
      responses: {
        201: json(
          z.object({ code: z.string(), nodeId: z.string(), expiresAt: z.string() }),
          "A one-time pairing code (give it to the controller that adds this node)",
        ),
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      return c.json(await ops.pairCode((b.ttl ?? 600) * 1000, b.for ?? "controller"), 201);
    },
  );

  app.openapi(
    r({
      method: "get",
      path: `${base}/peers`,
      request: {
        query: z.object({
          offset: z.coerce.number().int().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(10_000).optional(),
          tag: z.string().min(1).max(32).optional(),
          q: z.string().min(1).max(100).optional(),
          online: z.enum(["true", "false"]).optional(),
          role: NodeRoleSchema.optional(),
        }),
      },
      responses: {
        200: json(
          z.object({
            peers: z.array(PeerViewSchema),
            total: z.number().int(),
            matched: z.number().int(),
          }),
          "Registered peers (filtered by `tag`, `role`, `online`, text `q`; paged by `offset`/`limit`)",
        ),
      },
    }),
    (c) => {
      const q = c.req.valid("query");
      const all = ops.peers();
      const text = q.q?.toLowerCase();
      const rows = all.filter((p) =>
        (!q.tag || p.tags.includes(q.tag)) && (!q.role || p.role === q.role) &&
        (!q.online || String(p.online === true) === q.online) &&
        (!text || p.name.toLowerCase().includes(text) || p.id.startsWith(text) ||
          (p.address ?? "").includes(text))
      );
      const offset = q.offset ?? 0;
      return c.json({
        peers: rows.slice(offset, offset + (q.limit ?? rows.length)),
        total: all.length,
        matched: rows.length,
      }, 200);
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/peers`,
      request: { body: body(AddPeerBodySchema) },
      responses: {
        200: json(z.object({ added: z.boolean(), peer: PeerSchema }), "Updated"),
        201: json(z.object({ added: z.boolean(), peer: PeerSchema }), "Added"),
        502: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "No"),
      },
    }),
    async (c) => {
      const res = await ops.addPeer(c.req.valid("json"));
      return c.json(res, res.added ? 201 : 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/peers/pending`,
      responses: {
        200: json(DiscoveryStateSchema, "Discovered nodes awaiting approval"),
        409: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "Off"),
      },
    }),
    (c) => c.json(ops.discovery(), 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/peers/pending/approve`,
      request: { body: body(PendingSelectionSchema) },
      responses: {
        200: json(
          z.object({ results: z.array(ApproveResultSchema) }),
          "Approved: registered once the handshake proved the ID, else awaiting it",
        ),
      },
    }),
    async (c) => c.json({ results: await ops.approve(c.req.valid("json")) }, 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/peers/pending/reject`,
      request: { body: body(PendingSelectionSchema) },
      responses: { 200: json(z.object({ rejected: z.array(z.string()) }), "Rejected") },
    }),
    async (c) => c.json({ rejected: await ops.reject(c.req.valid("json")) }, 200),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/peers/pending/unreject`,
      request: {
        body: body(
          z.object({
            ids: z.array(z.string().regex(/^[0-9a-f]{4,32}$/i)).min(1).max(256),
          }).strict(),
        ),
      },
      responses: { 200: json(z.object({ unrejected: z.array(z.string()) }), "Forgotten") },
    }),
    async (c) => c.json({ unrejected: await ops.unreject(c.req.valid("json").ids) }, 200),
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/peers/{id}`,
      request: { params: PeerRef },
      responses: { 200: json(PeerViewSchema, "A peer") },
    }),
    (c) => c.json(ops.peer(c.req.valid("param").id), 200),
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/peers/{id}`,
      request: { params: PeerRef },
      responses: { 200: json(z.object({ removed: z.string(), name: z.string() }), "Removed") },
    }),
    async (c) => {
      const peer = await ops.removePeer(c.req.valid("param").id);
      return c.json({ removed: peer.id, name: peer.name }, 200);
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/peers/{id}/ping`,
      request: {
        params: PeerRef,
        body: {
          content: {
            "application/json": {
              schema: z.object({ count: z.number().int().min(1).max(20).optional() }).strict(),
            },
          },
          required: false,
        },
      },
      responses: { 200: json(PingSummarySchema, "Ping summary") },
    }),
    async (c) => {
      const count = c.req.header("content-length") && c.req.header("content-length") !== "0"
        ? c.req.valid("json").count
        : undefined;
      return c.json(await ops.pingPeer(c.req.valid("param").id, count ?? 3), 200);
    },
  );

  app.openapi(
    r({
      method: "get",
      path: `${base}/auth`,
      responses: { 200: json(AuthViewSchema, "Auth mode and allowlist") },
    }),
    (c) => c.json(ops.auth(), 200),
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/auth/mode`,
      request: { body: body(z.object({ mode: AuthModeSchema }).strict()) },
      responses: { 200: json(AuthViewSchema, "New settings") },
    }),
    async (c) => {
      await ops.setAuthMode(c.req.valid("json").mode);
      return c.json(ops.auth(), 200);
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/auth/allow`,
      request: {
        body: body(
          z.object({
            targets: z.array(z.string().min(1).max(128)).min(1).max(10_000),
            /** Also let them control this node (start, stop, deploy) once they register. */
            control: z.boolean().optional(),
          }).strict(),
        ),
      },
      responses: {
        200: json(
          z.object({ results: z.array(z.object({ id: z.string(), added: z.boolean() })) }),
          "Allowed",
        ),
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      return c.json({
        results: await ops.allow(b.targets, { grants: b.control ? ["control"] : [] }),
      }, 200);
    },
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/peers/{id}/grants`,
      request: {
        params: PeerRef,
        body: body(z.object({ grants: z.array(GrantSchema).max(2) }).strict()),
      },
      responses: {
        200: json(GrantsChangeSchema, "What the node may do here now"),
      },
    }),
    async (c) =>
      c.json(
        await ops.setGrants(c.req.valid("param").id, c.req.valid("json").grants),
        200,
      ),
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/peers/{id}/tags`,
      request: {
        params: PeerRef,
        body: body(z.object({ tags: z.array(TagSchema).max(16) }).strict()),
      },
      responses: { 200: json(PeerViewSchema, "The peer with its new tags") },
    }),
    async (c) => c.json(await ops.setTags(c.req.valid("param").id, c.req.valid("json").tags), 200),
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/auth/allow/{id}`,
      request: { params: PeerRef },
      responses: {
        200: json(
          z.object({ id: z.string(), revoked: z.boolean(), removedFromRegistry: z.boolean() }),
          "Revoked",
        ),
      },
    }),
    async (c) => c.json(await ops.revoke(c.req.valid("param").id), 200),
  );
}
