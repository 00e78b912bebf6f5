/**
 * The dashboard page: one HTML document with its style and script inline, so the server needs no
 * static files. It subscribes to `/events` (Server-Sent Events) and redraws from each snapshot.
 * Store data is put on the page with textContent only, never as HTML. The server's
 * Content-Security-Policy allows exactly this script and this style, by their SHA-256 hashes
 * (inline `style` attributes are set through the CSSOM, which the policy does not restrict).
 */
import { createHash } from 'node:crypto';

const cspHash = (text: string) => `sha256-${createHash('sha256').update(text).digest('base64')}`;

/** The page's style sheet. */
const STYLE = `
  :root { font-family: system-ui, sans-serif; color: #1d2329; background: #f5f6f8; }
  body { margin: 0; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .05em; color: #56606b; margin: 0 0 8px; }
  #meta { color: #56606b; font-size: 13px; margin-bottom: 16px; }
  #status.down, #skipped { color: #b3261e; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceff2; vertical-align: top; }
  th { color: #56606b; font-weight: 600; }
  .empty { color: #8a939c; font-size: 13px; }
  .chip { display: inline-block; white-space: nowrap; padding: 1px 6px; border-radius: 10px; font-size: 12px; margin: 1px; color: #fff; }
  .bar { height: 8px; background: #eceff2; border-radius: 4px; width: 90px; display: inline-block; vertical-align: middle; }
  .bar > i { display: block; height: 8px; border-radius: 4px; }
  .slots { display: grid; grid-template-columns: repeat(32, 1fr); gap: 2px; margin: 6px 0; }
  .slots > div { height: 14px; border-radius: 2px; }
  #events { max-height: 340px; overflow: auto; font-size: 13px; }
  #events div { padding: 2px 0; border-bottom: 1px solid #f0f2f4; }
  #events time { color: #8a939c; margin-right: 8px; font-variant-numeric: tabular-nums; }
  .failover { font-weight: 600; color: #7a4b00; }
  .term { font-variant-numeric: tabular-nums; }
  #demo table td:first-child { color: #56606b; }
`;

