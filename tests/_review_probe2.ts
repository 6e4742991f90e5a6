import { startFleet } from "./fleet_fixture.ts";
import { cliOk } from "./helpers.ts";
const f = await startFleet({ startMiners: false });
const log = (...a: unknown[]) => console.log("[probe]", ...a);
const B = "/api/v1/mining";
try {
  const show = async (label: string, m: string, p: string, body?: unknown) => {
    const t0 = Date.now();
    const r = await f.call(m, B + p, body);
    log(label, r.status, (await r.text()).slice(0, 220), `${Date.now() - t0}ms`);
  };
  await show("add unreachable", "POST", "/peers", { address: "127.0.0.1:1" });
  await show("add self", "POST", "/peers", { address: f.controller.address });
  await show("peers after self-add", "GET", "/peers");
  await show("add non-ws http port (api)", "POST", "/peers", { address: f.api.replace("http://", "") });
  await show("bad code", "POST", "/peers", { address: f.workers[0].node.address, code: "xxxxxxxxxxxx" });
  await show("ping no body", "POST", `/peers/rig-1/ping`);
  await show("revoke unknown", "DELETE", "/auth/allow/nonexistent");
  await show("revoke hex unknown", "DELETE", "/auth/allow/" + "ab".repeat(16));
  await show("history to<from", "GET", "/history?from=10&to=5");
  await show("remote stats bad", "GET", "/remote/stats?maxAge=-1");
  await show("events wrong accept", "GET", "/nope");
  // remove peer then immediate state/metrics
  await show("remove rig-2", "DELETE", "/peers/rig-2");
  const m = await (await f.call("GET", "/metrics")).text();
  log("metrics after removal, rig-2 series:", m.split("\n").filter((l) => l.includes("rig-2")).length);
  const st = await (await f.call("GET", B + "/remote/stats")).json();
  log("cached stats after removal:", st.peers.map((p: any) => p.name), st.cachedAt);
} finally {
  await f.close();
}
