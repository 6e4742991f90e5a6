/**
 * `deno task demo`: a whole fleet on one machine with no rigs. A dual controller ("control") and
 * two worker nodes ("rig-1", "rig-2"), each in its own temporary home with an emulated XMRig
 * miner; the workers are paired with one-time pairing codes over real Noise links, a profile is
 * started on both, and the controller serves the dashboard and API. Prints the URL and the token.
 * Ctrl+C (or SIGTERM) stops every node and miner and deletes the homes.
 *
 * usage: deno task demo [--api-listen HOST:PORT] [--json]   (default 127.0.0.1:9090)
 */
import { parseArgs } from "node:util";
import { createApiToken } from "../src/identity/mod.ts";
import { initIdentity } from "../src/identity/mod.ts";
import { installEmulatedMiner, ProfileStore } from "../src/miners/mod.ts";
import { addPeer, createPairCode, Fleet, parsePairCode } from "../src/node/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { type Daemon, startDaemon } from "../src/daemon/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { "api-listen": { type: "string" }, json: { type: "boolean" } },
});
const [apiHost, apiPortText] = (values["api-listen"] ?? "127.0.0.1:9090").split(/:(?=\d+$)/);
const apiPort = Number(apiPortText);
if (!apiHost || !Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) {
  console.error("error: --api-listen must be HOST:PORT, for example 127.0.0.1:9090");
  Deno.exit(1);
}
const say = (s: string) => {
  if (!values.json) console.log(s);
};

const root = await Deno.makeTempDir({ prefix: "miner-cli-demo-" });
const daemons: Daemon[] = [];
let stopping: Promise<void> | null = null;
const stop = () =>
  stopping ??= (async () => {
    // workers first (their miners stop with them), then the controller
    for (const d of [...daemons].reverse()) await d.close().catch(() => {});
    await Deno.remove(root, { recursive: true }).catch(() => {});
  })();
const stopped = new Promise<void>((resolve) => {
  const onSignal = () => stop().then(resolve);
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
});

try {
  const ctlPaths = resolvePaths({ home: `${root}/control` });
  await initIdentity(ctlPaths, { name: "control", role: "dual" });
  const token = await createApiToken(ctlPaths);
  await installEmulatedMiner(ctlPaths, "xmrig", { env: { MINER_EMU_HASHRATE: "800" } });
  const controller = await startDaemon(ctlPaths, {
    serve: { hostname: "127.0.0.1", port: 0 },
    api: { hostname: apiHost, port: apiPort },
    fleetPollMs: 5000,
    historyIntervalMs: 5000,
  });
  daemons.push(controller);
  const profiles = new ProfileStore(`${ctlPaths.configDir}/mining_profiles.json`);
  const profile = await profiles.add({
    name: "demo-cpu",
    minerType: "xmrig",
    config: {
      pools: [{ url: "stratum+tcp://pool.example.org:3333", user: "DEMO_WALLET" }],
      threads: 2,
    },
  });
  say(`controller  control  ${controller.mesh.id}`);
  for (const [i, rate] of [[1, 1200], [2, 2600]] as const) {
    const paths = resolvePaths({ home: `${root}/rig-${i}` });
    const id = await initIdentity(paths, { name: `rig-${i}`, role: "worker" });
    await installEmulatedMiner(paths, "xmrig", { env: { MINER_EMU_HASHRATE: String(rate) } });
    const worker = await startDaemon(paths, {
      serve: { hostname: "127.0.0.1", port: 0 },
      api: null,
      historyIntervalMs: 0,
    });
    daemons.push(worker);
    // pairing as an operator does it: a one-time code from the worker, redeemed by the controller
    const { code } = await createPairCode(paths, id.info.id, { ttlMs: 60_000 });
    await addPeer(controller.mesh, `127.0.0.1:${worker.server.port}`, {
      pairCode: parsePairCode(code),
    });
    say(`worker      rig-${i}    ${id.info.id}  paired with a one-time code`);
  }
  const fleet = new Fleet(controller.mesh, profiles);
  for (const i of [1, 2]) {
    const ack = await fleet.start(`rig-${i}`, { profileRef: profile.id });
    if (!ack.success) throw new Error(`rig-${i}: ${ack.error}`);
  }
  await controller.monitor.poll();
  const url = controller.api!.url;
  if (values.json) {
    console.log(JSON.stringify({ event: "ready", url, token, home: root }));
  } else {
    say(`\nminers started on rig-1 and rig-2 (profile demo-cpu, emulated XMRig)\n`);
    say(`dashboard   ${url}/`);
    say(`token       ${token}`);
    say(`\ntry:  curl -H "Authorization: Bearer ${token}" ${url}/api/v1/mining/remote/stats`);
    say(`      deno task cli --home ${root}/control remote status`);
    say(`\npress Ctrl+C to stop everything (the temporary homes are deleted)`);
  }
} catch (err) {
  console.error(`error: demo failed: ${(err as Error).message}`);
  await stop();
  Deno.exit(1);
}
await stopped;
say("demo stopped; no node or miner left running");
Deno.exit(0);
