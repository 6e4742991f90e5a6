/**
 * Issue 6 quick start: `deno task demo` run as a user runs it — wait for the URL and token, hit
 * `/health` and `/remote/stats` with the printed token, see two workers with running miners, send
 * SIGINT, and check that no node or miner process is left and the temporary homes are gone.
 */
import assert from "node:assert/strict";
import { processesMentioning, ROOT, until } from "./helpers.ts";

Deno.test("demo: one command runs a controller and two hashing workers; SIGINT leaves nothing", async () => {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["task", "demo", "--api-listen", "127.0.0.1:0"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const stderr = new Response(proc.stderr).text();
  let home = "";
  try {
    const deadline = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    while (!/press Ctrl\+C/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`demo exited early:\n${out}\n${await stderr}`);
      out += value;
    }
    clearTimeout(deadline);
    const url = /^dashboard\s+(\S+?)\/?$/m.exec(out)![1];
    const token = /^token\s+([0-9a-f]{64})$/m.exec(out)![1];
    home = /--home (\S+)\/control/.exec(out)![1];
    const health = await (await fetch(`${url}/health`)).json();
    assert.equal(health.status, "ok");
    const auth = { headers: { authorization: `Bearer ${token}` } };
    await until(
      async () => {
        const doc = await (await fetch(`${url}/api/v1/mining/remote/stats?maxAge=0`, auth)).json();
        return doc.nodes === 2 && doc.online === 2 &&
          doc.peers.every((p: { miners: { state: string; hashrate: { now: number | null } }[] }) =>
            p.miners.length === 1 && p.miners[0].state === "running" &&
            (p.miners[0].hashrate.now ?? 0) > 0
          );
      },
      "two workers hashing",
      20_000,
    );
    const dash = await fetch(`${url}/`);
    assert.match(await dash.text(), /<script type="module" src="\/app\.js">/);
    assert.ok((await processesMentioning(home)).length >= 2, "emulated miners run");

    proc.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    const status = await proc.status;
    assert.equal(status.code, 0, await stderr);
    await until(
      async () => (await processesMentioning(home)).length === 0,
      "no process left",
      10_000,
    );
    await assert.rejects(Deno.stat(home), Deno.errors.NotFound);
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch { /* exited */ }
    await proc.status;
    await stderr.catch(() => "");
  }
});
