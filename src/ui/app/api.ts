/**
 * The dashboard's API client: bearer token from the browser session, JSON errors turned into
 * {@link ApiFailure}, and Server-Sent Events / NDJSON read from `fetch` streams (EventSource
 * cannot send the Authorization header).
 * @module
 */
import { EventSourceParserStream } from "eventsource-parser/stream";

const TOKEN_KEY = "miner-cli-token";
/** API mount point. */
export const BASE = "/api/v1/mining";

/** An API call failed: HTTP status, the API's error code and its message. */
export class ApiFailure extends Error {
  /** Creates the error. */
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "ApiFailure";
  }
}

/** The token kept for this browser session. */
export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Stores (or clears, with null) the token. */
export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401 (the token is wrong or was rotated). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function failureOf(res: Response): Promise<ApiFailure> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body?.error?.message) {
      code = body.error.code ?? code;
      message = body.error.message;
    }
  } catch {
    // not a JSON error body
  }
  if (res.status === 401) onUnauthorized();
  return new ApiFailure(res.status, code, message);
}

function headers(json: boolean, token = getToken()): Record<string, string> {
  return {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(json ? { "content-type": "application/json" } : {}),
  };
}

/** Calls the API and returns its JSON answer; throws {@link ApiFailure}. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string; signal?: AbortSignal } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      headers: headers(body !== undefined, options.token ?? getToken()),
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
    res = await fetch(BASE + path, init);
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

/** POSTs JSON and reads an NDJSON answer line by line. */
export async function* ndjson(
  path: string,
  body: unknown,
  signal?: AbortSignal,
): AsyncGenerator<Record<string, unknown>> {
  const res = await open(path, {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  for await (const line of lines(res)) if (line.trim()) yield JSON.parse(line);
}
