/**
 * ANSI SGR colour codes in miner output → styled segments (no HTML is ever built from text).
 * @module
 */

/** A run of text with the CSS classes of its SGR state. */
export interface Segment {
  /** Text. */
  text: string;
  /** Classes (`ansi-1`, `ansi-32`...). */
  classes: string;
}

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[([0-9;]*)m/g;
// deno-lint-ignore no-control-regex
const OTHER = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Splits `text` into segments, applying bold, the 8 + 8 bright foreground colours and resets. */
export function parseAnsi(text: string): Segment[] {
  const out: Segment[] = [];
  let bold = false;
  let fg: number | null = null;
  let last = 0;
  const push = (s: string) => {
    const clean = s.replace(OTHER, "");
    if (!clean) return;
    const classes = [bold ? "ansi-1" : "", fg !== null ? `ansi-${fg}` : ""].filter(Boolean).join(
      " ",
    );
    out.push({ text: clean, classes });
  };
  for (const m of text.matchAll(SGR)) {
    push(text.slice(last, m.index));
    last = m.index! + m[0].length;
    const codes = m[1] === "" ? [0] : m[1].split(";").map((c) => Number(c));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) {
        bold = false;
        fg = null;
      } else if (c === 1) bold = true;
      else if (c === 22) bold = false;
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) fg = c;
      else if (c === 39) fg = null;
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : 4; // 256/true colour: skipped
    }
  }
  push(text.slice(last));
  return out;
}
