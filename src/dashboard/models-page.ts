/**
 * The Models page (`/models`): the live Models view (models-view.ts, served as JSON at
 * `/api/models`) as tables, refreshed every two seconds. Like the main page it is one document
 * with its style and script inline, allowed by the Content-Security-Policy through their
 * SHA-256 hashes, and it puts store data on the page with textContent only.
 */
import { createHash } from 'node:crypto';

const cspHash = (text: string) => `sha256-${createHash('sha256').update(text).digest('base64')}`;

const STYLE = `
  :root { font-family: system-ui, sans-serif; color: #1d2329; background: #f5f6f8; }
  body { margin: 0; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .05em; color: #56606b; margin: 16px 0 8px; }
  p { color: #56606b; font-size: 13px; max-width: 900px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; margin-bottom: 16px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceff2; }
  th { color: #56606b; font-weight: 600; }
  .off { color: #b3261e; }
  #error { color: #b3261e; }
`;

const SCRIPT = String.raw`
const ms = (x) => x === null || x === undefined ? '' : (x >= 10000 ? (x / 1000).toFixed(2) + ' s' : Math.round(x) + ' ms');
const ratio = (x) => x === null || x === undefined ? '' : x.toFixed(3);
function fill(id, header, rows) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = table.insertRow();
  for (const h of header) { const th = document.createElement('th'); th.textContent = h; head.appendChild(th); }
  if (rows.length === 0) { const td = table.insertRow().insertCell(); td.colSpan = header.length; td.textContent = 'nothing to show yet'; return; }
  for (const r of rows) {
    const tr = table.insertRow();
    for (const cell of r.cells) tr.insertCell().textContent = String(cell);
    if (r.off) tr.className = 'off';
  }
}
async function refresh() {
  try {
    const res = await fetch('/api/models' + location.search, { cache: 'no-store' });
    const data = await res.json();
    document.getElementById('error').textContent = res.ok ? '' : String(data.error ?? res.status);
    if (!res.ok) return;
    fill('failovers', ['election', 'failovers seen', 'measured p50', 'measured max', 'predicted p50', 'predicted p99', 'predicted range', 'ttl'],
      data.failovers.map((f) => {
        const sorted = [...f.measuredMs].sort((a, b) => a - b);
        const p = f.predicted;
        return { off: f.aboveRange > 0, cells: [f.election, sorted.length, ms(sorted[Math.floor((sorted.length - 1) / 2)]), ms(sorted[sorted.length - 1]),
          p ? ms(p.p50Ms) : '', p ? ms(p.p99Ms) : '', p ? ms(p.minMs) + ' .. ' + ms(p.maxMs) : 'no model', f.ttlMs === undefined ? '?' : ms(f.ttlMs) + ' (' + f.ttlSource + ')'] };
      }));
    fill('slots', ['group', 'slots', 'members', 'held peak/avg', 'planned peak/avg', 'expected', 'misplaced'],
      data.slots.map((s) => ({ off: s.heldPeakToAverage !== null && s.heldPeakToAverage > s.expectedPeakToAverage + 1e-9, cells: [s.group, s.slotCount, s.members, ratio(s.heldPeakToAverage), ratio(s.plannedPeakToAverage), ratio(s.expectedPeakToAverage), s.misplaced] })));
    fill('suspicion', ['group', 'member', 'phi', 'threshold', 'chance a live member is this late'],
      data.suspicion.map((m) => ({ off: m.suspected, cells: [m.group, m.member, m.phi, m.threshold ?? '', m.lateChance.toExponential(1)] })));
  } catch (err) {
    document.getElementById('error').textContent = 'dashboard unreachable: ' + err;
  }
}
refresh();
setInterval(refresh, 2000);
`;

/** The Models page's HTML. */
export const MODELS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tenure: models</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<h1>Models</h1>
<p><a href="/">back to the fleet</a></p>
<p>What this fleet measures, beside what tenure's models predict (docs/models.md). Rows in red are outside the prediction.</p>
<div id="error"></div>
<section><h2>Failovers</h2><table id="failovers"></table>
<p>Measured from the old leader's last renewal this view saw: an upper bound, late by up to one keepalive interval. Predicted for a crash on this store with the ttl shown.</p></section>
<section><h2>Slot balance</h2><table id="slots"></table></section>
<section><h2>Suspicion (heartbeat mesh)</h2><table id="suspicion"></table></section>
<script>${SCRIPT}</script>
</body></html>
`;

/** The Content-Security-Policy of the Models page: its own script and style only, and fetches to this server. */
export const MODELS_PAGE_CSP = [
  "default-src 'none'",
  `script-src '${cspHash(SCRIPT)}'`,
  `style-src '${cspHash(STYLE)}'`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
