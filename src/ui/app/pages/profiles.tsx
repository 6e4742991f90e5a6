/**
 * Profiles: the list (type, pool, algorithm, wallet, expected hashrate, autostart) and a form per
 * miner type: pools in failover order (URL, wallet/user, password, TLS, algorithm, coin), threads,
 * extra arguments, expected hashrate and the watchdog's stall settings; the node validates and
 * each of its messages is shown beside its field (a placeholder wallet is refused there). The raw
 * JSON stays as the "Advanced" tab.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, ApiFailure } from "../api.ts";
import { attempt, toast, useStore } from "../store.ts";
import type { Assignment, Profile } from "../types.ts";
import { useEffect } from "preact/hooks";
import { useProfiles } from "./common.tsx";

interface Pool {
  url: string;
  user: string;
  pass: string;
  tls: boolean;
  algo: string;
  coin: string;
}

interface Draft {
  id: string | null;
  name: string;
  minerType: "xmrig" | "tt-miner" | "custom";
  autostart: boolean;
  pools: Pool[];
  threads: string;
  donateLevel: string;
  args: string;
  command: string;
  hashratePattern: string;
  hashrateUnit: string;
  expectedHashrate: string;
  minHashrate: string;
  stallSeconds: string;
  /** Health thresholds of this profile (its miners' overrides of the fleet defaults). */
  tempLimit: string;
  expectedFraction: string;
  /** The configuration as JSON (the Advanced tab); null: built from the fields. */
  raw: string | null;
}

const emptyPool = (): Pool => ({ url: "", user: "", pass: "", tls: false, algo: "", coin: "" });

const blank = (): Draft => ({
  id: null,
  name: "",
  minerType: "xmrig",
  autostart: false,
  pools: [emptyPool()],
  threads: "auto",
  donateLevel: "1",
  args: "",
  command: "",
  hashratePattern: "",
  hashrateUnit: "H/s",
  expectedHashrate: "",
  minHashrate: "",
  stallSeconds: "",
  tempLimit: "",
  expectedFraction: "",
  raw: null,
});

function fromProfile(p: Profile): Draft {
  const d = blank();
  d.id = p.id;
  d.name = p.name;
  d.minerType = p.minerType;
  d.autostart = p.autostart;
  d.expectedHashrate = p.expectedHashrate ? String(p.expectedHashrate) : "";
  d.minHashrate = p.minHashrate !== undefined ? String(p.minHashrate) : "";
  d.stallSeconds = p.stallSeconds ? String(p.stallSeconds) : "";
  if (p.minerType === "xmrig") {
    d.pools = p.config.pools.map((x) => ({
      url: x.url,
      user: x.user ?? "",
      pass: x.pass ?? "",
      tls: x.tls ?? false,
      algo: x.algo ?? "",
      coin: x.coin ?? "",
    }));
    d.threads = p.config.threads === undefined ? "auto" : String(p.config.threads);
    d.donateLevel = String(p.config.donateLevel ?? 1);
    d.args = (p.config.args ?? []).join("\n");
  } else if (p.minerType === "tt-miner") {
    d.pools = [{
      ...emptyPool(),
      url: p.config.pool,
      user: p.config.user,
      pass: p.config.pass ?? "",
      algo: p.config.algo,
    }];
    d.args = (p.config.args ?? []).join("\n");
  } else {
    d.command = p.config.command;
    d.args = (p.config.args ?? []).join("\n");
    d.hashratePattern = p.config.hashratePattern ?? "";
    d.hashrateUnit = p.config.hashrateUnit ?? "H/s";
  }
  return d;
}

