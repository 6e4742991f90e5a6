/**
 * Mining profiles: `{id, name, minerType, config}` with one schema per miner type, stored
 * atomically in `mining_profiles.json` (config home). Everything that reaches a miner's command
 * line is validated here: pool URLs, wallets, thread counts, free-form arguments (one argv entry
 * each, never through a shell, no shell metacharacters).
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { z } from "zod";
import { MinerTypeSchema } from "../protocol/mod.ts";
import { readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";
import { unmaskConfig } from "./secrets.ts";

const SHELL_META = /[\s;&|`$<>(){}\[\]*?!'"\\#~^]/;

/** A pool URL: `stratum+tcp://host:port`, `stratum+ssl://host:port` or `host:port`. */
export const PoolUrlSchema = z.string().max(256, "pool URL is longer than 256 characters").regex(
  /^(?:stratum\+(?:tcp|ssl|tls):\/\/)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(?:[1-9]\d{0,4})$/,
  "pool URL must be stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT or HOST:PORT",
).refine((u) => Number(u.slice(u.lastIndexOf(":") + 1)) <= 65535, "pool port must be 1-65535");

/** Placeholders that templates and guides use where the wallet goes (`WALLET_ADDRESS`...). */
const PLACEHOLDER_WALLET =
  /^(?:<[^>]*>|your[_-]?(?:wallet|address)(?:[_-]?address)?|wallet(?:[_-]?address)?|change[_-]?me|replace[_-]?me|address)(?:[.+].*)?$/i;

/** Wallet address / pool user (`WALLET`, `WALLET.worker`, `WALLET+diff`...). */
export const WalletSchema = z.string().min(1, "wallet/user is empty").max(
  256,
  "wallet/user is longer than 256 characters",
)
  .regex(
    /^[A-Za-z0-9._+\-@\/:=%]+$/,
    "wallet/user may contain only letters, digits and . _ + - @ / : = %",
  ).refine(
    (w) => !PLACEHOLDER_WALLET.test(w),
    "this is a placeholder, not a wallet: put your wallet address (or pool user) here",
  );

const PassSchema = z.string().max(256, "pool password is longer than 256 characters")
  .regex(/^[^\s;&|`$<>\\'"]*$/, "pool password contains spaces or shell metacharacters");

/** An algorithm name such as `rx/0`, `kawpow`, `ethash`. */
export const AlgoSchema = z.string().max(64).regex(
  /^[A-Za-z0-9._\/-]+$/,
  "algorithm may contain only letters, digits and . _ / -",
);

/** One extra command-line argument: a single argv entry, no spaces or shell metacharacters. */
export const MinerArgSchema = z.string().min(1, "empty argument").max(
  256,
  "argument longer than 256 characters",
)
  .refine(
    (a) => !SHELL_META.test(a),
    "argument contains whitespace or a shell metacharacter (; & | ` $ < > ( ) quotes ...)",
  );

/** Extra arguments, each its own argv entry. */
export const MinerArgsSchema = z.array(MinerArgSchema).max(64, "at most 64 extra arguments");

/** Thread count or `auto` (the worker picks one from its CPU). */
export const ThreadsSchema = z.union([
  z.number().int("threads must be a whole number").min(1, "threads must be at least 1").max(
    1024,
    "threads must be at most 1024",
  ),
  z.literal("auto"),
]);

/** The farm's stratum: the miner mines through its node's endpoint, with the controller's work. */
export const FARM_POOL = "farm";

const PoolSchema = z.object({
  /** A pool URL, or `farm`: this node's stratum endpoint (`node serve --stratum-listen`). */
  url: z.union([z.literal(FARM_POOL), PoolUrlSchema]),
  /** Wallet / pool login (for `farm`: the miner's worker name, default its name). */
  user: WalletSchema.optional(),
  pass: PassSchema.default("x"),
  tls: z.boolean().default(false),
  algo: AlgoSchema.optional(),
  coin: z.string().max(32).regex(/^[A-Za-z0-9]+$/, "coin must be alphanumeric").optional(),
  rigId: z.string().max(64).regex(
    /^[A-Za-z0-9._-]+$/,
    "rig-id may contain only letters, digits and . _ -",
  ).optional(),
  keepalive: z.boolean().default(true),
}).strict().refine((p) => p.url === FARM_POOL || p.user !== undefined, {
  message: "a wallet/user is required for a pool (only --pool farm takes none)",
  path: ["user"],
});

