/**
 * The web dashboard: a Preact + uPlot single-page app (sources in `src/ui/app/`), bundled by
 * `deno task build:ui` into `dist/ui/` and served by the node at `/`. Every asset comes from the
 * node (no CDN); `deno compile` embeds `dist/ui/` with `--include`.
 *
 * @example
 * ```ts
 * import { loadDashboard } from "./mod.ts";
 * const dashboard = await loadDashboard(); // dist/ui/, or a page saying how to build it
 * console.log(dashboard.built ? [...dashboard.files.keys()] : "run `deno task build:ui`");
 * ```
 * @module
 */
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the bundled dashboard lives, relative to this module. */
export const DASHBOARD_DIR: string = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** A file of the dashboard. */
export interface DashboardFile {
  /** Content. */
  body: Uint8Array;
  /** MIME type. */
  type: string;
  /** Strong ETag (SHA-256 prefix). */
  etag: string;
}

/** Minimal routing surface the dashboard needs (a Hono app). */
export interface Router {
  /** Registers a GET handler. */
  get(
    path: string,
    handler: (c: { req: { path: string; header(name: string): string | undefined } }) => Response,
  ): unknown;
}

/** The loaded dashboard. */
export interface Dashboard {
  /** Files by URL path (`/index.html`, `/app.js`...). */
  files: Map<string, DashboardFile>;
  /** Whether the bundle was found (false: `/` explains how to build it). */
  built: boolean;
  /** Adds `/` and the asset routes to `app`. */
  mount(app: Router): void;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>miner-cli</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>miner-cli</h1><p>The dashboard is not built. Run <code>deno task build:ui</code> and restart the
node. The API is served at <code>/api/v1/mining</code> (see <code>/api/v1/mining/openapi.json</code>).</p>`;

async function etagOf(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body as BufferSource));
  return `"${Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** Loads the dashboard bundle from `dir` (default {@link DASHBOARD_DIR}). */
export async function loadDashboard(dir: string = DASHBOARD_DIR): Promise<Dashboard> {
  const files = new Map<string, DashboardFile>();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !TYPES[extname(e.name)]) continue;
      const body = await Deno.readFile(join(dir, e.name));
      files.set(`/${e.name}`, { body, type: TYPES[extname(e.name)], etag: await etagOf(body) });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const built = files.has("/index.html");
  const serve = (
    c: { req: { header(name: string): string | undefined } },
    f: DashboardFile,
  ): Response => {
    const headers = {
      "content-type": f.type,
      etag: f.etag,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (c.req.header("if-none-match") === f.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(f.body as BodyInit, { headers });
  };
  return {
    files,
    built,
    mount(app: Router): void {
      app.get(
        "/",
        (c) =>
          built
            ? serve(c, files.get("/index.html")!)
            : new Response(NOT_BUILT, { headers: { "content-type": "text/html; charset=utf-8" } }),
      );
      for (const [path, f] of files) {
        if (path === "/index.html") continue;
        app.get(path, (c) => serve(c, f));
      }
    },
  };
}
