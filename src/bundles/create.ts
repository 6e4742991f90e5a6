/**
 * Building bundles: a tar (npm `modern-tar`) whose first entry is the manifest, then the files it
 * lists; optionally encrypted at rest. Also opening a bundle file for reading (decrypting it when
 * needed) and reading its manifest.
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, relative, sep } from "node:path";
import { createTarDecoder, createTarPacker } from "modern-tar";
import { type Profile, VERSION_FILE } from "../miners/mod.ts";
import { syncDir } from "../store/mod.ts";
import { decryptStream, encryptStream, isEncryptedBundle, type KdfParams } from "./crypto.ts";
import {
  BUNDLE_FORMAT,
  BundleError,
  BundleNameSchema,
  type BundleType,
  isSafeBundlePath,
  type Manifest,
  MANIFEST_ENTRY,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "./manifest.ts";
import { type MinerType } from "../protocol/mod.ts";

/** Options for {@link createBundle}. */
export interface CreateBundleOptions {
  /** Bundle name (default: the profile's or the miner's name). */
  name?: string;
  /** Version (miner bundles: the version directory it installs into). */
  version?: string;
  /** Miner type of `minerPath`. */
  minerType?: MinerType;
  /** A miner binary or a directory holding it (bundled under `miner/`). */
  minerPath?: string;
  /** Profiles to carry. */
  profiles?: Profile[];
  /** Encrypts the bundle at rest with this password. */
  password?: string;
  /** Argon2id cost (tests use a low one). */
  kdf?: KdfParams;
  /** Called with bytes written so far, for progress. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link createBundle} produced. */
export interface CreatedBundle {
  /** The manifest. */
  manifest: Manifest;
  /** Output file size. */
  bytes: number;
  /** Plaintext tar size. */
  plainBytes: number;
  /** SHA-256 of the plaintext tar (what a deploy sends and verifies). */
  plainSha256: string;
  /** Whether the file is encrypted. */
  encrypted: boolean;
}

interface SourceFile {
  src: string | null;
  content: Uint8Array | null;
  path: string;
  size: number;
  mode: number;
  sha256: string;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path, { read: true });
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

async function collectMinerFiles(root: string): Promise<SourceFile[]> {
  const st = await Deno.lstat(root).catch(() => null);
  if (!st) throw new BundleError(`${root} does not exist`);
  const out: SourceFile[] = [];
  const add = async (abs: string, rel: string, info: Deno.FileInfo) => {
    const path = `miner/${rel.split(sep).join("/")}`;
    if (!isSafeBundlePath(path)) {
      throw new BundleError(`${abs}: the name cannot be bundled (use letters, digits, . _ + - @)`);
    }
    out.push({
      src: abs,
      content: null,
      path,
      size: info.size,
      mode: (info.mode ?? 0o644) & 0o777,
      sha256: await sha256File(abs),
    });
  };
  if (st.isFile) {
    await add(root, basename(root), st);
    return out;
  }
  if (!st.isDirectory) throw new BundleError(`${root} is neither a file nor a directory`);
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const abs = join(dir, e.name);
      // The install's own version marker: the receiving node writes its own.
      if (dir === root && e.name === VERSION_FILE) continue;
      if (e.isSymlink) {
        throw new BundleError(`${abs} is a symbolic link; bundles carry regular files only`);
      }
      if (e.isDirectory) await walk(abs);
      else if (e.isFile) await add(abs, relative(root, abs), await Deno.lstat(abs));
      else throw new BundleError(`${abs} is not a regular file`);
    }
  };
  await walk(root);
  if (!out.length) throw new BundleError(`${root} holds no files`);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function hashingCounter(
  onChunk: (n: number) => void,
): { stream: TransformStream<Uint8Array, Uint8Array>; digest: () => string; bytes: () => number } {
  const h = createHash("sha256");
  let n = 0;
  return {
    stream: new TransformStream({
      transform(chunk, ctrl) {
        h.update(chunk);
        n += chunk.length;
        onChunk(n);
        ctrl.enqueue(chunk);
      },
    }),
    digest: () => h.digest("hex"),
    bytes: () => n,
  };
}

