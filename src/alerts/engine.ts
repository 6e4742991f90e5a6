/**
 * The alert engine: rules over the health model, with Alertmanager's lifecycle. A reason that
 * holds for a subject (rig, miner, device) is a pending alert; once it has held for the rule's
 * for-duration it fires; when it stops holding it resolves. Firing and resolved alerts of one
 * rule are grouped for the group wait (30 rigs that go down together are one message, not 30),
 * long-firing alerts are repeated every repeat interval unless acknowledged, and silences hold
 * back delivery until they end. The alerts are persisted, so a restart neither re-sends an alert
 * that was already delivered nor forgets one (one that resolved while the node was down resolves
 * at the first evaluation that has data for its rig).
 * @module
 */
import { type Logger, silentLogger } from "../log/mod.ts";
import type {
  Alert,
  AlertRule,
  AlertsView,
  ChannelView,
  FleetHealth,
  HealthReason,
  ReasonCode,
  RigHealth,
  Severity,
  Silence,
  Thresholds,
} from "../protocol/mod.ts";
import {
  type ChannelConfig,
  type ChannelStore,
  channelWants,
  maskChannel,
  type Notification,
} from "./channels.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { effectiveRules, ruleApplies, type RulesStore } from "./rules.ts";
import {
  type Ack,
  type AlertControls,
  type AlertStateFile,
  readAlertState,
  recentlyResolved,
  silenceMatches,
  writeAlertState,
} from "./store.ts";
import { defined } from "./options.ts";

/** An alert changed state (published on `/events` as `alert`). */
export interface AlertTransition {
  /** What happened. */
  kind: "pending" | "firing" | "resolved" | "acked" | "notified";
  /** The alert after the change. */
  alert: Alert;
}

/** Options for {@link AlertEngine.open}. */
export interface AlertEngineOptions {
  /** `<data>/alerts/state.json`. */
  statePath: string;
  /** Silences and acknowledgements. */
  controls: AlertControls;
  /** Rule overrides. */
  rules: RulesStore;
  /** Channels. */
  channels: ChannelStore;
  /** Deliveries. */
  dispatcher: Dispatcher;
  /** The fleet-default thresholds (rules show their threshold from here). */
  thresholds: () => Promise<Thresholds> | Thresholds;
  /** This node. */
  node: { id: string; name: string };
  /** The dashboard's address, put in messages when known. */
  url?: () => string | null;
  /** How long a group collects alerts before its message goes out (default 10 s). */
  groupWaitMs?: number;
  /** How often a firing, unacknowledged alert is repeated (default 4 h). */
  repeatMs?: number;
  /** How often firing alerts are re-sent to Alertmanager (default 60 s). */
  resendMs?: number;
  /** Resolved alerts kept for `alerts history` (default 1000). */
  historyLimit?: number;
  /** Receives transitions. */
  onTransition?: (t: AlertTransition) => void;
  /** Logger. */
  logger?: Logger;
}

interface Condition {
  key: string;
  rule: AlertRule;
  rig: RigHealth;
  miner: string | null;
  reason: HealthReason;
}

interface Group {
  kind: "firing" | "resolved" | "repeat";
  rule: ReasonCode;
  keys: Set<string>;
  timer: ReturnType<typeof setTimeout>;
}

