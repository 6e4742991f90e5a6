/**
 * Nodes: this node's identity (copyable ID, pairing code), the peer table (online dot, address,
 * role, ping, score, last seen) with add / remove / ping / allow / revoke, and the auth mode.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ago, ms } from "../format.ts";
import { attempt, refreshDiscovery, refreshPeers, toast, useStore } from "../store.ts";
import { copyText, Dot, useAction } from "./common.tsx";
import type { Capabilities, PendingNode } from "../types.ts";

interface ApproveResult {
  id: string;
  address: string;
  outcome: "registered" | "awaiting" | "allowed";
  name?: string;
  reason?: string;
}

function approveToast(r: ApproveResult): void {
  if (r.outcome === "registered") toast(`${r.name}: handshake proved its ID; registered`);
  else if (r.outcome === "allowed") toast(`${r.id.slice(0, 12)} may now connect to this node`);
  else {
    toast(
      `${r.id.slice(0, 12)} approved, waiting for its handshake: ${r.reason ?? "no answer"}`,
      "error",
    );
  }
}

function hw(e: PendingNode): string {
  const flags = [
    e.aes ? "AES" : e.aes === null ? "CPU flags unknown" : "",
    e.avx2 ? "AVX2" : "",
    e.hugePages ? "huge pages" : "",
  ].filter(Boolean).join(", ");
  return `${e.threads}T · ${(e.memTotalMB / 1024).toFixed(0)} GB${
    e.gpus ? ` · ${e.gpus} GPU` : ""
  }${flags ? ` (${flags})` : ""}`;
}

/** Nodes heard on the LAN: never trusted until the operator approves them. */
function Discovered() {
  const s = useStore();
  const after = () => Promise.all([refreshDiscovery(), refreshPeers()]);
  const { busy, run } = useAction(after);
  // Entries expire 15 s after their last beacon without an event: re-read while shown.
  useEffect(() => {
    refreshDiscovery().catch(() => {});
    const t = setInterval(() => refreshDiscovery().catch(() => {}), 5000);
    return () => clearInterval(t);
  }, []);
  const d = s.discovery;
  if (d === null) return <div class="card muted">Loading…</div>;
  if (d === "off") {
    return (
      <div class="card muted" data-testid="discovery-off">
        Discovery is off on this node. Start it with <code>miner-cli node serve --discover</code>
        {" "}
        to list the nodes that announce themselves on the LAN.
      </div>
    );
  }
  const approve = (body: { ids: string[] } | { role: string }, key: string) =>
    run(
      key,
      "Approve",
      () => api<{ results: ApproveResult[] }>("POST", "/peers/pending/approve", body),
    ).then((r) => r?.results.forEach(approveToast));
  const roles = [...new Set(d.pending.map((e) => e.role))];
  return (
    <div class="card" data-testid="discovered">
      <p class="muted">
        Heard on UDP {d.port} (beacons to{" "}
        {d.broadcast.join(", ")}). Nothing here is trusted: approving a node dials it and registers
        it only once the Noise handshake proves its ID.
        {d.autoEnroll && " Workers that prove the farm's join secret are enrolled automatically."}
      </p>
      {d.pending.length === 0
        ? <p class="muted">No pending nodes.</p>
        : (
          <table data-testid="pending-table">
            <thead>
              <tr>
                <th>ID</th>
                <th>Role</th>
                <th>Address</th>
                <th>Hardware</th>
                <th>Last beacon</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {d.pending.map((e) => (
                <tr key={e.id} data-pending={e.id}>
                  <td class="mono" title={e.id}>{e.id.slice(0, 12)}</td>
                  <td>{e.role}</td>
                  <td class="mono">{e.address}</td>
                  <td>{hw(e)}</td>
                  <td>
                    {ago(e.lastSeen)}
                    {e.enrolling && <div class="muted">enrolling…</div>}
                    {e.lastError && <div class="field-error">{e.lastError}</div>}
                  </td>
                  <td>
                    <div class="row">
                      <button
                        type="button"
                        class="primary"
                        disabled={busy !== null}
                        onClick={() => approve({ ids: [e.id] }, e.id)}
                      >
                        {busy === e.id ? "Approving…" : "Approve"}
                      </button>
                      <button
                        type="button"
                        class="danger"
                        disabled={busy !== null}
                        onClick={() =>
                          confirm(`Reject ${e.id.slice(0, 12)}? Its beacons will be ignored.`) &&
                          run(
                            `r-${e.id}`,
                            "Reject",
                            () => api("POST", "/peers/pending/reject", { ids: [e.id] }),
                          )}
                      >
                        Reject
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {roles.length > 0 && (
        <div class="row">
          {roles.map((r) => (
            <button
              key={r}
              type="button"
              disabled={busy !== null}
              onClick={() => approve({ role: r }, `all-${r}`)}
            >
              Approve all {r}s ({d.pending.filter((e) => e.role === r).length})
            </button>
          ))}
        </div>
      )}
      {d.awaiting.length > 0 && (
        <>
          <h3>Approved, waiting for a handshake</h3>
          <ul data-testid="awaiting">
            {d.awaiting.map((a) => (
              <li key={a.id}>
                <span class="mono">{a.id.slice(0, 12)}</span> at{" "}
                <span class="mono">{a.address}</span>
                {a.lastError && <span class="muted">: {a.lastError}</span>}. On that node, approve
                this one; it is retried at every beacon.
              </li>
            ))}
          </ul>
        </>
      )}
      {d.rejected.length > 0 && (
        <details>
          <summary>{d.rejected.length} rejected</summary>
          <ul>
            {d.rejected.map((r) => (
              <li key={r.id}>
                <span class="mono">{r.id}</span>{" "}
                <button
                  type="button"
                  disabled={busy !== null}
                  onClick={() =>
                    run(`u-${r.id}`, "Undo reject", () =>
                      api("POST", "/peers/pending/unreject", { ids: [r.id] }))}
                >
                  Undo
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

function Identity() {
  const s = useStore();
  const [code, setCode] = useState<{ code: string; expiresAt: string } | null>(null);
  const node = s.node!;
  const makeCode = async () => {
    const res = await attempt(
      "Pairing code",
      () => api<{ code: string; expiresAt: string }>("POST", "/node/pair-code", {}),
    );
    if (res) setCode(res);
  };
  return (
    <div class="card" data-testid="identity">
      <dl class="kv">
        <dt>Name</dt>
        <dd>{node.name}</dd>
        <dt>Node ID</dt>
        <dd>
          <span class="mono" data-testid="node-id">{node.id}</span>{" "}
          <button
            type="button"
            onClick={() => copyText(node.id).then(() => toast("node ID copied"))}
          >
            Copy
          </button>
        </dd>
        <dt>Role</dt>
        <dd>{node.role}</dd>
        <dt>Public key</dt>
        <dd class="mono">{node.publicKey}</dd>
        <dt>Auth mode</dt>
        <dd>
          <AuthMode />
        </dd>
        <dt>Pairing</dt>
        <dd>
          {code
            ? (
              <>
                <span class="mono" data-testid="pair-code">{code.code}</span>{" "}
                <button
                  type="button"
                  onClick={() => copyText(code.code).then(() => toast("pairing code copied"))}
                >
                  Copy
                </button>
                <div class="muted">
                  One use, valid until{" "}
                  {new Date(code.expiresAt).toLocaleTimeString()}; whoever redeems it may control
                  this node. On the controller:{" "}
                  <code>miner-cli peer add --address HOST:PORT --code …</code>
                </div>
              </>
            )
            : (
              <button type="button" onClick={makeCode}>
                Create pairing code
              </button>
            )}
        </dd>
      </dl>
    </div>
  );
}

function AuthMode() {
  const s = useStore();
  const mode = s.auth?.mode ?? "allowlist";
  const toggle = async () => {
    const next = mode === "open" ? "allowlist" : "open";
    if (
      next === "open" &&
      !confirm("Open mode lets any node that completes the handshake connect. Continue?")
    ) return;
    if (await attempt("Auth mode", () => api("PUT", "/auth/mode", { mode: next }))) {
      await refreshPeers().catch(() => {});
      toast(`auth mode: ${next}`);
    }
  };
  return (
    <>
      <strong>{mode}</strong>{" "}
      <button type="button" onClick={toggle}>
        {mode === "open" ? "Switch to allowlist" : "Switch to open"}
      </button>
      {mode === "open" && <span class="field-error">any node may connect</span>}
    </>
  );
}

function AddPeer() {
  const [address, setAddress] = useState("");
  const [name, setName] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<{ added: boolean; peer: { name: string } }>("POST", "/peers", {
        address: address.trim(),
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(code.trim() ? { code: code.trim() } : {}),
      });
      toast(`${res.added ? "added" : "updated"} peer ${res.peer.name}`);
      setAddress("");
      setName("");
      setCode("");
      await refreshPeers();
    } catch (err) {
      setError((err as Error).message);
      toast(`Add peer failed: ${(err as Error).message}`, "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} data-testid="add-peer">
      <div class="row">
        <label>
          Address
          <input
            name="address"
            placeholder="192.168.1.20:9091"
            value={address}
            onInput={(e) => setAddress((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <label>
          Name (optional)
          <input
            name="name"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Pairing code (optional)
          <input
            name="code"
            class="mono"
            value={code}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
        </label>
        <button class="primary" type="submit" disabled={busy || !address.trim()}>
          {busy ? "Connecting…" : "Add peer"}
        </button>
      </div>
      {error && <div class="error-box" role="alert">{error}</div>}
      <p class="muted">
        The node dials the address and completes a Noise handshake; the peer's key is pinned. A
        pairing code from the peer (<code>miner-cli node pair-code</code>) authorizes this node on
        it.
      </p>
    </form>
  );
}

/** The Nodes page. */
export function NodesPage(): JSX.Element {
  const s = useStore();
  const { busy, run } = useAction(refreshPeers);
  const [allowTarget, setAllowTarget] = useState("");
  const [allowControl, setAllowControl] = useState(false);
  const registered = new Set(s.peers.map((p) => p.id));
  const extraAllowed = (s.auth?.allow ?? []).filter((a) => !registered.has(a.id));
  return (
    <>
      <h1>Nodes</h1>
      <Identity />
      <h2>Peers</h2>
      {s.peers.length === 0
        ? (
          <div class="card empty">
            No peers yet. Add a worker by its address below.
          </div>
        )
        : (
          <table data-testid="peers-table">
            <thead>
              <tr>
                <th></th>
                <th>Name</th>
                <th>ID</th>
                <th>Address</th>
                <th title="The role the peer announces (shown, never trusted)">Role</th>
                <th title="What this node's operator lets the peer do here">May here</th>
                <th class="num">Ping</th>
                <th class="num">Score</th>
                <th>Hardware</th>
                <th>Last seen</th>
                <th>Allowed</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {s.peers.map((p) => (
                <tr key={p.id} data-peer={p.name} class={p.online === false ? "offline" : ""}>
                  <td>
                    <Dot online={p.online} title={p.offlineReason} />
                  </td>
                  <td>{p.name}</td>
                  <td class="mono" title={p.id}>{p.id.slice(0, 12)}</td>
                  <td class="mono">{p.address ?? "(connects in)"}</td>
                  <td>{p.role}</td>
                  <td data-testid="grants">{p.grants.length ? p.grants.join(", ") : "nothing"}</td>
                  <td class="num">{ms(p.pingMs)}</td>
                  <td class="num">{p.score}</td>
                  <td data-testid="caps" title={capsTitle(p.capabilities)}>
                    {capsShort(p.capabilities)}
                  </td>
                  <td>{ago(p.lastSeen)}</td>
                  <td>{p.allowed ? "yes" : "–"}</td>
                  <td>
                    <div class="row">
                      <button
                        type="button"
                        disabled={busy !== null}
                        onClick={async () => {
                          const r = await run(p.id, `Ping ${p.name}`, () =>
                            api<{ avgMs: number | null; received: number; sent: number }>(
                              "POST",
                              `/peers/${p.id}/ping`,
                              { count: 3 },
                            ));
                          if (r) {
                            toast(`${p.name}: ${r.received}/${r.sent} replies, avg ${ms(r.avgMs)}`);
                          }
                        }}
                      >
                        {busy === p.id ? "Pinging…" : "Ping"}
                      </button>
                      {p.grants.includes("control")
                        ? (
                          <button
                            type="button"
                            class="danger"
                            disabled={busy !== null}
                            onClick={() =>
                              confirm(
                                `Take control back from ${p.name}? It can no longer start, stop or deploy on this node.`,
                              ) &&
                              run(p.id, `Ungrant ${p.name}`, () =>
                                api("PUT", `/peers/${p.id}/grants`, {
                                  grants: p.grants.filter((g) => g !== "control"),
                                }))}
                          >
                            Revoke control
                          </button>
                        )
                        : (
                          <button
                            type="button"
                            disabled={busy !== null}
                            onClick={() =>
                              confirm(
                                `Let ${p.name} control this node? It will be able to start and stop miners and deploy profiles and miner binaries here.`,
                              ) &&
                              run(p.id, `Grant ${p.name}`, () =>
                                api("PUT", `/peers/${p.id}/grants`, {
                                  grants: [...p.grants, "control"],
                                }))}
                          >
                            Grant control
                          </button>
                        )}
                      {p.allowed
                        ? (
                          <button
                            type="button"
                            class="danger"
                            disabled={busy !== null}
                            onClick={() =>
                              confirm(
                                `Revoke ${p.name}? It is removed from the allowlist and the registry.`,
                              ) &&
                              run(
                                p.id,
                                `Revoke ${p.name}`,
                                () => api("DELETE", `/auth/allow/${p.id}`),
                              )}
                          >
                            Revoke
                          </button>
                        )
                        : (
                          <button
                            type="button"
                            disabled={busy !== null}
                            onClick={() =>
                              run(
                                p.id,
                                `Allow ${p.name}`,
                                () => api("POST", "/auth/allow", { targets: [p.id] }),
                              )}
                          >
                            Allow
                          </button>
                        )}
                      <button
                        type="button"
                        class="danger"
                        disabled={busy !== null}
                        onClick={() =>
                          confirm(`Remove peer ${p.name}?`) &&
                          run(p.id, `Remove ${p.name}`, () =>
                            api("DELETE", `/peers/${p.id}`))}
                      >
                        Remove
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      <h2>Discovered on the LAN</h2>
      <Discovered />
      <h2>Add a peer</h2>
      <AddPeer />
      <h2>Allowlist</h2>
      <div class="card">
        <p class="muted">
          Nodes allowed to connect in without being registered peers (workers that dial this
          controller with <code>--connect</code>).
        </p>
        {extraAllowed.length === 0 ? <p class="muted">No other allowed nodes.</p> : (
          <ul>
            {extraAllowed.map((a) => (
              <li key={a.id}>
                <span class="mono">{a.id}</span>{" "}
                <button
                  type="button"
                  class="danger"
                  onClick={() => run(a.id, "Revoke", () => api("DELETE", `/auth/allow/${a.id}`))}
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
        <form
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            if (
              await run("allow", "Allow", () =>
                api("POST", "/auth/allow", {
                  targets: [allowTarget.trim()],
                  control: allowControl,
                }))
            ) {
              setAllowTarget("");
              setAllowControl(false);
            }
          }}
        >
          <label>
            Node ID or public key
            <input
              name="allow"
              class="mono"
              size={48}
              value={allowTarget}
              onInput={(e) => setAllowTarget((e.target as HTMLInputElement).value)}
            />
          </label>
          <label class="check">
            <input
              type="checkbox"
              name="allow-control"
              checked={allowControl}
              onChange={(e) => setAllowControl((e.target as HTMLInputElement).checked)}
            />
            may control this node (start, stop, deploy)
          </label>
          <button type="submit" disabled={!allowTarget.trim() || busy !== null}>Allow</button>
        </form>
      </div>
    </>
  );
}

function capsShort(c: Capabilities | null | undefined): string {
  if (!c) return "–";
  const gb = c.memTotalMB === null ? "?" : (c.memTotalMB / 1024).toFixed(0);
  const gpus = c.gpus.length ? ` · ${c.gpus.length} GPU` : "";
  return `${c.os}/${c.arch} · ${c.threads}T · ${gb} GB${gpus}`;
}

function capsTitle(c: Capabilities | null | undefined): string {
  if (!c) return "no capabilities reported yet";
  const flags = [c.aes ? "AES" : "", c.avx2 ? "AVX2" : ""].filter(Boolean).join(", ");
  return [
    `${c.cpuModel ?? "CPU"}: ${c.cores ?? "?"} cores / ${c.threads} threads${
      flags ? ` (${flags})` : ""
    }`,
    `RAM: ${c.memFreeMB ?? "?"} of ${c.memTotalMB ?? "?"} MB free`,
    `huge pages: ${c.hugePagesFree ?? "?"} of ${c.hugePagesTotal ?? "?"} free`,
    `GPUs: ${c.gpus.map((g) => g.name).join(", ") || "none"}`,
    `miners: ${c.miners.map((m) => `${m.type} ${m.version ?? "?"}`).join(", ") || "none"}`,
  ].join("\n");
}