/** XMRig profile configuration. */
export const XmrigConfigSchema = z.object({
  pools: z.array(PoolSchema).min(1, "at least one pool is required").max(16),
  cpu: z.object({
    enabled: z.boolean().default(true),
    hugePages: z.boolean().default(true),
    maxThreadsHint: z.number().int().min(1).max(100).optional(),
    priority: z.number().int().min(0).max(5).optional(),
  }).strict().default({ enabled: true, hugePages: true }),
  threads: ThreadsSchema.optional(),
  opencl: z.object({ enabled: z.boolean() }).strict().optional(),
  cuda: z.object({ enabled: z.boolean() }).strict().optional(),
  donateLevel: z.number().int().min(0).max(100).default(1),
  /**
   * RandomX mode. Unset with a `farm` pool: `light` on a rig with less than 2.5 GB of free memory
   * (the 2 GB dataset would not fit), `fast` otherwise; unset otherwise: XMRig decides.
   */
  randomxMode: z.enum(["auto", "fast", "light"]).optional(),
  args: MinerArgsSchema.default([]),
}).strict();

/** TT-Miner profile configuration. */
export const TtMinerConfigSchema = z.object({
  pool: PoolUrlSchema,
  user: WalletSchema,
  pass: PassSchema.default("x"),
  algo: AlgoSchema,
  args: MinerArgsSchema.default([]),
}).strict();

const RegexSchema = z.string().max(300).refine((r) => {
  try {
    new RegExp(r);
    return true;
  } catch {
    return false;
  }
}, "not a valid regular expression");

/** Custom miner configuration: any executable, stats scraped from its output. */
export const CustomConfigSchema = z.object({
  /** Binary name (looked up in the miners dir, then PATH) or absolute path. */
  command: z.string().min(1).max(256).regex(
    /^(?:\/[A-Za-z0-9._+\/-]+|[A-Za-z0-9._+-]+)$/,
    "command must be a binary name or an absolute path without spaces or shell metacharacters",
  ),
  args: MinerArgsSchema.default([]),
  /** Regex whose first capture group is the current hashrate. */
  hashratePattern: RegexSchema.optional(),
  /** Unit of the captured hashrate (or a second capture group holding the unit). */
  hashrateUnit: z.enum(["H/s", "kH/s", "MH/s", "GH/s"]).default("H/s"),
  /** Regex matched once per accepted share (a capture group, if any, is the running total). */
  acceptedPattern: RegexSchema.optional(),
  /** Regex matched once per rejected share. */
  rejectedPattern: RegexSchema.optional(),
}).strict();

const ProfileNameSchema = z.string().regex(
  /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?$/,
  "profile name must be 1-64 characters: letters, digits, space . _ -, alphanumeric at both ends",
);

const CommonFields = {
  id: z.string().regex(/^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/),
  name: ProfileNameSchema,
  /** Start this profile when the node starts (unless the operator stopped it). */
  autostart: z.boolean().default(false),
  /** Restart when the hashrate stays below this (H/s) for `stallSeconds` (default: 0 H/s). */
  minHashrate: z.number().nonnegative().max(1e15).optional(),
  /** How long a hashrate stall lasts before a restart (default 120 s). */
  stallSeconds: z.number().int().min(5).max(86_400).optional(),
  /** What this profile should make (H/s): the health model's "below expected" compares with it. */
  expectedHashrate: z.number().positive().max(1e18).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
};

