/**
 * Issue 7, acceptance 4: the capability probe agrees with /proc/cpuinfo and /proc/meminfo on this
 * machine; capabilities travel in the handshake (peer list --json) and in stats (remote status),
 * and a RandomX start on a node without huge pages warns.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CapabilitiesSchema,
  parseCpuinfo,
  parseMeminfo,
  probeCapabilities,
  randomxWarnings,
} from "../src/capabilities/mod.ts";
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import { addXmrigProfile, cli, cliOk, initNode, serve, tempHome } from "./helpers.ts";

Deno.test({
  name: "capabilities: the probe matches /proc/cpuinfo and /proc/meminfo",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const caps = CapabilitiesSchema.parse(await probeCapabilities());
  // Independent reading of the same files.
  const lines = cpuinfo.split("\n");
  const processors = lines.filter((l) => /^processor\s*:/.test(l)).length;
  const model = lines.find((l) => l.startsWith("model name"))?.split(":")[1].trim() ?? null;
  const flags = lines.find((l) => l.startsWith("flags"))?.split(":")[1].trim().split(/\s+/) ?? [];
  assert.equal(caps.os, "linux");
  assert.equal(caps.threads, processors);
  assert.equal(caps.threads, navigator.hardwareConcurrency);
  assert.equal(caps.cpuModel, model);
  assert.equal(caps.aes, flags.includes("aes"));
  assert.equal(caps.avx2, flags.includes("avx2"));
  assert.ok(caps.cores !== null && caps.cores >= 1 && caps.cores <= caps.threads);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(meminfo)![1]);
  assert.equal(caps.memTotalMB, Math.round(kb("MemTotal") / 1024));
  // Free memory moves between two reads; within 5 %.
  assert.ok(Math.abs(caps.memFreeMB! - kb("MemAvailable") / 1024) < kb("MemTotal") / 1024 / 20);
  assert.equal(caps.hugePagesTotal, kb("HugePages_Total"));
  assert.equal(caps.hugePagesFree, kb("HugePages_Free"));
  // The parsers on fixed text: two packages, hyper-threading.
  const fixture = [0, 1, 2, 3].map((i) =>
    `processor\t: ${i}\nmodel name\t: AMD Ryzen 9 7950X\nphysical id\t: ${i >> 1}\ncore id\t\t: ${
      i & 1
    }\ncpu cores\t: 2\nflags\t\t: fpu sse2 aes avx2\n`
  ).join("\n");
  const parsed = parseCpuinfo(fixture);
  assert.deepEqual([parsed.model, parsed.cores, parsed.threads], ["AMD Ryzen 9 7950X", 4, 4]);
  assert.equal(parseMeminfo("MemTotal:  2048 kB\nHugePages_Free: 3\n").get("HugePages_Free"), 3);
  assert.deepEqual(
    randomxWarnings({ ...caps, memFreeMB: 1000, hugePagesTotal: 0, hugePagesFree: 0 }).length,
    2,
  );
  assert.deepEqual(
    randomxWarnings({ ...caps, memFreeMB: 8000, hugePagesTotal: 1280, hugePagesFree: 1280 }),
    [],
  );
});

Deno.test("capabilities: exchanged in the handshake and in stats; RandomX warnings on start", async () => {
  const root = await tempHome();
  const c = join(root, "c");
  const w = join(root, "w");
  const ctl = await initNode(c, "control", "controller");
  await initNode(w, "rig", "worker");
  await installEmulatedMiner(resolvePaths({ home: w }), "xmrig", {
    env: { MINER_EMU_PRINT_MS: "200" },
  });
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  const srv = await serve(w);
  try {
    await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
    const peers = JSON.parse((await cliOk(c, ["peer", "list", "--json"])).stdout);
    const caps = CapabilitiesSchema.parse(peers[0].capabilities);
    assert.equal(caps.threads, navigator.hardwareConcurrency);
    const status = JSON.parse((await cliOk(c, ["remote", "status", "--json"])).stdout);
    const remote = CapabilitiesSchema.parse(status.peers[0].capabilities);
    assert.equal(remote.memTotalMB, caps.memTotalMB);
    // Without huge pages (this machine has none), a RandomX start warns but still starts.
    await addXmrigProfile(c, "cpu", ["--threads", "1"]);
    const r = await cli(c, ["remote", "start", "rig", "--profile", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    if (remote.hugePagesFree === 0) assert.match(r.stderr, /warning: rig: no huge pages/);
    await cliOk(c, ["remote", "stop", "rig"]);
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
