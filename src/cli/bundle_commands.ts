/**
 * `bundle create|inspect`, and the bundle-building half of `remote deploy`.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import {
  createBundle,
  type CreatedBundle,
  type KdfParams,
  openBundle,
  readManifest,
} from "../bundles/mod.ts";
import {
  adapterFor,
  findMinerBinaries,
  probeVersionOutput,
  type Profile,
  ProfileStore,
} from "../miners/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import { bool, type Parsed, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { progressBar } from "./format.ts";
import { type MinerType, MinerTypeSchema } from "../protocol/mod.ts";

/** Reads a password file: the first line, without its line ending. */
export async function readPasswordFile(
  path: string,
  options: { create?: boolean } = {},
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`cannot read the password file ${path}: ${(err as Error).message}`);
  }
  const password = text.split(/\r?\n/)[0];
  if (!password) throw new UsageError(`the password file ${path} is empty`);
  if (options.create && [...password].length < 8) {
    throw new UsageError("the bundle password must be at least 8 characters long");
  }
  return password;
}

interface MinerSource {
  path: string;
  type: MinerType;
  version: string;
}

function guessType(path: string): MinerType | null {
  const b = basename(path).toLowerCase().replace(/\.exe$/, "");
  if (b === "xmrig" || b.startsWith("xmrig-")) return "xmrig";
  if (b === "tt-miner" || b === "ttminer" || b.startsWith("tt-miner-")) return "tt-miner";
  return null;
}

async function probeVersion(type: MinerType, binary: string): Promise<string | null> {
  const out = await probeVersionOutput(binary);
  return out === null ? null : adapterFor(type).parseVersion(out);
}

/** Resolves `--miner TYPE|PATH` (+ `--type`, `--version`) to what gets bundled. */
export async function resolveMinerSource(
  paths: NodePaths,
  p: Parsed,
  command: string,
): Promise<MinerSource> {
  const value = str(p, "miner")!;
  const typeFlag = str(p, "type");
  if (typeFlag && !MinerTypeSchema.safeParse(typeFlag).success) {
    throw new UsageError(`--type must be one of ${MinerTypeSchema.options.join(", ")}`, command);
  }
  const versionFlag = str(p, "version");
  const asPath = await Deno.lstat(value).then(() => true, () => false);
  if (!asPath && MinerTypeSchema.safeParse(value).success) {
    const type = value as MinerType;
    const bin = adapterFor(type).defaultBinary;
    if (!bin) {
      throw new UsageError(`${type} miners have no standard binary: give --miner PATH`, command);
    }
    const found = findMinerBinaries(paths, type, bin);
    if (!found.length) {
      throw new UsageError(
        `no ${type} miner is installed here (looked in ${
          join(paths.dataDir, "miners", type)
        } and PATH)`,
        command,
      );
    }
    const best = found[0];
    if (best.source === "miners-dir") {
      return { path: dirname(best.path), type, version: versionFlag ?? best.dirVersion! };
    }
    const version = versionFlag ?? await probeVersion(type, best.path);
    if (!version) {
      throw new UsageError(`cannot tell the version of ${best.path}: give --version`, command);
    }
    return { path: best.path, type, version };
  }
  if (!asPath) {
    throw new UsageError(`--miner ${value}: no such file, and not a miner type`, command);
  }
  const path = resolve(value);
  const st = await Deno.stat(path);
  let type = (typeFlag as MinerType | undefined) ?? guessType(path);
  if (!type && st.isDirectory) {
    // A directory holding a known miner binary.
    for (const t of ["xmrig", "tt-miner"] as const) {
      const b = adapterFor(t).defaultBinary!;
      if (await Deno.stat(join(path, b)).then((x) => x.isFile, () => false)) type ??= t;
    }
  }
  if (!type) throw new UsageError(`cannot tell the miner type of ${path}: give --type`, command);
  let version = versionFlag ?? null;
  if (!version) {
    const bin = st.isDirectory ? join(path, adapterFor(type).defaultBinary ?? "") : path;
    if (st.isDirectory && /^\d+\.\d+/.test(basename(path))) version = basename(path);
    else version = await probeVersion(type, bin);
  }
  if (!version) throw new UsageError(`cannot tell the version of ${path}: give --version`, command);
  return { path, type, version };
}

