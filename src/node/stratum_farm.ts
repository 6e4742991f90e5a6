/**
 * The controller side of farm stratum: rigs log their miners in over the mesh, get work from
 * the proxy and send shares to it, in batches (`stratum_ops`: a rig's logins, shares and logouts
 * of the last 50 ms in one message, answered in one). Only a registered rig is heard, and only about its own miners
 * (a miner key is scoped by the rig's authenticated ID); a rig's link closing frees every range
 * its miners held.
 * @module
 */
import type { RigJobs, StratumProxy } from "../stratum/mod.ts";
import type { MeshNode } from "./mesh.ts";
import type { PeerSession } from "./session.ts";

/**
 * Serves rigs' stratum requests from `proxy` on every session.
 *
 * @example
 * ```ts ignore
 * attachStratumFarm(mesh, proxy);
 * ```
 */
export function attachStratumFarm(mesh: MeshNode, proxy: StratumProxy): void {
  const sinks = new WeakMap<PeerSession, (jobs: RigJobs) => void>();
  mesh.onSession((s) => {
    const rig = s.peer.id;
    const known = () => mesh.registry.get(rig);
    // One message per rig per job, whatever its number of miners.
    const sink = (jobs: RigJobs) => {
      if (!s.isClosed) s.send("stratum_jobs", { jobs });
    };
    sinks.set(s, sink);
    s.on("stratum_ops", async (m, s) => {
      const peer = known();
      if (!peer) return s.replyError(m, "unauthorized", "this rig is not registered here");
      const results = await Promise.all(m.payload.ops.map(async (op) => {
        try {
          if (op.op === "logout") {
            proxy.logout(rig, op.miner);
            return { ok: true };
          }
          if (op.op === "submit") {
            proxy.submit(rig, op.miner, op);
            return { ok: true };
          }
          const { job, slot } = await proxy.login({
            rig,
            rigName: peer.name,
            miner: op.miner,
            login: op.login,
            agent: op.agent,
            sink,
          });
          if (s.isClosed) {
            // The link closed while the login waited for work: no ghost miner holds a range,
            // and the rig's work keeps going to a link that is up.
            proxy.logout(rig, op.miner);
            const live = mesh.sessionsOf(rig).find((o) => !o.isClosed);
            const other = live ? sinks.get(live) : undefined;
            if (other) proxy.setSink(rig, other);
            return { ok: false, error: "the link closed" };
          }
          return { ok: true, job, slot };
        } catch (err) {
          return { ok: false, error: (err as Error).message.slice(0, 500) };
        }
      }));
      s.reply(m, "stratum_results", { results });
    });
    s.onClose(() => {
      // Another live link from the same rig keeps its miners.
      if (mesh.sessionsOf(rig).some((o) => o !== s && !o.isClosed)) return;
      proxy.dropRig(rig);
    });
  });
}
