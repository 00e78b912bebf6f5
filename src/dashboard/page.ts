/**
 * The dashboard page: one HTML document whose sections are the views of views/ (elections,
 * locks, members, slots, timeline, demo), each with its own markup, style and browser code, laid
 * out in {@link PAGE_VIEWS} order. It subscribes to `/events` (Server-Sent Events) and redraws
 * every view from each frame. Charts are uPlot's (served by the dashboard from node_modules at
 * `/assets/`, no CDN). Store data is put on the page with textContent only, never as HTML. The
 * server's Content-Security-Policy allows exactly this script and this style (by their SHA-256
 * hashes) and the page's own assets (inline `style` attributes are set through the CSSOM, which
 * the policy does not restrict).
 */
import { createHash } from 'node:crypto';
import { DEMO_VIEW } from './views/demo.js';
import { ELECTIONS_VIEW } from './views/elections.js';
import { LOCKS_VIEW } from './views/locks.js';
import { MEMBERS_VIEW } from './views/members.js';
import { SLOTS_VIEW } from './views/slots.js';
import { TIMELINE_VIEW } from './views/timeline.js';
import type { PageView } from './views/view.js';

export type { PageView } from './views/view.js';

const cspHash = (text: string) => `sha256-${createHash('sha256').update(text).digest('base64')}`;

/** The page's sections, in order. */
export const PAGE_VIEWS: readonly PageView[] = Object.freeze([
  ELECTIONS_VIEW,
  LOCKS_VIEW,
  MEMBERS_VIEW,
  SLOTS_VIEW,
  TIMELINE_VIEW,
  DEMO_VIEW,
]);

/** Paths of the charting library's files, as the page asks for them. */
export const ASSET_PATHS = Object.freeze({ script: '/assets/uplot.js', style: '/assets/uplot.css' });

/** The page's style sheet: the shared rules, then each view's. */
const STYLE =
  `
  :root { font-family: system-ui, sans-serif; color: #1d2329; background: #f5f6f8; }
  body { margin: 0; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .05em; color: #56606b; margin: 0 0 8px; }
  h3 { font-size: 12px; color: #56606b; margin: 12px 0 4px; font-weight: 600; }
  #meta { color: #56606b; font-size: 13px; margin-bottom: 16px; }
  #status.down, #skipped { color: #b3261e; }
  #stale { background: #fdecea; color: #7a1a12; border-radius: 6px; padding: 6px 10px; margin-bottom: 12px; font-size: 13px; }
  body.stale section { opacity: .6; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceff2; vertical-align: middle; }
  th { color: #56606b; font-weight: 600; }
  .empty { color: #8a939c; font-size: 13px; }
  .chip { display: inline-block; white-space: nowrap; padding: 1px 6px; border-radius: 10px; font-size: 12px; margin: 1px; color: #fff; }
  .bar { height: 8px; background: #eceff2; border-radius: 4px; width: 90px; display: inline-block; vertical-align: middle; }
  .bar > i { display: block; height: 8px; border-radius: 4px; }
  .slots { display: grid; grid-template-columns: repeat(32, 1fr); gap: 2px; margin: 6px 0; }
  .slots > div { height: 14px; border-radius: 2px; }
  .chart { min-height: 40px; }
  .failover { font-weight: 600; color: #7a4b00; }
  .term { font-variant-numeric: tabular-nums; }
` + PAGE_VIEWS.map((v) => v.style ?? '').join('');

