/**
 * Shapes of the inbound authorization settings: the auth mode and the allowlist entries.
 * @module
 */
import { z } from "zod";
import { fromBase64, nodeIdFromPublicKey, NodeIdSchema, PublicKeySchema } from "../identity/mod.ts";
import { GrantsSchema } from "./grants.ts";

/** `allowlist` (default): only registered or allowed peers may connect. `open`: anyone may. */
export const AuthModeSchema = z.enum(["allowlist", "open"]);
/** An auth mode. */
export type AuthMode = z.infer<typeof AuthModeSchema>;

/** One allowlist entry. */
export const AllowEntrySchema = z.object({
  id: NodeIdSchema,
  publicKey: PublicKeySchema.optional(),
  /** Given to the node when it registers on first contact (`peer allow --control`). */
  grants: GrantsSchema.optional(),
  addedAt: z.string(),
});
/** An allowlist entry. */
export type AllowEntry = z.infer<typeof AllowEntrySchema>;

/** The `auth.json` document of earlier versions, and the shape of {@link AuthStore.settings}. */
export const AuthFileSchema = z.object({
  version: z.literal(1),
  mode: AuthModeSchema,
  allow: z.array(AllowEntrySchema),
});
/** Auth settings. */
export type AuthSettings = z.infer<typeof AuthFileSchema>;

/** Parses a node ID or base64 public key given on the command line. */
export function parseAllowTarget(text: string): AllowEntry {
  const t = text.trim();
  if (NodeIdSchema.safeParse(t.toLowerCase()).success) {
    return { id: t.toLowerCase(), addedAt: new Date().toISOString() };
  }
  if (PublicKeySchema.safeParse(t).success) {
    return {
      id: nodeIdFromPublicKey(fromBase64(t)),
      publicKey: t,
      addedAt: new Date().toISOString(),
    };
  }
  throw new Error(
    `${
      JSON.stringify(text)
    } is neither a node ID (32 hex characters) nor a public key (44 base64 characters)`,
  );
}
