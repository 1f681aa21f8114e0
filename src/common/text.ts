/**
 * Characters that must not reach a log line or a terminal from someone else: C0 controls
 * (newlines, escape), DEL, C1 controls, line and paragraph separators, and bidirectional
 * overrides that make text read as something else.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * Text from outside (a peer's node id, a server's answer) made safe to print on one line: every
 * control character is shown as `\u00XX`, and it is cut at `max` characters (with an ellipsis).
 *
 * @example
 * printable('evil\n\u001b]0;x\u0007') // 'evil\\u000a\\u001b]0;x\\u0007'
 */
export function printable (text: string, max = 200): string {
  const shown = text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown
}
