/**
 * Text from the store on an operator's terminal. Election values, lock owners, member data and
 * key names are written by whoever can write the store; printed raw, an escape sequence in them
 * can clear the screen, retitle the window, move the cursor over earlier lines, or fake whole
 * lines of output. Every store-derived string in the CLI's text output goes through
 * {@link escapeControlCharacters} (`--json` needs nothing: JSON escapes control characters).
 */

/**
 * C0 controls (tab, newline and carriage return included: a table cell is one line), DEL, C1
 * controls (0x9b is a one-byte CSI on some terminals), the line and paragraph separators, and the
 * bidirectional overrides and isolates (which reorder what the terminal shows).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * The text with every control character shown as an escape: `\x1b` for ESC, `\r`, `\n`, `\t`,
 * `\x7f`, `\x9b`, `\u202e`. Printable text, non-ASCII letters included, is unchanged.
 *
 * @example
 * ```ts
 * escapeControlCharacters('a\x1b[2Jb\r'); // 'a\\x1b[2Jb\\r'
 * ```
 */
export function escapeControlCharacters(text: string): string {
  return String(text).replace(CONTROL, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
