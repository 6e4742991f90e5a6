/**
 * Deployment bundles: a tar with a manifest, optionally encrypted at rest (Argon2id +
 * XChaCha20-Poly1305 in authenticated chunks), and hardened extraction on the receiving node.
 *
 * @example
 * ```ts
 * import { join } from "node:path";
 * import { validateProfile } from "../miners/mod.ts";
 * import { createBundle, openBundle, readManifest } from "./mod.ts";
 * const out = join(await Deno.makeTempDir(), "cpu.bundle");
 * const profile = validateProfile({
 *   name: "cpu",
 *   minerType: "xmrig",
 *   config: { pools: [{ url: "pool.example.org:3333", user: "44AFFq5kSiGBoZ" }] },
 * });
 * await createBundle(out, { profiles: [profile] }); // written 0600
 * const manifest = await readManifest((await openBundle(out)).stream);
 * if (manifest.type !== "profile") throw new Error(manifest.type);
 * ```
 * @module
 */
export {
  BUNDLE_FORMAT,
  BundleError,
  type BundleLimits,
  BundleNameSchema,
  type BundleType,
  BundleTypeSchema,
  DEFAULT_BUNDLE_LIMITS,
  isSafeBundlePath,
  type Manifest,
  MANIFEST_ENTRY,
  type ManifestFile,
  ManifestSchema,
  parseManifest,
} from "./manifest.ts";
export {
  BundleTamperedError,
  decryptStream,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_KDF,
  type EncryptOptions,
  encryptStream,
  isEncryptedBundle,
  type KdfParams,
  WrongPasswordError,
} from "./crypto.ts";
export {
  createBundle,
  type CreateBundleOptions,
  type CreatedBundle,
  digestStream,
  openBundle,
  type OpenedBundle,
  readManifest,
  writeStreamAtomic,
} from "./create.ts";
export {
  installBundle,
  type InstallBundleOptions,
  type InstalledBundle,
  recoverMinersDir,
} from "./install.ts";
