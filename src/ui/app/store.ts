/**
 * The dashboard's live state: one snapshot from `/events`, then every event applied as it comes
 * (no polling). Reconnects with backoff; the UI shows when it is not live.
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, sse } from "./api.ts";
import type {
  AlertsView,
  AuthView,
  DeployState,
  DiscoveryView,
  FleetHealth,
  FleetStatus,
  HealthEvent,
  HealthState,
  MinerStats,
  NodeInfo,
  PeerView,
  StratumStatus,
} from "./types.ts";

/** Everything the pages read. */
export interface State {
  /** Whether the first snapshot arrived. */
  loaded: boolean;
  /** Whether the event stream is connected. */
  live: boolean;
  /** Why the stream is down. */
  streamError: string | null;
  /** This node. */
  node: NodeInfo | null;
  /** Local miners. */
  miners: MinerStats[];
  /** Registered peers. */
  peers: PeerView[];
  /** Auth mode and allowlist. */
  auth: AuthView | null;
  /** Last fleet poll. */
  fleet: FleetStatus | null;
  /** Deploys in progress or finished, by `peer/name`. */
  deploys: Record<string, DeployState>;
  /** LAN discovery (null: not read yet; "off": the node runs without `--discover`). */
  discovery: DiscoveryView | "off" | null;
  /** The node's health model (null: not read yet). */
  health: FleetHealth | null;
  /** Active and recent alerts (null: not read yet). */
  alerts: AlertsView | null;
  /** The farm's stratum proxy (null: not read yet; "off": this node runs none, a worker). */
  stratum: StratumStatus | "off" | null;
}

/** A toast message. */
export interface Toast {
  /** ID. */
  id: number;
  /** Text. */
  text: string;
  /** Kind. */
  kind: "info" | "error";
}

let state: State = {
  loaded: false,
  live: false,
  streamError: null,
  node: null,
  miners: [],
  peers: [],
  auth: null,
  fleet: null,
  health: null,
  alerts: null,
  deploys: {},
  discovery: null,
  stratum: null,
};
let toasts: Toast[] = [];
const listeners = new Set<() => void>();

function set(patch: Partial<State>): void {
  state = { ...state, ...patch };
  for (const l of listeners) l();
}

