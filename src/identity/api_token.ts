/**
 * The API bearer token: 32 random bytes (hex) in `<config>/api_token`, mode 0600, created at
 * `node init` (or on first serve).
 * @module
 */
import { join } from "node:path";
import type { NodePaths } from "../store/mod.ts";
import { writeFileAtomic } from "../store/mod.ts";

/** Path of the API token file. */
export function apiTokenPath(paths: NodePaths): string {
  return join(paths.configDir, "api_token");
}

/** Creates a new token (replacing any previous one). */
export async function createApiToken(paths: NodePaths): Promise<string> {
  const token = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  await writeFileAtomic(apiTokenPath(paths), token + "\n", { mode: 0o600 });
  return token;
}

/** Reads the token, or undefined when there is none. Refuses a token file readable by others. */
export async function readApiToken(paths: NodePaths): Promise<string | undefined> {
  const p = apiTokenPath(paths);
  try {
    const st = await Deno.stat(p);
    if (Deno.build.os !== "windows" && st.mode !== null && (st.mode & 0o077) !== 0) {
      throw new Error(`API token ${p} is readable by others; run \`chmod 600 ${p}\``);
    }
    const token = (await Deno.readTextFile(p)).trim();
    if (!/^[0-9a-f]{64}$/.test(token)) {
      throw new Error(
        `API token ${p} is corrupt; delete it and restart the node to create a new one`,
      );
    }
    return token;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Reads the token, creating it when missing. */
export async function loadOrCreateApiToken(paths: NodePaths): Promise<string> {
  return (await readApiToken(paths)) ?? await createApiToken(paths);
}