/** A stored profile (discriminated by `minerType`). */
export const ProfileSchema = z.discriminatedUnion("minerType", [
  z.object({ ...CommonFields, minerType: z.literal("xmrig"), config: XmrigConfigSchema }).strict(),
  z.object({ ...CommonFields, minerType: z.literal("tt-miner"), config: TtMinerConfigSchema })
    .strict(),
  z.object({ ...CommonFields, minerType: z.literal("custom"), config: CustomConfigSchema })
    .strict(),
]);
/** A mining profile. */
export type Profile = z.infer<typeof ProfileSchema>;
/** XMRig configuration. */
export type XmrigConfig = z.infer<typeof XmrigConfigSchema>;
/** TT-Miner configuration. */
export type TtMinerConfig = z.infer<typeof TtMinerConfigSchema>;
/** Custom miner configuration. */
export type CustomConfig = z.infer<typeof CustomConfigSchema>;

/** What a caller provides to create a profile (no id/timestamps). */
export const ProfileInputSchema = z.object({
  name: ProfileNameSchema,
  minerType: z.string(),
  config: z.unknown(),
  autostart: z.boolean().optional(),
  minHashrate: CommonFields.minHashrate,
  stallSeconds: CommonFields.stallSeconds,
  expectedHashrate: CommonFields.expectedHashrate,
}).strict();
/** Profile creation input. */
export type ProfileInput = z.infer<typeof ProfileInputSchema>;

const FileSchema = z.object({ version: z.literal(1), profiles: z.array(ProfileSchema) });

/** A profile failed validation. */
export class ProfileValidationError extends MinerCliError {
  /** Creates the error from zod issues. */
  constructor(readonly issues: { path: string; message: string }[]) {
    super(
      `invalid profile: ${issues.map((i) => (i.path ? `${i.path}: ` : "") + i.message).join("; ")}`,
      { status: 400, code: "invalid_profile" },
    );
    this.name = "ProfileValidationError";
  }
}

/** No profile matches a reference. */
export class ProfileNotFoundError extends MinerCliError {
  /** Creates the error (`detail`: what to do, when not the usual). */
  constructor(readonly ref: string, detail?: string) {
    super(
      `no profile matches ${JSON.stringify(ref)}: ${
        detail ?? "use its ID, a unique ID prefix or its name (see `miner-cli profile list`)"
      }`,
      { status: 404, code: "not_found" },
    );
    this.name = "ProfileNotFoundError";
  }
}

function issuesOf(err: z.ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

/** Validates a profile input into a full profile (throws {@link ProfileValidationError}). */
export function validateProfile(
  input: unknown,
  existing?: Pick<Profile, "id" | "createdAt">,
): Profile {
  const head = ProfileInputSchema.safeParse(input);
  if (!head.success) throw new ProfileValidationError(issuesOf(head.error));
  const type = MinerTypeSchema.safeParse(head.data.minerType);
  if (!type.success) {
    throw new ProfileValidationError([{
      path: "minerType",
      message: `unknown miner type ${
        JSON.stringify(head.data.minerType)
      }: use xmrig, tt-miner or custom`,
    }]);
  }
  const now = new Date().toISOString();
  const full = ProfileSchema.safeParse({
    ...head.data,
    id: existing?.id ?? crypto.randomUUID(),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  });
  if (!full.success) throw new ProfileValidationError(issuesOf(full.error));
  return full.data;
}

/** Finds a profile by ID, unique ID prefix or name (case-insensitive). */
export function resolveProfile(profiles: readonly Profile[], ref: string): Profile {
  const r = ref.trim();
  const exact = profiles.find((p) => p.id === r || p.name.toLowerCase() === r.toLowerCase());
  if (exact) return exact;
  if (/^[0-9a-f-]{4,36}$/.test(r)) {
    const byPrefix = profiles.filter((p) => p.id.startsWith(r));
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) {
      throw new ProfileValidationError([{
        path: "",
        message: `${JSON.stringify(ref)} matches several profiles; use a longer ID prefix`,
      }]);
    }
  }
  throw new ProfileNotFoundError(ref);
}

/** Profiles persisted in `mining_profiles.json`; every operation re-reads the file. */
export class ProfileStore {
  /** Creates the store for `path`. */
  constructor(readonly path: string) {}

