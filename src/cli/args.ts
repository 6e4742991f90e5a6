/**
 * Reading typed values from parsed arguments (strings, numbers, durations, addresses), each with a
 * sentence for the person who typed it wrong.
 * @module
 */
import { type Parsed, UsageError } from "./spec.ts";

export { type Parsed, UsageError } from "./spec.ts";

/** A string flag, or undefined. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A required string flag. */
export function requireStr(p: Parsed, name: string, command: string): string {
  const v = str(p, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`, command);
  return v;
}

/** A boolean flag. */
export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** An integer flag within bounds. */
export function int(
  p: Parsed,
  name: string,
  bounds: { min: number; max: number; fallback: number },
): number {
  const v = str(p, name);
  if (v === undefined) return bounds.fallback;
  if (!/^-?\d+$/.test(v)) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(v)}`);
  }
  const n = Number(v);
  if (n < bounds.min || n > bounds.max) {
    throw new UsageError(`--${name} must be between ${bounds.min} and ${bounds.max}`);
  }
  return n;
}

/** A finite number flag within bounds (or undefined). */
export function num(
  p: Parsed,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  }
  if (n < bounds.min || n > bounds.max) {
    throw new UsageError(`--${name} must be between ${bounds.min} and ${bounds.max}`);
  }
  return n;
}

/** Parses a duration: `500ms`, `30s`, `10m`, `1h`, or plain seconds. Returns ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `--${flag} must be a duration like 500ms, 30s, 10m or 1h, got ${JSON.stringify(text)}`,
    );
  }
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

/** A duration flag in ms within bounds. */
export function duration(
  p: Parsed,
  name: string,
  bounds: { min: number; max: number; fallback: number },
): number {
  const v = str(p, name);
  if (v === undefined) return bounds.fallback;
  const ms = parseDuration(v, name);
  if (ms < bounds.min || ms > bounds.max) {
    throw new UsageError(`--${name} must be between ${bounds.min} ms and ${bounds.max} ms`);
  }
  return ms;
}

/** Parses a listen address: `:PORT`, `HOST:PORT`, `[v6]:PORT`. */
export function parseListen(text: string, flag = "listen"): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `--${flag} must be HOST:PORT, :PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`,
    );
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}