/** The profile document the fields describe. */
function toConfig(d: Draft): unknown {
  if (d.raw !== null) return JSON.parse(d.raw);
  const args = d.args.split("\n").map((a) => a.trim()).filter(Boolean);
  if (d.minerType === "xmrig") {
    return {
      pools: d.pools.map((p) => ({
        url: p.url.trim(),
        // `farm` takes no wallet (the controller holds the pool's).
        ...(p.user.trim() ? { user: p.user.trim() } : {}),
        ...(p.pass ? { pass: p.pass } : {}),
        tls: p.tls,
        ...(p.algo.trim() ? { algo: p.algo.trim() } : {}),
        ...(p.coin.trim() ? { coin: p.coin.trim() } : {}),
      })),
      ...(d.threads.trim() && d.threads.trim() !== "auto"
        ? { threads: Number(d.threads) }
        : { threads: "auto" }),
      donateLevel: Number(d.donateLevel || 1),
      args,
    };
  }
  if (d.minerType === "tt-miner") {
    const p = d.pools[0] ?? emptyPool();
    return {
      pool: p.url.trim(),
      user: p.user.trim(),
      ...(p.pass ? { pass: p.pass } : {}),
      algo: p.algo.trim(),
      args,
    };
  }
  return {
    command: d.command.trim(),
    args,
    ...(d.hashratePattern ? { hashratePattern: d.hashratePattern } : {}),
    hashrateUnit: d.hashrateUnit,
  };
}

/** The form field a validation path belongs to (`config.pools.0.user` → `pools.0.user`). */
function fieldOf(path: string, type: Draft["minerType"]): string {
  const p = path.replace(/^config\./, "");
  if (type === "tt-miner") {
    if (p === "pool") return "pools.0.url";
    if (p === "user" || p === "pass" || p === "algo") return `pools.0.${p}`;
  }
  return p.replace(/^args\.\d+$/, "args");
}

/** Fields that show their own message beside them. */
const SHOWN_FIELD =
  /^(?:name|threads|donateLevel|expectedHashrate|minHashrate|stallSeconds|tempLimit|expectedFraction|args|command|hashratePattern|pools(?:\.\d+\.(?:url|user|pass|algo|coin))?)$/;

const shorten = (w: string) => (w.length > 16 ? `${w.slice(0, 8)}…${w.slice(-6)}` : w);

