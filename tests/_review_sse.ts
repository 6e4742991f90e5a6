import { SseQueue } from "../src/api/sse.ts";
import { EventHub } from "../src/api/events.ts";
import { createApiApp } from "../src/api/app.ts";

// A. lost wake-up after a "dropped" write
{
  const written: [number, string][] = [];
  const t0 = Date.now();
  let aborted = false;
  const fake = {
    get aborted() {
      return aborted;
    },
    onAbort(_fn: () => void) {},
    async writeSSE(m: { event: string; data: string }) {
      await new Promise((r) => setTimeout(r, 50));
      written.push([Date.now() - t0, m.event]);
    },
    async write(_s: string) {
      written.push([Date.now() - t0, "keepalive"]);
    },
  };
  const q = new SseQueue(2);
  for (let i = 0; i < 5; i++) q.push({ event: "e" + i, data: "{}" });
  const d = q.drain(fake as never, { keepAliveMs: 3000 });
  setTimeout(() => q.push({ event: "late", data: "{}" }), 120); // during the "dropped" write
  await new Promise((r) => setTimeout(r, 3500));
  console.log("A written:", JSON.stringify(written));
  aborted = true;
  q.close();
  await d;
}

// B. events subscription cleanup on client abort
{
  const hub = new EventHub();
  const { app, closeStreams } = createApiApp({
    node: () => ({ id: "x", name: "n", role: "dual", publicKey: "k" }) as never,
    miners: null,
    history: null,
    token: "t",
    startedAt: new Date(),
    events: hub,
    snapshot: () => Promise.resolve({ ok: 1 }),
  });
  const srv = Deno.serve({ port: 0, onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${srv.addr.port}/api/v1/mining/events`;
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    const res = await fetch(url, { headers: { authorization: "Bearer t" }, signal: ac.signal });
    const rd = res.body!.getReader();
    await rd.read();
    console.log("B subscribers while open:", hub.size);
    ac.abort();
    await rd.cancel().catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 300));
  hub.publish({ type: "peers", at: "now" });
  await new Promise((r) => setTimeout(r, 300));
  console.log("B subscribers after aborts (+1 publish):", hub.size);
  // idle client: no publish after abort
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: "Bearer t" }, signal: ac.signal });
  await res.body!.getReader().read();
  ac.abort();
  await new Promise((r) => setTimeout(r, 1000));
  console.log("B subscribers 1s after idle abort (no publish):", hub.size);
  // C. origin: same-origin Host mismatch (proxy)
  const r2 = await fetch(`http://127.0.0.1:${srv.addr.port}/api/v1/mining/node/info`, {
    headers: { authorization: "Bearer t", origin: `http://localhost:${srv.addr.port}` },
  });
  console.log("C origin localhost vs 127.0.0.1 host:", r2.status);
  await r2.body?.cancel();
  closeStreams();
  await srv.shutdown();
}