/** Short, stable alert ID from its key (two 32-bit FNV-1a hashes, 12 hex digits). */
export function alertId(key: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 2);
  }
  return ((a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")).slice(
    0,
    12,
  );
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Rules over the health model; firing, grouping, silences, acks, delivery, persistence. */
export class AlertEngine {
  readonly #o: Required<Omit<AlertEngineOptions, "url" | "onTransition" | "logger">> & {
    url: () => string | null;
    onTransition: (t: AlertTransition) => void;
    logger: Logger;
  };
  readonly #alerts = new Map<string, Alert>();
  #history: Alert[] = [];
  readonly #groups = new Map<string, Group>();
  /** Keys in a firing group not yet flushed. */
  readonly #queued = new Set<string>();
  #rules: AlertRule[] = [];
  #silences: Silence[] = [];
  #acks = new Map<string, Ack>();
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  #resendTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #evaluations = 0;
  /** The time of the last evaluation (deliveries and silences are judged at it). */
  #now = Date.now();
  readonly #sending = new Set<Promise<void>>();

  private constructor(options: AlertEngineOptions) {
    this.#o = {
      groupWaitMs: 10_000,
      repeatMs: 4 * 3_600_000,
      resendMs: 60_000,
      historyLimit: 1000,
      url: () => null,
      onTransition: () => {},
      logger: silentLogger,
      ...defined(options),
    };
  }

  /** Opens the engine, restoring the alerts of the last run. */
  static async open(options: AlertEngineOptions): Promise<AlertEngine> {
    const engine = new AlertEngine(options);
    const state = await readAlertState(options.statePath);
    for (const a of state.alerts) engine.#alerts.set(a.key, a);
    engine.#history = state.history;
    await engine.#reload();
    engine.#resendTimer = setInterval(
      () => void engine.#resendToAlertmanager(),
      engine.#o.resendMs,
    );
    return engine;
  }

  /** Evaluations done so far. */
  get evaluations(): number {
    return this.#evaluations;
  }

  /** The effective rules. */
  rules(): AlertRule[] {
    return this.#rules;
  }

  /** Active alerts, the recently resolved and the silences in force. */
  view(now: number = Date.now()): AlertsView {
    const all = [...this.#alerts.values()];
    const order = (a: Alert, b: Alert) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || cmp(a.rig, b.rig) ||
      cmp(a.rule, b.rule);
    return {
      firing: all.filter((a) => a.state === "firing").sort(order),
      pending: all.filter((a) => a.state === "pending").sort(order),
      resolved: recentlyResolved(this.#history, now),
      silences: this.#silences.filter((s) => Date.parse(s.endsAt) > now),
    };
  }

  /** Resolved alerts, newest first. */
  history(limit = 100): Alert[] {
    return this.#history.slice(-limit).reverse();
  }

  /** An active alert by ID (or ID prefix), or undefined. */
  find(id: string): Alert | undefined {
    for (const a of this.#alerts.values()) {
      if (a.id === id || (id.length >= 4 && a.id.startsWith(id))) return a;
    }
    return undefined;
  }

  /** Channels with secrets masked and their delivery status. */
  async channels(): Promise<ChannelView[]> {
    return (await this.#o.channels.current()).map((c) => ({
      name: c.name,
      type: c.type,
      settings: maskChannel(c),
      minSeverity: c.minSeverity,
      status: this.#o.dispatcher.status(c.name),
    }));
  }

  /** One evaluation over a fresh health view. */
  async evaluate(health: FleetHealth, now: number = Date.now()): Promise<void> {
    if (this.#closed) return;
    this.#evaluations++;
    await this.#reload();
    this.apply(health, now);
  }

  /**
   * The synchronous part of {@link AlertEngine.evaluate} (rules, silences and acks as last
   * loaded): what the benchmark measures.
   */
  apply(health: FleetHealth, now: number = Date.now()): void {
    this.#now = now;
    const iso = new Date(now).toISOString();
    const rules = new Map(this.#rules.filter((r) => r.enabled).map((r) => [r.id, r]));
    const unknownRigs = new Set<string>();
    const seen = new Set<string>();
    const conditions: Condition[] = [];
    for (const rig of health.rigs) {
      if (rig.state === "unknown") {
        unknownRigs.add(rig.id);
        continue;
      }
      for (const reason of rig.reasons) this.#collect(conditions, rules, rig, null, reason);
      for (const m of rig.miners) {
        if (m.state === "unknown") {
          unknownRigs.add(`${rig.id}/${m.name}`);
          continue;
        }
        for (const reason of m.reasons) this.#collect(conditions, rules, rig, m.name, reason);
      }
    }
    let changed = false;
    for (const c of conditions) {
      seen.add(c.key);
      let a = this.#alerts.get(c.key);
      if (!a) {
        const activeAt = c.reason.since && Date.parse(c.reason.since) <= now ? c.reason.since : iso;
        a = {
          id: alertId(c.key),
          key: c.key,
          rule: c.rule.id,
          severity: c.rule.severity,
          state: "pending",
          rigId: c.rig.id,
          rig: c.rig.name,
          miner: c.miner,
          device: c.reason.device ?? null,
          summary: c.reason.message,
          activeAt,
          firedAt: null,
          resolvedAt: null,
          notifiedAt: null,
          lastNotifiedAt: null,
          ackedAt: null,
          ackedBy: null,
          silencedBy: null,
        };
        this.#alerts.set(c.key, a);
        changed = true;
        this.#o.onTransition({ kind: "pending", alert: { ...a } });
      } else {
        a.summary = c.reason.message;
        a.severity = c.rule.severity;
        a.rig = c.rig.name;
      }
      if (a.state === "pending" && now - Date.parse(a.activeAt) >= c.rule.forSeconds * 1000) {
        a.state = "firing";
        a.firedAt = iso;
        changed = true;
        this.#o.onTransition({ kind: "firing", alert: { ...a } });
      }
    }
    // Alerts whose reason no longer holds: pending ones are dropped, firing ones resolve. A rig
    // (or miner) with no data yet keeps its alerts: right after a restart nothing is resolved
    // before its rig has been heard from.
    for (const [key, a] of this.#alerts) {
      if (seen.has(key)) continue;
      const minerKey = a.miner === null ? null : `${a.rigId}/${a.miner}`;
      if (unknownRigs.has(a.rigId) || (minerKey && unknownRigs.has(minerKey))) continue;
      this.#alerts.delete(key);
      changed = true;
      this.#queued.delete(key);
      for (const g of this.#groups.values()) if (g.kind !== "resolved") g.keys.delete(key);
      if (a.state === "pending") continue;
      a.state = "resolved";
      a.resolvedAt = iso;
      this.#history.push(a);
      if (this.#history.length > this.#o.historyLimit) {
        this.#history.splice(0, this.#history.length - this.#o.historyLimit);
      }
      this.#o.onTransition({ kind: "resolved", alert: { ...a } });
      if (a.notifiedAt && !this.#silencedBy(a, now)) this.#enqueue("resolved", a);
    }
    // Acks, silences, deliveries due.
    for (const a of this.#alerts.values()) {
      if (a.state !== "firing") continue;
      const ack = this.#acks.get(a.key);
      if (ack && !a.ackedAt && Date.parse(ack.at) >= Date.parse(a.activeAt)) {
        a.ackedAt = ack.at;
        a.ackedBy = ack.by;
        changed = true;
        this.#o.onTransition({ kind: "acked", alert: { ...a } });
      }
      const silence = this.#silencedBy(a, now);
      if ((silence?.id ?? null) !== a.silencedBy) {
        a.silencedBy = silence?.id ?? null;
        changed = true;
      }
      if (silence || this.#queued.has(a.key)) continue;
      if (a.notifiedAt === null) this.#enqueue("firing", a);
      else if (
        !a.ackedAt && a.lastNotifiedAt && now - Date.parse(a.lastNotifiedAt) >= this.#o.repeatMs
      ) {
        this.#enqueue("repeat", a);
      }
    }
    if (changed) this.#scheduleSave();
  }

  /** Stops timers and writes the state. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#resendTimer);
    for (const g of this.#groups.values()) clearTimeout(g.timer);
    this.#groups.clear();
    clearTimeout(this.#saveTimer);
    await this.#saving;
    await this.#save();
  }

  /** Resolves once every message handed out so far has been delivered or given up on. */
  async settled(): Promise<void> {
    await Promise.all([...this.#sending]);
    await this.#o.dispatcher.idle();
  }

  /** Sends every group now (tests, shutdown of a one-shot run). */
  flushGroups(): void {
    for (const [k, g] of this.#groups) {
      clearTimeout(g.timer);
      this.#groups.delete(k);
      this.#flush(g);
    }
  }

  #collect(
    out: Condition[],
    rules: Map<ReasonCode, AlertRule>,
    rig: RigHealth,
    miner: string | null,
    reason: HealthReason,
  ): void {
    const rule = rules.get(reason.code);
    if (!rule || !ruleApplies(rule, rig)) return;
    const key = `${reason.code}|${rig.id}|${miner ?? ""}|${reason.device ?? ""}`;
    out.push({ key, rule, rig, miner, reason });
  }

  #silencedBy(a: Alert, now: number): Silence | undefined {
    for (const s of this.#silences) if (silenceMatches(s, a, now)) return s;
    return undefined;
  }

  #enqueue(kind: Group["kind"], a: Alert): void {
    const gk = `${kind === "resolved" ? "resolved" : "firing"}|${a.rule}${
      kind === "repeat" ? "|repeat" : ""
    }`;
    let g = this.#groups.get(gk);
    if (!g) {
      const group: Group = {
        kind,
        rule: a.rule,
        keys: new Set(),
        timer: setTimeout(() => {
          this.#groups.delete(gk);
          this.#flush(group);
        }, this.#o.groupWaitMs),
      };
      g = group;
      this.#groups.set(gk, g);
    }
    g.keys.add(a.key);
    if (kind !== "resolved") this.#queued.add(a.key);
  }

  #flush(g: Group): void {
    const now = this.#now;
    const iso = new Date(now).toISOString();
    const alerts: Alert[] = [];
    for (const key of g.keys) {
      this.#queued.delete(key);
      const a = g.kind === "resolved"
        ? this.#history.findLast((h) => h.key === key)
        : this.#alerts.get(key);
      if (!a) continue;
      if (g.kind !== "resolved" && (a.state !== "firing" || this.#silencedBy(a, now))) continue;
      if (g.kind !== "resolved") {
        a.notifiedAt ??= iso;
        a.lastNotifiedAt = iso;
      }
      alerts.push(a);
    }
    if (!alerts.length || this.#closed) return;
    this.#scheduleSave();
    alerts.sort((a, b) => cmp(a.rig, b.rig));
    const n = this.#notification(g.kind, g.rule, alerts, iso);
    const sending: Promise<void> = this.#o.channels.current().then((channels) => {
      for (const c of channels) if (channelWants(c, n.severity)) this.#o.dispatcher.send(c, n);
    }).catch((err) =>
      this.#o.logger.warn("alert_channels_unreadable", { reason: (err as Error).message })
    ).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
    for (const a of alerts) this.#o.onTransition({ kind: "notified", alert: { ...a } });
  }

  #notification(kind: Group["kind"], rule: ReasonCode, alerts: Alert[], iso: string): Notification {
    const title = this.#rules.find((r) => r.id === rule)?.title ?? rule;
    const severity = alerts.reduce<Severity>(
      (s, a) => (SEVERITY_RANK[a.severity] < SEVERITY_RANK[s] ? a.severity : s),
      "info",
    );
    const tag = kind === "resolved" ? "RESOLVED" : kind === "repeat" ? "STILL FIRING" : "FIRING";
    const rigs = [...new Set(alerts.map((a) => a.rig))];
    const who = rigs.length <= 5
      ? rigs.join(", ")
      : `${rigs.slice(0, 5).join(", ")} and ${rigs.length - 5} more`;
    const lines = alerts.slice(0, 50).map((a) =>
      `- ${a.rig}${a.miner ? `/${a.miner}` : ""}: ${a.summary}${
        kind === "resolved"
          ? ` (resolved, since ${a.firedAt ?? a.activeAt})`
          : ` (since ${a.activeAt})`
      }`
    );
    if (alerts.length > 50) lines.push(`... and ${alerts.length - 50} more`);
    const url = this.#o.url();
    if (url) lines.push("", url);
    return {
      status: kind,
      rule,
      severity,
      title: `[${tag}:${alerts.length}] ${title}: ${who}`,
      text: lines.join("\n"),
      alerts: alerts.map((a) => ({ ...a })),
      node: this.#o.node,
      sentAt: iso,
      url,
    };
  }

  /** Alertmanager forgets alerts that are not re-sent: firing ones go again every resend period. */
  async #resendToAlertmanager(): Promise<void> {
    const now = Date.now();
    const firing = [...this.#alerts.values()].filter((a) =>
      a.state === "firing" && a.notifiedAt !== null && !this.#silencedBy(a, now)
    );
    if (!firing.length) return;
    const channels = (await this.#o.channels.current().catch(() => [] as ChannelConfig[]))
      .filter((c) => c.type === "alertmanager");
    for (const c of channels) {
      const alerts = firing.filter((a) => channelWants(c, a.severity));
      if (!alerts.length) continue;
      this.#o.dispatcher.send(c, {
        ...this.#notification("repeat", alerts[0].rule, alerts, new Date(now).toISOString()),
        status: "firing",
      });
    }
  }

  async #reload(): Promise<void> {
    const [overrides, thresholds, controls] = await Promise.all([
      this.#o.rules.current(),
      this.#o.thresholds(),
      this.#o.controls.current(),
    ]);
    this.#rules = effectiveRules(overrides, thresholds);
    this.#silences = controls.silences;
    this.#acks = new Map(controls.acks.map((a) => [a.key, a]));
  }

  #scheduleSave(): void {
    if (this.#saveTimer !== undefined || this.#closed) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#saving = this.#save();
    }, 200);
  }

  async #save(): Promise<void> {
    const state: AlertStateFile = {
      version: 1,
      savedAt: new Date().toISOString(),
      alerts: [...this.#alerts.values()],
      history: this.#history,
    };
    await writeAlertState(this.#o.statePath, state).catch((err) =>
      this.#o.logger.warn("alert_state_write_failed", { reason: (err as Error).message })
    );
  }
}
