/**
 * Profiles: list, create, edit and delete mining profiles; the node validates them and its
 * messages are shown next to the form.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api, ApiFailure } from "../api.ts";
import { attempt, toast } from "../store.ts";
import type { Profile } from "../types.ts";
import { useProfiles } from "./common.tsx";

const TEMPLATES: Record<string, unknown> = {
  xmrig: {
    pools: [{
      url: "stratum+tcp://pool.example.com:3333",
      user: "WALLET_ADDRESS",
      pass: "x",
      tls: false,
    }],
    threads: "auto",
    donateLevel: 1,
  },
  "tt-miner": {
    pool: "stratum+tcp://pool.example.com:4444",
    user: "WALLET_ADDRESS",
    pass: "x",
    algo: "KAWPOW",
  },
  custom: {
    command: "my-miner",
    args: [],
    hashratePattern: "speed ([0-9.]+)",
    hashrateUnit: "H/s",
  },
};

interface Draft {
  id: string | null;
  name: string;
  minerType: string;
  autostart: boolean;
  config: string;
}

const blank = (): Draft => ({
  id: null,
  name: "",
  minerType: "xmrig",
  autostart: false,
  config: JSON.stringify(TEMPLATES.xmrig, null, 2),
});

/** The Profiles page. */
export function ProfilesPage(): JSX.Element {
  const { profiles, error, reload } = useProfiles();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const edit = (p: Profile) =>
    setDraft({
      id: p.id,
      name: p.name,
      minerType: p.minerType,
      autostart: p.autostart,
      config: JSON.stringify(p.config, null, 2),
    });
  const save = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    setFormError(null);
    let config: unknown;
    try {
      config = JSON.parse(draft.config);
    } catch (err) {
      setFormError(`config is not valid JSON: ${(err as Error).message}`);
      return;
    }
    setBusy(true);
    try {
      const body = {
        name: draft.name.trim(),
        minerType: draft.minerType,
        autostart: draft.autostart,
        config,
      };
      if (draft.id) await api("PUT", `/profiles/${draft.id}`, body);
      else await api("POST", "/profiles", body);
      toast(`saved profile ${body.name}`);
      setDraft(null);
      reload();
    } catch (err) {
      setFormError(
        err instanceof ApiFailure ? err.message : `cannot save: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  const remove = async (p: Profile) => {
    if (!confirm(`Delete profile ${p.name}?`)) return;
    if (await attempt(`Delete ${p.name}`, () => api("DELETE", `/profiles/${p.id}`))) {
      toast(`deleted ${p.name}`);
      reload();
    }
  };

  return (
    <>
      <h1>Profiles</h1>
      {error && <div class="error-box" role="alert">Profiles: {error}</div>}
      {profiles === null && !error && <p class="muted">Loading…</p>}
      {profiles?.length === 0 && <div class="card empty">No profiles yet.</div>}
      {profiles && profiles.length > 0 && (
        <table data-testid="profiles-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Miner</th>
              <th>Autostart</th>
              <th>ID</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {profiles.map((p) => (
              <tr key={p.id} data-profile={p.name}>
                <td>{p.name}</td>
                <td>{p.minerType}</td>
                <td>{p.autostart ? "yes" : "no"}</td>
                <td class="mono">{p.id.slice(0, 8)}</td>
                <td>
                  <div class="row">
                    <button type="button" onClick={() => edit(p)}>Edit</button>
                    <button type="button" class="danger" onClick={() => remove(p)}>Delete</button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <button
          type="button"
          class="primary"
          onClick={() => (setDraft(blank()), setFormError(null))}
        >
          New profile
        </button>
      </p>
      {draft && (
        <form class="card" onSubmit={save} data-testid="profile-form">
          <h2>{draft.id ? `Edit ${draft.name}` : "New profile"}</h2>
          <div class="row">
            <label>
              Name
              <input
                name="name"
                value={draft.name}
                onInput={(e) => setDraft({ ...draft, name: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label>
              Miner
              <select
                name="minerType"
                value={draft.minerType}
                disabled={draft.id !== null}
                onChange={(e) => {
                  const t = (e.target as HTMLSelectElement).value;
                  setDraft({
                    ...draft,
                    minerType: t,
                    config: JSON.stringify(TEMPLATES[t], null, 2),
                  });
                }}
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
                onChange={(e) =>
                  setDraft({ ...draft, autostart: (e.target as HTMLInputElement).checked })}
              />
              start with the node
            </label>
          </div>
          <label style={{ display: "flex", marginTop: "10px" }}>
            Configuration (JSON)
            <textarea
              name="config"
              rows={12}
              value={draft.config}
              onInput={(e) =>
                setDraft({ ...draft, config: (e.target as HTMLTextAreaElement).value })}
            />
          </label>
          {formError && (
            <div class="error-box" role="alert" data-testid="profile-error">{formError}</div>
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
