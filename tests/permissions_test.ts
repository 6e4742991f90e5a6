/**
 * Issue 6, acceptance 1: each flavour's permission set, proven by running main.ts under exactly
 * the flags `deno task compile` bakes into that binary (the table in src/cli/permissions.ts,
 * resolved for the test's homes). From source, `dist/ui` is added to the readable paths: the
 * compiled binary carries it inside.
 *
 * - worker: starts the emulated miner placed in its miners dir; cannot run /bin/sh, read
 *   /etc/shadow or a file outside its homes, write outside them, or listen elsewhere.
 * - controller: cannot spawn any process; init, serve, peer add, remote status, remote
 *   start/stop and deploy all work.
 * - dual: both sides at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Flavour,
  NODE_RUNTIME_FLAGS,
  permissionFlags,
  type PermissionLayout,
} from "../src/cli/mod.ts";
import { decodeBeacon } from "../src/node/mod.ts";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  cli,
  type CliResult,
  freeUdpPorts,
  ROOT,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "./helpers.ts";

const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };

/** Exactly the flags of `flavour`'s binary, for a node whose `--home` is `home`. */
function flavourFlags(
  flavour: Flavour,
  home: string,
  layout: Partial<PermissionLayout> = {},
): string[] {
  return [
    ...NODE_RUNTIME_FLAGS,
    ...permissionFlags(flavour, {
      configDir: join(home, "config"),
      dataDir: join(home, "data"),
      listen: "127.0.0.1:0",
      extraRead: [join(ROOT, "dist", "ui")],
      ...layout,
    }),
  ];
}

