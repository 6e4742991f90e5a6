/**
 * Making untrusted text safe for a terminal. Anything a remote peer sends (miner names, pool
 * strings, error texts, console lines) may carry escape sequences that set the window title,
 * write the clipboard (OSC 52), move the cursor or rewrite what is on screen. {@link sanitize}
 * removes every control character and escape sequence; {@link sanitizeKeepColour} keeps only SGR
 * colour and style sequences (`ESC [ … m`), for miner console lines.
 *
 * @example
 * ```ts
 * import { sanitize, sanitizeKeepColour } from "./mod.ts";
 * sanitize("rig\x1b]0;pwned\x07-1"); // "rig-1"
 * sanitizeKeepColour("\x1b[32maccepted\x1b[0m\x1b[2J"); // "\x1b[32maccepted\x1b[0m"
 * ```
 * @module
 */

// ESC (or its 8-bit forms) followed by: a CSI sequence (parameters, intermediates, final byte);
// an OSC, DCS, SOS, PM or APC string up to BEL or ST (or the end, when unterminated); or any one
// other character.
const ESCAPE = new RegExp(
  [
    "(?:\\x1b\\[|\\x9b)[0-?]*[ -/]*[@-~]?",
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?",
    "\\x1b[\\s\\S]?",
  ].join("|"),
  "g",
);
// C0 controls but tab, DEL, and C1 controls (0x80–0x9f).
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g;
// deno-lint-ignore no-control-regex
const SGR = /^\x1b\[[0-9;:]*m$/;

function clean(text: string, keep: (seq: string) => boolean): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(ESCAPE)) {
    out += plain(text.slice(last, m.index)) + (keep(m[0]) ? m[0] : "");
    last = m.index + m[0].length;
  }
  return out + plain(text.slice(last));
}

function plain(segment: string): string {
  return segment.replace(/[\r\n]+/g, " ").replace(CONTROL, "");
}

/** `text` without escape sequences or control characters (a newline becomes a space). */
export function sanitize(text: string): string {
  return clean(text, () => false);
}

/**
 * `text` with SGR colour sequences kept and every other escape sequence or control character
 * removed (a newline becomes a space).
 */
export function sanitizeKeepColour(text: string): string {
  return clean(text, (seq) => SGR.test(seq));
}

/** Like {@link sanitize} but keeps line breaks (for multi-line output such as tables). */
export function sanitizeLines(text: string): string {
  return text.split("\n").map(sanitize).join("\n");
}
