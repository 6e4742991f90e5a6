/**
 * Shared pieces of the API's route declarations.
 * @module
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";

/** Error body. */
export const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
/** Error responses every route may give. */
export const errors = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorSchema } } },
  401: {
    description: "Missing or wrong bearer token",
    content: { "application/json": { schema: ErrorSchema } },
  },
  404: { description: "Not found", content: { "application/json": { schema: ErrorSchema } } },
} as const;

/** A JSON response declaration. */
export function json<T extends z.ZodType>(
  schema: T,
  description: string,
): { description: string; content: { "application/json": { schema: T } } } {
  return { description, content: { "application/json": { schema } } };
}

/** A route with the common error responses. */
export function r<T extends RouteConfig>(config: T): T {
  return createRoute({ ...config, responses: { ...errors, ...config.responses } }) as T;
}
