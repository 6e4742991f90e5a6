/**
 * The shared shapes of fleet health and alerts: states with reasons for every miner, device, rig
 * and the fleet, per-algorithm totals, the thresholds that decide them, alert rules, alerts,
 * silences, acknowledgements and notification channels. One zod schema each with its `z.infer`
 * type, used by the health model, the alert engine, the API, the CLI and the dashboard.
 * @module
 */
import { z } from "zod";

/** Health states, worst first in {@link HEALTH_ORDER}. */
export const HealthStateSchema = z.enum(["ok", "degraded", "down", "idle", "unknown"]);
/** A health state. */
export type HealthState = z.infer<typeof HealthStateSchema>;

/** States ordered by how much attention they need (first: most). */
export const HEALTH_ORDER: readonly HealthState[] = ["down", "degraded", "unknown", "idle", "ok"];

/** Why something is not ok. */
export const ReasonCodeSchema = z.enum([
  "rig_offline",
  "stale",
  "miner_down",
  "crash_loop",
  "restarting",
  "hashrate_zero",
  "below_expected",
  "high_rejects",
  "pool_disconnected",
  "api_unresponsive",
  "device_temperature",
  "fan_failure",
]);
/** A reason code. */
export type ReasonCode = z.infer<typeof ReasonCodeSchema>;

/** One reason, with a sentence an operator reads and since when it holds. */
export const HealthReasonSchema = z.object({
  code: ReasonCodeSchema,
  /** For example `hashrate 0 H/s for 6 min, restarted 2× (stall)`. */
  message: z.string().max(500),
  /** Since when (ISO time; null when not known, e.g. a one-shot check). */
  since: z.string().nullable(),
  /** The measured value (H/s, °C, ratio, restarts...), when there is one. */
  value: z.number().nullable().optional(),
  /** The threshold it was compared with. */
  threshold: z.number().nullable().optional(),
  /** The device index, for device reasons. */
  device: z.number().int().optional(),
});
/** A health reason. */
export type HealthReason = z.infer<typeof HealthReasonSchema>;

/** A device (GPU or CPU package) of a miner, with its health. */
export const DeviceHealthSchema = z.object({
  index: z.number().int(),
  name: z.string().nullable(),
  kind: z.enum(["gpu", "cpu"]),
  state: HealthStateSchema,
  reasons: z.array(HealthReasonSchema),
  hashrate: z.number().nullable(),
  temp: z.number().nullable(),
  fan: z.number().nullable(),
  fanRpm: z.number().nullable(),
  power: z.number().nullable(),
  /** Its temperature limit (°C). */
  tempLimit: z.number(),
});
/** A device's health. */
export type DeviceHealth = z.infer<typeof DeviceHealthSchema>;

/** A miner's health. */
export const MinerHealthSchema = z.object({
  name: z.string(),
  state: HealthStateSchema,
  reasons: z.array(HealthReasonSchema),
  algorithm: z.string(),
  hashrate: z.number().nullable(),
  /** Expected hashrate (H/s): the profile's, else learned from history; null when unknown. */
  expected: z.number().nullable(),
  /** Where `expected` comes from. */
  expectedSource: z.enum(["profile", "learned"]).nullable(),
  /** Restarts inside the crash-loop window. */
  recentRestarts: z.number().int(),
  /** Reject ratio over the reject window (null: too few shares). */
  rejectRate: z.number().nullable(),
  devices: z.array(DeviceHealthSchema),
});
/** A miner's health. */
export type MinerHealth = z.infer<typeof MinerHealthSchema>;

/** Hashrate of one algorithm, never summed with another. */
export const AlgorithmTotalSchema = z.object({
  algorithm: z.string(),
  /** Current hashrate (H/s). */
  hashrate: z.number(),
  /** Sum of the expected hashrates known for these miners (null: none known). */
  expected: z.number().nullable(),
  /** Rigs mining it. */
  rigs: z.number().int(),
  /** Miners mining it. */
  miners: z.number().int(),
});
/** A per-algorithm total. */
export type AlgorithmTotal = z.infer<typeof AlgorithmTotalSchema>;

