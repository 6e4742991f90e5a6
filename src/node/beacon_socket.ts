/**
 * Discovery's beacon I/O: one UDP socket that sends this node's beacon on a timer to the
 * broadcast targets and hands every valid beacon it hears, with its source address, to the
 * approval side (`discovery_service.ts`). Malformed datagrams are counted and dropped.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type Beacon, decodeBeacon, encodeBeacon } from "./discovery.ts";

/** Options for {@link BeaconSocket.open}. */
export interface BeaconSocketOptions {
  /** UDP port to listen on and send to. */
  port: number;
  /** Interface to bind (default 0.0.0.0: a socket bound to loopback cannot broadcast). */
  hostname?: string;
  /** Beacon targets, `HOST` or `HOST:PORT`. */
  broadcast: string[];
  /** Beacon interval (default 3 s). */
  intervalMs?: number;
  /** This node's beacon now (its capabilities change). */
  beacon: () => Beacon;
  /** Receives each valid beacon and the address it came from. */
  onBeacon: (beacon: Beacon, host: string) => void;
  /** Logger. */
  logger: Logger;
}

function parseTarget(t: string, port: number): { hostname: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(t);
  return m ? { hostname: m[1], port: Number(m[2]) } : { hostname: t, port };
}

/** The discovery socket. */
export class BeaconSocket {
  readonly #socket: Deno.DatagramConn;
  readonly #o: BeaconSocketOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #sendFailures = new Set<string>();
  #closed = false;
  /** Datagrams that were not beacons. */
  invalid = 0;

  private constructor(socket: Deno.DatagramConn, options: BeaconSocketOptions) {
    this.#socket = socket;
    this.#o = options;
    this.#timer = setInterval(() => this.send(), options.intervalMs ?? 3000);
  }

  /** Binds the socket, sends the first beacon and starts listening. */
  static open(options: BeaconSocketOptions): BeaconSocket {
    const socket = Deno.listenDatagram({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port,
      transport: "udp",
      reuseAddress: true,
    });
    const s = new BeaconSocket(socket, options);
    s.send();
    s.#receive();
    return s;
  }

  /** The bound UDP port. */
  get port(): number {
    return (this.#socket.addr as Deno.NetAddr).port;
  }

  /** Sends the beacon to every target now (a failing target is logged once until it works). */
  send(): void {
    if (this.#closed) return;
    const bytes = encodeBeacon(this.#o.beacon());
    for (const t of this.#o.broadcast) {
      const target = parseTarget(t, this.#o.port);
      this.#socket.send(bytes, { transport: "udp", ...target }).then(() => {
        this.#sendFailures.delete(t);
      }).catch((err) => {
        if (this.#closed || this.#sendFailures.has(t)) return;
        this.#sendFailures.add(t);
        this.#o.logger.warn("discovery_send_failed", {
          target: t,
          reason: (err as Error).message,
          hint:
            "no route to the broadcast address: give the LAN's own broadcast address with --discover-broadcast (e.g. 192.168.1.255)",
        });
      });
    }
  }

  async #receive(): Promise<void> {
    try {
      for await (const [data, addr] of this.#socket) {
        const beacon = decodeBeacon(data);
        if (!beacon) this.invalid++;
        else this.#o.onBeacon(beacon, (addr as Deno.NetAddr).hostname);
      }
    } catch (err) {
      if (!this.#closed) {
        this.#o.logger.warn("discovery_stopped", { reason: (err as Error).message });
      }
    }
  }

  /** Stops sending and listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#socket.close();
    } catch { /* already closed */ }
  }
}
