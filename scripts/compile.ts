/**
 * `deno task compile`: builds the single-file binaries into `dist/`.
 *
 * For every target Deno supports and every flavour (`miner-cli-worker`, `miner-cli-controller`,
 * `miner-cli`), runs `deno compile` with the flavour's permission set from the one table in
 * `src/cli/permissions.ts`, embeds the dashboard (`--include dist/ui`), names the binary
 * `<flavour>-<version>-<os>-<arch>[.exe]` and writes `SHA256SUMS` beside them.
 *
 *   deno task compile [--target T]... [--flavour F]... [--home DIR | --user-home DIR]
 *                     [--listen HOST:PORT] [--custom-miner NAME]... [--discover-port N]
 *                     [--discover-broadcast ADDR]... [--out DIR] [--dry-run] [--json]
 *
 * Deno bakes permissions into a binary when it is compiled and cannot expand `~` or variables at
 * run time, so the homes are fixed here: `--home DIR` bakes `--home DIR` into the binary (the
 * layout for a service account, e.g. /var/lib/miner-cli), otherwise the XDG default homes of
 * `--user-home` (default: the building user's home) are baked. A binary refuses, with an
 * explanation, to run against homes outside its permission set.
 *
 * `deno compile` downloads its runtime (denort) for each target; where that is impossible the
 * script says "runtime download unavailable" and exits 3 (set DENORT_BIN to a local denort).
 * @module
 */
import { parseArgs } from "node:util";
import { posix, win32 } from "node:path";
import { createHash } from "node:crypto";
import {
  type Flavour,
  FLAVOUR_BINARY,
  FLAVOURS,
  listenPermission,
  NODE_RUNTIME_FLAGS,
  permissionFlags,
  type PermissionLayout,
  type TargetOs,
} from "../src/cli/mod.ts";
import { SOFTWARE_VERSION } from "../src/protocol/mod.ts";
import { APP_DIR } from "../src/store/mod.ts";

/** Targets `deno compile` supports, with the OS and arch used in file names. */
export const TARGETS: Readonly<Record<string, { os: TargetOs; arch: string }>> = {
  "x86_64-unknown-linux-gnu": { os: "linux", arch: "x86_64" },
  "aarch64-unknown-linux-gnu": { os: "linux", arch: "aarch64" },
  "x86_64-apple-darwin": { os: "darwin", arch: "x86_64" },
  "aarch64-apple-darwin": { os: "darwin", arch: "aarch64" },
  "x86_64-pc-windows-msvc": { os: "windows", arch: "x86_64" },
};

const ROOT = new URL("../", import.meta.url).pathname;

/** One planned `deno compile` run. */
export interface BuildPlan {
  /** Rust target triple. */
  target: string;
  /** Flavour. */
  flavour: Flavour;
  /** Output file (relative to the repository root). */
  output: string;
  /** The homes the permission set covers. */
  layout: PermissionLayout;
  /** Full argument list after `deno`. */
  args: string[];
}

function fail(message: string, code = 2): never {
  console.error(`compile: ${message}`);
  Deno.exit(code);
}

