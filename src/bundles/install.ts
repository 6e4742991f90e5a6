/**
 * Hardened bundle extraction and installation. Every entry is checked before a byte is written:
 * only regular files listed in the manifest, with safe relative paths and the declared size,
 * within per-file and total limits (symlinks, hard links, devices, FIFOs, absolute paths and `..`
 * are refused). Miner files are extracted into a fresh staging directory next to their target,
 * verified against the manifest's SHA-256, then become the active install
 * `miners/<type>/current/` with one rename (the previous install is kept as
 * `miners/<type>/<its version>/`); profiles go through the profile store. Any failure removes the staging directory and
 * leaves the previous state as it was.
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { createTarDecoder, type ParsedTarEntry } from "modern-tar";
import {
  CURRENT_DIR,
  type Profile,
  ProfileSchema,
  type ProfileStore,
  readInstalledVersion,
  VERSION_FILE,
} from "../miners/mod.ts";
import { syncDir } from "../store/mod.ts";
import {
  BundleError,
  type BundleLimits,
  type BundleType,
  DEFAULT_BUNDLE_LIMITS,
  isSafeBundlePath,
  type Manifest,
  MANIFEST_ENTRY,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "./manifest.ts";

/** Options for {@link installBundle}. */
export interface InstallBundleOptions {
  /** The node's miners directory (`<data>/miners`). */
  minersDir: string;
  /** Where delivered profiles are saved. */
  profiles: ProfileStore;
  /** Extraction limits. */
  limits?: BundleLimits;
  /** What the sender announced; a manifest that says otherwise is refused. */
  expect?: { type?: BundleType; name?: string };
  /** Runs as soon as the manifest is read, before any file is extracted (throw to refuse). */
  vetManifest?: (manifest: Manifest) => void;
  /** Runs after extraction, before anything becomes visible (throw to abort). */
  beforeCommit?: (manifest: Manifest, profiles: readonly Profile[]) => void | Promise<void>;
}

/** What {@link installBundle} installed. */
export interface InstalledBundle {
  /** The manifest. */
  manifest: Manifest;
  /** Directory the miner went to, or null. */
  minerDir: string | null;
  /** Profiles saved. */
  profiles: Profile[];
}

const PROFILE_MAX_BYTES = 256 * 1024;

