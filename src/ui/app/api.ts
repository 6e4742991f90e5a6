/**
 * The dashboard's API client: a session cookie (HttpOnly, SameSite=Strict: the token is exchanged
 * for it once and kept nowhere a script could read it), JSON errors turned into
 * {@link ApiFailure}, and Server-Sent Events / NDJSON read from `fetch` streams.
 * @module
 */
import { EventSourceParserStream } from "eventsource-parser/stream";

/** API mount point. */
export const BASE = "/api/v1/mining";

/** An API call failed: HTTP status, the API's error code and its message. */
export class ApiFailure extends Error {
  /** Creates the error; `fields` are per-field messages of a validation error. */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

/** Exchanges the token for a session cookie; throws {@link ApiFailure} (401: wrong token). */
export async function signIn(token: string): Promise<void> {
  await api("POST", "/session", { token });
}

/** Whether this browser has a live session (another tab may have signed in). */
export async function signedIn(): Promise<boolean> {
  try {
    const res = await fetch(BASE + "/session", { credentials: "same-origin" });
    return res.ok;
  } catch {
    return false;
  }
}

/** Ends the session, in every tab (their event streams close and the next call is 401). */
export async function signOut(): Promise<void> {
  await fetch(BASE + "/session", { method: "DELETE", credentials: "same-origin" }).catch(() => {});
}

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401 (the token is wrong or was rotated). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function failureOf(res: Response): Promise<ApiFailure> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  let fields: { path: string; message: string }[] = [];
  try {
    const body = await res.json();
    if (body?.error?.message) {
      code = body.error.code ?? code;
      message = body.error.message;
      if (Array.isArray(body.error.fields)) fields = body.error.fields;
    }
  } catch {
    // not a JSON error body
  }
  // A wrong token at sign-in is the form's error, not a sign-out.
  if (res.status === 401 && !res.url.endsWith("/session")) onUnauthorized();
  return new ApiFailure(res.status, code, message, fields);
}

function headers(json: boolean): Record<string, string> {
  return json ? { "content-type": "application/json" } : {};
}

/** Calls the API and returns its JSON answer; throws {@link ApiFailure}. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { signal?: AbortSignal } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      headers: headers(body !== undefined),
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (err) {
    throw new ApiFailure(0, "network", `cannot reach the node: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failureOf(res);
  return await res.json() as T;
}

/** One Server-Sent Event. */
export interface SseEvent {
  /** Event name. */
  event: string;
  /** Parsed JSON data. */
  data: unknown;
}

async function* lines(res: Response): AsyncGenerator<string> {
  const reader = res.body!.pipeThrough(
    new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>,
  ).getReader();
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i).replace(/\r$/, "");
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

async function open(path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(BASE + path, { credentials: "same-origin", ...init });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiFailure(0, "network", `cannot reach the node: ${(err as Error).message}`);
  }
  if (!res.ok) throw await failureOf(res);
  return res;
}

/** Reads an SSE stream until it ends or `signal` aborts. */
export async function* sse(path: string, signal: AbortSignal): AsyncGenerator<SseEvent> {
  const res = await open(path, { headers: headers(false), signal });
  const reader = res.body!.pipeThrough(
    new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>,
  ).pipeThrough(new EventSourceParserStream()).getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    let data: unknown = value.data;
    try {
      data = JSON.parse(value.data);
    } catch {
      // keep the text
    }
    yield { event: value.event ?? "message", data };
  }
}

/** POSTs JSON (or a file, sent as a tar upload) and reads an NDJSON answer line by line. */
export async function* ndjson(
  path: string,
  body: unknown,
  signal?: AbortSignal,
): AsyncGenerator<Record<string, unknown>> {
  const file = body instanceof File;
  const res = await open(path, {
    method: "POST",
    headers: file ? { "content-type": "application/x-tar" } : headers(true),
    body: file ? body : JSON.stringify(body),
    signal,
  });
  for await (const line of lines(res)) if (line.trim()) yield JSON.parse(line);
}
