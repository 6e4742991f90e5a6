/**
 * The worker policy (`<config>/policy.json`): what controllers granted control may still not do
 * on this node. Least privilege by default: a remote request to start a `custom` miner (a custom
 * profile runs any program) is refused unless the operator allows it; deploying miner binaries is
 * allowed, optionally only binaries whose SHA-256 is on a list. A running node re-reads the file
 * when it changes, so `miner-cli node policy set` takes effect at once.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { z } from "zod";
import { readJsonFile, withFileLock, writeJsonAtomic } from "../store/mod.ts";

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 is 64 lowercase hex digits");

/** The policy document. */
export const WorkerPolicySchema = z.object({
  version: z.literal(1).default(1),
  /** Whether controllers may start `custom` miners here (default deny). */
  remoteCustom: z.enum(["allow", "deny"]).default("deny"),
  /** Whether controllers may deploy miner binaries here (default allow). */
  deployMiners: z.enum(["allow", "deny"]).default("allow"),
  /** When set, only miner bundles whose executables all have one of these SHA-256s. */
  allowedBinaries: z.array(Sha256Schema).max(1024).nullable().default(null),
}).strict();
/** A worker policy. */
export type WorkerPolicy = z.infer<typeof WorkerPolicySchema>;

/** The policy of a node that has never set one. */
export const DEFAULT_POLICY: Readonly<WorkerPolicy> = Object.freeze({
  version: 1,
  remoteCustom: "deny",
  deployMiners: "allow",
  allowedBinaries: null,
});

/** The settings `node policy set` takes, with the values each accepts. */
export const POLICY_KEYS = {
  "remote-custom": "allow|deny",
  "deploy-miners": "allow|deny",
  "allowed-binaries": "any|SHA256[,SHA256...]",
} as const;
/** A policy setting name. */
export type PolicyKey = keyof typeof POLICY_KEYS;

/** A `node policy set` value that does not fit its key. */
export class PolicyValueError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_request" });
    this.name = "PolicyValueError";
  }
}

/**
 * Applies one `node policy set KEY VALUE` to a policy (throws {@link PolicyValueError}).
 *
 * @example
 * ```ts
 * import { applyPolicySetting, DEFAULT_POLICY } from "./policy.ts";
 * applyPolicySetting(DEFAULT_POLICY, "remote-custom", "allow").remoteCustom; // "allow"
 * ```
 */
export function applyPolicySetting(
  policy: Readonly<WorkerPolicy>,
  key: string,
  value: string,
): WorkerPolicy {
  const allowDeny = (k: string): "allow" | "deny" => {
    if (value !== "allow" && value !== "deny") {
      throw new PolicyValueError(`${k} takes allow or deny, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  switch (key) {
    case "remote-custom":
      return { ...policy, remoteCustom: allowDeny(key) };
    case "deploy-miners":
      return { ...policy, deployMiners: allowDeny(key) };
    case "allowed-binaries": {
      if (value === "any") return { ...policy, allowedBinaries: null };
      const list = value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
      const bad = list.find((s) => !Sha256Schema.safeParse(s).success);
      if (!list.length || bad !== undefined) {
        throw new PolicyValueError(
          `allowed-binaries takes any or a comma-separated list of SHA-256s (64 hex digits)${
            bad !== undefined ? `; ${JSON.stringify(bad)} is not one` : ""
          }`,
        );
      }
      return { ...policy, allowedBinaries: [...new Set(list)] };
    }
    default:
      throw new PolicyValueError(
        `unknown policy setting ${JSON.stringify(key)}; one of: ${
          Object.keys(POLICY_KEYS).join(", ")
        }`,
      );
  }
}

/** Reads and writes `policy.json`, reloading it when another process changed it. */
export class PolicyStore {
  #policy: WorkerPolicy = { ...DEFAULT_POLICY };
  #stamp = "";

  private constructor(readonly path: string) {}

  /** Opens the store (a missing file means {@link DEFAULT_POLICY}). */
  static async open(path: string): Promise<PolicyStore> {
    const s = new PolicyStore(path);
    await s.refresh();
    return s;
  }

  /** Reloads if the file changed on disk. */
  async refresh(): Promise<void> {
    let stamp = "absent";
    try {
      const st = Deno.statSync(this.path);
      stamp = `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (stamp === this.#stamp) return;
    this.#policy = (await readJsonFile(this.path, WorkerPolicySchema)) ?? { ...DEFAULT_POLICY };
    this.#stamp = stamp;
  }

  /** The current policy (a copy). */
  get policy(): WorkerPolicy {
    return structuredClone(this.#policy);
  }

  /** Changes one setting and saves (see {@link applyPolicySetting}). */
  set(key: string, value: string): Promise<WorkerPolicy> {
    return withFileLock(this.path, async () => {
      await this.refresh();
      const next = applyPolicySetting(this.#policy, key, value);
      await writeJsonAtomic(this.path, next);
      await this.refresh();
      return this.policy;
    });
  }
}