async function readAll(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new BundleError(`entry larger than ${max} bytes`);
    parts.push(c);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Extracts and installs a plaintext bundle stream. */
export async function installBundle(
  stream: ReadableStream<Uint8Array>,
  options: InstallBundleOptions,
): Promise<InstalledBundle> {
  const limits = { ...DEFAULT_BUNDLE_LIMITS, ...options.limits };
  const reader = stream.pipeThrough(createTarDecoder({ strict: true })).getReader();
  let staging: string | null = null;
  const next = async (): Promise<ParsedTarEntry | null> => {
    try {
      const r = await reader.read();
      return r.done ? null : r.value;
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError(`the bundle is not a valid archive: ${(err as Error).message}`);
    }
  };
  try {
    const first = await next();
    if (!first) throw new BundleError("the bundle is empty");
    if (first.header.name !== MANIFEST_ENTRY || (first.header.type ?? "file") !== "file") {
      throw new BundleError(`the bundle does not start with ${MANIFEST_ENTRY}`);
    }
    if (first.header.size > MAX_MANIFEST_BYTES) {
      throw new BundleError("the bundle manifest is larger than 1 MiB");
    }
    const manifest = parseManifest(
      new TextDecoder().decode(await readAll(first.body, MAX_MANIFEST_BYTES)),
    );
    options.vetManifest?.(manifest);
    const ex = options.expect;
    if (ex?.type && manifest.type !== ex.type) {
      throw new BundleError(`announced a ${ex.type} bundle but the manifest says ${manifest.type}`);
    }
    if (ex?.name && manifest.name !== ex.name) {
      throw new BundleError(`announced bundle ${ex.name} but the manifest says ${manifest.name}`);
    }
    const declared = manifest.files.reduce((a, f) => a + f.size, 0);
    if (declared > limits.maxTotalBytes) {
      throw new BundleError(
        `the bundle declares ${declared} bytes, over the ${limits.maxTotalBytes}-byte limit`,
      );
    }
    const typeDir = manifest.minerType ? join(options.minersDir, manifest.minerType) : null;
    if (manifest.type !== "profile") {
      await Deno.mkdir(typeDir!, { recursive: true, mode: 0o755 });
      staging = join(typeDir!, `.staging-${crypto.randomUUID()}`);
      await Deno.mkdir(staging, { mode: 0o700 });
    }
    const expected = new Map(manifest.files.map((f) => [f.path, f]));
    const seen = new Set<string>();
    const profileTexts: { id: string; bytes: Uint8Array }[] = [];
    let total = 0;
    let count = 0;
    for (let entry = await next(); entry; entry = await next()) {
      const h = entry.header;
      const kind = h.type ?? "file";
      if (++count > limits.maxEntries) {
        throw new BundleError(`the bundle has more than ${limits.maxEntries} entries`);
      }
      if (kind !== "file") {
        throw new BundleError(
          `${h.name}: ${kind} entries are refused (bundles carry regular files only)`,
        );
      }
      if (!isSafeBundlePath(h.name)) {
        throw new BundleError(`${JSON.stringify(h.name)}: unsafe path (absolute, '..' or odd)`);
      }
      const f = expected.get(h.name);
      if (!f) throw new BundleError(`${h.name} is not listed in the manifest`);
      if (seen.has(h.name)) throw new BundleError(`${h.name} appears twice`);
      seen.add(h.name);
      if (h.size > limits.maxFileBytes) {
        throw new BundleError(
          `${h.name} is ${h.size} bytes, over the ${limits.maxFileBytes}-byte per-file limit`,
        );
      }
      total += h.size;
      if (total > limits.maxTotalBytes) {
        throw new BundleError(`the bundle expands past the ${limits.maxTotalBytes}-byte limit`);
      }
      if (h.size !== f.size) {
        throw new BundleError(`${h.name} is ${h.size} bytes but the manifest says ${f.size}`);
      }
      const hash = createHash("sha256");
      if (h.name.startsWith("profiles/")) {
        const bytes = await readAll(entry.body, PROFILE_MAX_BYTES);
        hash.update(bytes);
        profileTexts.push({ id: h.name.slice(9, -5), bytes });
      } else {
        const dest = join(staging!, h.name.slice("miner/".length));
        await Deno.mkdir(dirname(dest), { recursive: true, mode: 0o755 });
        // createNew: never follows or overwrites anything already there.
        const file = await Deno.open(dest, { write: true, createNew: true, mode: 0o600 });
        let n = 0;
        try {
          for await (const c of entry.body) {
            n += c.length;
            if (n > f.size) throw new BundleError(`${h.name} is longer than declared`);
            hash.update(c);
            let off = 0;
            while (off < c.length) off += await file.write(c.subarray(off));
          }
          await file.syncData(); // durable before the rename makes it visible
        } finally {
          file.close();
        }
        if (n !== f.size) throw new BundleError(`${h.name} is cut short`);
        // Keep the executable bit; drop setuid/setgid/sticky and group/other write.
        await Deno.chmod(dest, f.mode & 0o755);
      }
      const digest = hash.digest("hex");
      if (digest !== f.sha256) {
        throw new BundleError(`${h.name} does not match its SHA-256 in the manifest`);
      }
    }
    const missing = manifest.files.filter((f) => !seen.has(f.path)).map((f) => f.path);
    if (missing.length) {
      throw new BundleError(`the bundle lacks ${missing.slice(0, 3).join(", ")}`);
    }
    const profiles: Profile[] = [];
    for (const { id, bytes } of profileTexts) {
      let raw: unknown;
      try {
        raw = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new BundleError(`profiles/${id}.json is not valid JSON`);
      }
      const r = ProfileSchema.safeParse(raw);
      if (!r.success) {
        throw new BundleError(
          `profiles/${id}.json is not a valid profile: ${
            r.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
          }`,
        );
      }
      if (r.data.id !== id) throw new BundleError(`profiles/${id}.json holds profile ${r.data.id}`);
      profiles.push(r.data);
    }
    await options.beforeCommit?.(manifest, profiles);
    // Profiles first: if saving one fails, the miner directory is still untouched.
    for (const p of profiles) await options.profiles.put(p);
    let minerDir: string | null = null;
    if (staging) {
      await Deno.writeTextFile(join(staging, VERSION_FILE), `${manifest.version}\n`);
      await Deno.chmod(staging, 0o755);
      await syncTree(staging);
      minerDir = join(typeDir!, CURRENT_DIR);
      await activate(staging, typeDir!, manifest.version);
      staging = null;
      await syncDir(typeDir!);
    }
    return { manifest, minerDir, profiles };
  } finally {
    await reader.cancel().catch(() => {});
    if (staging) await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** fsyncs every directory of a tree (files were synced as they were written). */
async function syncTree(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) if (e.isDirectory) await syncTree(join(dir, e.name));
  await syncDir(dir);
}

/**
 * Makes `staging` the active install `current/`. The previous install is moved aside first and
 * then kept as `<its version>/` (for a manual rollback), or deleted when it held the same version.
 * A crash between the renames is repaired by recoverMinersDir at the next start.
 */
async function activate(staging: string, typeDir: string, version: string): Promise<void> {
  const current = join(typeDir, CURRENT_DIR);
  if (!await exists(current)) {
    await Deno.rename(staging, current);
    return;
  }
  const old = join(typeDir, `.old-${crypto.randomUUID()}-${CURRENT_DIR}`);
  await Deno.rename(current, old);
  try {
    await Deno.rename(staging, current);
  } catch (err) {
    await Deno.rename(old, current).catch(() => {});
    throw err;
  }
  await keepPrevious(old, typeDir, version);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Keeps a replaced install as `<its version>/` unless that name is taken or is the new version. */
async function keepPrevious(old: string, typeDir: string, newVersion: string): Promise<string> {
  const v = readInstalledVersion(old);
  const target = v && v !== newVersion && v !== CURRENT_DIR && isSafeBundlePath(v) &&
      !v.includes("/")
    ? join(typeDir, v)
    : null;
  if (target && !await exists(target)) {
    await Deno.rename(old, target);
    return `kept ${target}`;
  }
  await Deno.remove(old, { recursive: true }).catch(() => {});
  return `removed ${old}`;
}

/**
 * Repairs what an interrupted install can leave in the miners dir: removes staging directories,
 * and puts back a version moved aside when its replacement never arrived.
 */
export async function recoverMinersDir(minersDir: string): Promise<string[]> {
  const actions: string[] = [];
  let types: Deno.DirEntry[] = [];
  try {
    types = await Array.fromAsync(Deno.readDir(minersDir));
  } catch {
    return actions;
  }
  for (const t of types.filter((e) => e.isDirectory)) {
    const typeDir = join(minersDir, t.name);
    for await (const e of Deno.readDir(typeDir)) {
      const p = join(typeDir, e.name);
      if (e.name.startsWith(".staging-")) {
        await Deno.remove(p, { recursive: true }).catch(() => {});
        actions.push(`removed ${p}`);
        continue;
      }
      const m = /^\.old-[0-9a-f-]{36}-(.+)$/.exec(e.name);
      if (!m) continue;
      const target = join(typeDir, m[1]);
      if (await exists(target)) {
        if (m[1] === CURRENT_DIR) {
          const v = readInstalledVersion(target);
          actions.push(await keepPrevious(p, typeDir, v ?? ""));
          continue;
        }
        await Deno.remove(p, { recursive: true }).catch(() => {});
        actions.push(`removed ${p}`);
      } else {
        await Deno.rename(p, target);
        actions.push(`restored ${target}`);
      }
    }
  }
  return actions;
}