  /** All profiles, sorted by name. */
  async list(): Promise<Profile[]> {
    const doc = await readJsonFile(this.path, FileSchema);
    return (doc?.profiles ?? []).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One profile by reference. */
  async get(ref: string): Promise<Profile> {
    return resolveProfile(await this.list(), ref);
  }

  async #save(profiles: Profile[]): Promise<void> {
    await writeJsonAtomic(this.path, { version: 1, profiles }, { mode: 0o600 });
  }

  /** Validates and adds a profile (names are unique, case-insensitively). */
  add(input: unknown): Promise<Profile> {
    // Read-check-write under a file lock: concurrent writers (CLI, API, node) lose nothing.
    return withFileLock(this.path, () => this.#add(input));
  }

  async #add(input: unknown): Promise<Profile> {
    const profile = validateProfile(input);
    const all = await this.list();
    if (all.some((p) => p.name.toLowerCase() === profile.name.toLowerCase())) {
      throw new ProfileValidationError([{
        path: "name",
        message: `a profile named ${profile.name} already exists`,
      }]);
    }
    await this.#save([...all, profile]);
    return profile;
  }

  /** Replaces a profile's fields with `patch` (validated as a whole). */
  update(ref: string, patch: Partial<ProfileInput>): Promise<Profile> {
    // Read-check-write under a file lock: concurrent writers (CLI, API, node) lose nothing.
    return withFileLock(this.path, () => this.#update(ref, patch));
  }

  async #update(ref: string, patch: Partial<ProfileInput>): Promise<Profile> {
    const all = await this.list();
    const cur = resolveProfile(all, ref);
    const merged = {
      name: patch.name ?? cur.name,
      minerType: patch.minerType ?? cur.minerType,
      // A config shown masked and sent back keeps the stored passwords.
      config: patch.config !== undefined ? unmaskConfig(patch.config, cur) : cur.config,
      autostart: patch.autostart ?? cur.autostart,
      ...(patch.minHashrate ?? cur.minHashrate) !== undefined
        ? { minHashrate: patch.minHashrate ?? cur.minHashrate }
        : {},
      ...(patch.stallSeconds ?? cur.stallSeconds) !== undefined
        ? { stallSeconds: patch.stallSeconds ?? cur.stallSeconds }
        : {},
      ...(patch.expectedHashrate ?? cur.expectedHashrate) !== undefined
        ? { expectedHashrate: patch.expectedHashrate ?? cur.expectedHashrate }
        : {},
    };
    const next = validateProfile(merged, cur);
    if (all.some((p) => p.id !== cur.id && p.name.toLowerCase() === next.name.toLowerCase())) {
      throw new ProfileValidationError([{
        path: "name",
        message: `a profile named ${next.name} already exists`,
      }]);
    }
    await this.#save(all.map((p) => (p.id === cur.id ? next : p)));
    return next;
  }

  /** Removes a profile; returns it. */
  remove(ref: string): Promise<Profile> {
    // Read-check-write under a file lock: concurrent writers (CLI, API, node) lose nothing.
    return withFileLock(this.path, () => this.#remove(ref));
  }

  async #remove(ref: string): Promise<Profile> {
    const all = await this.list();
    const cur = resolveProfile(all, ref);
    await this.#save(all.filter((p) => p.id !== cur.id));
    return cur;
  }

  /** Adds a profile with a fixed ID (used when a deployment delivers a profile); replaces same ID. */
  put(profile: Profile): Promise<Profile> {
    // Read-check-write under a file lock: concurrent writers (CLI, API, node) lose nothing.
    return withFileLock(this.path, () => this.#put(profile));
  }

  async #put(profile: Profile): Promise<Profile> {
    const valid = ProfileSchema.parse(profile);
    const all = (await this.list()).filter((p) =>
      p.id !== valid.id && p.name.toLowerCase() !== valid.name.toLowerCase()
    );
    await this.#save([...all, valid]);
    return valid;
  }
}
