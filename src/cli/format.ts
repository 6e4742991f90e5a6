/**
 * Terminal output helpers. Everything the CLI prints goes through {@link stdio}, which removes
 * escape sequences and control characters (remote peers supply names, errors and console lines);
 * miner console lines go through {@link Output.log}, which keeps their SGR colours only.
 * @module
 */
import { sanitizeKeepColour, sanitizeLines } from "../terminal/mod.ts";

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? "")].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** "3s ago", "5m ago", "never". */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Formats milliseconds with sensible precision, or "-". */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

/** Output sink used by commands (swappable in tests). */
export interface Output {
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
  /** Writes a miner console line to stdout, keeping its colours (default: {@link out}). */
  log?(line: string): void;
  /** Redraws the progress line on a terminal's stderr (`""` clears it); absent elsewhere. */
  progress?(line: string): void;
}

const enc = new TextEncoder();

function writeAllSync(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = enc.encode(text);
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

/**
 * An {@link Output} that sanitizes exactly as {@link stdio} does and hands each finished line
 * (newline included) to `write`: what a test captures is byte for byte what a terminal gets.
 */
export function sanitizingOutput(
  write: (stream: "stdout" | "stderr", text: string) => void,
): Output {
  return {
    out: (line) => write("stdout", sanitizeLines(line) + "\n"),
    err: (line) => write("stderr", sanitizeLines(line) + "\n"),
    log: (line) => write("stdout", sanitizeKeepColour(line) + "\n"),
  };
}

/** The process's stdout/stderr. */
export const stdio: Output = {
  ...sanitizingOutput((stream, text) =>
    writeAllSync(stream === "stdout" ? Deno.stdout : Deno.stderr, text)
  ),
  progress: (() => {
    let tty: boolean | null = null;
    return (line: string) => {
      tty ??= Deno.stderr.isTerminal();
      if (tty) writeAllSync(Deno.stderr, `\r\x1b[2K${sanitizeLines(line)}`);
    };
  })(),
};

/** A terminal progress bar: `label [#####.....]  45%  45.0/100.0 MB  120.3 MB/s`. */
export function progressBar(
  io: Output,
  label: string,
): { update(done: number, total: number): void; done(): void } {
  const t0 = performance.now();
  let last = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    update(done, total) {
      if (!io.progress) return;
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const width = 30;
      const fill = Math.round(frac * width);
      const rate = done / 1e6 / Math.max(0.001, (now - t0) / 1000);
      io.progress(
        `${label} [${"#".repeat(fill)}${".".repeat(width - fill)}] ${
          Math.floor(frac * 100).toString().padStart(3)
        }%  ${mb(done)}/${mb(total)} MB  ${rate.toFixed(1)} MB/s`,
      );
    },
    done() {
      io.progress?.("");
    },
  };
}
