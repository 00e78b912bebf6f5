/**
 * A failing window drawn as an SVG timeline, in the spirit of Porcupine's visualizer: one row per
 * process, one bar per operation from its invoke to its return (an `info` operation's bar fades
 * out to the right edge: it may take effect any time later), the failing operation in red.
 */
import type { WindowOperation } from './linearizability.js';

/** Options of {@link renderTimelineSvg}. */
export interface TimelineSvgOptions {
  /** Width of the drawing in pixels. @default 960 */
  width?: number;
  /** A title drawn above the rows. @default none */
  title?: string;
}

const ROW = 34;
const LABEL = 110;
const TOP = 44;

/** Escapes text for SVG (XML) content and attributes, and drops control characters. */
function escapeXml(s: string): string {
  return (
    s
      // XML 1.0 forbids most control characters, and they would only garble a label.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

/**
 * Renders `window` (from a {@link LinearizabilityViolation}) as a standalone SVG document.
 *
 * @example
 * ```ts
 * writeFileSync('violation.svg', renderTimelineSvg(result.violation!.window, { title: result.violation!.key }));
 * ```
 */
export function renderTimelineSvg(
  window: readonly WindowOperation[],
  options: TimelineSvgOptions = {},
): string {
  const width = options.width ?? 960;
  const processes = [...new Set(window.map((w) => String(w.operation.process)))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const finite = window.flatMap((w) =>
    [w.operation.invokeTime, w.operation.returnTime].filter((t) => Number.isFinite(t)),
  );
  const t0 = Math.min(...finite);
  const t1 = Math.max(...finite);
  const span = t1 - t0 || 1;
  const plot = width - LABEL - 20;
  const x = (t: number) => LABEL + (Number.isFinite(t) ? ((t - t0) / span) * plot * 0.9 : plot);
  const height = TOP + processes.length * ROW + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`,
    '<defs><linearGradient id="info" x1="0" x2="1"><stop offset="0" stop-color="#9ab" stop-opacity="0.9"/><stop offset="1" stop-color="#9ab" stop-opacity="0.1"/></linearGradient></defs>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  if (options.title !== undefined)
    out.push(`<text x="8" y="18" font-size="13" font-weight="bold">${escapeXml(options.title)}</text>`);
  out.push(
    `<text x="${LABEL}" y="34" fill="#555">${escapeXml(`${t0.toFixed(3)} ms`)}</text>`,
    `<text x="${x(t1)}" y="34" fill="#555" text-anchor="end">${escapeXml(`${t1.toFixed(3)} ms`)}</text>`,
  );
  processes.forEach((p, row) => {
    const y = TOP + row * ROW;
    out.push(
      `<text x="8" y="${y + 20}">${escapeXml(`process ${p}`)}</text>`,
      `<line x1="${LABEL}" y1="${y + ROW - 2}" x2="${width - 10}" y2="${y + ROW - 2}" stroke="#eee"/>`,
    );
  });
  for (const w of window) {
    const o = w.operation;
    const y = TOP + processes.indexOf(String(o.process)) * ROW + 4;
    const left = x(o.invokeTime);
    const right = Math.max(left + 3, x(o.returnTime));
    const fill = w.failing ? '#e44' : o.status === 'info' ? 'url(#info)' : '#6a9fd8';
    out.push(
      `<g><title>${escapeXml(`${o.status} ${w.text} [${o.invokeTime} .. ${o.returnTime}]`)}</title>`,
      `<rect x="${left.toFixed(1)}" y="${y}" width="${(right - left).toFixed(1)}" height="${ROW - 10}" rx="3" fill="${fill}" stroke="#345" stroke-width="0.5"/>`,
      `<text x="${(left + 3).toFixed(1)}" y="${y + 16}" fill="#000">${escapeXml(w.text)}</text></g>`,
    );
  }
  out.push(
    `<text x="8" y="${height - 10}" fill="#555">red: the completion no order explains; faded: outcome unknown (may apply later or never)</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
