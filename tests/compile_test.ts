/**
 * Issue 6, acceptance 2: `deno task compile` plans every target × flavour with exactly the
 * permission table's flags (checked through `--dry-run`), and where `deno compile` cannot fetch
 * its runtime it says "runtime download unavailable" instead of a raw network error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FLAVOUR_BINARY, NODE_RUNTIME_FLAGS, permissionFlags } from "../src/cli/mod.ts";
import { SOFTWARE_VERSION } from "../src/protocol/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { ROOT, tempHome } from "./helpers.ts";

async function task(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "compile", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const PERMISSION_FLAG = /^--(allow-|deny-|no-prompt)/;

Deno.test("compile --dry-run: the worker's command line holds exactly the table's flags", async () => {
  const r = await task([
    "--target",
    "x86_64-unknown-linux-gnu",
    "--flavour",
    "worker",
    "--dry-run",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const argv = lines[0].split(" ");
  assert.deepEqual(argv.slice(0, 2), ["deno", "compile"]);
  // The default homes are this user's documented defaults, resolved as the binary resolves them.
  const paths = resolvePaths({
    env: (k) => (k === "MINER_CLI_HOME" ? undefined : Deno.env.get(k)),
  });
  const expected = permissionFlags("worker", {
    configDir: paths.configDir,
    dataDir: paths.dataDir,
    os: "linux",
  });
  assert.deepEqual(argv.filter((a) => PERMISSION_FLAG.test(a)), expected);
  assert.ok(!argv.includes("--allow-all") && !argv.includes("-A"));
  for (const flag of NODE_RUNTIME_FLAGS) assert.ok(argv.includes(flag), flag);
  const at = (flag: string) => argv[argv.indexOf(flag) + 1];
  assert.equal(at("--target"), "x86_64-unknown-linux-gnu");
  assert.equal(at("--include"), "dist/ui");
  assert.equal(at("--output"), `dist/miner-cli-worker-${SOFTWARE_VERSION}-linux-x86_64`);
  assert.equal(argv.at(-1), "main.ts");
  // The worker may run only its miners' active installs, and the process tools that keep a
  // miner from outliving its node.
  const run = expected.find((f) => f.startsWith("--allow-run="))!;
  assert.deepEqual(run.slice("--allow-run=".length).split(","), [
    join(paths.dataDir, "miners", "xmrig", "current", "xmrig"),
    join(paths.dataDir, "miners", "tt-miner", "current", "TT-Miner"),
    "/usr/bin/setpriv",
    "/usr/bin/ps",
    "/usr/bin/kill",
  ]);
});

Deno.test("compile --dry-run: every target and flavour, --home baked in, bad options refused", async () => {
  const r = await task(["--dry-run", "--json", "--home", "/var/lib/miner-cli"]);
  assert.equal(r.code, 0, r.stderr);
  const plans: {
    target: string;
    flavour: keyof typeof FLAVOUR_BINARY;
    output: string;
    args: string[];
  }[] = JSON.parse(r.stdout).plans;
  assert.equal(plans.length, 15);
  assert.equal(new Set(plans.map((p) => p.output)).size, 15);
  for (const p of plans) {
    const os = p.target.includes("windows")
      ? "windows"
      : p.target.includes("apple")
      ? "darwin"
      : "linux";
    const arch = p.target.split("-")[0];
    assert.equal(
      p.output,
      `dist/${FLAVOUR_BINARY[p.flavour]}-${SOFTWARE_VERSION}-${os}-${arch}${
        os === "windows" ? ".exe" : ""
      }`,
    );
    assert.deepEqual(p.args.slice(-3), ["main.ts", "--home", "/var/lib/miner-cli"]);
    const flags = p.args.filter((a) => PERMISSION_FLAG.test(a));
    if (os === "windows") {
      assert.deepEqual(
        flags,
        permissionFlags(p.flavour, {
          configDir: "\\var\\lib\\miner-cli\\config",
          dataDir: "\\var\\lib\\miner-cli\\data",
          os,
        }),
      );
      continue;
    }
    assert.deepEqual(
      flags,
      permissionFlags(p.flavour, {
        configDir: "/var/lib/miner-cli/config",
        dataDir: "/var/lib/miner-cli/data",
        os,
      }),
    );
    assert.equal(flags.some((f) => f.startsWith("--allow-run")), p.flavour !== "controller");
    assert.equal(flags.includes("--allow-net"), p.flavour !== "worker");
  }
  const bad = await task(["--dry-run", "--target", "riscv64-linux"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown target "riscv64-linux"; one of: x86_64-unknown-linux-gnu/);
  const relative = await task(["--dry-run", "--home", "rel/dir"]);
  assert.equal(relative.code, 2);
  assert.match(relative.stderr, /--home must be an absolute/);
});

Deno.test("compile: says 'runtime download unavailable' when deno compile cannot fetch denort", async () => {
  const out = await tempHome("miner-cli-compile-");
  try {
    // Point every download at a closed port, so the result is the same on any machine.
    const r = await task(
      ["--target", "x86_64-unknown-linux-gnu", "--flavour", "worker", "--out", out],
      { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9" },
    );
    if (r.code === 0) {
      // A machine that already holds denort for this target in its Deno cache builds for real.
      const name = `miner-cli-worker-${SOFTWARE_VERSION}-linux-x86_64`;
      assert.ok((await Deno.stat(join(out, name))).isFile);
      assert.match(
        await Deno.readTextFile(join(out, "SHA256SUMS")),
        new RegExp(`^[0-9a-f]{64}  ${name}$`, "m"),
      );
      return;
    }
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /runtime download unavailable/);
    assert.match(r.stderr, /denort/);
    assert.match(r.stderr, /DENORT_BIN/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(out)), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("deno.json: the tasks that run a node from source use the binaries' runtime flags", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  for (const name of ["cli", "demo"]) {
    const command: string = tasks[name].command ?? tasks[name];
    const argv = command.split(/\s+/);
    for (const flag of NODE_RUNTIME_FLAGS) assert.ok(argv.includes(flag), `${name}: ${flag}`);
  }
});
