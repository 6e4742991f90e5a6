/**
 * `/remote/*`: the controller's fleet operations over the daemon's mesh (which also reaches
 * workers connected in with `--connect`). `remote` CLI commands use these when a daemon runs.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { stream, streamSSE } from "hono/streaming";
import { z } from "zod";
import { BundleError, createBundle, type Manifest, readManifest } from "../bundles/mod.ts";
import type { DeployProgressEvent } from "../events/mod.ts";
import type { Profile, ProfileStore } from "../miners/mod.ts";
import {
  AuditRecordSchema,
  AuditScopeSchema,
  type FleetOps,
  type FleetStatus,
  FleetStatusSchema,
  HealthStateSchema,
  LogsViewSchema,
  MinerTypeSchema,
  StartAckSchema,
  StopAckSchema,
} from "../protocol/mod.ts";
import { ApiError } from "./errors.ts";
import { json, r } from "./openapi.ts";

/** Dependencies of {@link registerRemoteRoutes}. */
export interface RemoteRoutesContext {
  /** Fleet operations. */
  fleet: FleetOps;
  /** The controller's own profiles (bundled by a JSON deploy). */
  profiles: ProfileStore;
  /** Where uploaded and built bundles are kept while they are sent. */
  tmpDir: string;
  /** The fleet status from the node's cache when it is at most `maxAgeMs` old, else a fresh poll. */
  cachedStatus?: (
    maxAgeMs: number,
    timeoutMs?: number,
    options?: { wait?: boolean },
  ) => Promise<FleetStatus>;
  /** The fleet summary from the node's view without building the rows (undefined: not kept). */
  cachedSummary?: () => Omit<FleetStatus, "peers"> | undefined;
  /** Reports deploy progress (live events). */
  onDeployProgress?: (e: Omit<DeployProgressEvent, "type" | "at">) => void;
  /** Registers a hook run when the server shuts down (ends streams). */
  onShutdown(fn: () => void): () => void;
  /** Throws the peer's not-found error for a reference no registered peer matches. */
  knows?(ref: string): void;
  /** A rig's tags (for the `tag` filter). */
  tagsOf?(id: string): readonly string[];
  /**
   * A tag that changes whenever the cached fleet status would (rows, health, registry, and the
   * second, for staleness): equal tags mean an equal answer, so a read with `If-None-Match`
   * gets a 304 without building it.
   */
  statusTag?(): string;
}

/**
 * The ETag of a read from the node's view (`cached`), taken before the read: a change during
 * it makes the next read a 200. Undefined when the read is not from the view.
 */
function cachedEtag(ctx: RemoteRoutesContext, url: string, cached: boolean): string | undefined {
  const tag = cached && ctx.cachedStatus ? ctx.statusTag?.() : undefined;
  return tag ? etagFor(tag, url) : undefined;
}

/** The ETag of a cached read: the status tag and the query that shapes the answer. */
function etagFor(tag: string, url: string): string {
  const q = new URL(url).searchParams;
  q.sort();
  return `W/"${tag}-${q.toString().replace(/[^A-Za-z0-9._=&-]/g, "_")}"`;
}

/** Whether `If-None-Match` names `etag` (or is `*`). */
function notModified(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const v = t.trim();
    return v === "*" || v === etag || v === etag.slice(2);
  });
}

/** Each row's JSON, for as long as the row object and its health are the same ones. */
const rowJson = new WeakMap<object, { health: unknown; text: string }>();

/**
 * `JSON.stringify(doc)` (its keys in another order), reusing the JSON of rows a previous read
 * sent: the node hands out the same row object while a rig's row did not change, so a read of
 * 10,000 rows serializes only those that changed since (serializing them all was ~80 % of a
 * read's CPU).
 *
 * @example
 * ```ts ignore
 * return c.body(fleetStatusJson(doc), 200, { "content-type": "application/json" });
 * ```
 */
