import { startFleet } from "./fleet_fixture.ts";
import { cliOk, initNode, serve } from "./helpers.ts";

const f = await startFleet();
const log = (...a: unknown[]) => console.log("[probe]", ...a);
try {
  // 1. CSP + static
  let r = await fetch(`${f.api}/`);
  log("GET / csp:", r.headers.get("content-security-policy"), r.status);
  await r.body?.cancel();
  r = await fetch(`${f.api}/..%2f..%2fetc%2fpasswd`);
  log("traversal:", r.status);
  await r.body?.cancel();
  r = await fetch(`${f.api}/app.js`);
  log("app.js csp:", !!r.headers.get("content-security-policy"));
  await r.body?.cancel();
  // 2. origin check from proxied https origin
  r = await fetch(`${f.api}/api/v1/mining/node/info`, {
    headers: { authorization: `Bearer ${f.token}`, origin: "https://miners.example.com" },
  });
  log("origin mismatch:", r.status, await r.text());
  // 3. metrics
  r = await f.call("GET", "/metrics");
  const m = await r.text();
  log("metrics lines:", m.split("\n").filter((l) => /peer_online|fleet_hash/.test(l)).join(" | "));
  // 4. worker view of controller peer
  const w1 = f.workers[0];
  const wtok = (await cliOk(w1.home, ["node", "info", "--token"])).stdout.trim().split("\n").at(
    -1,
  )!;
  const wcall = (p: string) =>
    fetch(`${w1.node.api}${p}`, { headers: { authorization: `Bearer ${wtok}` } });
  r = await wcall("/api/v1/mining/peers");
  log(
    "worker peers before:",
    JSON.stringify(
      (await r.json()).peers.map((p: any) => [p.name, p.online, p.connected, p.role, p.address]),
    ),
  );
  // stop controller
  await f.controller.stop();
  await new Promise((res) => setTimeout(res, 3000));
  r = await wcall("/api/v1/mining/peers");
  log(
    "worker peers after controller stopped:",
    JSON.stringify((await r.json()).peers.map((p: any) => [p.name, p.online, p.connected])),
  );
  r = await wcall("/metrics");
  log(
    "worker metrics peer_online:",
    (await r.text()).split("\n").filter((l) => /peer_online\{/.test(l)).join(" | "),
  );
  // 5. controller-role node
  const ch = `${f.root}/ctlonly`;
  await initNode(ch, "boss", "controller");
  const pr = await cliOk(ch, [
    "profile",
    "add",
    "--name",
    "cpu",
    "--type",
    "xmrig",
    "--pool",
    "stratum+tcp://pool.example.com:3333",
    "--user",
    "W",
  ]).catch((e) => ({ stdout: String(e).slice(0, 300) }));
  log("profile add on controller:", pr.stdout.slice(0, 200));
  const cn = await serve(ch);
  const ctok = (await cliOk(ch, ["node", "info", "--token"])).stdout.trim().split("\n").at(-1)!;
  for (
    const p of [
      "/profiles",
      "/history/miners",
      "/miners",
      "/miners/installed",
      "/remote/stats?maxAge=0",
    ]
  ) {
    r = await fetch(`${cn.api}/api/v1/mining${p}`, {
      headers: { authorization: `Bearer ${ctok}` },
    });
    log("controller", p, r.status, (await r.text()).slice(0, 200));
  }
  await cn.stop();
} finally {
  await f.close();
}