/** Re-renders the calling component on every change. */
export function useStore(): State {
  const [, bump] = useState(0);
  useEffect(() => {
    const fn = () => bump((n) => n + 1);
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return state;
}

/** Current toasts. */
export function useToasts(): Toast[] {
  useStore();
  return toasts;
}

let toastSeq = 0;
/** Shows a message for a few seconds (errors stay longer). */
export function toast(text: string, kind: Toast["kind"] = "info"): void {
  const id = ++toastSeq;
  toasts = [...toasts, { id, text, kind }].slice(-5);
  set({});
  setTimeout(() => {
    toasts = toasts.filter((t) => t.id !== id);
    set({});
  }, kind === "error" ? 8000 : 3500);
}

/** Runs an API action, showing its error as a toast; returns undefined when it failed. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    toast(`${what} failed: ${(err as Error).message}`, "error");
    return undefined;
  }
}

/**
 * Wraps a loader that several events may start at once, so that an answer never overwrites the
 * answer to a later call: responses can come back out of order (a list read before a peer was
 * removed arriving after the one read after it would show the removed peer until the next event).
 */
function inOrder<T>(load: () => Promise<T>, apply: (value: T) => void): () => Promise<void> {
  let issued = 0;
  let applied = 0;
  return async () => {
    const call = ++issued;
    const value = await load();
    if (call < applied) return; // a later call has already been applied
    applied = call;
    apply(value);
  };
}

/** Re-reads the peer list (after the registry changed). */
export const refreshPeers: () => Promise<void> = inOrder(
  () =>
    Promise.all([
      api<{ peers: PeerView[] }>("GET", "/peers"),
      api<AuthView>("GET", "/auth"),
    ]),
  ([p, a]) => set({ peers: p.peers, auth: a }),
);

/** Re-reads the discovered nodes ("off" when the node runs without discovery). */
export const refreshDiscovery: () => Promise<void> = inOrder(
  async (): Promise<DiscoveryView | "off"> => {
    try {
      return await api<DiscoveryView>("GET", "/peers/pending");
    } catch (err) {
      if (err instanceof ApiFailure && err.code === "discovery_off") return "off";
      throw err;
    }
  },
  (discovery) => set({ discovery }),
);

/** Re-reads local miners. */
export const refreshMiners: () => Promise<void> = inOrder(
  () => api<{ miners: MinerStats[] }>("GET", "/miners"),
  (r) => set({ miners: r.miners }),
);

const WORST_FIRST: readonly HealthState[] = ["down", "degraded", "unknown", "idle", "ok"];

/**
 * A health event applied to the last health: its rigs replace theirs, removed rigs go, and the
 * fleet's state, counts and totals are the event's; rigs stay worst first, then by name.
 */
export function mergeHealth(last: FleetHealth, change: HealthEvent["health"]): FleetHealth {
  const byId = new Map(last.rigs.map((r) => [r.id, r]));
  for (const id of change.removed) byId.delete(id);
  for (const r of change.rigs) byId.set(r.id, r);
  const rigs = [...byId.values()].sort((a, b) =>
    WORST_FIRST.indexOf(a.state) - WORST_FIRST.indexOf(b.state) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  const { removed: _removed, rigs: _changed, ...fleet } = change;
  return { ...fleet, rigs };
}

/** Re-reads the fleet's health. */
export const refreshHealth: () => Promise<void> = inOrder(
  () => api<FleetHealth>("GET", "/health"),
  (health) => set({ health }),
);

/** Re-reads the alerts. */
export const refreshAlerts: () => Promise<void> = inOrder(
  () => api<AlertsView>("GET", "/alerts"),
  (alerts) => set({ alerts }),
);

/** Re-reads the stratum proxy's status ("off" on a node that runs none). */
export const refreshStratum: () => Promise<void> = inOrder(
  async (): Promise<StratumStatus | "off"> => {
    try {
      return await api<StratumStatus>("GET", "/stratum/status");
    } catch (err) {
      if (err instanceof ApiFailure && err.code === "no_proxy") return "off";
      throw err;
    }
  },
  (stratum) => set({ stratum }),
);

let stratumTimer: ReturnType<typeof setTimeout> | undefined;
/** Re-reads the proxy soon (a burst of stratum events makes one request). */
function stratumSoon(): void {
  if (stratumTimer !== undefined || state.stratum === null) return;
  stratumTimer = setTimeout(() => {
    stratumTimer = undefined;
    refreshStratum().catch(() => {});
  }, 500);
}

let alertsTimer: ReturnType<typeof setTimeout> | undefined;
/** Re-reads the alerts soon (many alert events in a burst make one request). */
function alertsSoon(): void {
  if (alertsTimer !== undefined) return;
  alertsTimer = setTimeout(() => {
    alertsTimer = undefined;
    refreshAlerts().catch(() => {});
  }, 300);
}

/**
 * Reads the fleet from the node's view: rigs that push are fresh already, rows older than 2 s are
 * refreshed and waited for (never a forced read of every rig: at 10,000 rigs that is seconds).
 */
export const refreshFleet: () => Promise<void> = inOrder(
  () => api<FleetStatus>("GET", "/remote/stats?maxAge=2000&wait=true"),
  (fleet) => set({ fleet }),
);

function apply(event: string, data: Record<string, unknown>): void {
  switch (event) {
    case "snapshot":
      set({
        loaded: true,
        node: data.node as NodeInfo,
        miners: data.miners as MinerStats[],
        peers: data.peers as PeerView[],
        auth: data.auth as AuthView,
        fleet: (data.fleet as FleetStatus | null) ?? state.fleet,
      });
      if (!data.fleet) refreshFleet().catch(() => {});
      refreshDiscovery().catch(() => {});
      refreshHealth().catch(() => {});
      refreshAlerts().catch(() => {});
      break;
    case "health": {
      // Only the rigs that changed come: merged into the health read last (read it first when
      // there is none).
      const change = data.health as HealthEvent["health"];
      if (!state.health) {
        refreshHealth().catch(() => {});
        break;
      }
      set({ health: mergeHealth(state.health, change) });
      break;
    }
    case "alert": {
      const a = data.alert as { rule: string; rig: string; miner: string | null; summary: string };
      const what = `${a.rig}${a.miner ? `/${a.miner}` : ""}: ${a.summary}`;
      if (data.kind === "firing") toast(`Alert firing: ${what}`, "error");
      else if (data.kind === "resolved") toast(`Resolved: ${what}`);
      alertsSoon();
      break;
    }
    case "stats":
      set({ miners: data.miners as MinerStats[] });
      break;
    case "miner":
      refreshMiners().catch(() => {});
      if (data.kind === "crashed" || data.kind === "failed") {
        toast(`miner ${data.miner} ${data.kind}${data.reason ? `: ${data.reason}` : ""}`, "error");
      }
      break;
    case "fleet_rows": {
      // Only the rows that changed come: replace those, keep the rest.
      const cur = state.fleet;
      if (!cur) {
        refreshFleet().catch(() => {});
        break;
      }
      const changed = new Map((data.rows as FleetStatus["peers"]).map((r) => [r.id, r]));
      const removed = new Set(data.removed as string[]);
      const peers = cur.peers.filter((r) => !removed.has(r.id)).map((r) => changed.get(r.id) ?? r);
      const known = new Set(peers.map((r) => r.id));
      for (const r of changed.values()) if (!known.has(r.id)) peers.push(r);
      set({
        fleet: {
          ...cur,
          peers,
          nodes: data.nodes as number,
          online: data.online as number,
          offline: data.offline as number,
          totals: data.totals as FleetStatus["totals"],
          cachedAt: data.at as string,
        },
      });
      break;
    }
    case "peer": {
      const peers = state.peers.map((p) =>
        p.id === data.id
          ? {
            ...p,
            online: data.kind === "online",
            since: data.at as string,
            offlineReason: data.reason as string | undefined,
          }
          : p
      );
      set({ peers });
      break;
    }
    case "peers":
      refreshPeers().catch(() => {});
      refreshFleet().catch(() => {});
      break;
    case "discovery":
      refreshDiscovery().catch(() => {});
      if (data.kind === "registered" || data.kind === "enrolled") {
        toast(`${data.kind} ${String(data.id).slice(0, 12)} (${data.address ?? ""})`);
      }
      break;
    case "stratum": {
      // Totals and upstreams come with the event; the miners' rows are read when shown.
      const cur = state.stratum;
      if (cur && cur !== "off") {
        set({
          stratum: {
            ...cur,
            totals: data.totals as StratumStatus["totals"],
            upstreams: data.upstreams as StratumStatus["upstreams"],
          },
        });
      }
      if (data.kind === "block") {
        const b = data.block as { height: number; rig: string } | undefined;
        toast(`Block found at height ${b?.height ?? "?"}`);
      }
      if (data.kind === "upstream") {
        const down = (data.upstreams as StratumStatus["upstreams"]).find((u) => u.state === "down");
        if (down) toast(`Upstream ${down.url} is down`, "error");
      }
      stratumSoon();
      break;
    }
    case "dropped":
      // the node dropped events for this slow client: start again from a fresh snapshot
      connect();
      break;
    case "deploy": {
      const d = data as unknown as DeployState;
      set({ deploys: { ...state.deploys, [`${d.peer}/${d.name}`]: d } });
      break;
    }
  }
}

let stream: AbortController | null = null;

/** Connects the event stream (and keeps it connected) until {@link disconnect}. */
export function connect(): void {
  stream?.abort();
  const ac = new AbortController();
  stream = ac;
  (async () => {
    let delay = 500;
    while (!ac.signal.aborted) {
      try {
        for await (const e of sse("/events", ac.signal)) {
          if (!state.live) set({ live: true, streamError: null });
          delay = 500;
          apply(e.event, (e.data ?? {}) as Record<string, unknown>);
        }
        if (!ac.signal.aborted) {
          set({ live: false, streamError: "the node closed the event stream" });
        }
      } catch (err) {
        if (ac.signal.aborted) return;
        set({ live: false, streamError: (err as Error).message });
        if (err instanceof ApiFailure && err.status === 401) return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
}

/** Stops the event stream and forgets the state. */
export function disconnect(): void {
  stream?.abort();
  stream = null;
  set({
    loaded: false,
    live: false,
    node: null,
    miners: [],
    peers: [],
    fleet: null,
    health: null,
    alerts: null,
    deploys: {},
    stratum: null,
  });
}