/** The page's script. */
const SCRIPT = String.raw`
'use strict';
const PALETTE = ['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#17becf','#8c564b','#e377c2','#7f7f7f','#bcbd22'];
const colours = new Map();
function colour(owner) {
  if (owner == null) return '#d0d5da';
  if (!colours.has(owner)) colours.set(owner, PALETTE[colours.size % PALETTE.length]);
  return colours.get(owner);
}
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
function chip(owner) { return el('span', { class: 'chip', style: 'background:' + colour(owner), text: owner }); }
function fill(id, node) { const box = document.getElementById(id); box.replaceChildren(node); }
function time(ms) { return new Date(ms).toLocaleTimeString(); }

function showStatus(text, down) { status.textContent = text; status.className = down ? 'down' : ''; }

function render(s) {
  document.getElementById('title').textContent = s.title;
  document.title = s.title + ' · tenure dashboard';
  // The server's own trouble (it cannot read the store) is shown, not hidden behind old data.
  if (s.error) showStatus('store error: ' + s.error, true); else showStatus('live', false);
  if (s.revision == null) return;
  document.getElementById('revision').textContent = s.revision;
  const skipped = document.getElementById('skipped');
  skipped.hidden = !s.skippedCount;
  skipped.textContent = s.skippedCount ? ' · ' + s.skippedCount + ' unreadable key' + (s.skippedCount === 1 ? '' : 's') + ' skipped (see /api/snapshot): ' + s.skipped.slice(0, 3).map((k) => k.key + ' (' + k.reason + ')').join(', ') : '';
  fill('elections', table(['election', 'leader', 'term', 'candidates', 'history'], s.elections.map((e) =>
    el('tr', { 'data-election': e.name },
      el('td', { text: e.name }),
      el('td', { class: 'leader', 'data-testid': 'leader-' + e.name }, e.leader ? chip(e.leader.value) : 'none'),
      el('td', { class: 'term', 'data-testid': 'term-' + e.name, text: e.leader ? e.leader.revision : '-' }),
      el('td', {}, ...e.candidates.slice(1).map((c) => chip(c.value))),
      el('td', { class: 'term' }, e.history.slice(-6).map((h) => h.term + ' ' + h.value + (h.failoverMs != null ? ' (' + h.failoverMs + ' ms)' : '')).join(' → '))))));
  const who = (e) => e.mode ? el('span', {}, e.mode + ' ', chip(e.value)) : chip(e.value);
  fill('locks', table(['lock', 'kind', 'holders', 'fencing tokens', 'queue'], s.locks.map((l) =>
    el('tr', { 'data-lock': l.name, 'data-kind': l.kind },
      el('td', { text: l.name }),
      el('td', { text: l.kind + (l.permits != null ? ' of ' + l.permits : '') + (l.permitsDeclared ? ' (processes disagree: ' + l.permitsDeclared.join(', ') + ')' : '') }),
      el('td', {}, ...(l.holders.length ? l.holders.map(who) : ['free'])),
      el('td', { class: 'term', text: l.holders.map((h) => h.revision).join(', ') || '-' }),
      el('td', {}, ...l.waiters.map(who))))));
  // Suspicion: the heartbeat mesh's phi (the highest any peer publishes) where members publish
  // it, else the lease-based figure (how much of its ttl the session has used), labelled as such.
  fill('members', table(['group', 'member', 'suspicion', 'lease'], s.members.map((m) => {
    const mesh = m.phi != null;
    const level = mesh ? Math.min(1, m.phi / (m.phiThreshold || 8)) : m.suspicion;
    const hue = level == null ? '#d0d5da' : level < 0.5 ? '#2ca02c' : level < 1 && (mesh || level < 0.8) ? '#ff7f0e' : '#d62728';
    const label = mesh ? 'phi ' + m.phi.toFixed(1) + ' (' + m.phiObservers + (m.phiObservers === 1 ? ' peer)' : ' peers)')
      : level == null ? '-' : 'lease ' + level.toFixed(2);
    return el('tr', { 'data-member': m.id },
      el('td', { text: m.group }),
      el('td', {}, chip(m.id)),
      el('td', { 'data-testid': 'suspicion-' + m.id, title: mesh ? 'heartbeat mesh phi; suspected at ' + (m.phiThreshold || 8) : 'lease-based: share of its ttl the session has used since its last keepalive' },
        el('span', { class: 'bar' }, el('i', { style: 'width:' + Math.round((level || 0) * 100) + '%;background:' + hue })), ' ', label),
      el('td', { text: m.lease || '-' }));
  })));
  const maps = s.slots.map((m) => {
    const counts = new Map();
    for (const o of m.owners) counts.set(o, (counts.get(o) || 0) + 1);
    return el('div', { 'data-slots': m.name },
      el('div', {}, 'group ' + m.name + (m.epoch != null ? ' (table revision ' + m.epoch + ')' : '') + ': ', ...[...counts].map(([o, n]) => el('span', {}, o == null ? el('span', { class: 'chip', style: 'background:#d0d5da;color:#1d2329', text: 'moving' }) : chip(o), ' ' + n + ' '))),
      el('div', { class: 'slots' }, ...m.owners.map((o, i) => el('div', { title: 'slot ' + i + ': ' + (o || 'moving') + (m.planned[i] && m.planned[i] !== o ? ' → ' + m.planned[i] : ''), style: 'background:' + colour(o) }))));
  });
  fill('slots', maps.length ? el('div', {}, ...maps) : el('div', { class: 'empty', text: 'none' }));
  const events = s.events.slice().reverse().map((e) =>
    el('div', { class: e.failoverMs != null ? 'failover' : '' }, el('time', { text: time(e.at) }), e.text));
  fill('events', events.length ? el('div', {}, ...events) : el('div', { class: 'empty', text: 'no events yet' }));
  if (s.demo) {
    document.getElementById('demo').hidden = false;
    fill('demo-body', table([], Object.entries(s.demo).map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { text: String(v) })))));
  }
}

const status = document.getElementById('status');
const token = new URLSearchParams(location.search).get('token');
const source = new EventSource('/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
source.onopen = () => showStatus('connected, waiting for data…', false);
source.onerror = () => showStatus('disconnected, retrying…', true);
source.onmessage = (m) => {
  try { render(JSON.parse(m.data)); } catch (err) { showStatus('page error: ' + err.message, true); }
};
`;

/** The CSP source of the page's script (`'sha256-…'` without the quotes). */
export const PAGE_SCRIPT_HASH = cspHash(SCRIPT);
/** The CSP source of the page's style sheet. */
export const PAGE_STYLE_HASH = cspHash(STYLE);

export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenure dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<h1 id="title">tenure</h1>
<div id="meta"><span id="status">connecting…</span> · revision <span id="revision">-</span><span id="skipped" class="down" hidden></span></div>
<div class="grid">
  <section><h2>Elections</h2><div id="elections"></div></section>
  <section><h2>Locks</h2><div id="locks"></div></section>
  <section><h2>Members</h2><div id="members"></div></section>
  <section><h2>Slots</h2><div id="slots"></div></section>
  <section><h2>Timeline</h2><div id="events"></div></section>
  <section id="demo" hidden><h2>Demo</h2><div id="demo-body"></div></section>
</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