function list(values: string[] | undefined, all: readonly string[], what: string): string[] {
  const out = (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  for (const v of out) {
    if (!all.includes(v)) fail(`unknown ${what} ${JSON.stringify(v)}; one of: ${all.join(", ")}`);
  }
  return out.length ? [...new Set(out)] : [...all];
}

function hostOs(): TargetOs {
  return Deno.build.os === "windows" ? "windows" : Deno.build.os === "darwin" ? "darwin" : "linux";
}

/** The homes a binary for `os` is built for. */
function layoutFor(
  os: TargetOs,
  opts: {
    home?: string;
    userHome?: string;
    listen?: string;
    customMiners: string[];
    discoverPort?: number;
    discoverBroadcast?: string[];
  },
): { layout: PermissionLayout; bakedArgs: string[] } {
  const path = os === "windows" ? win32 : posix;
  const common = {
    os,
    listen: opts.listen,
    customMiners: opts.customMiners,
    discoverPort: opts.discoverPort,
    discoverBroadcast: opts.discoverBroadcast,
  };
  if (opts.home) {
    if (!path.isAbsolute(opts.home)) fail(`--home must be an absolute ${os} path`);
    return {
      layout: {
        ...common,
        configDir: path.join(opts.home, "config"),
        dataDir: path.join(opts.home, "data"),
      },
      bakedArgs: ["--home", opts.home],
    };
  }
  const user = Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "miner";
  const sameOs = os === hostOs();
  const userHome = opts.userHome ??
    (sameOs
      ? (Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE"))
      : os === "darwin"
      ? `/Users/${user}`
      : os === "windows"
      ? `C:\\Users\\${user}`
      : `/home/${user}`);
  if (!userHome || !path.isAbsolute(userHome)) {
    fail(`cannot tell the user's home for ${os}: pass --user-home DIR or --home DIR`);
  }
  // The same rule as src/store/paths.ts: XDG variables win (only meaningful on this OS).
  const xdgConfig = (sameOs && !opts.userHome && Deno.env.get("XDG_CONFIG_HOME")) ||
    path.join(userHome, ".config");
  const xdgData = (sameOs && !opts.userHome && Deno.env.get("XDG_DATA_HOME")) ||
    path.join(userHome, ".local", "share");
  return {
    layout: {
      ...common,
      configDir: path.join(xdgConfig, APP_DIR),
      dataDir: path.join(xdgData, APP_DIR),
    },
    bakedArgs: [],
  };
}

/** Every `deno compile` run the options ask for. */
export function planBuilds(
  argv: string[],
): { plans: BuildPlan[]; out: string; json: boolean; dryRun: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        target: { type: "string", multiple: true },
        flavour: { type: "string", multiple: true },
        home: { type: "string" },
        "user-home": { type: "string" },
        listen: { type: "string" },
        "custom-miner": { type: "string", multiple: true },
        "discover-port": { type: "string" },
        "discover-broadcast": { type: "string", multiple: true },
        out: { type: "string" },
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(
      "usage: deno task compile [--target T]... [--flavour worker|controller|dual]... [--home DIR | --user-home DIR] [--listen HOST:PORT] [--custom-miner NAME]... [--discover-port N] [--discover-broadcast ADDR]... [--out DIR] [--dry-run] [--json]",
    );
    Deno.exit(0);
  }
  if (v.home && v["user-home"]) fail("--home and --user-home exclude each other");
  let listen: string | undefined;
  try {
    listen = v.listen === undefined ? undefined : listenPermission(v.listen);
  } catch (err) {
    fail((err as Error).message);
  }
  const discoverPort = v["discover-port"] === undefined ? undefined : Number(v["discover-port"]);
  if (
    discoverPort !== undefined &&
    (!Number.isInteger(discoverPort) || discoverPort < 1 || discoverPort > 65535)
  ) {
    fail(`--discover-port must be a port number (1-65535), got ${v["discover-port"]}`);
  }
  const discoverBroadcast = v["discover-broadcast"]?.flatMap((x) => x.split(",")).filter(Boolean);
  for (const b of discoverBroadcast ?? []) {
    if (!/^\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?$/.test(b)) {
      fail(`--discover-broadcast must be an IPv4 address (optionally :PORT), got ${b}`);
    }
  }
  const targets = list(v.target, Object.keys(TARGETS), "target");
  const flavours = list(v.flavour, FLAVOURS, "flavour") as Flavour[];
  const out = v.out ?? "dist";
  const plans: BuildPlan[] = [];
  for (const target of targets) {
    const { os, arch } = TARGETS[target];
    const { layout, bakedArgs } = layoutFor(os, {
      home: v.home,
      userHome: v["user-home"],
      listen,
      customMiners: (v["custom-miner"] ?? []).flatMap((x) => x.split(",")).filter(Boolean),
      discoverPort,
      discoverBroadcast,
    });
    for (const flavour of flavours) {
      const output = posix.join(
        out,
        `${FLAVOUR_BINARY[flavour]}-${SOFTWARE_VERSION}-${os}-${arch}${
          os === "windows" ? ".exe" : ""
        }`,
      );
      let perms: string[];
      try {
        perms = permissionFlags(flavour, layout);
      } catch (err) {
        fail((err as Error).message);
      }
      plans.push({
        target,
        flavour,
        output,
        layout,
        args: [
          "compile",
          "--target",
          target,
          "--output",
          output,
          "--include",
          "dist/ui",
          ...NODE_RUNTIME_FLAGS,
          ...perms,
          "main.ts",
          ...bakedArgs,
        ],
      });
    }
  }
  return { plans, out, json: !!v.json, dryRun: !!v["dry-run"] };
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** True when `deno compile` failed because it could not fetch its runtime. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /(dl\.deno\.land|denort|Setting up base binary)/i.test(stderr) &&
    /(error sending request|dns error|failed to lookup|connect|timed out|network|download)/i
      .test(stderr);
}

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(file);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

async function writeSums(outDir: string): Promise<string> {
  const names: string[] = [];
  for await (const e of Deno.readDir(outDir)) {
    if (e.isFile && /^miner-cli(-worker|-controller)?-\d/.test(e.name)) names.push(e.name);
  }
  names.sort();
  const lines = [];
  for (const n of names) lines.push(`${await sha256(posix.join(outDir, n))}  ${n}`);
  const file = posix.join(outDir, "SHA256SUMS");
  const tmp = `${file}.tmp`;
  await Deno.writeTextFile(tmp, lines.join("\n") + (lines.length ? "\n" : ""));
  await Deno.rename(tmp, file);
  return file;
}

async function main(): Promise<number> {
  Deno.chdir(ROOT);
  const { plans, out, json, dryRun } = planBuilds(Deno.args);
  if (dryRun) {
    if (json) {
      console.log(JSON.stringify({ plans }, null, 2));
    } else {
      for (const p of plans) console.log(["deno", ...p.args].map(shellQuote).join(" "));
    }
    return 0;
  }
  try {
    await Deno.stat("dist/ui/index.html");
  } catch {
    fail("dist/ui is missing: run `deno task build:ui` first (the compile task does)");
  }
  await Deno.mkdir(out, { recursive: true });
  const built: { target: string; flavour: Flavour; output: string }[] = [];
  for (const [i, p] of plans.entries()) {
    if (!json) console.error(`[${i + 1}/${plans.length}] ${p.output} (${p.target})`);
    const r = await new Deno.Command(Deno.execPath(), {
      args: p.args,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    if (!r.success) {
      if (isRuntimeDownloadFailure(stderr)) {
        const cause = stderr.split("\n").find((l) => /error sending request|dns error/i.test(l))
          ?.trim();
        const msg =
          `runtime download unavailable: deno compile needs the Deno runtime (denort) for ${p.target} from dl.deno.land, and this machine cannot download it${
            cause ? ` (${cause})` : ""
          }. Build on a machine with internet access, or set DENORT_BIN to a denort binary for ${p.target}.`;
        if (json) console.log(JSON.stringify({ ok: false, error: msg, built }));
        else console.error(`compile: ${msg}`);
        return 3;
      }
      if (json) console.log(JSON.stringify({ ok: false, error: stderr.trim(), built }));
      else console.error(stderr.trim());
      console.error(`compile: deno compile failed for ${p.output}`);
      return 1;
    }
    built.push({ target: p.target, flavour: p.flavour, output: p.output });
  }
  const sums = await writeSums(out);
  if (json) console.log(JSON.stringify({ ok: true, built, sums }));
  else console.error(`built ${built.length} binaries; checksums in ${sums}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