/** A rig's (node's) health. */
export const RigHealthSchema = z.object({
  id: z.string(),
  name: z.string(),
  tags: z.array(z.string()),
  state: HealthStateSchema,
  /** Since when it is in this state (ISO; null: not known). */
  since: z.string().nullable(),
  reasons: z.array(HealthReasonSchema),
  miners: z.array(MinerHealthSchema),
  totals: z.array(AlgorithmTotalSchema),
  /** Hottest device (°C), when any reports a temperature. */
  maxTemp: z.number().nullable(),
  /** When its data was taken (ISO). */
  updatedAt: z.string().nullable(),
});
/** A rig's health. */
export type RigHealth = z.infer<typeof RigHealthSchema>;

/** The fleet's health: rigs sorted by attention needed, counts, per-algorithm totals. */
export const FleetHealthSchema = z.object({
  at: z.string(),
  state: HealthStateSchema,
  counts: z.record(HealthStateSchema, z.number().int()),
  totals: z.array(AlgorithmTotalSchema),
  rigs: z.array(RigHealthSchema),
});
/** The fleet's health. */
export type FleetHealth = z.infer<typeof FleetHealthSchema>;

/** Thresholds of the health model (every field optional in an override). */
export const ThresholdsSchema = z.object({
  /** "Below expected" when under this fraction of the expected hashrate. */
  expectedFraction: z.number().min(0).max(1),
  /** ...for this long (s). */
  belowForSeconds: z.number().int().min(0).max(86_400),
  /** "Hashrate 0" after this long at 0 H/s (s). */
  zeroForSeconds: z.number().int().min(0).max(86_400),
  /** Reject ratio above which rejects are "high". */
  rejectRate: z.number().min(0).max(1),
  /** Window of the reject ratio (s). */
  rejectWindowSeconds: z.number().int().min(60).max(86_400),
  /** Fewest shares in the window before the ratio counts. */
  rejectMinShares: z.number().int().min(1).max(1_000_000),
  /** Restarts inside the window that make a crash loop. */
  crashLoopRestarts: z.number().int().min(1).max(1000),
  /** Crash-loop window (s). */
  crashLoopWindowSeconds: z.number().int().min(60).max(86_400),
  /** GPU temperature limit (°C). */
  gpuTempLimit: z.number().min(20).max(150),
  /** CPU temperature limit (°C). */
  cpuTempLimit: z.number().min(20).max(150),
  /** A fan at 0 while the device is at least this hot is a fan failure (°C). */
  fanHotTemp: z.number().min(20).max(150),
  /** Data older than this is stale (s). */
  staleSeconds: z.number().int().min(5).max(86_400),
  /** A running miner without a pool connection this long after its start is disconnected (s). */
  poolGraceSeconds: z.number().int().min(0).max(86_400),
}).strict();
/** Thresholds. */
export type Thresholds = z.infer<typeof ThresholdsSchema>;

/** An override: some thresholds. */
export const ThresholdOverrideSchema = ThresholdsSchema.partial().strict();
/** A threshold override. */
export type ThresholdOverride = z.infer<typeof ThresholdOverrideSchema>;

/** The fleet defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  expectedFraction: 0.8,
  belowForSeconds: 300,
  zeroForSeconds: 60,
  rejectRate: 0.05,
  rejectWindowSeconds: 900,
  rejectMinShares: 20,
  crashLoopRestarts: 3,
  crashLoopWindowSeconds: 600,
  gpuTempLimit: 85,
  cpuTempLimit: 90,
  fanHotTemp: 50,
  staleSeconds: 60,
  poolGraceSeconds: 60,
};

/** `health.json`: fleet defaults and per-rig and per-profile overrides. */
export const HealthConfigSchema = z.object({
  version: z.literal(1),
  defaults: ThresholdOverrideSchema,
  /** By rig name or ID. */
  rigs: z.record(z.string().max(64), ThresholdOverrideSchema),
  /** By profile ID or name. */
  profiles: z.record(z.string().max(64), ThresholdOverrideSchema),
}).strict();
/** The health configuration. */
export type HealthConfig = z.infer<typeof HealthConfigSchema>;

/** Alert severities. */
export const SeveritySchema = z.enum(["critical", "warning", "info"]);
/** A severity. */
export type Severity = z.infer<typeof SeveritySchema>;

