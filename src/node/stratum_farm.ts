/**
 * The controller side of farm stratum: rigs log their miners in over the mesh, get work from
 * the proxy and send shares to it. Only a registered rig is heard, and only about its own miners
 * (a miner key is scoped by the rig's authenticated ID); a rig's link closing frees every range
 * its miners held.
 * @module
 */
import type { StratumProxy } from "../stratum/mod.ts";
import type { MeshNode } from "./mesh.ts";

/**
 * Serves rigs' stratum requests from `proxy` on every session.
 *
 * @example
 * ```ts ignore
 * attachStratumFarm(mesh, proxy);
 * ```
 */
export function attachStratumFarm(mesh: MeshNode, proxy: StratumProxy): void {
  mesh.onSession((s) => {
    const rig = s.peer.id;
    const known = () => mesh.registry.get(rig);
    s.on("stratum_login", (m, s) => {
      const peer = known();
      if (!peer) return s.replyError(m, "unauthorized", "this rig is not registered here");
      proxy.login({
        rig,
        rigName: peer.name,
        miner: m.payload.miner,
        login: m.payload.login,
        agent: m.payload.agent,
        // One message per rig per job, whatever its number of miners.
        sink: (jobs) => {
          if (!s.isClosed) s.send("stratum_jobs", { jobs });
        },
      }).then(
        ({ job, slot }) => s.reply(m, "stratum_login_ack", { ok: true, job, slot }),
        (err: Error) =>
          s.reply(m, "stratum_login_ack", { ok: false, error: err.message.slice(0, 500) }),
      );
    });
    s.on("stratum_submit", (m, s) => {
      if (!known()) return s.replyError(m, "unauthorized", "this rig is not registered here");
      const { miner, ...share } = m.payload;
      try {
        proxy.submit(rig, miner, share);
        s.reply(m, "stratum_result", { ok: true });
      } catch (err) {
        s.reply(m, "stratum_result", { ok: false, error: (err as Error).message.slice(0, 500) });
      }
    });
    s.on("stratum_logout", (m) => proxy.logout(rig, m.payload.miner));
    s.onClose(() => {
      // Another live link from the same rig keeps its miners.
      if (mesh.sessionsOf(rig).some((o) => o !== s && !o.isClosed)) return;
      proxy.dropRig(rig);
    });
  });
}
