/**
 * Everything an operator does with alerts, on the files the engine reads: list (the running
 * engine's view, else its state file), history, acknowledge, silence, rules, channels and their
 * test. The CLI uses it with or without a running node (the engine re-reads the files when they
 * change); the API uses it with the running engine.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { HealthConfigStore, resolveThresholds } from "../health/mod.ts";
import type { Alert, AlertRule, AlertsView, ChannelView, Silence } from "../protocol/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import {
  type ChannelConfig,
  ChannelStore,
  deliver,
  maskChannel,
  type Notification,
  testNotification,
} from "./channels.ts";
import { NO_DELIVERY, readDeliveryStatus } from "./dispatcher.ts";
import type { AlertEngine } from "./engine.ts";
import { type AlertFiles, alertFiles } from "./files.ts";
import { effectiveRules, type RuleOverride, RulesStore, UnknownRuleError } from "./rules.ts";
import {
  type Ack,
  AlertControls,
  AlertInputError,
  readAlertState,
  recentlyResolved,
} from "./store.ts";

/** A rule change: the rule's own fields, and its threshold (the health model's fleet default). */
export type RuleChange = RuleOverride & { threshold?: number };

/** Alert administration over a node home's files. */
export class AlertsAdmin {
  /** The files. */
  readonly files: AlertFiles;
  /** Silences and acknowledgements. */
  readonly controls: AlertControls;
  /** Rule changes. */
  readonly rulesStore: RulesStore;
  /** Channels. */
  readonly channelStore: ChannelStore;
  /** Thresholds. */
  readonly health: HealthConfigStore;
  readonly #engine: AlertEngine | null;

  /** Over `paths`; with the running engine when there is one. */
  constructor(
    paths: Pick<NodePaths, "configDir" | "dataDir">,
    options: { engine?: AlertEngine | null } = {},
  ) {
    this.files = alertFiles(paths);
    this.controls = new AlertControls(this.files.silences, this.files.acks);
    this.rulesStore = new RulesStore(this.files.rules);
    this.channelStore = new ChannelStore(this.files.channels);
    this.health = new HealthConfigStore(this.files.health);
    this.#engine = options.engine ?? null;
  }

  /** Firing, pending, recently resolved alerts and the silences in force. */
  async view(now: number = Date.now()): Promise<AlertsView> {
    // Silences from their file: one just added shows before the engine's next evaluation.
    const silences = (await this.controls.silences()).filter((s) => Date.parse(s.endsAt) > now);
    if (this.#engine) return { ...this.#engine.view(now), silences };
    const state = await readAlertState(this.files.state);
    return {
      firing: state.alerts.filter((a) => a.state === "firing"),
      pending: state.alerts.filter((a) => a.state === "pending"),
      resolved: recentlyResolved(state.history, now),
      silences,
    };
  }

  /** Resolved alerts, newest first. */
  async history(limit = 100): Promise<Alert[]> {
    if (this.#engine) return this.#engine.history(limit);
    return (await readAlertState(this.files.state)).history.slice(-limit).reverse();
  }

  /**
   * Acknowledges firing alerts: `ref` is an alert ID (or a prefix of 4+), a rig name or ID (its
   * firing alerts), or `all`.
   */
  async ack(ref: string, options: { by: string; reason?: string }): Promise<Ack[]> {
    const { firing } = await this.view();
    const hits = ref === "all"
      ? firing
      : firing.filter((a) =>
        a.id === ref || (ref.length >= 4 && a.id.startsWith(ref)) || a.rig === ref ||
        a.rigId === ref
      );
    if (!hits.length) {
      throw new AlertInputError(
        `no firing alert matches ${JSON.stringify(ref)} (see \`miner-cli alerts list\`)`,
        404,
      );
    }
    return await this.controls.ack(hits, { by: options.by, reason: options.reason ?? "" });
  }

  /** Silences a rule and/or a rig for a while. */
  silence(
    match: { rule?: string | null; rig?: string | null },
    options: { forMs: number; reason: string; by: string },
  ): Promise<Silence> {
    return this.controls.addSilence(match, options);
  }

  /** Ends a silence. */
  unsilence(id: string): Promise<Silence> {
    return this.controls.expireSilence(id);
  }

  /** The effective rules. */
  async rules(): Promise<AlertRule[]> {
    const [overrides, cfg] = await Promise.all([this.rulesStore.current(), this.health.current()]);
    return effectiveRules(overrides, resolveThresholds(cfg));
  }

  /** Changes a rule (a threshold change goes to the health model's fleet defaults). */
  async setRule(id: string, change: RuleChange): Promise<AlertRule> {
    const { threshold, ...rest } = change;
    const before = (await this.rules()).find((r) => r.id === id);
    if (!before) throw new UnknownRuleError(id);
    if (threshold !== undefined) {
      if (!before.thresholdKey) {
        throw new MinerCliError(`rule ${id} has no threshold (it fires on the reason itself)`, {
          status: 400,
          code: "bad_request",
        });
      }
      await this.health.update({ kind: "defaults" }, { set: { [before.thresholdKey]: threshold } });
    }
    if (Object.keys(rest).length) await this.rulesStore.set(id, rest);
    return (await this.rules()).find((r) => r.id === id)!;
  }

  /** Channels, secrets masked, with their last delivery. */
  async channels(): Promise<ChannelView[]> {
    if (this.#engine) return await this.#engine.channels();
    const status = await readDeliveryStatus(this.files.deliveries);
    return (await this.channelStore.list()).map((c) => ({
      name: c.name,
      type: c.type,
      settings: maskChannel(c),
      minSeverity: c.minSeverity,
      status: status[c.name] ?? NO_DELIVERY,
    }));
  }

  /** Adds (or with `replace`, replaces) a channel; returns its view. */
  async addChannel(raw: unknown, options: { replace?: boolean } = {}): Promise<ChannelView> {
    const c = await this.channelStore.add(raw, options);
    return (await this.channels()).find((v) => v.name === c.name)!;
  }

  /** Removes a channel. */
  removeChannel(name: string): Promise<void> {
    return this.channelStore.remove(name);
  }

  /**
   * Sends a test message through a channel now; resolves with what happened (a failure is an
   * answer, not an exception).
   */
  async testChannel(
    name: string,
    node: { id: string; name: string },
    options: { send?: (c: ChannelConfig, n: Notification) => Promise<void> } = {},
  ): Promise<{ ok: boolean; error: string | null; ms: number }> {
    const c = await this.channelStore.get(name);
    const t0 = performance.now();
    try {
      await (options.send ?? deliver)(c, testNotification(node));
      return { ok: true, error: null, ms: Math.round(performance.now() - t0) };
    } catch (err) {
      return { ok: false, error: (err as Error).message, ms: Math.round(performance.now() - t0) };
    }
  }
}
