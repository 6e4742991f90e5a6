/**
 * Alerts: rules over the health model (on by default: rig offline, miner down, hashrate 0,
 * below expected, high rejects, device temperature, fan failure, crash loop...), Alertmanager's
 * lifecycle (pending → firing → resolved, grouping, repeats, silences, acknowledgements),
 * persisted across restarts, delivered with retries through webhooks, Alertmanager, email,
 * Telegram, Discord, ntfy and Pushover; and the controller's dead man's switch.
 *
 * @example
 * ```ts
 * import { AlertControls, AlertEngine, ChannelStore, Dispatcher, RulesStore } from "./mod.ts";
 * import { DEFAULT_THRESHOLDS } from "../protocol/mod.ts";
 * const dir = await Deno.makeTempDir();
 * const engine = await AlertEngine.open({
 *   statePath: `${dir}/state.json`,
 *   controls: new AlertControls(`${dir}/silences.json`, `${dir}/acks.json`),
 *   rules: new RulesStore(`${dir}/rules.json`),
 *   channels: new ChannelStore(`${dir}/channels.json`),
 *   dispatcher: new Dispatcher({ statusPath: null }),
 *   thresholds: () => DEFAULT_THRESHOLDS,
 *   node: { id: "c".repeat(32), name: "ctl" },
 * });
 * await engine.evaluate({
 *   at: new Date().toISOString(), state: "down", counts: { ok: 0, degraded: 0, down: 1, idle: 0, unknown: 0 },
 *   totals: [], rigs: [{
 *     id: "r".repeat(32), name: "rig1", tags: [], state: "down", since: null, miners: [], totals: [],
 *     maxTemp: null, updatedAt: null,
 *     reasons: [{ code: "rig_offline", message: "rig offline", since: new Date(Date.now() - 300_000).toISOString() }],
 *   }],
 * });
 * console.log(engine.view().firing[0].rule); // rig_offline (offline for 5 min > 2 min)
 * await engine.close();
 * ```
 * @module
 */
export { AlertsAdmin, type RuleChange } from "./admin.ts";
export { type AlertFiles, alertFiles } from "./files.ts";
export { AlertEngine, type AlertEngineOptions, alertId, type AlertTransition } from "./engine.ts";
export {
  alertmanagerAlerts,
  type ChannelConfig,
  ChannelConfigSchema,
  ChannelError,
  ChannelStore,
  channelWants,
  deliver,
  DeliveryError,
  maskChannel,
  type Notification,
  parseChannel,
  testNotification,
  webhookBody,
} from "./channels.ts";
export { Dispatcher, type DispatcherOptions, readDeliveryStatus } from "./dispatcher.ts";
export {
  DEFAULT_RULES,
  effectiveRules,
  ruleApplies,
  type RuleOverride,
  RuleOverrideSchema,
  RulesStore,
  UnknownRuleError,
} from "./rules.ts";
export {
  type Ack,
  AlertControls,
  AlertInputError,
  readAlertState,
  silenceMatches,
} from "./store.ts";
export {
  type Heartbeat,
  type HeartbeatOptions,
  type HeartbeatStatus,
  startHeartbeat,
} from "./heartbeat.ts";
