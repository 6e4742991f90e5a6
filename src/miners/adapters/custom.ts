/**
 * Custom miners: any executable with user-given argv; stats scraped from console lines with the
 * profile's regular expressions, so unsupported miners (lolMiner, T-Rex, ...) still show something.
 * @module
 */
import { findVersion, type LineParser, type MinerAdapter } from "../adapter.ts";
import type { CustomConfig, Profile } from "../profiles.ts";
import type { AdapterStats } from "../stats.ts";

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const UNIT: Record<string, number> = {
  "h/s": 1,
  "kh/s": 1e3,
  "mh/s": 1e6,
  "gh/s": 1e9,
  "th/s": 1e12,
};

/** Builds a console parser from a custom profile's patterns. */
export function customLineParser(config: CustomConfig): LineParser {
  const hr = config.hashratePattern ? new RegExp(config.hashratePattern, "i") : null;
  const acc = config.acceptedPattern ? new RegExp(config.acceptedPattern, "i") : null;
  const rej = config.rejectedPattern ? new RegExp(config.rejectedPattern, "i") : null;
  const samples: { t: number; v: number }[] = [];
  let accepted = 0;
  let rejected = 0;
  const count = (re: RegExp | null, text: string, cur: number): number => {
    const m = re?.exec(text);
    if (!m) return cur;
    const n = m[1] !== undefined ? Number(m[1]) : NaN;
    return Number.isFinite(n) && n >= cur ? n : cur + 1;
  };
  const avg = (windowMs: number): number | null => {
    const since = Date.now() - windowMs;
    const xs = samples.filter((s) => s.t >= since);
    return xs.length ? xs.reduce((a, s) => a + s.v, 0) / xs.length : null;
  };
  return {
    line(raw: string) {
      const text = raw.replace(ANSI, "");
      const m = hr?.exec(text);
      if (m) {
        const v = Number(m[1]);
        if (Number.isFinite(v) && v >= 0) {
          const unit = m[2]
            ? UNIT[m[2].toLowerCase()] ?? 1
            : UNIT[config.hashrateUnit.toLowerCase()];
          samples.push({ t: Date.now(), v: v * unit });
          while (samples.length && samples[0].t < Date.now() - 15 * 60_000) samples.shift();
        }
      }
      accepted = count(acc, text, accepted);
      rejected = count(rej, text, rejected);
    },
    stats(): AdapterStats {
      return {
        // A speed line older than a minute is stale: the miner stopped reporting.
        hashrate: {
          now: (samples.at(-1)?.t ?? 0) >= Date.now() - 60_000 ? samples.at(-1)!.v : null,
          avg60: avg(60_000),
          avg15m: avg(15 * 60_000),
        },
        shares: { accepted, rejected },
      };
    },
  };
}

/** The custom-miner adapter. */
export const customAdapter: MinerAdapter = {
  type: "custom",
  defaultBinary: null,
  binaryName: (profile: Profile) => (profile.minerType === "custom" ? profile.config.command : ""),
  prepare(profile: Profile): Promise<string[]> {
    if (profile.minerType !== "custom") throw new Error("not a custom profile");
    return Promise.resolve([...profile.config.args]);
  },
  lineParser(profile: Profile): LineParser {
    if (profile.minerType !== "custom") throw new Error("not a custom profile");
    return customLineParser(profile.config);
  },
  parseVersion: findVersion,
};
