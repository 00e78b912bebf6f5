/** Plain-text tables for the CLI's human output (`--json` prints the data instead). */
import { escapeControlCharacters } from './terminal-text.js';

/**
 * Formats rows as left-aligned columns under a header. Every cell goes through
 * {@link escapeControlCharacters}: cells hold store data, which must not reach the terminal raw.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const safe = rows.map((r) => r.map(escapeControlCharacters));
  // A loop, not Math.max(...rows): a spread of many thousand rows overflows the call stack.
  const widths = header.map((h, i) => safe.reduce((w, r) => Math.max(w, (r[i] ?? '').length), h.length));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...safe.map(line)].join('\n');
}