/** An alert rule: which health reason, for how long, how bad, where. */
export const AlertRuleSchema = z.object({
  id: ReasonCodeSchema,
  /** What it is about, in a few words. */
  title: z.string(),
  enabled: z.boolean(),
  severity: SeveritySchema,
  /** How long the reason must hold before the alert fires (pending until then), s. */
  forSeconds: z.number().int().min(0).max(604_800),
  /** The threshold this rule reads from the health model (key of {@link Thresholds}). */
  thresholdKey: z.string().nullable(),
  /** Its current fleet-default value. */
  threshold: z.number().nullable(),
  /** Only these rigs (names or IDs; empty: all). */
  rigs: z.array(z.string().max(64)).max(1000),
  /** Only rigs with one of these tags (empty: all). */
  tags: z.array(z.string().max(32)).max(100),
});
/** An alert rule. */
export type AlertRule = z.infer<typeof AlertRuleSchema>;

/** Alert lifecycle states. */
export const AlertStateSchema = z.enum(["pending", "firing", "resolved"]);
/** An alert state. */
export type AlertState = z.infer<typeof AlertStateSchema>;

/** One alert: a rule holding for one subject (rig, miner or device). */
export const AlertSchema = z.object({
  /** Short stable ID (from the key). */
  id: z.string(),
  /** `rule|rigId|miner|device`. */
  key: z.string(),
  rule: ReasonCodeSchema,
  severity: SeveritySchema,
  state: AlertStateSchema,
  rigId: z.string(),
  rig: z.string(),
  miner: z.string().nullable(),
  device: z.number().int().nullable(),
  /** The reason's sentence when it last held. */
  summary: z.string(),
  /** When the reason was first seen (ISO). */
  activeAt: z.string(),
  firedAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  /** When its firing was delivered (null: not yet, e.g. silenced or grouping). */
  notifiedAt: z.string().nullable(),
  /** When it was last (re)sent. */
  lastNotifiedAt: z.string().nullable(),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
  /** The silence that suppresses it now. */
  silencedBy: z.string().nullable(),
});
/** An alert. */
export type Alert = z.infer<typeof AlertSchema>;

/** A silence: no delivery for alerts that match, until it ends. */
export const SilenceSchema = z.object({
  id: z.string(),
  /** Rule (reason code) it matches; null: any. */
  rule: ReasonCodeSchema.nullable(),
  /** Rig name or ID it matches; null: any. */
  rig: z.string().max(64).nullable(),
  startsAt: z.string(),
  endsAt: z.string(),
  reason: z.string().max(500),
  createdBy: z.string().max(64),
});
/** A silence. */
export type Silence = z.infer<typeof SilenceSchema>;

/** Channel types. */
export const ChannelTypeSchema = z.enum([
  "webhook",
  "alertmanager",
  "email",
  "telegram",
  "discord",
  "ntfy",
  "pushover",
]);
/** A channel type. */
export type ChannelType = z.infer<typeof ChannelTypeSchema>;

/** The last delivery to a channel. */
export const DeliveryStatusSchema = z.object({
  /** When the last delivery attempt ended (ISO). */
  at: z.string().nullable(),
  ok: z.boolean().nullable(),
  error: z.string().max(1000).nullable(),
  /** Attempts of the last delivery. */
  attempts: z.number().int(),
  delivered: z.number().int(),
  failed: z.number().int(),
  /** Deliveries waiting (retrying). */
  queued: z.number().int(),
});
/** A channel's delivery status. */
export type DeliveryStatus = z.infer<typeof DeliveryStatusSchema>;

/** A channel as shown: its settings with secrets masked, and its delivery status. */
export const ChannelViewSchema = z.object({
  name: z.string(),
  type: ChannelTypeSchema,
  /** Settings, secrets replaced by `***`. */
  settings: z.record(z.string(), z.unknown()),
  minSeverity: SeveritySchema,
  status: DeliveryStatusSchema,
});
/** A channel view. */
export type ChannelView = z.infer<typeof ChannelViewSchema>;

/** `GET /alerts`: active alerts and the recently resolved. */
export const AlertsViewSchema = z.object({
  firing: z.array(AlertSchema),
  pending: z.array(AlertSchema),
  resolved: z.array(AlertSchema),
  silences: z.array(SilenceSchema),
});
/** The alerts view. */
export type AlertsView = z.infer<typeof AlertsViewSchema>;
