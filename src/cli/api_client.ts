/**
 * How local CLI commands reach the running node's API: `--api URL`, else `MINER_CLI_API`, else
 * the URL the node wrote to `<data>/api.json`, else `http://127.0.0.1:9090`; the bearer token is
 * read from the config home.
 * @module
 */
import { EventSourceParserStream } from "eventsource-parser/stream";
import { z } from "zod";
import { readApiToken } from "../identity/mod.ts";
import { type NodePaths, readJsonFile } from "../store/mod.ts";

/** The node's API could not be used. */
export class ApiClientError extends Error {
  /** Creates the error. */
  constructor(message: string, readonly status?: number, readonly code?: string) {
    super(message);
    this.name = "ApiClientError";
  }
}

/** A small client for the node API. */
export class ApiClient {
  /** Creates a client. */
  constructor(readonly baseUrl: string, readonly token: string) {}

  /** Finds the running node's API for these paths. */
  static async locate(
    paths: NodePaths,
    explicit?: string,
    options: { runtimeOnly?: boolean } = {},
  ): Promise<ApiClient> {
    const token = await readApiToken(paths);
    if (!token) {
      throw new ApiClientError(
        `no API token in ${paths.configDir}: run \`miner-cli node init\` (or start \`miner-cli node serve\` once)`,
      );
    }
    let url = explicit ?? (options.runtimeOnly ? undefined : Deno.env.get("MINER_CLI_API"));
    if (!url) {
      const rt = await readJsonFile(
        paths.apiJson,
        z.object({ url: z.string(), pid: z.number() }),
      ).catch(() => undefined);
      if (!rt && options.runtimeOnly) throw new ApiClientError("no node running for this home");
      url = rt?.url ?? "http://127.0.0.1:9090";
    }
    if (!/^https?:\/\//.test(url)) url = `http://${url}`;
    return new ApiClient(url.replace(/\/+$/, ""), token);
  }

  /**
   * The API of this home's running node (the one `node serve` recorded, or `explicit`), when it
   * answers as this node; null when none runs. An `explicit` URL that does not answer throws.
   */
  static async running(paths: NodePaths, explicit?: string): Promise<ApiClient | null> {
    const api = await ApiClient.locate(paths, explicit, { runtimeOnly: !explicit })
      .catch(() => null);
    const me = await readJsonFile(paths.nodeJson, z.object({ id: z.string() }))
      .catch(() => undefined);
    if (api && me && await api.healthy(1500, me.id)) return api;
    if (explicit) throw new ApiClientError(`no node answering at ${api?.baseUrl ?? explicit}`);
    return null;
  }

  /** Performs a request and returns the parsed JSON body (throws {@link ApiClientError} on errors). */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          "x-miner-cli-source": "cli",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiClientError(
        `no node answering at ${this.baseUrl} (${
          (err as Error).message
        }): start one with \`miner-cli node serve\``,
      );
    }
    const text = await res.text();
    let data: unknown = undefined;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string } })?.error;
      throw new ApiClientError(
        e?.message ?? `HTTP ${res.status} from ${path}`,
        res.status,
        e?.code,
      );
    }
    return data as T;
  }

  /** Whether a node answers `/health` within `timeoutMs` (and is node `expectId`, if given). */
  async healthy(timeoutMs: number, expectId?: string): Promise<boolean> {
    try {
      const res = await fetch(this.baseUrl + "/health", {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        return false;
      }
      const body = await res.json() as { id?: string };
      return expectId === undefined || body.id === expectId;
    } catch {
      return false;
    }
  }

  /** POSTs a byte stream and calls `onLine` for each line of the (NDJSON) answer. */
  async upload(
    path: string,
    body: ReadableStream<Uint8Array>,
    contentType: string,
    onLine: (line: string) => void,
  ): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.token}`,
          "x-miner-cli-source": "cli",
          "content-type": contentType,
        },
        body,
      });
    } catch (err) {
      throw new ApiClientError(`no node answering at ${this.baseUrl} (${(err as Error).message})`);
    }
    if (!res.ok || !res.body) {
      const e = await res.json().catch(() => null) as { error?: { message?: string } } | null;
      throw new ApiClientError(e?.error?.message ?? `HTTP ${res.status} from ${path}`, res.status);
    }
    let buf = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) onLine(line);
      }
    }
    if (buf.trim()) onLine(buf.trim());
  }

  /** Opens a Server-Sent Events stream and calls `onEvent` per event until the signal aborts. */
  async stream(
    path: string,
    onEvent: (event: string, data: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        headers: { authorization: `Bearer ${this.token}`, "x-miner-cli-source": "cli" },
        signal,
      });
    } catch (err) {
      if (signal.aborted) return;
      throw new ApiClientError(`no node answering at ${this.baseUrl} (${(err as Error).message})`);
    }
    if (!res.ok || !res.body) {
      const e = await res.json().catch(() => null) as { error?: { message?: string } } | null;
      throw new ApiClientError(e?.error?.message ?? `HTTP ${res.status} from ${path}`, res.status);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream()).getReader();
    try {
      while (!signal.aborted) {
        const { value, done } = await reader.read();
        if (done) break;
        onEvent(value.event ?? "message", value.data);
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
}
