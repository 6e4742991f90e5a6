/**
 * A miner's console: stdout and stderr lines in a ring buffer, each with a timestamp and a
 * monotonically increasing sequence number. Readers ask for the last N lines or every line after
 * a sequence number (follow mode), or subscribe to new lines.
 * @module
 */

/** One console line. */
export interface LogLine {
  /** Sequence number, starting at 1, increasing by 1 per line. */
  seq: number;
  /** Time the line was read (RFC 3339). */
  ts: string;
  /** The text (ANSI escapes kept), at most {@link MAX_LINE_CHARS} characters. */
  text: string;
  /** Which stream it came from. */
  stream: "stdout" | "stderr" | "system";
}

/** Lines longer than this are truncated (marked with "…"). */
export const MAX_LINE_CHARS = 2000;

/** Options for {@link LogBuffer.read}. */
export interface ReadOptions {
  /** Only the last N lines (default: all kept). */
  lines?: number;
  /** Only lines with `seq > since`. */
  since?: number;
}

/** Result of {@link LogBuffer.read}. */
export interface ReadResult {
  /** The lines, oldest first. */
  lines: LogLine[];
  /** Whether older matching lines exist beyond what was returned or kept. */
  hasMore: boolean;
  /** Sequence number of the newest line (0 when empty). */
  lastSeq: number;
}

/** A fixed-capacity ring buffer of console lines. */
export class LogBuffer {
  readonly #ring: (LogLine | undefined)[];
  #next = 1;
  #listeners = new Set<(line: LogLine) => void>();
  #closeListeners = new Set<() => void>();
  #closed = false;
  /** Applied to every line before it is kept (secrets the miner was given). */
  redact: ((text: string) => string) | null = null;

  /** Creates a buffer keeping `capacity` lines (default 1,000). */
  constructor(readonly capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("capacity must be a positive integer");
    }
    this.#ring = new Array(capacity);
  }

  /** Appends one line. */
  push(text: string, stream: LogLine["stream"] = "stdout"): LogLine {
    if (this.redact) text = this.redact(text);
    const line: LogLine = {
      seq: this.#next++,
      ts: new Date().toISOString(),
      text: text.length > MAX_LINE_CHARS ? text.slice(0, MAX_LINE_CHARS - 1) + "…" : text,
      stream,
    };
    this.#ring[line.seq % this.capacity] = line;
    for (const l of this.#listeners) l(line);
    return line;
  }

  /** Sequence number of the newest line (0 when empty). */
  get lastSeq(): number {
    return this.#next - 1;
  }

  /** Sequence number of the oldest line still kept. */
  get firstSeq(): number {
    return Math.max(1, this.#next - this.capacity);
  }

  /** Reads lines. */
  read(options: ReadOptions = {}): ReadResult {
    const since = Math.max(options.since ?? 0, 0);
    let from = Math.max(this.firstSeq, since + 1);
    const available = this.#next - from;
    let hasMore = since + 1 < this.firstSeq && this.lastSeq > 0; // lines after `since` were dropped
    if (options.lines !== undefined && available > options.lines) {
      from = this.#next - Math.max(0, options.lines);
      hasMore = true;
    }
    const lines: LogLine[] = [];
    for (let s = from; s < this.#next; s++) lines.push(this.#ring[s % this.capacity]!);
    return { lines, hasMore, lastSeq: this.lastSeq };
  }

  /** Marks the console finished (its miner stopped): followers are told to end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#closeListeners) fn();
    this.#closeListeners.clear();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `fn` once when the console is closed (at once if it already is); returns an unsubscribe. */
  onClose(fn: () => void): () => void {
    if (this.#closed) {
      fn();
      return () => {};
    }
    this.#closeListeners.add(fn);
    return () => this.#closeListeners.delete(fn);
  }

  /** Calls `fn` for every new line until the returned function is called. */
  subscribe(fn: (line: LogLine) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF; a lone CR, as progress output uses, also ends a
 * line). Bounds memory: a line longer than `maxChars` is emitted in pieces.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  maxChars = MAX_LINE_CHARS,
): Promise<void> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.search(/\r\n|\n|\r/)) >= 0) {
      if (i === buf.length - 1 && buf[i] === "\r") break; // may be the first half of CRLF
      const end = buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1;
      onLine(buf.slice(0, i));
      buf = buf.slice(end);
    }
    while (buf.length > maxChars * 2) {
      onLine(buf.slice(0, maxChars));
      buf = buf.slice(maxChars);
    }
  }
  buf += decoder.decode();
  if (buf.length) onLine(buf);
}