export function fleetStatusJson(doc: FleetStatus): string {
  const rows = doc.peers.map((row) => {
    const hit = rowJson.get(row);
    if (hit && hit.health === row.health) return hit.text;
    const text = JSON.stringify(row);
    rowJson.set(row, { health: row.health, text });
    return text;
  });
  const rest = JSON.stringify({ ...doc, peers: undefined });
  return `{"peers":[${rows.join(",")}]${rest === "{}" ? "" : `,${rest.slice(1, -1)}`}}`;
}

const PeerParam = z.object({ peer: z.string().min(1).max(128) });

/** Paging and text/tag filters shared by list reads. */
export const PageQuery = {
  offset: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  tag: z.string().min(1).max(32).optional(),
  q: z.string().min(1).max(100).optional(),
};

/** Filters and pages a fleet status's rows (the totals and counts stay the whole fleet's). */
export function pageRows(
  doc: FleetStatus,
  q: {
    offset?: number;
    limit?: number;
    tag?: string;
    q?: string;
    state?: string;
    algorithm?: string;
  },
  tagsOf?: (id: string) => readonly string[],
): FleetStatus {
  if (
    q.offset === undefined && q.limit === undefined && !q.tag && !q.q && !q.state && !q.algorithm
  ) return doc;
  const text = q.q?.toLowerCase();
  const rows = doc.peers.filter((p) =>
    (!q.state || (p.health?.state ?? (p.online ? "unknown" : "down")) === q.state) &&
    (!q.algorithm || (p.totals ?? []).some((t) => t.algorithm === q.algorithm)) &&
    (!q.tag || (tagsOf?.(p.id) ?? p.health?.tags ?? []).includes(q.tag)) &&
    (!text || p.name.toLowerCase().includes(text) || p.id.startsWith(text) ||
      p.miners.some((m) =>
        m.name.toLowerCase().includes(text) || (m.pool ?? "").toLowerCase().includes(text)
      ))
  );
  const offset = q.offset ?? 0;
  const limit = q.limit ?? rows.length;
  return {
    ...doc,
    peers: rows.slice(offset, offset + limit),
    page: { matched: rows.length, offset, limit },
  };
}
const Timeout = z.object({
  timeout: z.coerce.number().int().min(100).max(600_000).optional(),
});

/** Largest uploaded bundle. */
export const MAX_UPLOAD_BYTES = 8 * 1024 ** 3;

/** Whether a request is a bundle upload (exempt from the 1 MiB body limit). */
export function isBundleUpload(path: string, contentType: string | undefined): boolean {
  return /\/remote\/[^/]+\/deploy$/.test(path) &&
    (contentType ?? "").startsWith("application/x-tar");
}

