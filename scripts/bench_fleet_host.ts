/**
 * Benchmark and test worker host: runs many worker node identities in one process, each a real
 * MeshNode with its own key and home, answering `get_stats` like a worker. The controller given
 * by `--controller-id/--controller-key` is registered on each (role controller, granted
 * control). Prints `{"nodes":[{id, name, publicKey, port}...]}` on stdout when ready.
 *
 * Without `--connect` each listens on a loopback port of its own (the controller dials them).
 * With `--connect HOST:PORT` none listens: after a line on stdin (time for the controller to
 * allow the IDs) each keeps a link to the controller, as `node serve --connect` does, and pushes
 * its stats every `--push-ms` (default 10 s), each from a loopback address of its own
 * (127.x.y.z after `--address-base`). Identities already in `--root` are reused.
 *
 * usage: deno run -A scripts/bench_fleet_host.ts --root DIR --count N --prefix P
 *          --controller-id ID --controller-key BASE64 [--connect HOST:PORT] [--push-ms MS]
 */
import { parseArgs } from "node:util";
import { initIdentity } from "../src/identity/mod.ts";
import { MinerManager, minersDir } from "../src/miners/mod.ts";
import { attachWorker, AuditLog, auditLogPath, MeshNode, PolicyStore } from "../src/node/mod.ts";
import { newPeer, PeerRegistry } from "../src/peers/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { startLoopLagMonitor } from "../src/daemon/mod.ts";
import { Logger } from "../src/log/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string" },
    count: { type: "string" },
    prefix: { type: "string" },
    "controller-id": { type: "string" },
    "controller-key": { type: "string" },
    connect: { type: "string" },
    "push-ms": { type: "string" },
    "address-base": { type: "string" },
    // Appends this host's longest event-loop stall of each second to FILE (is the rigs' side late?).
    "lag-log": { type: "string" },
    log: { type: "string" },
  },
});
const connect = values.connect;
const count = Number(values.count ?? 25);
const nodes: { id: string; name: string; publicKey: string; port: number }[] = [];
const meshes: MeshNode[] = [];
const startedAt = new Date();
for (let i = 0; i < count; i++) {
  const paths = resolvePaths({ home: `${values.root}/${values.prefix}-${i}` });
  const name = `${values.prefix}-${i}`;
  const exists = await Deno.stat(paths.nodeJson).then(() => true, () => false);
  if (!exists) await initIdentity(paths, { name, role: "worker", force: true });
  const reg = await PeerRegistry.open(paths.registryDb, { debounceMs: 0 });
  reg.upsert(
    newPeer({
      id: values["controller-id"]!,
      name: "bench-controller",
      publicKey: values["controller-key"]!,
      address: null,
      role: "controller",
    }, { grants: ["control"] }),
  );
  await reg.close();
  // --log FILE: the rigs' warnings (failed dials and their reasons), one JSON line each.
  const logFile = values.log;
  const logger = logFile
    ? new Logger({
      level: "warn",
      json: true,
      sink: (line) => Deno.writeTextFileSync(logFile, line + "\n", { append: true }),
    })
    : undefined;
  const mesh = await MeshNode.open(paths, {
    ...(connect ? {} : { keepalive: false }),
    ...(logger ? { logger } : {}),
  });
  attachWorker(mesh, {
    miners: new MinerManager(paths),
    audit: new AuditLog(auditLogPath(paths)),
    startedAt,
    minersDir: minersDir(paths),
    policy: await PolicyStore.open(paths.policyJson),
    pushIntervalMs: Number(values["push-ms"] ?? 10_000),
  });
  const port = connect ? 0 : (await mesh.serve({ hostname: "127.0.0.1", port: 0 })).port;
  meshes.push(mesh);
  nodes.push({ id: mesh.id, name, publicKey: mesh.identity.info.publicKey, port });
}
console.log(JSON.stringify({ nodes }));
if (connect) {
  // Wait for the go (the controller allows the IDs first), then link every identity.
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  // Each rig dials from a loopback address of its own (127.x.y.z), as rigs of a farm come from
  // addresses of their own: the controller's per-address handshake limit is not the bottleneck.
  const base = Number(values["address-base"] ?? 0);
  meshes.forEach((m, i) => {
    const n = base + i + 1;
    m.maintain(connect, { localAddress: `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` });
  });
}
if (values["lag-log"]) {
  const file = values["lag-log"];
  const lag = startLoopLagMonitor({ intervalMs: 100, windowMs: 1000 });
  const t = setInterval(() => {
    const line = `${new Date().toISOString()} ${Math.round(lag.maxMs())}\n`;
    Deno.writeTextFile(file, line, { append: true }).catch(() => {});
  }, 1000);
  Deno.unrefTimer(t);
}
const stop = () => Promise.all(meshes.map((m) => m.close())).then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
