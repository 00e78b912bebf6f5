/**
 * Members: every member of every group with its suspicion (the heartbeat mesh's phi where
 * members publish it, else how much of its ttl its session has used) and a sparkline of its phi
 * over time; members that left are listed as departed, with when.
 */
import type { PageView } from './view.js';

export const MEMBERS_VIEW: PageView = {
  id: 'members-view',
  title: 'Members',
  html: `<div id="members"></div>`,
  style: `
  tr.departed td { color: #8a939c; }
  tr.departed .chip { opacity: .45; }
  .spark { display: inline-block; width: 120px; height: 28px; vertical-align: middle; }
`,
  script: String.raw`
views.push({
  render(s) {
    const history = s.history || { members: [], phi: {} };
    const rows = s.members.map((m) => {
      const mesh = m.phi != null;
      const level = mesh ? Math.min(1, m.phi / (m.phiThreshold || 8)) : m.suspicion;
      const hue = level == null ? '#d0d5da' : level < 0.5 ? '#2ca02c' : level < 1 && (mesh || level < 0.8) ? '#ff7f0e' : '#d62728';
      const label = mesh ? 'phi ' + m.phi.toFixed(1) + ' (' + m.phiObservers + (m.phiObservers === 1 ? ' peer)' : ' peers)')
        : level == null ? '-' : 'lease ' + level.toFixed(2);
      const points = history.phi[m.group + '/' + m.id] || [];
      const spark = el('span', { class: 'spark', 'data-phi': m.id, 'data-points': points.length });
      return { spark, points, threshold: m.phiThreshold || 8, row: el('tr', { 'data-member': m.id, 'data-state': 'present' },
        el('td', { text: m.group }),
        el('td', {}, chip(m.id)),
        el('td', { 'data-testid': 'suspicion-' + m.id, title: mesh ? 'heartbeat mesh phi; suspected at ' + (m.phiThreshold || 8) : 'lease-based: share of its ttl the session has used since its last keepalive' },
          el('span', { class: 'bar' }, el('i', { style: 'width:' + Math.round((level || 0) * 100) + '%;background:' + hue })), ' ', label),
        el('td', {}, spark)) };
    });
    const present = new Set(s.members.map((m) => m.group + '/' + m.id));
    const departed = history.members.filter((r) => r.departedAt != null && !present.has(r.group + '/' + r.id)).slice(-10).reverse().map((r) =>
      el('tr', { class: 'departed', 'data-member': r.id, 'data-state': 'departed' },
        el('td', { text: r.group }), el('td', {}, chip(r.id)), el('td', { text: 'departed ' + time(r.departedAt) }), el('td', {})));
    fill('members', table(['group', 'member', 'suspicion', 'phi over time'], rows.map((r) => r.row).concat(departed)));
    for (const r of rows) if (r.points.length > 1) spark(r.spark, r.points, r.threshold);
  },
});
`,
};