/** A CLI runner bound to one home and one flavour's flags. */
function node(flavour: Flavour, home: string, layout: Partial<PermissionLayout> = {}) {
  const flags = flavourFlags(flavour, home, layout);
  const run = (args: string[]): Promise<CliResult> => cli(home, args, { flags });
  const ok = async (args: string[]): Promise<CliResult> => {
    const r = await run(args);
    assert.equal(r.code, 0, `${flavour}: ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const refused = async (args: string[], pattern: RegExp): Promise<string> => {
    const r = await run(args);
    assert.notEqual(r.code, 0, `${flavour} should refuse: ${args.join(" ")}\n${r.stdout}`);
    assert.match(r.stderr, pattern, `${flavour}: ${args.join(" ")}: ${r.stderr}`);
    return r.stderr;
  };
  return {
    flags,
    run,
    ok,
    refused,
    serve: (extra: string[] = []): Promise<ServeHandle> => serve(home, extra, { flags }),
  };
}

const XMRIG_PROFILE = [
  ...["profile", "add", "--type", "xmrig", "--name", "cpu"],
  ...["--pool", "pool.example.org:3333", "--user", "44w", "--threads", "1"],
];

const NOT_PERMITTED = /not in this binary's permission set/;

/** The checks every flavour shares: no files outside its homes, no foreign homes. */
async function assertConfined(n: ReturnType<typeof node>, outside: string): Promise<void> {
  await n.refused(["bundle", "inspect", "/etc/shadow"], /Requires read access to "\/etc\/shadow"/);
  await n.refused(["bundle", "inspect", outside], NOT_PERMITTED);
  await n.refused(["profile", "add", "--file", outside], NOT_PERMITTED);
  // A home the binary was not built for is refused up front, with the reason.
  await n.refused(
    ["--home", join(outside, "..", "elsewhere"), "node", "info"],
    /permission set does not cover this node's homes/,
  );
}

async function outsideFile(root: string): Promise<string> {
  const f = join(root, "outside", "secret.txt");
  await Deno.mkdir(join(root, "outside"));
  await Deno.writeTextFile(f, "not for miner-cli");
  return f;
}

Deno.test("permissions: worker flavour runs its miners and nothing else, inside its homes only", async () => {
  const root = await tempHome("miner-cli-perm-");
  const w = node("worker", join(root, "w"));
  let srv: ServeHandle | undefined;
  try {
    assert.ok(!w.flags.includes("--allow-all") && !w.flags.includes("--allow-run"));
    await w.ok(["node", "init", "--name", "rig", "--role", "worker"]);
    await installEmulatedMiner(resolvePaths({ home: join(root, "w") }), "xmrig", { env: EMU });
    await w.ok(XMRIG_PROFILE);
    await w.ok([
      "profile",
      "add",
      "--type",
      "custom",
      "--name",
      "sh",
      "--command",
      "/bin/sh",
      "--arg=-c",
      "--arg",
      "id",
    ]);
    // The installed miner's --version probe is a spawn the worker may do.
    const list = JSON.parse((await w.ok(["miners", "list", "--json"])).stdout).miners;
    assert.equal(list[0].version, "6.21.0");
    const outside = await outsideFile(root);
    await assertConfined(w, outside);
    // It cannot write outside its homes either.
    await w.refused(
      ["bundle", "create", "--profile", "cpu", "-o", join(root, "outside", "x.bundle")],
      /Requires write access/,
    );
    // It listens only on its P2P address.
    await w.refused(
      ["node", "serve", "--listen", "0.0.0.0:0", "--no-api"],
      /Requires net access to "0\.0\.0\.0:0"/,
    );

    srv = await w.serve();
    // Its connection limit is counted (it may not run `sh`), and only as far as a worker's
    // default needs (at most 1,024 links; counting costs ~12 µs a descriptor at every start).
    await srv.waitForLog(/connection_limit .*\n/);
    const limit = /connection_limit maxConnections=(\d+) openFileLimit=(\d+) method=(\w+)/
      .exec(srv.log())!;
    assert.equal(limit[3], "counted");
    assert.ok(Number(limit[1]) <= 1024 && Number(limit[2]) <= 1024 + 384, limit[0]);
    const started = JSON.parse((await w.ok(["start", "cpu", "--json"])).stdout);
    assert.equal(started.name, "cpu");
    await until(
      async () => {
        const s = JSON.parse((await w.ok(["status", "--json"])).stdout);
        return (s.miners[0]?.hashrate?.now ?? 0) > 0;
      },
      "the emulated miner hashing under the worker's permissions",
      20_000,
    );
    // /bin/sh is not a miner in its miners dir.
    await w.refused(["start", "sh"], /may not run \/bin\/sh/);
    await w.ok(["stop", "cpu"]);
  } finally {
    await srv?.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("permissions: worker flavour beacons on its discovery port and no other", async () => {
  const root = await tempHome("miner-cli-perm-");
  // The test listens on a loopback port standing in for the broadcast address (a test never
  // broadcasts on the host's real network).
  const inbox = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const [port] = freeUdpPorts(1);
  const target = `127.0.0.1:${(inbox.addr as Deno.NetAddr).port}`;
  const w = node("worker", join(root, "w"), { discoverPort: port, discoverBroadcast: [target] });
  let srv: ServeHandle | undefined;
  try {
    assert.ok(w.flags.some((f) => f.startsWith("--allow-net=") && f.includes(`0.0.0.0:${port}`)));
    await w.ok(["node", "init", "--name", "rig", "--role", "worker"]);
    const id = JSON.parse((await w.ok(["node", "info", "--json"])).stdout).id;
    await w.refused(
      [
        "node",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-api",
        "--discover",
        "--discover-port",
        String(port + 1),
      ],
      new RegExp(`Requires net access to "0\\.0\\.0\\.0:${port + 1}"`),
    );
    srv = await w.serve([
      "--discover",
      "--discover-port",
      String(port),
      "--discover-broadcast",
      target,
    ]);
    const [data] = await inbox.receive();
    const beacon = decodeBeacon(data);
    assert.equal(beacon?.id, id);
    assert.equal(beacon?.role, "worker");
    assert.equal(beacon?.port, srv.port);
    // Deno grants /proc and /sys only with --allow-all: under the binary's permission set the
    // probe falls back to node:os and Deno.systemMemoryInfo, and CPU flags stay unknown.
    assert.equal(beacon?.threads, navigator.hardwareConcurrency);
    assert.ok((beacon?.memTotalMB ?? 0) > 0);
    assert.equal(beacon?.aes, null);
  } finally {
    inbox.close();
    await srv?.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("permissions: controller flavour cannot spawn, and pairs, drives and deploys to a worker", async () => {
  const root = await tempHome("miner-cli-perm-");
  const c = node("controller", join(root, "c"));
  const w = node("worker", join(root, "w"));
  const servers: ServeHandle[] = [];
  try {
    assert.ok(!c.flags.some((f) => f.startsWith("--allow-run")));
    await c.ok(["node", "init", "--name", "control", "--role", "controller"]);
    await w.ok(["node", "init", "--name", "rig", "--role", "worker"]);
    await installEmulatedMiner(resolvePaths({ home: join(root, "w") }), "xmrig", {
      env: EMU,
      version: "6.21.0",
    });
    // The controller holds a newer (emulated) XMRig to deploy; it may not run it.
    await installEmulatedMiner(resolvePaths({ home: join(root, "c") }), "xmrig", {
      env: EMU,
      version: "6.22.0",
    });
    const list = JSON.parse((await c.ok(["miners", "list", "--json"])).stdout).miners;
    assert.equal(list[0].version, null, "the --version probe must be refused");
    assert.match(
      (await c.run(["service", "install", "--user", "--unit-dir", join(root, "c", "data", "u")]))
        .stderr,
      /Requires run access to "systemctl"/,
    );
    await assertConfined(c, await outsideFile(root));

    const code = (await w.ok(["node", "pair-code"])).stdout.match(/MC1-[\w-]+/)![0];
    const ws = await w.serve(["--poll-interval", "200ms"]);
    servers.push(ws);
    const cs = await c.serve();
    servers.push(cs);
    await c.ok(["peer", "add", "--address", ws.address, "--name", "rig", "--code", code]);
    await c.ok(XMRIG_PROFILE);
    await c.ok(["remote", "start", "rig", "--profile", "cpu"]);
    await until(
      async () => {
        const r = await c.run(["remote", "status", "--json"]);
        const doc = JSON.parse(r.stdout || "{}");
        return r.code === 0 && (doc.peers?.[0]?.miners?.[0]?.hashrate?.now ?? 0) > 0;
      },
      "the worker hashing, seen by the controller",
      20_000,
    );
    await c.ok(["remote", "stop", "rig"]);
    // Deploy: the new version lands in the worker's active slot and runs under its flags.
    const dep = JSON.parse(
      (await c.ok(["remote", "deploy", "rig", "--miner", "xmrig", "--json"])).stdout,
    );
    assert.equal(dep.results[0].ok, true);
    assert.equal(
      await Deno.readTextFile(join(root, "w", "data", "miners", "xmrig", "current", ".version")),
      "6.22.0\n",
    );
    await c.ok(["remote", "start", "rig", "--profile", "cpu"]);
    await until(
      async () => {
        const doc = JSON.parse((await c.ok(["remote", "status", "--json"])).stdout);
        const m = doc.peers[0].miners[0];
        return (m?.hashrate?.now ?? 0) > 0;
      },
      "the deployed version hashing",
      20_000,
    );
    await c.ok(["remote", "stop", "rig"]);
  } finally {
    for (const s of servers) await s.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("permissions: dual flavour runs local miners and controls a worker, inside its homes", async () => {
  const root = await tempHome("miner-cli-perm-");
  const d = node("dual", join(root, "d"));
  const w = node("worker", join(root, "w"));
  const servers: ServeHandle[] = [];
  try {
    await d.ok(["node", "init", "--name", "desk"]);
    await w.ok(["node", "init", "--name", "rig", "--role", "worker"]);
    for (const h of ["d", "w"]) {
      await installEmulatedMiner(resolvePaths({ home: join(root, h) }), "xmrig", { env: EMU });
    }
    await assertConfined(d, await outsideFile(root));
    await d.ok(["profile", "add", "--type", "custom", "--name", "sh", "--command", "/bin/sh"]);
    await d.ok(XMRIG_PROFILE);
    const code = (await w.ok(["node", "pair-code"])).stdout.match(/MC1-[\w-]+/)![0];
    const ws = await w.serve();
    servers.push(ws);
    servers.push(await d.serve());
    await d.ok(["peer", "add", "--address", ws.address, "--name", "rig", "--code", code]);
    await d.ok(["start", "cpu"]);
    await d.refused(["start", "sh"], /may not run \/bin\/sh/);
    await d.ok(["remote", "start", "rig", "--profile", "cpu"]);
    await until(
      async () => {
        const local = JSON.parse((await d.ok(["status", "--json"])).stdout);
        const remote = JSON.parse((await d.ok(["remote", "status", "--json"])).stdout);
        return (local.miners[0]?.hashrate?.now ?? 0) > 0 &&
          (remote.peers[0]?.miners[0]?.hashrate?.now ?? 0) > 0;
      },
      "local and remote miners hashing",
      20_000,
    );
    await d.ok(["stop", "cpu"]);
    await d.ok(["remote", "stop", "rig"]);
  } finally {
    for (const s of servers) await s.stop();
    await Deno.remove(root, { recursive: true });
  }
});
