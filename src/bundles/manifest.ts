/**
 * The bundle manifest (`manifest.json`, always the first tar entry), its validation, and the
 * limits extraction enforces.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { z } from "zod";
import { MinerTypeSchema } from "../protocol/mod.ts";

/** Bundle format version written into every manifest. */
export const BUNDLE_FORMAT = 1;
/** Name of the manifest entry. */
export const MANIFEST_ENTRY = "manifest.json";
/** Largest manifest accepted. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Bundle and version names: a safe single path segment. */
export const BundleNameSchema = z.string().min(1).max(64).regex(
  /^[A-Za-z0-9][A-Za-z0-9._+-]*$/,
  "must start with a letter or digit and contain only letters, digits, '.', '_', '+' and '-'",
).refine((s) => !s.includes(".."), "must not contain '..'");

const SEGMENT = /^[A-Za-z0-9_+@=,-][A-Za-z0-9._+@=,-]*$/;

/** Whether `path` is a safe relative path inside a bundle (no absolute, `..`, `.`, empty parts). */
export function isSafeBundlePath(path: string): boolean {
  if (path.length === 0 || path.length > 255) return false;
  const parts = path.split("/");
  if (parts.length > 16) return false;
  return parts.every((p) => p !== "." && p !== ".." && SEGMENT.test(p) && p.length <= 128);
}

/** A file listed in the manifest. */
export const ManifestFileSchema = z.object({
  path: z.string().refine(isSafeBundlePath, "unsafe path (absolute, '..', or odd characters)"),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int().min(0).max(0o7777),
}).strict();
/** A manifest file entry. */
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

/** What a bundle carries. */
export const BundleTypeSchema = z.enum(["profile", "miner", "full"]);
/** A bundle type. */
export type BundleType = z.infer<typeof BundleTypeSchema>;

/** The manifest. Miner files live under `miner/`, profiles under `profiles/<id>.json`. */
export const ManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  type: BundleTypeSchema,
  name: BundleNameSchema,
  version: BundleNameSchema,
  minerType: MinerTypeSchema.nullable(),
  profileIds: z.array(z.string().min(1).max(64)).max(256),
  createdAt: z.iso.datetime({ offset: true }),
  files: z.array(ManifestFileSchema).max(10_000),
}).strict().superRefine((m, ctx) => {
  const seen = new Set<string>();
  for (const f of m.files) {
    if (seen.has(f.path)) {
      ctx.addIssue({ code: "custom", path: ["files"], message: `duplicate path ${f.path}` });
    }
    seen.add(f.path);
    if (!f.path.startsWith("miner/") && !f.path.startsWith("profiles/")) {
      ctx.addIssue({
        code: "custom",
        path: ["files"],
        message: `${f.path}: files live under miner/ or profiles/`,
      });
    }
    if (
      f.path.startsWith("profiles/") && !m.profileIds.some((id) => f.path === `profiles/${id}.json`)
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["files"],
        message: `${f.path} is not one of the listed profileIds`,
      });
    }
    if (f.path.startsWith("profiles/") && f.size > 256 * 1024) {
      ctx.addIssue({ code: "custom", path: ["files"], message: `${f.path} is over 256 KiB` });
    }
    if (f.path.startsWith("profiles/") && m.type === "miner") {
      ctx.addIssue({ code: "custom", path: ["files"], message: "miner bundles carry no profiles" });
    }
    if (f.path.startsWith("miner/") && m.type === "profile") {
      ctx.addIssue({ code: "custom", path: ["files"], message: "profile bundles carry no miner" });
    }
  }
  if (m.type !== "profile" && !m.minerType) {
    ctx.addIssue({
      code: "custom",
      path: ["minerType"],
      message: `${m.type} bundles name a minerType`,
    });
  }
  if (m.type !== "miner" && m.profileIds.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["profileIds"],
      message: `${m.type} bundles carry a profile`,
    });
  }
  for (const id of m.profileIds) {
    if (!seen.has(`profiles/${id}.json`)) {
      ctx.addIssue({
        code: "custom",
        path: ["profileIds"],
        message: `profile ${id} has no profiles/${id}.json file`,
      });
    }
  }
});
/** A validated manifest. */
export type Manifest = z.infer<typeof ManifestSchema>;

/** Extraction limits (size bombs, entry floods). */
export interface BundleLimits {
  /** Largest single file (default 1 GiB). */
  maxFileBytes?: number;
  /** Largest total of all files (default 4 GiB). */
  maxTotalBytes?: number;
  /** Most entries (default 10,000). */
  maxEntries?: number;
}

/** Default limits. */
export const DEFAULT_BUNDLE_LIMITS: Required<BundleLimits> = {
  maxFileBytes: 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntries: 10_000,
};

/** Why a bundle was refused. */
export class BundleError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "invalid_bundle" });
    this.name = "BundleError";
  }
}

/** Parses and validates a manifest (throws {@link BundleError}). */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BundleError("the bundle manifest is not valid JSON");
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    throw new BundleError(
      `invalid bundle manifest: ${
        r.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
          .join("; ")
      }`,
    );
  }
  return r.data;
}