/** Adds the `/remote/*` routes under `base`. */
export function registerRemoteRoutes(
  app: OpenAPIHono,
  base: string,
  ctx: RemoteRoutesContext,
): void {
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/stats`,
      request: {
        query: Timeout.extend({
          maxAge: z.coerce.number().int().min(0).max(3_600_000).optional(),
          wait: z.enum(["true", "false"]).optional(),
          ...PageQuery,
          state: HealthStateSchema.optional(),
          algorithm: z.string().min(1).max(64).optional(),
        }),
      },
      responses: {
        200: json(
          FleetStatusSchema,
          "Every worker's stats with its health, per-algorithm totals (from the node's cache when it is at most `maxAge` ms old, default 2000, or kept fresh by the rig's pushes; `maxAge=0` asks every worker now; `wait=true` waits for the rows it refreshes, at most `timeout`); `state`, `tag`, `algorithm`, `q` filter the rows and `offset`/`limit` page them (totals and counts stay the fleet's). Cached reads carry an `ETag`: with `If-None-Match` an unchanged fleet is a 304",
        ),
        304: { description: "Unchanged since the `ETag` given in `If-None-Match`" },
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const maxAge = q.maxAge ?? 2000;
      const etag = cachedEtag(ctx, c.req.url, maxAge > 0 && q.wait !== "true");
      if (etag) c.header("etag", etag);
      if (etag && notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304);
      const doc = ctx.cachedStatus
        ? await ctx.cachedStatus(maxAge, q.timeout, { wait: q.wait === "true" })
        : await ctx.fleet.status(undefined, { timeoutMs: q.timeout });
      // The same JSON `c.json` would send, built from the rows' cached text (typed as `c.json`'s
      // answer for the OpenAPI route's types).
      return c.body(fleetStatusJson(pageRows(doc, q, ctx.tagsOf)), 200, {
        "content-type": "application/json",
      }) as unknown as ReturnType<typeof c.json<FleetStatus, 200>>;
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/summary`,
      request: {
        query: z.object({ maxAge: z.coerce.number().int().min(0).max(3_600_000).optional() }),
      },
      responses: {
        200: json(
          FleetStatusSchema.omit({ peers: true }),
          "The fleet in a few numbers: rigs online/offline, per state, and per-algorithm totals, without the rows (with an `ETag`, as `/remote/stats`)",
        ),
        304: { description: "Unchanged since the `ETag` given in `If-None-Match`" },
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const maxAge = q.maxAge ?? 2000;
      const etag = cachedEtag(ctx, c.req.url, maxAge > 0);
      if (etag) c.header("etag", etag);
      if (etag && notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304);
      const kept = maxAge > 0 ? ctx.cachedSummary?.() : undefined;
      if (kept) return c.json(kept, 200);
      const doc = ctx.cachedStatus
        ? await ctx.cachedStatus(maxAge)
        : await ctx.fleet.status(undefined, {});
      const { peers: _rows, ...summary } = doc;
      return c.json(summary, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/{peer}/audit`,
      request: {
        params: PeerParam,
        query: Timeout.extend({
          scope: AuditScopeSchema.optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
      },
      responses: {
        200: json(
          z.object({ peer: z.string(), records: z.array(AuditRecordSchema) }),
          "A worker's audit records, newest first: what it accepted and refused",
        ),
      },
    }),
    async (c) => {
      const peer = c.req.valid("param").peer;
      const q = c.req.valid("query");
      if (!ctx.fleet.audit) {
        throw new ApiError(
          404,
          "not_found",
          "worker audit records are not available through this node",
        );
      }
      const records = await ctx.fleet.audit(peer, {
        scope: q.scope,
        limit: q.limit,
        timeoutMs: q.timeout,
      });
      return c.json({ peer, records }, 200);
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/{peer}/stats`,
      request: { params: PeerParam, query: Timeout },
      responses: { 200: json(FleetStatusSchema, "One worker's stats") },
    }),
    async (c) =>
      c.json(
        await ctx.fleet.status(c.req.valid("param").peer, {
          timeoutMs: c.req.valid("query").timeout,
        }),
        200,
      ),
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/remote/{peer}/start`,
      request: {
        params: PeerParam,
        body: {
          content: {
            "application/json": {
              schema: z.object({
                profileId: z.string().min(1).max(64),
                minerType: MinerTypeSchema.optional(),
                /** How long the worker has to answer, in ms. */
                timeout: z.number().int().min(100).max(600_000).optional(),
              }).strict(),
            },
          },
          required: true,
        },
      },
      responses: { 200: json(StartAckSchema, "Started") },
    }),
    async (c) => {
      const { profileId, minerType, timeout } = c.req.valid("json");
      return c.json(
        await ctx.fleet.start(c.req.valid("param").peer, {
          profileRef: profileId,
          minerType,
          timeoutMs: timeout,
        }),
        200,
      );
    },
  );
  app.openapi(
    r({
      method: "post",
      path: `${base}/remote/{peer}/stop`,
      request: {
        params: PeerParam,
        body: {
          content: {
            "application/json": {
              schema: z.object({
                minerName: z.string().min(1).max(64).optional(),
                /** How long the worker has to answer each stop, in ms. */
                timeout: z.number().int().min(100).max(600_000).optional(),
              }).strict(),
            },
          },
          required: true,
        },
      },
      responses: { 200: json(StopAckSchema, "Stopped (and already stopped)") },
    }),
    async (c) =>
      c.json(
        await ctx.fleet.stop(c.req.valid("param").peer, {
          minerName: c.req.valid("json").minerName,
          timeoutMs: c.req.valid("json").timeout,
        }),
        200,
      ),
  );
  const LogsQuery = Timeout.extend({
    miner: z.string().min(1).max(64),
    lines: z.coerce.number().int().min(1).max(100_000).optional(),
    since: z.coerce.number().int().min(0).optional(),
  });
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/{peer}/logs`,
      request: { params: PeerParam, query: LogsQuery },
      responses: { 200: json(LogsViewSchema, "A worker's miner console") },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(
        await ctx.fleet.logs(c.req.valid("param").peer, q.miner, {
          lines: q.lines,
          since: q.since,
          timeoutMs: q.timeout,
        }),
        200,
      );
    },
  );
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/{peer}/logs/follow`,
      request: { params: PeerParam, query: LogsQuery },
      responses: {
        200: { description: "Server-Sent Events: `line` per console line, `end` when it stops" },
      },
    }),
    (c) => {
      const q = c.req.valid("query");
      const peer = c.req.valid("param").peer;
      return streamSSE(c, async (sse) => {
        const ac = new AbortController();
        const unshut = ctx.onShutdown(() => ac.abort());
        sse.onAbort(() => ac.abort());
        let chain = Promise.resolve();
        try {
          const reason = await ctx.fleet.follow(peer, q.miner, (lines) => {
            for (const l of lines) {
              chain = chain.then(() =>
                sse.writeSSE({ event: "line", id: String(l.seq), data: JSON.stringify(l) })
              );
            }
          }, { lines: q.lines, signal: ac.signal, timeoutMs: q.timeout });
          await chain;
          if (reason !== null) {
            await sse.writeSSE({ event: "end", data: JSON.stringify({ reason }) });
          }
        } catch (err) {
          await chain.catch(() => {});
          await sse.writeSSE({
            event: "error",
            data: JSON.stringify({ message: (err as Error).message }),
          });
        } finally {
          unshut();
        }
      });
    },
  );

  // Deploy: a JSON body names controller profiles to bundle; an application/x-tar body is a
  // plaintext bundle uploaded by the CLI. The answer streams NDJSON: progress, then the result.
  // The seed's form, `/remote/{peer}/logs/{miner}` (after `/logs/follow`, which it would shadow).
  app.openapi(
    r({
      method: "get",
      path: `${base}/remote/{peer}/logs/{miner}`,
      request: {
        params: PeerParam.extend({ miner: z.string().min(1).max(64) }),
        query: LogsQuery.omit({ miner: true }),
      },
      responses: { 200: json(LogsViewSchema, "A worker's miner console") },
    }),
    async (c) => {
      const { peer, miner } = c.req.valid("param");
      const q = c.req.valid("query");
      return c.json(
        await ctx.fleet.logs(peer, miner, { lines: q.lines, since: q.since, timeoutMs: q.timeout }),
        200,
      );
    },
  );

  const DeployJson = z.object({
    profiles: z.array(z.string().min(1).max(64)).min(1).max(64),
  }).strict();
  app.openAPIRegistry.registerPath({
    method: "post",
    path: `${base}/remote/{peer}/deploy`,
    request: {
      params: PeerParam,
      body: {
        content: {
          "application/json": { schema: DeployJson },
          "application/x-tar": { schema: z.string().describe("a plaintext bundle") },
        },
        required: true,
      },
    },
    responses: {
      200: {
        description:
          'NDJSON lines: {"event":"progress","received","total"}..., then {"event":"done","ack"} or {"event":"error","message"}',
      },
    },
  });
  app.post(`${base}/remote/:peer/deploy`, async (c) => {
    const peer = PeerParam.parse(c.req.param()).peer;
    ctx.knows?.(peer); // an unknown peer is a 404 before a byte of the upload is spooled
    await Deno.mkdir(ctx.tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(ctx.tmpDir, `deploy-${crypto.randomUUID()}.tar`);
    let manifest: Manifest;
    let size: number;
    let checksum: string;
    try {
      if (isBundleUpload(c.req.path, c.req.header("content-type"))) {
        if (!c.req.raw.body) throw new ApiError(400, "bad_request", "empty bundle upload");
        const tooLarge = () =>
          new ApiError(413, "payload_too_large", `bundle over ${MAX_UPLOAD_BYTES} bytes`);
        if (Number(c.req.header("content-length") ?? 0) > MAX_UPLOAD_BYTES) throw tooLarge();
        const h = createHash("sha256");
        size = 0;
        const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
        const reader = c.req.raw.body.getReader();
        // A node shutting down does not wait for an upload to end.
        const unshut = ctx.onShutdown(() =>
          void reader.cancel("node shutting down").catch(() => {})
        );
        try {
          for (let r = await reader.read(); !r.done; r = await reader.read()) {
            const chunk = r.value;
            h.update(chunk);
            size += chunk.length;
            if (size > MAX_UPLOAD_BYTES) throw tooLarge();
            let off = 0;
            while (off < chunk.length) off += await f.write(chunk.subarray(off));
          }
        } finally {
          unshut();
          f.close();
        }
        checksum = h.digest("hex");
        manifest = await readManifest((await Deno.open(tmp)).readable);
      } else {
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          throw new ApiError(
            415,
            "unsupported_media_type",
            "send JSON {profiles: [...]} or an application/x-tar bundle",
          );
        }
        const parsed = DeployJson.safeParse(body);
        if (!parsed.success) {
          throw new ApiError(400, "bad_request", `profiles: ${parsed.error.issues[0].message}`);
        }
        const profiles: Profile[] = [];
        for (const ref of parsed.data.profiles) profiles.push(await ctx.profiles.get(ref));
        const made = await createBundle(tmp, { profiles });
        manifest = made.manifest;
        size = made.plainBytes;
        checksum = made.plainSha256;
      }
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      if (err instanceof BundleError) throw new ApiError(400, "invalid_bundle", err.message);
      throw err;
    }
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (out) => {
      const line = (o: unknown) => out.write(JSON.stringify(o) + "\n");
      let finished = false;
      const report = (
        p: {
          received: number;
          total: number;
          phase: "progress" | "done" | "error";
          error?: string;
        },
      ) => {
        if (finished) return;
        if (p.phase !== "progress") finished = true;
        ctx.onDeployProgress?.({ peer, name: manifest.name, ...p });
      };
      let last = 0;
      try {
        const ack = await ctx.fleet.deploy(peer, tmp, {
          type: manifest.type,
          name: manifest.name,
          size,
          checksum,
        }, {
          onProgress: (received, total) => {
            const now = Date.now();
            if (now - last < 100 && received < total) return;
            last = now;
            line({ event: "progress", received, total }).catch(() => {});
            report({ received, total, phase: "progress" });
          },
        });
        report(
          ack.success
            ? { received: size, total: size, phase: "done" }
            : { received: size, total: size, phase: "error", error: ack.error ?? "refused" },
        );
        await line({ event: "done", ack, bundle: { ...manifest, bytes: size, sha256: checksum } });
      } catch (err) {
        report({ received: 0, total: size, phase: "error", error: (err as Error).message });
        await line({ event: "error", message: (err as Error).message });
      } finally {
        await Deno.remove(tmp).catch(() => {});
      }
    });
  });
}
