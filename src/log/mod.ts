/**
 * Structured logging to stderr: one line per event, `ts level event key=value...`, or JSON lines
 * with `MINER_CLI_LOG_FORMAT=json`. Secrets are never passed to the logger; values with control
 * characters are quoted and escaped.
 *
 * @example
 * ```ts
 * import { Logger } from "./mod.ts";
 * const lines: string[] = [];
 * const log = new Logger({ sink: (l) => lines.push(l), level: "info" });
 * log.info("peer_online", { peer: "rig-01", rttMs: 3 });
 * log.debug("not written at level info");
 * // lines: ["2026-… INFO  peer_online peer=rig-01 rttMs=3"]
 * if (lines.length !== 1 || !lines[0].includes("peer=rig-01")) throw new Error(lines.join());
 * ```
 * @module
 */

/** Log severities, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Field values a log line may carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Options for {@link Logger}. */
export interface LoggerOptions {
  /** Minimum level written (default from `MINER_CLI_LOG_LEVEL`, else `info`). */
  level?: LogLevel;
  /** Emit JSON lines instead of `key=value` text. */
  json?: boolean;
  /** Where lines go (default: stderr). */
  sink?: (line: string) => void;
}

/** A minimal structured logger. */
export class Logger {
  #level: number;
  #json: boolean;
  #sink: (line: string) => void;

  /** Creates a logger. */
  constructor(options: LoggerOptions = {}) {
    const envLevel = safeEnv("MINER_CLI_LOG_LEVEL") as LogLevel | undefined;
    this.#level = ORDER[options.level ?? (envLevel && envLevel in ORDER ? envLevel : "info")];
    this.#json = options.json ?? safeEnv("MINER_CLI_LOG_FORMAT") === "json";
    const enc = new TextEncoder();
    this.#sink = options.sink ?? ((line) => Deno.stderr.writeSync(enc.encode(line + "\n")));
  }

  /** Logs at debug level. */
  debug(event: string, fields: LogFields = {}): void {
    this.#write("debug", event, fields);
  }
  /** Logs at info level. */
  info(event: string, fields: LogFields = {}): void {
    this.#write("info", event, fields);
  }
  /** Logs at warn level. */
  warn(event: string, fields: LogFields = {}): void {
    this.#write("warn", event, fields);
  }
  /** Logs at error level. */
  error(event: string, fields: LogFields = {}): void {
    this.#write("error", event, fields);
  }

  #write(level: LogLevel, event: string, fields: LogFields): void {
    if (ORDER[level] < this.#level) return;
    const ts = new Date().toISOString();
    if (this.#json) {
      this.#sink(quoteC1(JSON.stringify({ ts, level, event, ...fields })));
      return;
    }
    const parts = [ts, level.toUpperCase().padEnd(5), event];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      const s = String(v);
      // Quoted (and so escaped) when it holds spaces, quotes or any control character: values
      // may come from remote peers, and an escape sequence must never reach a terminal.
      // deno-lint-ignore no-control-regex
      parts.push(`${k}=${/[\s"=\x00-\x1f\x7f-\x9f]/.test(s) || s === "" ? quote(s) : s}`);
    }
    this.#sink(parts.join(" "));
  }
}

/** JSON leaves DEL and C1 controls raw: escape them too. */
function quoteC1(json: string): string {
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** JSON string quoting, control characters escaped. */
function quote(s: string): string {
  return quoteC1(JSON.stringify(s));
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A logger that discards everything (for library use and tests). */
export const silentLogger: Logger = new Logger({ sink: () => {}, level: "error" });
