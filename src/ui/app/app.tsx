/**
 * Dashboard entry: sign-in, sidebar (Overview, This node, Nodes, Fleet, Graphs, Profiles, Console,
 * Alerts; a top bar on phones), the
 * node status panel, toasts, and a hash router.
 * @module
 */
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, setUnauthorizedHandler, signedIn, signIn, signOut } from "./api.ts";
import { connect, disconnect, useStore, useToasts } from "./store.ts";
import { hashrate } from "./format.ts";
import { WorkersPage } from "./pages/workers.tsx";
import { NodesPage } from "./pages/nodes.tsx";
import { AlertsPage } from "./pages/alerts.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { RigPage } from "./pages/rig.tsx";
import { FleetPage } from "./pages/fleet.tsx";
import { GraphsPage } from "./pages/graphs.tsx";
import { ProfilesPage } from "./pages/profiles.tsx";
import { ConsolePage } from "./pages/console.tsx";

const PAGES = [
  { path: "overview", title: "Overview", view: OverviewPage },
  { path: "workers", title: "This node", view: WorkersPage },
  { path: "nodes", title: "Nodes", view: NodesPage },
  { path: "fleet", title: "Fleet", view: FleetPage },
  { path: "graphs", title: "Graphs", view: GraphsPage },
  { path: "profiles", title: "Profiles", view: ProfilesPage },
  { path: "console", title: "Console", view: ConsolePage },
  { path: "alerts", title: "Alerts", view: AlertsPage },
  { path: "audit", title: "Audit", view: AuditPage },
] as const;
/** Pages reached by a link, not listed in the navigation. */
const HIDDEN = [{ path: "rig", title: "Rig", view: RigPage }] as const;

function useRoute(): { page: string; params: URLSearchParams } {
  const read = () => {
    const [page, query] = location.hash.replace(/^#\/?/, "").split("?");
    return { page: page || "overview", params: new URLSearchParams(query ?? "") };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const fn = () => setRoute(read());
    addEventListener("hashchange", fn);
    return () => removeEventListener("hashchange", fn);
  }, []);
  return route;
}

function Login(props: { onLogin: () => void }) {
  const [token, setTok] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token.trim());
      props.onLogin();
    } catch (err) {
      setError(
        err instanceof ApiFailure && err.status === 401
          ? "Wrong token. Print it on the node with `miner-cli node info --token`."
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card login" onSubmit={submit}>
      <h1>miner-cli</h1>
      <p class="muted">
        Enter this node's API token. It is printed by <code>miner-cli node info --token</code>{" "}
        and exchanged for a session (12 h, signed in in every tab, ended by Sign out); the token
        itself is not kept in the browser.
      </p>
      <label>
        API token
        <input
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setTok((e.target as HTMLInputElement).value)}
          autofocus
        />
      </label>
      {error && <div class="error-box" role="alert">{error}</div>}
      <p>
        <button class="primary" type="submit" disabled={busy || !token.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </p>
    </form>
  );
}

function StatsPanel() {
  const s = useStore();
  const online = s.peers.filter((p) => p.online).length;
  const totals = s.health?.totals ?? [];
  const firing = s.alerts?.firing.length ?? 0;
  return (
    <div class="stats-panel" data-testid="stats-panel">
      <div>
        <span>Events</span>
        <span class={s.live ? "live" : "down"} title={s.streamError ?? ""}>
          {s.live ? "live" : "reconnecting"}
        </span>
      </div>
      <div>
        <span>Peers online</span>
        <span data-testid="peers-online">{online}/{s.peers.length}</span>
      </div>
      <div data-testid="fleet-hashrate">
        <span>Hashrate</span>
        <span>
          {totals.length === 0
            ? "–"
            : totals.map((t) => (
              <div key={t.algorithm} data-algorithm={t.algorithm}>
                {hashrate(t.hashrate)} <span class="muted">{t.algorithm}</span>
              </div>
            ))}
        </span>
      </div>
      <div>
        <span>Alerts</span>
        <a href="#/alerts" class={firing ? "alerting" : ""} data-testid="alerts-firing">
          {firing ? `${firing} firing` : "none"}
        </a>
      </div>
      {s.node && <div class="muted">{s.node.name} · v{s.node.version}</div>}
    </div>
  );
}

function Toasts() {
  const list = useToasts();
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

function Shell(props: { onLogout: () => void }) {
  const route = useRoute();
  const s = useStore();
  const page = [...PAGES, ...HIDDEN].find((p) => p.path === route.page) ?? PAGES[0];
  const View = page.view;
  useEffect(() => {
    document.title = `${page.title} · miner-cli`;
  }, [page]);
  return (
    <div class="shell">
      <nav class="side" aria-label="Pages">
        <div class="brand">miner-cli</div>
        {PAGES.map((p) => (
          <a
            key={p.path}
            href={`#/${p.path}`}
            aria-current={p === page ? "page" : undefined}
          >
            {p.title}
          </a>
        ))}
        <a href="#" onClick={(e) => (e.preventDefault(), props.onLogout())}>Sign out</a>
        <StatsPanel />
      </nav>
      <main>
        {!s.live && s.streamError && (
          <div class="error-box" role="alert">
            Live updates interrupted: {s.streamError}. Reconnecting…
          </div>
        )}
        {s.loaded ? <View params={route.params} /> : <p class="muted">Loading…</p>}
      </main>
      <Toasts />
    </div>
  );
}

function App() {
  // null: checking whether this browser is signed in already (another tab, a reload).
  const [isIn, setIn] = useState<boolean | null>(null);
  useEffect(() => {
    signedIn().then(setIn);
    setUnauthorizedHandler(() => {
      disconnect();
      setIn(false);
    });
  }, []);
  useEffect(() => {
    if (isIn) connect();
    return () => disconnect();
  }, [isIn]);
  if (isIn === null) return <p class="muted login">Loading…</p>;
  if (!isIn) {
    return (
      <>
        <Login onLogin={() => setIn(true)} />
        <Toasts />
      </>
    );
  }
  return (
    <Shell
      onLogout={() => {
        signOut().finally(() => {
          disconnect();
          setIn(false);
        });
      }}
    />
  );
}

/**
 * Labels every table cell with its column's header (`data-label`), so that on a phone, where
 * tables are shown as cards, each value says what it is. Runs after every change to the page.
 */
function labelCells(rootEl: HTMLElement): void {
  const apply = () => {
    for (const table of rootEl.querySelectorAll("main table")) {
      const heads = [...table.querySelectorAll("thead th")].map((th) =>
        th.textContent?.trim() ?? ""
      );
      if (!heads.length) continue;
      for (const tr of table.querySelectorAll("tbody tr")) {
        let col = 0;
        for (const td of tr.children) {
          const label = heads[col] ?? "";
          if (label && td.getAttribute("data-label") !== label) {
            td.setAttribute("data-label", label);
          }
          col += (td as HTMLTableCellElement).colSpan || 1;
        }
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      apply();
    });
  }).observe(rootEl, { childList: true, subtree: true, characterData: true });
}

const root = document.getElementById("app")!;
labelCells(root);
root.textContent = "";
render(<App />, root);
