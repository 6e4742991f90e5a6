/**
 * A small fleet as real processes for API, browser and benchmark tests: a dual controller node
 * (with its own emulated miner) and two worker nodes with emulated XMRig miners, registered on
 * the controller, miners running.
 */
import { installEmulatedMiner } from "../src/miners/mod.ts";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addXmrigProfile,
  cliOk,
  initNode,
  serve,
  type ServeHandle,
  tempHome,
  until,
} from "./helpers.ts";

/** A running fleet. */
export interface Fleet {
  /** Temp root holding every home. */
  root: string;
  /** Controller home. */
  home: string;
  /** Controller node. */
  controller: ServeHandle;
  /** Controller API base URL. */
  api: string;
  /** API token. */
  token: string;
  /** Controller node ID. */
  id: string;
  /** Worker nodes. */
  workers: { home: string; id: string; name: string; node: ServeHandle }[];
  /** `fetch` on the controller's API with the token. */
  call(method: string, path: string, body?: unknown): Promise<Response>;
  /** Stops every process and removes the homes. */
  close(): Promise<void>;
}

const EMU = { MINER_EMU_PRINT_MS: "200", MINER_EMU_SHARE_MS: "300", MINER_EMU_REJECT_RATE: "0" };

/** Options for {@link startFleet}. */
export interface FleetOptions {
  /** Start the workers' miners (default true). */
  startMiners?: boolean;
  /** Extra `node serve` flags for the controller. */
  controllerFlags?: string[];
}

/** Starts the fleet; the workers' miners hash at 1000 and 2000 H/s. */
export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const root = await tempHome("miner-cli-fleet-");
  const home = `${root}/control`;
  const ctl = await initNode(home, "control", "dual");
  const workers: Fleet["workers"] = [];
  let controller: ServeHandle | undefined;
  const close = async () => {
    await Promise.all([controller, ...workers.map((w) => w.node)].map((n) => n?.stop()));
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    await installEmulatedMiner(resolvePaths({ home }), "xmrig", {
      env: { ...EMU, MINER_EMU_HASHRATE: "500" },
    });
    for (const i of [1, 2]) {
      const h = `${root}/w${i}`;
      const info = await initNode(h, `rig-${i}`, "worker");
      await installEmulatedMiner(resolvePaths({ home: h }), "xmrig", {
        env: { ...EMU, MINER_EMU_HASHRATE: String(1000 * i) },
      });
      await cliOk(h, ["peer", "allow", ctl.id, "--control"]);
      const node = await serve(h, ["--poll-interval", "200ms"]);
      workers.push({ home: h, id: info.id, name: `rig-${i}`, node });
    }
    for (const w of workers) {
      await cliOk(home, ["peer", "add", "--address", w.node.address, "--name", w.name]);
    }
    await addXmrigProfile(home, "cpu", ["--threads", "1"]);
    controller = await serve(home, [
      "--poll-interval",
      "200ms",
      "--fleet-poll",
      "500ms",
      "--history-interval",
      "1s",
      "--health-interval",
      "500ms",
      ...(options.controllerFlags ?? []),
    ]);
    const token = (await cliOk(home, ["node", "info", "--token"])).stdout.trim().split("\n").at(
      -1,
    )!;
    const api = controller.api!;
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    if (options.startMiners ?? true) {
      for (const w of workers) {
        await cliOk(home, ["remote", "start", w.name, "--profile", "cpu"]);
      }
      await until(
        async () => {
          const r = await call("GET", "/api/v1/mining/remote/stats?maxAge=0");
          const doc = await r.json();
          return doc.peers?.length === 2 &&
            doc.peers.every((p: { miners: { hashrate: { now: number | null } }[] }) =>
              (p.miners[0]?.hashrate.now ?? 0) > 0
            );
        },
        "both workers hashing",
        20_000,
      );
    }
    return { root, home, controller, api, token, id: ctl.id, workers, call, close };
  } catch (err) {
    await close();
    throw err;
  }
}