/** The shared browser code: helpers every view uses, then the views, then the event stream. */
const SCRIPT =
  String.raw`
'use strict';
const views = [];
// A member's colour is a function of its name (FNV-1a to a hue): the same on every page and
// after every reload, and the same in every section.
function hue(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0) % 360;
}
function colour(owner) { return owner == null ? '#d0d5da' : 'hsl(' + hue(owner) + ',62%,42%)'; }
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'style') e.style.cssText = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function table(headers, rows) {
  if (rows.length === 0) return el('div', { class: 'empty', text: 'none' });
  return el('table', {}, el('tr', {}, ...headers.map((h) => el('th', { text: h }))), ...rows);
}
function chip(owner) { return el('span', { class: 'chip', 'data-owner': owner, style: 'background:' + colour(owner), text: owner }); }
function fill(id, node) { document.getElementById(id).replaceChildren(node); }
function time(ms) { return new Date(ms).toLocaleTimeString(); }
const charts = new Map();
let sparks = [];
const charting = () => typeof uPlot === 'function';
// A chart in the element 'id' from spec { series: [{label, stroke}], x, y: [[...] per series],
// bars?, points?, xLabels?, yLabel? }, or an empty note for null; redrawn from scratch each time.
function plot(id, spec) {
  const box = document.getElementById(id);
  charts.get(id)?.destroy();
  charts.delete(id);
  if (!spec) return box.replaceChildren(el('div', { class: 'empty', text: 'no data yet' }));
  if (!charting()) return box.replaceChildren(el('div', { class: 'empty', text: 'charts unavailable (uPlot did not load)' }));
  box.replaceChildren();
  const n = spec.x.length;
  const xAxis = spec.xLabels
    ? { splits: () => spec.x, values: (u, splits) => splits.map((i) => spec.xLabels[i] ?? ''), size: 40 }
    : {};
  const opts = {
    width: Math.max(280, box.clientWidth || 480),
    height: 180,
    scales: { x: spec.xLabels ? { time: false, range: [-0.6, n - 0.4] } : { time: true } },
    axes: [xAxis, { label: spec.yLabel, size: 50 }],
    series: [{}].concat(spec.series.map((s) => ({
      label: s.label,
      stroke: s.stroke,
      width: spec.points ? 0 : 1.5,
      fill: spec.bars ? s.stroke + '99' : undefined,
      paths: spec.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : spec.points ? () => null : undefined,
      points: spec.points ? { show: true, size: 8, fill: s.stroke, stroke: s.stroke } : { show: false },
    }))),
  };
  const u = new uPlot(opts, [spec.x].concat(spec.y), box);
  box.dataset.series = spec.series.length;
  box.dataset.points = n;
  charts.set(id, u);
}
// A sparkline of [ms, value] points in 'node', with the suspicion threshold as the scale's top.
function spark(node, points, threshold) {
  if (!charting()) return;
  const top = Math.max(threshold, ...points.map((p) => p[1]));
  sparks.push(new uPlot({
    width: 120, height: 28, legend: { show: false }, cursor: { show: false }, select: { show: false },
    scales: { x: { time: false }, y: { range: [0, top] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: '#d62728', width: 1, points: { show: false } }],
  }, [points.map((p) => p[0] / 1000), points.map((p) => p[1])], node));
}
` +
  PAGE_VIEWS.map((v) => v.script).join('') +
  String.raw`
const status = document.getElementById('status');
const stale = document.getElementById('stale');
function showStatus(text, down) { status.textContent = text; status.className = down ? 'down' : ''; }
// Data shown while the store (or this server) cannot be reached is the last read, and says so.
function showStale(why, readAt) {
  stale.hidden = !why;
  document.body.classList.toggle('stale', !!why);
  if (why) stale.textContent = why + ': showing the fleet as last read' + (readAt ? ' at ' + time(readAt) : '') + '; retrying';
}
let lastReadAt = null;
function render(s) {
  document.getElementById('title').textContent = s.title;
  document.title = s.title + ' · tenure dashboard';
  // The server says when it last read the store while it cannot; else the data is as of now.
  lastReadAt = s.error ? s.lastReadAt || lastReadAt : Date.now();
  // The server's own trouble (it cannot read the store) is shown, not hidden behind old data.
  if (s.error) showStatus('store error: ' + s.error, true); else showStatus('live', false);
  showStale(s.error ? 'the store is unreachable' : null, lastReadAt);
  if (s.revision == null) return;
  document.getElementById('revision').textContent = s.revision;
  const skipped = document.getElementById('skipped');
  skipped.hidden = !s.skippedCount;
  skipped.textContent = s.skippedCount ? ' · ' + s.skippedCount + ' unreadable key' + (s.skippedCount === 1 ? '' : 's') + ' skipped (see /api/snapshot): ' + s.skipped.slice(0, 3).map((k) => k.key + ' (' + k.reason + ')').join(', ') : '';
  for (const u of sparks) u.destroy();
  sparks = [];
  for (const v of views) {
    try { v.render(s); } catch (err) { showStatus('page error: ' + err.message, true); }
  }
}
const token = new URLSearchParams(location.search).get('token');
const source = new EventSource('/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
source.onopen = () => showStatus('connected, waiting for data…', false);
source.onerror = () => { showStatus('disconnected, retrying…', true); showStale('the dashboard server is unreachable', lastReadAt); };
source.onmessage = (m) => {
  try { render(JSON.parse(m.data)); } catch (err) { showStatus('page error: ' + err.message, true); }
};
`;

/** The CSP source of the page's script (`'sha256-…'` without the quotes). */
export const PAGE_SCRIPT_HASH = cspHash(SCRIPT);
/** The CSP source of the page's style sheet. */
export const PAGE_STYLE_HASH = cspHash(STYLE);

const section = (v: PageView) =>
  `  <section id="${v.id}"${v.wide ? ' class="wide"' : ''}${v.hidden ? ' hidden' : ''}><h2>${v.title}</h2>${v.html}</section>\n`;

/** The page. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenure dashboard</title>
<link rel="stylesheet" href="${ASSET_PATHS.style}">
<style>${STYLE}</style>
<script src="${ASSET_PATHS.script}"></script>
</head>
<body>
<h1 id="title">tenure</h1>
<div id="meta"><span id="status">connecting…</span> · <a href="/models">models</a> · revision <span id="revision">-</span><span id="skipped" class="down" hidden></span></div>
<div id="stale" hidden></div>
<div class="grid">
${PAGE_VIEWS.map(section).join('')}</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
