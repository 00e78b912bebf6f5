/**
 * A small SVG line chart for `tenure model --svg`: a few series of points on a log or linear x
 * axis and a linear y axis, with axis ticks, labels and a legend. Written by hand: one static
 * figure needs neither a browser nor a charting dependency.
 */

/** One named series of points. */
export interface Series {
  name: string;
  points: readonly { x: number; y: number; label?: string }[];
}

/** Chart options. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log-scale x axis (points with x ≤ 0 are dropped). */
  logX?: boolean;
}

const W = 760;
const H = 460;
const M = { left: 70, right: 190, top: 40, bottom: 55 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function niceTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** Renders the series as a standalone SVG document. */
export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && (!o.logX || p.x > 0));
  const xs = pts.map((p) => tx(p.x));
  const ys = pts.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (o.logX) [x0, x1] = [Math.floor(x0), Math.ceil(x1)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const yTicks = niceTicks(0, Math.max(...ys) * 1.05);
  const y1 = yTicks[yTicks.length - 1]!;
  const px = (x: number) => M.left + ((tx(x) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / y1) * (H - M.top - M.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15">${escape(o.title)}</text>`,
  ];
  // At most about eight labelled decades, so that the labels of a wide log axis do not collide.
  const decadeStep = Math.max(1, Math.ceil((x1 - x0) / 8));
  const xTicks = o.logX
    ? Array.from({ length: Math.floor((x1 - x0) / decadeStep) + 1 }, (_, i) => 10 ** (x0 + i * decadeStep))
    : niceTicks(x0, x1).filter((t) => t >= x0 && t <= x1);
  for (const t of xTicks) {
    const x = px(t);
    out.push(
      `<line x1="${x}" y1="${M.top}" x2="${x}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of yTicks) {
    const y = py(t);
    out.push(
      `<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${escape(o.xLabel)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const visible = s.points.filter((p) => Number.isFinite(p.y) && (!o.logX || p.x > 0));
    if (visible.length > 0)
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${visible.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
    for (const p of visible) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${colour}"/>`);
      if (p.label !== undefined)
        out.push(
          `<text x="${(px(p.x) + 5).toFixed(1)}" y="${(py(p.y) - 5).toFixed(1)}" font-size="10" fill="${colour}">${escape(p.label)}</text>`,
        );
    }
    const ly = M.top + 10 + i * 18;
    out.push(
      `<line x1="${W - M.right + 12}" y1="${ly}" x2="${W - M.right + 32}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${W - M.right + 38}" y="${ly + 4}">${escape(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
