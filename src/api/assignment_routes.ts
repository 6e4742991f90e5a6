/**
 * `/assignments`: profiles assigned to tags (rigs with the tag are started on the profile when the
 * assignment is made, and when they get the tag later), with each rig's rollout result.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { type Assignment, AssignmentSchema } from "../protocol/mod.ts";
import { json, r } from "./openapi.ts";

/** What the routes need. */
export interface AssignmentOps {
  /** Every assignment with its rollout. */
  list(): Promise<Assignment[]>;
  /** Assigns a profile (ID or name) to a tag and rolls it out. */
  assign(tag: string, profileRef: string): Promise<Assignment>;
  /** Removes a tag's assignment (miners keep running). */
  unassign(tag: string): Promise<Assignment>;
}

const Tag = z.object({ tag: z.string().min(1).max(32) });

/** Adds the routes under `base`. */
export function registerAssignmentRoutes(app: OpenAPIHono, base: string, ops: AssignmentOps): void {
  app.openapi(
    r({
      method: "get",
      path: `${base}/assignments`,
      responses: {
        200: json(
          z.object({ assignments: z.array(AssignmentSchema) }),
          "Assignments and their rollout per rig",
        ),
      },
    }),
    async (c) => c.json({ assignments: await ops.list() }, 200),
  );
  app.openapi(
    r({
      method: "put",
      path: `${base}/assignments/{tag}`,
      request: {
        params: Tag,
        body: {
          content: {
            "application/json": {
              schema: z.object({ profile: z.string().min(1).max(64) }).strict(),
            },
          },
          required: true,
        },
      },
      responses: { 200: json(AssignmentSchema, "The assignment (its rollout starts now)") },
    }),
    async (c) =>
      c.json(await ops.assign(c.req.valid("param").tag, c.req.valid("json").profile), 200),
  );
  app.openapi(
    r({
      method: "delete",
      path: `${base}/assignments/{tag}`,
      request: { params: Tag },
      responses: {
        200: json(AssignmentSchema, "The removed assignment (its miners keep running)"),
      },
    }),
    async (c) => c.json(await ops.unassign(c.req.valid("param").tag), 200),
  );
}