/** Builds a bundle at `out` (written atomically). */
export async function createBundle(
  out: string,
  options: CreateBundleOptions,
): Promise<CreatedBundle> {
  const profiles = options.profiles ?? [];
  if (!options.minerPath && profiles.length === 0) {
    throw new BundleError("a bundle needs a miner, a profile, or both");
  }
  if (options.minerPath && !options.minerType) {
    throw new BundleError("a miner bundle needs its miner type");
  }
  const type: BundleType = options.minerPath ? (profiles.length ? "full" : "miner") : "profile";
  const files: SourceFile[] = options.minerPath ? await collectMinerFiles(options.minerPath) : [];
  for (const p of profiles) {
    const content = new TextEncoder().encode(JSON.stringify(p, null, 2) + "\n");
    files.push({
      src: null,
      content,
      path: `profiles/${p.id}.json`,
      size: content.length,
      mode: 0o600,
      sha256: createHash("sha256").update(content).digest("hex"),
    });
  }
  const name = options.name ??
    (type === "profile" ? profiles[0].name : basename(options.minerPath!));
  const nameOk = BundleNameSchema.safeParse(name);
  if (!nameOk.success) {
    throw new BundleError(
      `bundle name ${JSON.stringify(name)} ${nameOk.error.issues[0].message}; pass --name`,
    );
  }
  const version = options.version ?? "1";
  if (!BundleNameSchema.safeParse(version).success) {
    throw new BundleError(`version ${JSON.stringify(version)} is not a safe directory name`);
  }
  const manifest = parseManifest(JSON.stringify({
    format: BUNDLE_FORMAT,
    type,
    name,
    version,
    minerType: options.minerType ?? null,
    profileIds: profiles.map((p) => p.id),
    createdAt: new Date().toISOString(),
    files: files.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode })),
  }));
  const total = files.reduce((a, f) => a + f.size, 0);

  const { readable, controller } = createTarPacker();
  const feed = (async () => {
    try {
      const m = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
      const add = async (
        path: string,
        size: number,
        mode: number,
        body: ReadableStream<Uint8Array> | Uint8Array,
      ) => {
        const w = controller.add({ name: path, size, mode, type: "file", mtime: new Date(0) });
        if (body instanceof Uint8Array) {
          const writer = w.getWriter();
          await writer.write(body);
          await writer.close();
        } else await body.pipeTo(w);
      };
      await add(MANIFEST_ENTRY, m.length, 0o644, m);
      let done = 0;
      for (const f of files) {
        if (f.content) await add(f.path, f.size, f.mode, f.content);
        else {
          const file = await Deno.open(f.src!, { read: true });
          const st = await file.stat();
          if (st.size !== f.size) {
            file.close();
            throw new BundleError(`${f.src} changed while it was being bundled`);
          }
          await add(f.path, f.size, f.mode, file.readable);
        }
        done += f.size;
        options.onProgress?.(done, total);
      }
      controller.finalize();
    } catch (err) {
      controller.error(err);
      throw err;
    }
  })();
  const plain = hashingCounter(() => {});
  let stream = readable.pipeThrough(plain.stream);
  if (options.password !== undefined) {
    stream = stream.pipeThrough(await encryptStream(options.password, { kdf: options.kdf }));
  }
  feed.catch(() => {}); // its error also errors the stream, and surfaces below
  // 0600 whether encrypted or not: a plaintext bundle holds its profiles' pool passwords.
  const bytes = await writeStreamAtomic(out, stream, 0o600);
  await feed;
  return {
    manifest,
    bytes,
    plainBytes: plain.bytes(),
    plainSha256: plain.digest(),
    encrypted: options.password !== undefined,
  };
}

/** Writes a stream to `path` atomically (temp file + fsync + rename + dir fsync); returns the byte count. */
export async function writeStreamAtomic(
  path: string,
  stream: ReadableStream<Uint8Array>,
  mode = 0o644,
): Promise<number> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  let n = 0;
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
      n += chunk.length;
    }
    await file.syncData();
    file.close();
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
    await syncDir(dir);
  } catch (err) {
    try {
      file.close();
    } catch { /* closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return n;
}

/** A bundle file opened for reading. */
export interface OpenedBundle {
  /** Plaintext tar bytes (decrypted on the fly when the file is encrypted). */
  stream: ReadableStream<Uint8Array>;
  /** Whether the file is encrypted. */
  encrypted: boolean;
}

/** Opens a bundle file; an encrypted one needs `password`. */
export async function openBundle(
  path: string,
  options: { password?: string } = {},
): Promise<OpenedBundle> {
  const file = await Deno.open(path, { read: true }).catch((err) => {
    throw new BundleError(`cannot open bundle ${path}: ${(err as Error).message}`);
  });
  const head = new Uint8Array(8);
  const n = (await file.read(head)) ?? 0;
  await file.seek(0, Deno.SeekMode.Start);
  const encrypted = isEncryptedBundle(head.subarray(0, n));
  if (!encrypted) return { stream: file.readable, encrypted };
  if (options.password === undefined) {
    file.close();
    throw new BundleError(`${path} is encrypted: give its password with --password-file`);
  }
  return { stream: file.readable.pipeThrough(decryptStream(options.password)), encrypted };
}

/** Reads the manifest (the first entry) from a plaintext tar stream, then cancels the stream. */
export async function readManifest(stream: ReadableStream<Uint8Array>): Promise<Manifest> {
  const entries = stream.pipeThrough(createTarDecoder({ strict: true }));
  const reader = entries.getReader();
  try {
    const { value: entry, done } = await reader.read().catch((err) => {
      if (err instanceof BundleError) throw err;
      throw new BundleError(`not a bundle: ${(err as Error).message}`);
    });
    if (done || !entry) throw new BundleError("not a bundle: the archive is empty");
    if (entry.header.name !== MANIFEST_ENTRY) {
      await entry.body.cancel();
      throw new BundleError(
        `not a bundle: the first entry is ${entry.header.name}, not ${MANIFEST_ENTRY}`,
      );
    }
    if (entry.header.size > MAX_MANIFEST_BYTES) {
      throw new BundleError("the bundle manifest is larger than 1 MiB");
    }
    return parseManifest(await new Response(entry.body).text());
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Plaintext size and SHA-256 of a stream (consumes it). */
export async function digestStream(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: number; sha256: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const c of stream) {
    h.update(c);
    bytes += c.length;
  }
  return { bytes, sha256: h.digest("hex") };
}
