/**
 * Small shared pieces of the pages.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { attempt } from "../store.ts";
import type { Profile } from "../types.ts";

/** A state badge. */
export function StateBadge(props: { state: string }): JSX.Element {
  return <span class={`badge ${props.state}`}>{props.state}</span>;
}

/** An online dot with a text alternative. */
export function Dot(props: { online: boolean | null; title?: string }): JSX.Element {
  const cls = props.online === null ? "dot" : props.online ? "dot on" : "dot off";
  const label = props.online === null ? "unknown" : props.online ? "online" : "offline";
  return <span class={cls} role="img" aria-label={label} title={props.title ?? label} />;
}

/** Loads the node's profiles (with loading and error states). */
export function useProfiles(): {
  profiles: Profile[] | null;
  error: string | null;
  reload: () => void;
} {
  const [profiles, setProfiles] = useState<Profile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    api<{ profiles: Profile[] }>("GET", "/profiles")
      .then((r) => {
        setProfiles(r.profiles);
        setError(null);
      })
      .catch((err) => setError((err as Error).message));
  }, [n]);
  return { profiles, error, reload: () => setN((x) => x + 1) };
}

/** Copies text to the clipboard with a fallback for insecure contexts. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
}

/** One action at a time on a page: which one runs, and how to run one. */
export interface PageAction {
  /** Key of the running action (null when idle). */
  busy: string | null;
  /** Marks an action as running (for actions with their own error reporting). */
  setBusy: (key: string | null) => void;
  /** Runs `fn` as action `key`: errors become a toast, then `after` re-reads the page's data. */
  run<T>(key: string, what: string, fn: () => Promise<T>): Promise<T | undefined>;
}

/** The busy state and runner shared by the pages' buttons. */
export function useAction(after: () => Promise<unknown>): PageAction {
  const [busy, setBusy] = useState<string | null>(null);
  return {
    busy,
    setBusy,
    run: async (key, what, fn) => {
      setBusy(key);
      const res = await attempt(what, fn);
      await after().catch(() => {});
      setBusy(null);
      return res;
    },
  };
}
