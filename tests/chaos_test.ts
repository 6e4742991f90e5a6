/**
 * Reliability under faults, with real processes: a worker's node killed with SIGKILL at random
 * moments while a controller starts and stops its (real XMRig) miner; a miner that outlived its
 * node; retried requests; a full disk; a node killed mid-deploy (network faults:
 * `chaos_net_test.ts`).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolvePaths } from "../src/store/mod.ts";
import {
  addOfflineProfile,
  cli,
  cliOk,
  freePort,
  initNode,
  installRealXmrig,
  localComponent,
  mulberry32,
  processesMentioning,
  processesOf,
  serve,
  type ServeHandle,
  tempHome,
  until,
  XMRIG_BIN,
} from "./helpers.ts";

const XMRIG = localComponent(XMRIG_BIN, "the chaos tests with a real miner");

/** The intent stored for a profile (`miner_intents.json`). */
async function storedIntent(home: string, profileId: string): Promise<string | undefined> {
  try {
    const doc = JSON.parse(await Deno.readTextFile(join(home, "data", "miner_intents.json")));
    return doc.miners[profileId];
  } catch {
    return undefined;
  }
}

Deno.test({
  name:
    "chaos: 20 kill -9s of a worker's node while a controller starts and stops its miner: one miner per running profile, none after a stop, the intent as last acknowledged",
  ignore: XMRIG.ignore,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    const c = `${root}/c`;
    const ctl = await initNode(c, "boss", "controller");
    await initNode(w, "rig", "worker");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    const xmrig = await installRealXmrig(w);
    // The controller's profile: `remote start` brings it to the worker.
    const profileId = await addOfflineProfile(c, "cpu");
    const port = freePort();
    const rand = mulberry32(0x5eed);
    let srv: ServeHandle | null = null;
    const up = async () => {
      srv = await serve(w, ["--listen", `127.0.0.1:${port}`, "--no-api", "--poll-interval", "1s"]);
    };
    try {
      await up();
      await cliOk(c, ["peer", "add", "--address", `127.0.0.1:${port}`, "--name", "rig"]);
      // The kill moments are spread over what a CLI takes here to start and dial (~300 ms on a
      // quick machine, over a second on a loaded one): timed once, so a slow machine still has
      // kills before, during and after the command, and some commands that land.
      const t0 = performance.now();
      await cliOk(c, ["remote", "status", "rig", "--json"]);
      const scale = Math.max(1, (performance.now() - t0) / 400);
      let acknowledged: "running" | "stopped" | null = null;
      for (let round = 0; round < 20; round++) {
        const start = rand() < 0.55;
        const cmd = start
          ? ["remote", "start", "rig", "--profile", "cpu", "--timeout", "1500ms"]
          : ["remote", "stop", "rig", "cpu", "--timeout", "1500ms"];
        const running = cli(c, cmd);
        // Kill the node at a random moment: before, during or after the command (the CLI takes
        // ~300 ms to start and dial).
        await new Promise((r) => setTimeout(r, Math.floor((150 + rand() * 500) * scale)));
        srv!.process.kill("SIGKILL");
        await srv!.process.status;
        const result = await running;
        if (result.code === 0) acknowledged = start ? "running" : "stopped";
        await up();
        // The node is serving: survivors were dealt with and autostart ran before it listened.
        const intent = await storedIntent(w, profileId);
        if (Deno.env.get("CHAOS_DEBUG")) {
          console.error(
            round,
            start ? "start" : "stop",
            result.code,
            result.stdout.trim(),
            result.stderr.trim(),
            intent,
          );
        }
        if (acknowledged) {
          // What an acknowledged command said holds, unless a later unacknowledged one changed it.
          if (result.code === 0) {
            assert.equal(
              intent,
              acknowledged,
              `round ${round}: intent; ${result.stdout} ${result.stderr}`,
            );
          }
        }
        // A miner killed with its node may take a moment to exit (it frees its RandomX memory):
        // wait up to 3 s for the count to settle; a second copy or a survivor would not go away.
        const want = intent === "running" ? 1 : 0;
        let miners = await processesOf(xmrig);
        for (let i = 0; i < 30 && miners.length !== want; i++) {
          await new Promise((r) => setTimeout(r, 100));
          miners = await processesOf(xmrig);
        }
        if (miners.length !== want) {
          const ps = await new Deno.Command("ps", {
            args: ["-o", "pid,ppid,stat,etime,args", "-p", miners.join(",") || "1"],
          })
            .output();
          console.error(new TextDecoder().decode(ps.stdout));
        }
        assert.equal(
          miners.length,
          want,
          `round ${round} (${start ? "start" : "stop"}, exit ${result.code}): intent ${intent}, ` +
            `xmrig processes ${miners.join(",")}`,
        );
      }
      // A start left alone runs one miner (it also brings the profile, had no start landed), and
      // a clean stop at the end leaves none.
      await cliOk(c, ["remote", "start", "rig", "--profile", "cpu"]);
      let after = await processesOf(xmrig);
      for (let i = 0; i < 30 && after.length !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await processesOf(xmrig);
      }
      assert.equal(after.length, 1, `one miner after a start: ${after.join(",")}`);
      await cliOk(c, ["remote", "stop", "rig", "cpu"]);
      assert.deepEqual(await processesOf(xmrig), []);
      assert.equal(await storedIntent(w, profileId), "stopped");
    } finally {
      await (srv as ServeHandle | null)?.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chaos: a miner that outlived its node is stopped by the next node before it starts one (never two)",
  ignore: XMRIG.ignore,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    await initNode(w, "rig", "worker");
    const xmrig = await installRealXmrig(w);
    const profileId = await addOfflineProfile(w, "cpu");
    // A survivor: the miner as a dead node left it (started outside any node, with the run
    // record the node writes at spawn, naming a node PID that is gone).
    const paths = resolvePaths({ home: w });
    const survivor = new Deno.Command(xmrig, {
      args: ["--url", "127.0.0.1:1", "--user", "x", "-t", "1", "--no-color"],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    try {
      const { RunRecords } = await import("../src/miners/mod.ts");
      const ps = await new Deno.Command("ps", {
        args: ["-o", "lstart=", "-p", String(survivor.pid)],
        stdout: "piped",
      }).output();
      const dead = new Deno.Command("true").spawn();
      await dead.status;
      await new RunRecords(join(paths.dataDir, "run")).write({
        version: 1,
        profileId,
        miner: "cpu",
        pid: survivor.pid,
        startTime: new TextDecoder().decode(ps.stdout).trim(),
        binary: xmrig,
        nodePid: dead.pid,
        nodeStartTime: "Thu Jan  1 00:00:00 1970",
        spawnedAt: new Date().toISOString(),
      });
      // The node was running it when it died: its intent says running.
      await Deno.writeTextFile(
        join(paths.dataDir, "miner_intents.json"),
        JSON.stringify({ version: 1, miners: { [profileId]: "running" } }),
      );
      const srv = await serve(w, ["--no-api"]);
      try {
        await srv.waitForLog(/miner_survivor_stopped miner=cpu pid=\d+/);
        const status = await survivor.status;
        assert.ok(status.signal === "SIGTERM" || status.code !== null, JSON.stringify(status));
        const miners = await processesOf(xmrig);
        assert.equal(miners.length, 1, `exactly the new miner: ${miners}`);
        assert.notEqual(miners[0], survivor.pid);
      } finally {
        await srv.stop();
      }
      assert.deepEqual(await processesOf(xmrig), []);
    } finally {
      try {
        survivor.kill("SIGKILL");
      } catch { /* stopped */ }
      await survivor.status;
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chaos: a start and a stop each sent twice with the same request ID get the same success answer twice, and act once",
  ignore: XMRIG.ignore,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    const c = `${root}/c`;
    const ctl = await initNode(c, "boss", "controller");
    await initNode(w, "rig", "worker");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    const xmrig = await installRealXmrig(w);
    const profileId = await addOfflineProfile(w, "cpu");
    const srv = await serve(w, ["--no-api"]);
    const { MeshNode } = await import("../src/node/mod.ts");
    const mesh = await MeshNode.open(resolvePaths({ home: c }), { keepalive: false });
    try {
      const ask = async (
        type: "start_miner" | "stop_miner",
        payload: { minerType: "xmrig"; profileId: string } | { minerName: string },
        id: string,
      ) => {
        // a new session each time: a retry after a lost link comes on a new one
        const s = await mesh.dial(srv.address);
        try {
          // deno-lint-ignore no-explicit-any
          return (await s.request(type, payload as any, { timeoutMs: 10_000, id })).payload;
        } finally {
          s.close("done", { done: true });
        }
      };
      const startId = crypto.randomUUID();
      const first = await ask("start_miner", { minerType: "xmrig", profileId }, startId);
      const again = await ask("start_miner", { minerType: "xmrig", profileId }, startId);
      assert.deepEqual(again, first);
      assert.deepEqual(first, { success: true, minerName: "cpu" });
      assert.equal((await processesOf(xmrig)).length, 1);
      // a new request to start what runs: success, already running, and since when
      const other = await ask(
        "start_miner",
        { minerType: "xmrig", profileId },
        crypto.randomUUID(),
      );
      assert.equal(other.success, true);
      assert.equal((other as { already?: boolean }).already, true);
      assert.ok(Date.parse((other as { since?: string }).since!) > 0);
      const stopId = crypto.randomUUID();
      const stop1 = await ask("stop_miner", { minerName: "cpu" }, stopId);
      const stop2 = await ask("stop_miner", { minerName: "cpu" }, stopId);
      assert.deepEqual(stop2, stop1);
      assert.deepEqual(stop1, { success: true, minerName: "cpu" });
      assert.deepEqual(await processesOf(xmrig), []);
      // a new stop of the stopped miner: success, already stopped
      const stop3 = await ask("stop_miner", { minerName: "cpu" }, crypto.randomUUID());
      assert.deepEqual(stop3, { success: true, minerName: "cpu", already: true });
      assert.equal(await storedIntent(w, profileId), "stopped");
      // each acted once: one attempt and one outcome per request ID, the repeats only replayed
      const audit = (await Deno.readTextFile(join(w, "data", "audit.log"))).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((a) => a.request === startId || a.request === stopId);
      assert.deepEqual(audit.map((a) => [a.action, a.outcome]), [
        ["start_miner", "attempt"],
        ["start_miner", "ok"],
        ["stop_miner", "attempt"],
        ["stop_miner", "ok"],
      ]);
      await srv.waitForLog(/request_replayed .*action=stop_miner/);
    } finally {
      await mesh.close();
      await srv.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

const ROOT_USER = Deno.uid() === 0;
if (!ROOT_USER) {
  const message = "the full-disk test mounts a tmpfs and needs root";
  if (Deno.env.get("CI") === "true") throw new Error(`${message} (CI=true)`);
  console.error(`SKIPPED: ${message}`);
}

/** Fills the filesystem at `dir` until not one more byte fits; returns the file that did it. */
/**
 * Unmounts a test's tmpfs: a process of a parallel test can hold it for a moment ("target is
 * busy"), so it retries for up to 5 s, then detaches it lazily (the kernel frees it when the last
 * user lets go); throws if even that fails.
 */
async function unmount(dir: string): Promise<void> {
  let stderr = "";
  for (let i = 0; i < 50; i++) {
    const out = await new Deno.Command("umount", { args: [dir], stderr: "piped" }).output();
    if (out.code === 0) return;
    stderr = new TextDecoder().decode(out.stderr);
    if (!/busy/i.test(stderr)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lazy = await new Deno.Command("umount", { args: ["-l", dir], stderr: "piped" }).output();
  if (lazy.code !== 0) {
    throw new Error(`umount ${dir}: ${stderr} ${new TextDecoder().decode(lazy.stderr)}`);
  }
}

async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const f = await Deno.open(path, { write: true, create: true, append: true });
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1]) {
      const chunk = new Uint8Array(size);
      for (let i = 0; i < 100_000; i++) {
        try {
          await f.write(chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    f.close();
  }
  return path;
}

Deno.test({
  name:
    "chaos: on a full disk, remote stop either stops and stores stopped or fails and leaves it running, stored running; after space returns and a restart the state is what the answer said; the audit log parses",
  ignore: !ROOT_USER,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    const c = `${root}/c`;
    await Deno.mkdir(w);
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", w],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    let srv: ServeHandle | null = null;
    try {
      const ctl = await initNode(c, "boss", "controller");
      await initNode(w, "rig", "worker");
      await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
      const { installEmulatedMiner } = await import("../src/miners/mod.ts");
      await installEmulatedMiner(resolvePaths({ home: w }), "xmrig");
      const profileId = await addOfflineProfile(c, "cpu");
      const port = freePort();
      const up = async () => {
        srv = await serve(w, ["--listen", `127.0.0.1:${port}`, "--poll-interval", "1s"]);
      };
      await up();
      await cliOk(c, ["peer", "add", "--address", `127.0.0.1:${port}`, "--name", "rig"]);
      await cliOk(c, ["remote", "start", "rig", "--profile", "cpu"]);
      const miner = () => processesMentioning(join(w, "data", "run", profileId));
      assert.equal((await miner()).length, 1);
      const filler = await fillDisk(w);
      const stop = await cli(c, ["remote", "stop", "rig", "cpu"]);
      const stored = await storedIntent(w, profileId);
      if (stop.code === 0) {
        assert.equal(stored, "stopped");
        assert.deepEqual(await miner(), []);
      } else {
        assert.match(
          stop.stderr,
          /could not record that cpu should stop .*the miner keeps running/,
        );
        assert.equal(stored, "running");
        assert.equal((await miner()).length, 1, "it still runs, as the answer said");
      }
      // The miner kept mining meanwhile; space comes back, the node restarts.
      await Deno.remove(filler);
      await srv!.stop();
      await up();
      assert.equal((await miner()).length, stop.code === 0 ? 0 : 1);
      assert.equal(await storedIntent(w, profileId), stop.code === 0 ? "stopped" : "running");
      // With space, the stop works and is recorded.
      await cliOk(c, ["remote", "stop", "rig", "cpu"]);
      assert.deepEqual(await miner(), []);
      assert.equal(await storedIntent(w, profileId), "stopped");
      const { AuditLog, auditLogPath } = await import("../src/node/mod.ts");
      const audit = await new AuditLog(auditLogPath(resolvePaths({ home: w }))).read();
      assert.deepEqual(audit.torn, [], "every line parses");
      assert.ok(audit.records.some((r) => r.action === "stop_miner" && r.outcome === "ok"));
    } finally {
      await (srv as ServeHandle | null)?.stop();
      await unmount(w);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("chaos: a node killed mid-deploy leaves its spool, and the next start sweeps it and stray temp files", async () => {
  const root = await tempHome();
  const c = `${root}/c`;
  const w = `${root}/w`;
  const ctl = await initNode(c, "boss", "controller");
  await initNode(w, "rig", "worker");
  await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
  const worker = await serve(w, ["--no-api"]);
  await cliOk(c, ["peer", "add", "--address", worker.address, "--name", "rig"]);
  const controller = await serve(c);
  const token = (await Deno.readTextFile(join(c, "config", "api_token"))).trim();
  // An upload that never ends, killed when its spool is on disk.
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      await new Promise((r) => setTimeout(r, 20));
      ctl.enqueue(new Uint8Array(256 * 1024));
      sent++;
    },
  });
  const upload = fetch(`${controller.api}/api/v1/mining/remote/rig/deploy`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
    body,
  }).catch(() => null);
  const tmpDir = join(c, "data", "tmp");
  const spools = async () =>
    (await Array.fromAsync(Deno.readDir(tmpDir)).catch(() => [])).map((e) => e.name)
      .filter((n) => n.startsWith("deploy-"));
  try {
    await until(async () => (await spools()).length === 1 && sent > 8, "a spool being written");
    controller.process.kill("SIGKILL");
    await controller.process.status;
    await upload;
    assert.equal((await spools()).length, 1, "the killed node left its spool");
    // And an atomic write interrupted before its rename.
    const stray = join(c, "config", `.peers.json.${crypto.randomUUID()}.tmp`);
    await Deno.writeTextFile(stray, "{");
    const again = await serve(c);
    try {
      await again.waitForLog(/temp_files_swept files=2 bytes=\d+/);
      assert.deepEqual(await spools(), []);
      assert.equal(await Deno.stat(stray).then(() => true, () => false), false);
    } finally {
      await again.stop();
    }
  } finally {
    await controller.stop();
    await worker.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "chaos: a controller killed mid-start and retried starts the miner once; the retry says it already runs",
  ignore: XMRIG.ignore,
  async fn() {
    const root = await tempHome();
    const w = `${root}/w`;
    const c = `${root}/c`;
    const ctl = await initNode(c, "boss", "controller");
    await initNode(w, "rig", "worker");
    await cliOk(w, ["peer", "allow", ctl.id, "--control"]);
    const xmrig = await installRealXmrig(w);
    await addOfflineProfile(c, "cpu");
    const srv = await serve(w, ["--no-api"]);
    try {
      await cliOk(c, ["peer", "add", "--address", srv.address, "--name", "rig"]);
      const rand = mulberry32(7);
      for (let round = 0; round < 4; round++) {
        // The controller (a CLI process) dies at a random moment of its start...
        const { RUN_FLAGS, MAIN } = await import("./helpers.ts");
        const proc = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            ...RUN_FLAGS,
            MAIN,
            "--home",
            c,
            "remote",
            "start",
            "rig",
            "--profile",
            "cpu",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
        await new Promise((r) => setTimeout(r, 200 + Math.floor(rand() * 500)));
        try {
          proc.kill("SIGKILL");
        } catch { /* it was done already */ }
        await proc.status;
        // ...and the operator (or cron) runs it again.
        const retry = await cliOk(c, ["remote", "start", "rig", "--profile", "cpu"]);
        assert.match(retry.stdout, /^(started cpu on rig|cpu is already running on rig)/m);
        assert.equal((await processesOf(xmrig)).length, 1, `round ${round}: one miner`);
        await cliOk(c, ["remote", "stop", "rig", "cpu"]);
        assert.deepEqual(await processesOf(xmrig), []);
      }
    } finally {
      await srv.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chaos: under the worker binary's permission set, a killed node's miner dies with it, and a survivor is found and stopped",
  ignore: XMRIG.ignore,
  async fn() {
    const { NODE_RUNTIME_FLAGS, permissionFlags } = await import("../src/cli/mod.ts");
    const { RUN_FLAGS, ROOT } = await import("./helpers.ts");
    const root = await tempHome();
    const w = `${root}/w`;
    await initNode(w, "rig", "worker");
    const xmrig = await installRealXmrig(w);
    const profileId = await addOfflineProfile(w, "cpu");
    const flags = [
      ...NODE_RUNTIME_FLAGS,
      ...permissionFlags("worker", {
        configDir: join(w, "config"),
        dataDir: join(w, "data"),
        listen: "127.0.0.1:0",
        extraRead: [join(ROOT, "dist", "ui")],
      }),
    ];
    assert.ok(!flags.includes("--allow-all") && RUN_FLAGS.length > 0);
    try {
      // 1. Started by the node, killed with it (the kernel's parent-death signal).
      let srv = await serve(w, [], { flags });
      await cliOk(w, ["start", "cpu"]);
      const [pid] = await processesOf(xmrig);
      assert.ok(pid, "the node started XMRig");
      srv.process.kill("SIGKILL");
      await srv.process.status;
      await until(async () => !(await processesOf(xmrig)).includes(pid), "the miner died with it");
      // 2. A survivor (started as a dead node would have left it): found and stopped by ps/kill
      //    through the permission set, before the node starts its own.
      const survivor = new Deno.Command(xmrig, {
        args: ["--url", "127.0.0.1:1", "--user", "x", "-t", "1"],
        stdout: "null",
        stderr: "null",
        stdin: "null",
      }).spawn();
      const lstart = new TextDecoder().decode(
        (await new Deno.Command("ps", {
          args: ["-o", "lstart=", "-p", String(survivor.pid)],
          stdout: "piped",
        }).output()).stdout,
      ).trim();
      const record = join(w, "data", "run", profileId, "process.json");
      await Deno.writeTextFile(
        record,
        JSON.stringify({
          version: 1,
          profileId,
          miner: "cpu",
          pid: survivor.pid,
          startTime: lstart,
          binary: xmrig,
          nodePid: 1,
          nodeStartTime: "not the init process",
          spawnedAt: new Date().toISOString(),
        }),
      );
      srv = await serve(w, ["--no-api"], { flags });
      try {
        await srv.waitForLog(/miner_survivor_stopped miner=cpu/);
        await survivor.status;
        // the intent said running (the start above): exactly one miner, the new one
        const now = await processesOf(xmrig);
        assert.equal(now.length, 1);
        assert.notEqual(now[0], survivor.pid);
      } finally {
        await srv.stop();
      }
      assert.deepEqual(await processesOf(xmrig), []);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chaos: the history store on a full disk reports the disk being full (not a rollback error) and records again once space returns",
  ignore: !ROOT_USER,
  async fn() {
    const { HistoryStore } = await import("../src/miners/mod.ts");
    const dir = await tempHome();
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    try {
      const history = HistoryStore.open(join(dir, "history.sqlite"));
      try {
        const batch = (ts: number) =>
          Array.from({ length: 200 }, (_, i) => ({
            miner: `m${i}`,
            ts,
            hashrate: 1000 + i,
            accepted: i,
            rejected: 0,
          }));
        history.recordMany(batch(Date.now()));
        const filler = await fillDisk(dir);
        let failure: Error | null = null;
        for (let i = 0; i < 50 && !failure; i++) {
          try {
            history.recordMany(batch(Date.now() + i * 60_000));
          } catch (err) {
            failure = err as Error;
          }
        }
        assert.ok(failure, "a full disk makes a write fail");
        assert.match(failure.message, /full|disk|space/i);
        assert.doesNotMatch(failure.message, /rollback|no transaction/i);
        await Deno.remove(filler);
        history.recordMany(batch(Date.now() + 3_600_000));
        const { points } = history.query("m1", {
          resolution: "raw",
          from: 0,
          to: Date.now() + 7_200_000,
        });
        assert.ok(points.length >= 2, JSON.stringify(points));
      } finally {
        history.close();
      }
    } finally {
      await unmount(dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
