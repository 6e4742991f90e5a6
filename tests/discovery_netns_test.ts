/**
 * Discovery across real network namespaces: three nodes, each in its own namespace with its own
 * address on a veth bridge (created and torn down here), discover each other through UDP
 * broadcast to 255.255.255.255, stay untrusted until approved, and after approval the controller
 * reaches both workers. Needs root (ip netns); skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, cliOk, initNode, serve, type ServeHandle, tempHome } from "./helpers.ts";

function canUseNetns(): string | null {
  if (Deno.build.os !== "linux") return "ip netns exists only on Linux";
  if (Deno.uid() !== 0) return "needs root for ip netns (run the tests as root, as CI does)";
  try {
    new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
  } catch {
    return "the `ip` command (iproute2) is not installed";
  }
  return null;
}

const skip = canUseNetns();
if (skip) console.log(`discovery_netns_test: skipped: ${skip}`);

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A bridge namespace and `n` node namespaces with 10.<x>.<y>.<i>/24 addresses on it. */
async function createLan(
  n: number,
): Promise<{ ns: string[]; addr: string[]; destroy(): Promise<void> }> {
  const tag = `mct${Deno.pid % 10_000}${Math.floor(Math.random() * 1000)}`;
  const subnet = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const br = `${tag}br`;
  const ns = Array.from({ length: n }, (_, i) => `${tag}n${i + 1}`);
  const addr = ns.map((_, i) => `${subnet}.${i + 1}`);
  const created: string[] = [];
  const destroy = async () => {
    for (const name of created.reverse()) {
      await ip("netns", "del", name).catch(() => {});
    }
  };
  try {
    await ip("netns", "add", br);
    created.push(br);
    await ip("-n", br, "link", "add", "br0", "type", "bridge");
    await ip("-n", br, "link", "set", "br0", "up");
    for (let i = 0; i < n; i++) {
      await ip("netns", "add", ns[i]);
      created.push(ns[i]);
      await ip(
        "-n",
        br,
        "link",
        "add",
        `v${i}`,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        ns[i],
      );
      await ip("-n", br, "link", "set", `v${i}`, "master", "br0", "up");
      await ip("-n", ns[i], "addr", "add", `${addr[i]}/24`, "dev", "eth0");
      await ip("-n", ns[i], "link", "set", "eth0", "up");
      await ip("-n", ns[i], "link", "set", "lo", "up");
      // A LAN has a default route; the limited broadcast 255.255.255.255 follows it.
      await ip("-n", ns[i], "route", "add", "default", "dev", "eth0");
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { ns, addr, destroy };
}

Deno.test({
  name:
    "discovery across three network namespaces: broadcast, pending until approved, then the controller reaches both workers",
  ignore: skip !== null,
  async fn() {
    const lan = await createLan(3);
    const root = await tempHome();
    const homes = ["ctl", "rig-a", "rig-b"].map((n) => join(root, n));
    const nodes: ServeHandle[] = [];
    try {
      const [c, a, b] = await Promise.all([
        initNode(homes[0], "ctl", "controller"),
        initNode(homes[1], "rig-a", "worker"),
        initNode(homes[2], "rig-b", "worker"),
      ]);
      const ids = [c.id, a.id, b.id];
      const at = (i: number) => ({ netns: lan.ns[i] });
      // Default discovery settings: UDP 10000, beacons to 255.255.255.255 every 3 s.
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await serve(homes[i], ["--listen", `${lan.addr[i]}:9091`, "--discover"], at(i)),
        );
      }
      // Every node discovers the two others within 10 s of all three running.
      const deadline = Date.now() + 10_000;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          if (i === j) continue;
          await nodes[i].waitForLog(
            `node_discovered peer=${ids[j]}`,
            Math.max(1, deadline - Date.now()),
          );
        }
      }
      const pending = JSON.parse(
        (await cliOk(homes[0], ["peer", "pending", "--json"], at(0))).stdout,
      );
      assert.deepEqual(
        pending.pending.map((
          e: { id: string; address: string; role: string },
        ) => [e.id, e.address, e.role]).sort(),
        [[a.id, `${lan.addr[1]}:9091`, "worker"], [b.id, `${lan.addr[2]}:9091`, "worker"]].sort(),
      );

      // Nothing is trusted yet: empty registries and allowlists, and the controller cannot
      // get in (the workers refuse it).
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(
          JSON.parse(
            (await cliOk(homes[i], ["peer", "list", "--json", "--no-probe"], at(i))).stdout,
          ),
          [],
        );
      }
      const early = await cli(homes[0], ["peer", "add", "--address", `${lan.addr[1]}:9091`], at(0));
      assert.notEqual(early.code, 0);
      assert.match(early.stderr, /not authorized/);

      // The workers approve the controller, the controller approves every pending worker.
      for (const i of [1, 2]) {
        const r = JSON.parse(
          (await cliOk(homes[i], ["peer", "approve", c.id, "--json"], at(i))).stdout,
        );
        assert.deepEqual(r.results.map((x: { outcome: string }) => x.outcome), ["allowed"]);
      }
      const approved = JSON.parse(
        (await cliOk(homes[0], ["peer", "approve", "--all-matching", "worker", "--json"], at(0)))
          .stdout,
      );
      assert.deepEqual(
        approved.results.map((x: { id: string; outcome: string }) => [x.id, x.outcome]).sort(),
        [[a.id, "registered"], [b.id, "registered"]].sort(),
      );
      const registered = JSON.parse(
        (await cliOk(homes[0], ["peer", "list", "--json", "--no-probe"], at(0))).stdout,
      );
      assert.deepEqual(
        registered.map((
          p: { id: string; address: string; publicKey: string },
        ) => [p.id, p.address, p.publicKey]).sort(),
        [[a.id, `${lan.addr[1]}:9091`, a.publicKey], [b.id, `${lan.addr[2]}:9091`, b.publicKey]]
          .sort(),
      );

      // The controller reaches both workers.
      const status = JSON.parse(
        (await cliOk(homes[0], ["remote", "status", "--json"], at(0))).stdout,
      );
      assert.deepEqual(
        status.peers.map((p: { id: string; online: boolean }) => [p.id, p.online]).sort(),
        [[a.id, true], [b.id, true]].sort(),
      );
      // The workers did not trust each other: nobody approved that.
      for (const i of [1, 2]) {
        const list = JSON.parse(
          (await cliOk(homes[i], ["peer", "list", "--json", "--no-probe"], at(i))).stdout,
        );
        assert.deepEqual(list.map((p: { id: string }) => p.id), [c.id]);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await lan.destroy();
      await Deno.remove(root, { recursive: true });
    }
  },
});
