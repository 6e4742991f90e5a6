/**
 * Errors as JSON bodies `{error: {code, message}}`: a {@link MinerCliError} answers with its own
 * status and code; anything else is a bug and answers 500 `internal`.
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorStatus, MinerCliError } from "../errors/mod.ts";

/** An error the API raises itself, with an HTTP status and a stable code. */
export class ApiError extends MinerCliError {
  /** Creates the error. */
  constructor(status: ErrorStatus, code: string, message: string) {
    super(message, { status, code });
    this.name = "ApiError";
  }
}

/** Turns any error into a JSON response. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof MinerCliError) {
    // Validation errors name their fields, so a form can show each message beside its field.
    const issues = (err as { issues?: unknown }).issues;
    const fields = Array.isArray(issues)
      ? issues.filter((i) => typeof i?.path === "string" && typeof i?.message === "string")
        .slice(0, 50).map((i) => ({ path: i.path as string, message: i.message as string }))
      : undefined;
    return c.json(
      { error: { code: err.code, message: err.message, ...(fields ? { fields } : {}) } },
      err.status as ContentfulStatusCode,
    );
  }
  const e = err as Error;
  return c.json({ error: { code: "internal", message: e?.message ?? String(err) } }, 500);
}