/** The Profiles page. */
export function ProfilesPage(): JSX.Element {
  const { profiles, error, reload } = useProfiles();
  const store = useStore();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [assignments, setAssignments] = useState<Assignment[]>([]);
  const [assignTag, setAssignTag] = useState("");
  const [assignProfile, setAssignProfile] = useState("");
  const loadAssignments = () =>
    api<{ assignments: Assignment[] }>("GET", "/assignments").then((r) =>
      setAssignments(r.assignments)
    )
      .catch(() => setAssignments([]));
  useEffect(() => {
    loadAssignments();
    const t = setInterval(loadAssignments, 3000);
    return () => clearInterval(t);
  }, []);
  const assign = async () => {
    const p = profiles?.find((x) => x.id === assignProfile);
    if (!p || !assignTag.trim()) return toast("Choose a profile and a tag", "error");
    const r = await attempt(
      `Assign ${p.name} to ${assignTag}`,
      () => api("PUT", `/assignments/${encodeURIComponent(assignTag.trim())}`, { profile: p.id }),
    );
    if (r) {
      toast(`Rigs tagged ${assignTag.trim()} run ${p.name}: rolling out`);
      setAssignTag("");
      loadAssignments();
    }
  };
  const unassign = async (tag: string) => {
    if (!confirm(`Stop assigning a profile to tag ${tag}? (its miners keep running)`)) return;
    if (
      await attempt(
        `Unassign ${tag}`,
        () => api("DELETE", `/assignments/${encodeURIComponent(tag)}`),
      )
    ) {
      toast(`Tag ${tag} has no profile now`);
      loadAssignments();
    }
  };
  const set = (patch: Partial<Draft>) => draft && setDraft({ ...draft, ...patch });
  const setPool = (i: number, patch: Partial<Pool>) =>
    draft &&
    setDraft({ ...draft, pools: draft.pools.map((p, j) => (i === j ? { ...p, ...patch } : p)) });

  const editWithThresholds = async (p: Profile) => {
    const d = fromProfile(p);
    try {
      const t = await api<
        {
          config: {
            profiles: Record<string, { gpuTempLimit?: number; expectedFraction?: number }>;
          };
        }
      >("GET", "/health/thresholds");
      const o = t.config.profiles[p.id] ?? t.config.profiles[p.name] ?? {};
      if (o.gpuTempLimit !== undefined) d.tempLimit = String(o.gpuTempLimit);
      if (o.expectedFraction !== undefined) {
        d.expectedFraction = String(Math.round(o.expectedFraction * 100));
      }
    } catch { /* no health API: the thresholds stay empty */ }
    setDraft(d);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    setFormError(null);
    setFieldErrors({});
    let config: unknown;
    try {
      config = toConfig(draft);
    } catch (err) {
      setFormError(`the configuration is not valid JSON: ${(err as Error).message}`);
      return;
    }
    const num = (v: string) => (v.trim() === "" ? undefined : Number(v));
    const body = {
      name: draft.name.trim(),
      minerType: draft.minerType,
      autostart: draft.autostart,
      config,
      ...(num(draft.expectedHashrate) !== undefined
        ? { expectedHashrate: num(draft.expectedHashrate) }
        : {}),
      ...(num(draft.minHashrate) !== undefined ? { minHashrate: num(draft.minHashrate) } : {}),
      ...(num(draft.stallSeconds) !== undefined ? { stallSeconds: num(draft.stallSeconds) } : {}),
    };
    setBusy(true);
    try {
      const saved = draft.id
        ? await api<Profile>("PUT", `/profiles/${draft.id}`, body)
        : await api<Profile>("POST", "/profiles", body);
      // The profile's health thresholds: overrides of the fleet defaults for its miners.
      const set: Record<string, number> = {};
      const unset: string[] = [];
      for (
        const [key, v] of [["gpuTempLimit", draft.tempLimit], [
          "expectedFraction",
          draft.expectedFraction,
        ]] as const
      ) {
        if (v.trim() === "") unset.push(key);
        else set[key] = key === "expectedFraction" ? Number(v) / 100 : Number(v);
      }
      try {
        await api("PUT", "/health/thresholds", { scope: "profile", ref: saved.id, set, unset });
      } catch (err) {
        const f = err instanceof ApiFailure ? err.message : (err as Error).message;
        setFieldErrors({ [f.includes("expectedFraction") ? "expectedFraction" : "tempLimit"]: f });
        setFormError(`The profile was saved, its thresholds were not: ${f}`);
        reload();
        return;
      }
      toast(`Saved profile ${body.name}`);
      setDraft(null);
      reload();
    } catch (err) {
      if (err instanceof ApiFailure && err.fields.length) {
        const byField: Record<string, string> = {};
        for (const f of err.fields) byField[fieldOf(f.path, draft.minerType)] = f.message;
        setFieldErrors(byField);
        setFormError(
          `Some fields need fixing: ${
            err.fields.map((f) => f.path.replace(/^config\./, "")).join(", ")
          }`,
        );
      } else {
        setFormError(
          err instanceof ApiFailure ? err.message : `cannot save: ${(err as Error).message}`,
        );
      }
    } finally {
      setBusy(false);
    }
  };
  const remove = async (p: Profile) => {
    if (!confirm(`Delete profile ${p.name}?`)) return;
    if (await attempt(`Delete ${p.name}`, () => api("DELETE", `/profiles/${p.id}`))) {
      toast(`Deleted ${p.name}`);
      reload();
    }
  };
  const err = (k: string) =>
    fieldErrors[k] ? <span class="field-error" data-field-error={k}>{fieldErrors[k]}</span> : null;
  const input = (label: string, key: keyof Draft, props: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input
        name={key}
        value={String(draft![key] ?? "")}
        aria-invalid={fieldErrors[key] ? "true" : undefined}
        onInput={(e) => set({ [key]: (e.target as HTMLInputElement).value } as Partial<Draft>)}
        {...props}
      />
      {err(key)}
    </label>
  );

  return (
    <>
      <h1>Profiles</h1>
      {error && <div class="error-box" role="alert">Profiles: {error}</div>}
      {profiles === null && !error && <p class="muted">Loading…</p>}
      {profiles?.length === 0 && <div class="card empty">No profiles yet.</div>}
      {profiles && profiles.length > 0 && (
        <div class="table-wrap">
          <table data-testid="profiles-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Miner</th>
                <th>Pool</th>
                <th>Algorithm</th>
                <th>Wallet / user</th>
                <th class="num">Expected</th>
                <th>Tags</th>
                <th>Autostart</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {profiles.map((p) => {
                const pool = p.minerType === "xmrig"
                  ? p.config.pools[0]
                  : p.minerType === "tt-miner"
                  ? { url: p.config.pool, user: p.config.user, algo: p.config.algo }
                  : null;
                return (
                  <tr key={p.id} data-profile={p.name}>
                    <td>{p.name}</td>
                    <td>{p.minerType}</td>
                    <td class="pool" title={pool?.url ?? ""}>
                      {pool?.url ?? (p.minerType === "custom" ? p.config.command : "–")}
                      {p.minerType === "xmrig" && p.config.pools.length > 1 && (
                        <span class="muted">+{p.config.pools.length - 1} failover</span>
                      )}
                    </td>
                    <td>{pool?.algo ?? (p.minerType === "xmrig" ? "rx/0" : "–")}</td>
                    <td class="mono" title={pool?.user ?? ""}>
                      {pool?.user ? shorten(pool.user) : "–"}
                    </td>
                    <td class="num">{p.expectedHashrate ?? "–"}</td>
                    <td>
                      {assignments.filter((a) => a.profileId === p.id).map((a) => (
                        <span key={a.tag} class="badge tag">{a.tag}</span>
                      ))}
                    </td>
                    <td>{p.autostart ? "yes" : "no"}</td>
                    <td>
                      <div class="row">
                        <button
                          type="button"
                          onClick={() => (editWithThresholds(p),
                            setFieldErrors({}),
                            setFormError(null))}
                        >
                          Edit
                        </button>
                        <button type="button" class="danger" onClick={() => remove(p)}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <section class="card" data-testid="assignments">
        <h2>Assigned to tags</h2>
        <p class="muted">
          Rigs with the tag run the profile: started when it is assigned, and on rigs that get the
          tag later (tags are set on a rig's page, or with <code>miner-cli peer tag RIG TAG</code>).
        </p>
        <div class="row">
          <label>
            Profile
            <select
              name="assign-profile"
              value={assignProfile}
              onChange={(e) => setAssignProfile((e.target as HTMLSelectElement).value)}
            >
              <option value="">Choose a profile</option>
              {profiles?.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
          <label>
            Tag
            <input
              name="assign-tag"
              value={assignTag}
              placeholder="gpu"
              onInput={(e) => setAssignTag((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="button" onClick={assign}>Assign</button>
        </div>
        {assignments.length > 0 && (
          <div class="table-wrap">
            <table data-testid="assignments-table">
              <thead>
                <tr>
                  <th>Tag</th>
                  <th>Profile</th>
                  <th>Rollout</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {assignments.map((a) => (
                  <tr key={a.tag} data-tag={a.tag}>
                    <td>{a.tag}</td>
                    <td>{a.profileName}</td>
                    <td class="wrap" data-testid="rollout">
                      {Object.keys(a.rollout).length === 0
                        ? "no rig yet"
                        : Object.entries(a.rollout).map(([id, r]) => (
                          <div key={id} data-rig={id} data-outcome={r.outcome}>
                            <span
                              class={`badge ${
                                r.outcome === "started"
                                  ? "running"
                                  : r.outcome === "failed"
                                  ? "failed"
                                  : "starting"
                              }`}
                            >
                              {r.outcome}
                            </span>{" "}
                            {store.peers.find((x) =>
                              x.id === id
                            )?.name ?? id.slice(0, 12)}
                            {r.error ? `: ${r.error}` : ""}
                          </div>
                        ))}
                    </td>
                    <td>
                      <button type="button" class="danger" onClick={() => unassign(a.tag)}>
                        Unassign
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <p>
        <button
          type="button"
          class="primary"
          onClick={() => (setDraft(blank()), setFormError(null), setFieldErrors({}))}
        >
          New profile
        </button>
      </p>
      {draft && (
        <form class="card" onSubmit={save} data-testid="profile-form" noValidate>
          <h2>{draft.id ? `Edit ${draft.name}` : "New profile"}</h2>
          <div class="tabs" role="group" aria-label="Editor">
            <button
              type="button"
              aria-pressed={draft.raw === null}
              onClick={() => set({ raw: null })}
            >
              Form
            </button>
            <button
              type="button"
              aria-pressed={draft.raw !== null}
              onClick={() => {
                let raw = "{}";
                try {
                  raw = JSON.stringify(toConfig({ ...draft, raw: null }), null, 2);
                } catch { /* keep */ }
                set({ raw });
              }}
            >
              Advanced (JSON)
            </button>
          </div>
          <div class="row">
            {input("Name", "name", { placeholder: "cpu-rx" })}
            <label>
              Miner
              <select
                name="minerType"
                value={draft.minerType}
                disabled={draft.id !== null}
                onChange={(e) =>
                  set({
                    minerType: (e.target as HTMLSelectElement).value as Draft["minerType"],
                    raw: null,
                  })}
              >
                <option value="xmrig">XMRig</option>
                <option value="tt-miner">TT-Miner</option>
                <option value="custom">Custom</option>
              </select>
            </label>
            <label style={{ flexDirection: "row", alignItems: "center" }}>
              <input
                type="checkbox"
                name="autostart"
                checked={draft.autostart}
                onChange={(e) => set({ autostart: (e.target as HTMLInputElement).checked })}
              />
              start with the node
            </label>
          </div>
          {draft.raw !== null
            ? (
              <label style={{ display: "flex", marginTop: "10px" }}>
                Configuration (JSON)
                <textarea
                  name="config"
                  rows={12}
                  value={draft.raw}
                  onInput={(e) => set({ raw: (e.target as HTMLTextAreaElement).value })}
                />
              </label>
            )
            : (
              <>
                {draft.minerType !== "custom" && (
                  <fieldset data-testid="pools">
                    <legend>
                      {draft.minerType === "xmrig" ? "Pools (in failover order)" : "Pool"}
                    </legend>
                    {draft.pools.map((p, i) => (
                      <div class="row" key={i} data-pool={i}>
                        <label>
                          URL
                          <input
                            name={`pools.${i}.url`}
                            value={p.url}
                            placeholder="stratum+tcp://pool.example.org:3333"
                            onInput={(e) =>
                              setPool(i, { url: (e.target as HTMLInputElement).value })}
                          />
                          {err(`pools.${i}.url`)}
                        </label>
                        <label>
                          Wallet / user
                          <input
                            name={`pools.${i}.user`}
                            value={p.user}
                            placeholder="your wallet address"
                            onInput={(e) =>
                              setPool(i, { user: (e.target as HTMLInputElement).value })}
                          />
                          {err(`pools.${i}.user`)}
                        </label>
                        <label>
                          Password
                          <input
                            name={`pools.${i}.pass`}
                            value={p.pass}
                            placeholder="x"
                            onInput={(e) =>
                              setPool(i, { pass: (e.target as HTMLInputElement).value })}
                          />
                          {err(`pools.${i}.pass`)}
                        </label>
                        <label>
                          Algorithm
                          <input
                            name={`pools.${i}.algo`}
                            value={p.algo}
                            placeholder={draft.minerType === "xmrig" ? "rx/0" : "kawpow"}
                            onInput={(e) =>
                              setPool(i, { algo: (e.target as HTMLInputElement).value })}
                          />
                          {err(`pools.${i}.algo`)}
                        </label>
                        {draft.minerType === "xmrig" && (
                          <>
                            <label>
                              Coin
                              <input
                                name={`pools.${i}.coin`}
                                value={p.coin}
                                placeholder="monero"
                                onInput={(e) =>
                                  setPool(i, { coin: (e.target as HTMLInputElement).value })}
                              />
                              {err(`pools.${i}.coin`)}
                            </label>
                            <label style={{ flexDirection: "row", alignItems: "center" }}>
                              <input
                                type="checkbox"
                                checked={p.tls}
                                onChange={(e) =>
                                  setPool(i, { tls: (e.target as HTMLInputElement).checked })}
                              />
                              TLS
                            </label>
                            {draft.pools.length > 1 && (
                              <button
                                type="button"
                                onClick={() =>
                                  set({ pools: draft.pools.filter((_, j) => j !== i) })}
                              >
                                Remove
                              </button>
                            )}
                          </>
                        )}
                      </div>
                    ))}
                    {err("pools")}
                    {draft.minerType === "xmrig" && draft.pools.length < 16 && (
                      <button
                        type="button"
                        onClick={() => set({ pools: [...draft.pools, emptyPool()] })}
                      >
                        Add a failover pool
                      </button>
                    )}
                  </fieldset>
                )}
                {draft.minerType === "custom" && (
                  <div class="row">
                    {input("Command", "command", { placeholder: "my-miner or /opt/miner/bin" })}
                    {input("Hashrate pattern (regex)", "hashratePattern", {
                      placeholder: "speed ([0-9.]+)",
                    })}
                    <label>
                      Unit
                      <select
                        name="hashrateUnit"
                        value={draft.hashrateUnit}
                        onChange={(e) =>
                          set({ hashrateUnit: (e.target as HTMLSelectElement).value })}
                      >
                        {["H/s", "kH/s", "MH/s", "GH/s"].map((u) => <option key={u}>{u}</option>)}
                      </select>
                    </label>
                  </div>
                )}
                <div class="row">
                  {draft.minerType === "xmrig" &&
                    input("Threads", "threads", { placeholder: "auto" })}
                  {draft.minerType === "xmrig" && input("Donate level %", "donateLevel")}
                  {input("Expected hashrate (H/s)", "expectedHashrate", {
                    placeholder: "learned from history",
                  })}
                  {input("Restart below (H/s)", "minHashrate", { placeholder: "0" })}
                  {input("Stall seconds", "stallSeconds", { placeholder: "120" })}
                  {input("GPU temperature limit (°C)", "tempLimit", {
                    placeholder: "fleet default",
                  })}
                  {input("Below expected under (%)", "expectedFraction", {
                    placeholder: "fleet default (80)",
                  })}
                </div>
                <label style={{ display: "flex" }}>
                  Extra arguments (one per line)
                  <textarea
                    name="args"
                    rows={3}
                    value={draft.args}
                    onInput={(e) => set({ args: (e.target as HTMLTextAreaElement).value })}
                  />
                  {err("args")}
                </label>
              </>
            )}
          {formError && (
            <div class="error-box" role="alert" data-testid="profile-error">{formError}</div>
          )}
          {Object.keys(fieldErrors).some((k) => !SHOWN_FIELD.test(k)) && (
            <ul class="field-error" data-testid="other-errors">
              {Object.entries(fieldErrors).filter(([k]) =>
                !SHOWN_FIELD.test(k)
              ).map(([k, v]) => (
                <li key={k}>
                  {k}: {v}
                </li>
              ))}
            </ul>
          )}
          <div class="row">
            <button class="primary" type="submit" disabled={busy}>
              {busy ? "Saving…" : "Save"}
            </button>
            <button type="button" onClick={() => setDraft(null)}>Cancel</button>
          </div>
        </form>
      )}
    </>
  );
}