/** Builds the bundle the flags describe into `out`. */
export async function buildBundleFromFlags(
  ctx: CliContext,
  p: Parsed,
  out: string,
  options: { command: string; password?: string; kdf?: KdfParams; quiet?: boolean },
): Promise<CreatedBundle> {
  const refs = (p.values.profile as string[] | undefined) ?? [];
  if (!refs.length && !str(p, "miner")) {
    throw new UsageError("give --profile ID and/or --miner TYPE|PATH", options.command);
  }
  const store = new ProfileStore(join(ctx.paths.configDir, "mining_profiles.json"));
  const profiles: Profile[] = [];
  for (const ref of refs) profiles.push(await store.get(ref));
  const miner = str(p, "miner") ? await resolveMinerSource(ctx.paths, p, options.command) : null;
  if (miner && profiles.some((x) => x.minerType !== miner.type)) {
    throw new UsageError(
      `the profiles must be for ${miner.type} to travel with a ${miner.type} miner`,
      options.command,
    );
  }
  const bar = options.quiet ? null : progressBar(ctx.io, "bundling");
  try {
    return await createBundle(out, {
      name: str(p, "name") ?? (miner ? miner.type : undefined),
      version: miner?.version ?? str(p, "version"),
      minerType: miner?.type,
      minerPath: miner?.path,
      profiles,
      password: options.password,
      kdf: options.kdf,
      onProgress: (done, total) => bar?.update(done, total),
    });
  } finally {
    bar?.done();
  }
}

/** `bundle create`. */
export async function bundleCreate(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "bundle create";
  if (p.positionals.length) throw new UsageError(`unexpected ${p.positionals[0]}`, cmd);
  const out = str(p, "output");
  if (!out) throw new UsageError("give the output file with -o FILE", cmd);
  const pwFile = str(p, "password-file");
  const password = pwFile ? await readPasswordFile(pwFile, { create: true }) : undefined;
  const made = await buildBundleFromFlags(ctx, p, resolve(out), { command: cmd, password });
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(
      {
        file: resolve(out),
        bytes: made.bytes,
        encrypted: made.encrypted,
        sha256: made.plainSha256,
        manifest: made.manifest,
      },
      null,
      2,
    ));
  } else {
    ctx.io.out(
      `wrote ${
        resolve(out)
      }: ${made.manifest.type} bundle ${made.manifest.name} ${made.manifest.version}, ${made.manifest.files.length} files, ${
        formatBytes(made.bytes)
      }${made.encrypted ? ", encrypted" : ""}`,
    );
  }
  return 0;
}

/** `bundle inspect FILE`. */
export async function bundleInspect(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "bundle inspect";
  if (p.positionals.length !== 1) throw new UsageError("usage: miner-cli bundle inspect FILE", cmd);
  const pwFile = str(p, "password-file");
  const password = pwFile ? await readPasswordFile(pwFile) : undefined;
  const opened = await openBundle(p.positionals[0], { password });
  const m = await readManifest(opened.stream);
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ encrypted: opened.encrypted, manifest: m }, null, 2));
    return 0;
  }
  ctx.io.out(`${m.type} bundle ${m.name} ${m.version}${opened.encrypted ? " (encrypted)" : ""}`);
  if (m.minerType) ctx.io.out(`miner type: ${m.minerType}`);
  if (m.profileIds.length) ctx.io.out(`profiles:   ${m.profileIds.join(", ")}`);
  ctx.io.out(`created:    ${m.createdAt}`);
  ctx.io.out("files:");
  for (const f of m.files) {
    ctx.io.out(
      `  ${f.mode.toString(8).padStart(4, "0")}  ${formatBytes(f.size).padStart(10)}  ${f.path}  ${
        f.sha256.slice(0, 16)
      }…`,
    );
  }
  return 0;
}

/** 1.5 MB style sizes. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
