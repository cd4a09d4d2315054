// terminal: the one place where text from outside kvlog is made safe to show on a terminal.
//
// kvlog shows text that others can write: the record (anyone who may update ConfigMaps in
// kube-system), Status messages, a component's answer, an exec plugin's error. Shown raw, an
// escape sequence in it could set the terminal's title, clear the screen, recolour or hide what
// follows, or a carriage return overwrite a line (kubectl had this bug: CVE-2021-25743). Every
// table cell, warning, hint and error line passes through escapeTerminal; kvlog's own colours and
// progress lines are added after it, so they are unaffected. JSON needs none of this: JSON.stringify
// escapes control characters itself, and -o json stays exact.

/**
 * C0 controls (newline and tab included: a table cell or a one-line message has no room for them),
 * DEL, C1 controls, and the Unicode bidirectional overrides and isolates that reorder what is shown
 * ("Trojan Source"), as visible escapes.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeTerminal(s: string): string {
  return s.replace(UNSAFE, (c) => NAMED[c] ?? (c.charCodeAt(0) <= 0xff ? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/** `warning: …` / `hint: …` lines for stderr, one per text, each made safe (texts hold what the cluster says). */
export function notes(kind: "warning" | "hint", texts: Iterable<string>): string {
  let out = "";
  for (const t of texts) out += `${kind}: ${escapeTerminal(t)}\n`;
  return out;
}
