/**
 * A host of emulated stratum miners for `deno task bench --only stratum`: it opens `--miners`
 * connections to each `--port` (a worker node's stratum endpoint), each an
 * {@link EmulatedStratumClient} submitting a share every `--share-ms` on average, and reports on
 * stdout, one JSON object a line: `{"ready": n}` once every miner has its first job, then for
 * each job every miner got `{"job": id, "miners": n, "first": ms, "last": ms}` (epoch ms), and
 * `{"sent", "accepted", "rejected"}` every second.
 * @module
 */
import { parseArgs } from "node:util";
import { EmulatedStratumClient } from "../src/miners/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", multiple: true },
    miners: { type: "string" },
    "share-ms": { type: "string" },
  },
});
const ports = (values.port ?? []).map(Number);
const perPort = Number(values.miners ?? 100);
const shareMs = Number(values["share-ms"] ?? 0);
const total = ports.length * perPort;
const say = (o: unknown) => console.log(JSON.stringify(o));

const jobs = new Map<string, { n: number; first: number; last: number }>();
const clients: EmulatedStratumClient[] = [];
let ready = 0;
let readySaid = false;
for (const port of ports) {
  for (let i = 0; i < perPort; i++) {
    let first = true;
    const c = new EmulatedStratumClient({
      url: `127.0.0.1:${port}`,
      login: `bench-${port}-${i}`,
      shareMs,
      onJob: (job, at) => {
        if (first) {
          first = false;
          ready++;
          if (ready === total && !readySaid) {
            readySaid = true;
            say({ ready });
          }
          return;
        }
        const j = jobs.get(job.jobId) ?? { n: 0, first: at, last: at };
        j.n++;
        j.first = Math.min(j.first, at);
        j.last = Math.max(j.last, at);
        jobs.set(job.jobId, j);
        if (j.n === total) say({ job: job.jobId, miners: j.n, first: j.first, last: j.last });
      },
    });
    clients.push(c);
    c.start();
    // Spread the connects a little: thousands of SYNs at once overflow the listen backlog.
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
  }
}
setInterval(() => {
  let sent = 0, accepted = 0, rejected = 0;
  for (const c of clients) {
    sent += c.sent;
    accepted += c.accepted;
    rejected += c.rejected;
  }
  say({ sent, accepted, rejected, ready });
}, 1000);
// `shares <ms>` on stdin: every miner submits a share every <ms> on average from now on.
(async () => {
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const [cmd, arg] = buf.slice(0, nl).trim().split(" ");
      buf = buf.slice(nl + 1);
      if (cmd === "shares") { for (const c of clients) c.setShareMs(Number(arg)); }
    }
  }
})().catch(() => {});
Deno.addSignalListener("SIGTERM", () => {
  for (const c of clients) c.stop();
  Deno.exit(0);
});
