/**
 * A TCP forwarder on loopback that plays the network between two nodes (this kernel has no
 * netem): it forwards, delays, or partitions. A partition black-holes every connection, old and
 * new: bytes are dropped both ways and no FIN or RST gets through, as when a cable is pulled; the
 * endpoints only notice through their own timeouts. Healing drops the connections that lived
 * through the partition (both ends gave up on them) and forwards new ones again.
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Opened or lived during a partition: never forwards again. */
  dead: boolean;
}

/** A forwarder from a loopback port to `target`. */
export class Forwarder {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #partitioned = false;
  #delayMs = 0;

  private constructor(server: Server, readonly port: number) {
    this.#server = server;
  }

  /** Starts forwarding `127.0.0.1:<port>` to `target`. */
  static async start(target: { hostname: string; port: number }): Promise<Forwarder> {
    let self: Forwarder | null = null;
    const server = createServer((client) => self!.#accept(client, target));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    self = new Forwarder(server, (server.address() as { port: number }).port);
    return self;
  }

  /** `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections currently forwarding. */
  get live(): number {
    return [...this.#pairs].filter((p) => !p.dead).length;
  }

  #accept(client: Socket, target: { hostname: string; port: number }): void {
    const pair: Pair = { client, upstream: null, dead: this.#partitioned };
    this.#pairs.add(pair);
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on("error", () => {});
    client.on("close", () => {
      // Across a partition nothing is said: the far end finds out by its own timeout.
      if (!pair.dead) drop();
    });
    if (pair.dead) {
      client.on("data", () => {});
      return;
    }
    const upstream = connect(target.port, target.hostname);
    pair.upstream = upstream;
    upstream.on("error", () => {});
    upstream.on("close", () => {
      if (!pair.dead) drop();
    });
    const forward = (to: Socket) => (chunk: Uint8Array) => {
      if (pair.dead) return;
      if (this.#delayMs > 0) setTimeout(() => !pair.dead && to.write(chunk), this.#delayMs);
      else to.write(chunk);
    };
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
  }

  /** Adds `ms` of one-way delay to every chunk (order kept). */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  /** Black-holes every connection, open and new, until {@link heal}. */
  partition(): void {
    this.#partitioned = true;
    for (const p of this.#pairs) p.dead = true;
  }

  /** Ends the partition: the connections it swallowed are dropped; new ones forward again. */
  heal(): void {
    this.#partitioned = false;
    for (const p of [...this.#pairs]) {
      if (!p.dead) continue;
      this.#pairs.delete(p);
      p.client.destroy();
      p.upstream?.destroy();
    }
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
