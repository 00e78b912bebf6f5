/**
 * Timeline: the fleet's events, newest first, filterable by kind (leaders, locks, members,
 * slots). Lock churn is folded: a run of lock and unlock events of one lock is one line (how many
 * handovers, between whom, from when to when), unless the reader unfolds it.
 */
import type { PageView } from './view.js';

export const TIMELINE_VIEW: PageView = {
  id: 'timeline-view',
  title: 'Timeline',
  wide: true,
  html: `<div id="timeline-filters">
<label><input type="checkbox" data-kind="leader" checked> leaders</label>
<label><input type="checkbox" data-kind="lock" checked> locks</label>
<label><input type="checkbox" data-kind="member" checked> members</label>
<label><input type="checkbox" data-kind="slots" checked> slots</label>
<label><input type="checkbox" id="fold-locks" checked> fold lock churn</label>
</div><div id="events"></div>`,
  style: `
  #timeline-filters { font-size: 13px; margin-bottom: 6px; }
  #timeline-filters label { margin-right: 12px; }
  #events { max-height: 340px; overflow: auto; font-size: 13px; }
  #events div { padding: 2px 0; border-bottom: 1px solid #f0f2f4; }
  #events time { color: #8a939c; margin-right: 8px; font-variant-numeric: tabular-nums; }
  #events .folded { color: #56606b; }
`,
  script: String.raw`
{
  const group = (kind) => kind === 'leader' || kind === 'leader-lost' ? 'leader' : kind === 'lock' || kind === 'unlock' ? 'lock' : kind.startsWith('member') ? 'member' : 'slots';
  let last = null;
  const render = (s) => {
    last = s;
    const shown = new Set([...document.querySelectorAll('#timeline-filters input[data-kind]')].filter((i) => i.checked).map((i) => i.dataset.kind));
    const fold = document.getElementById('fold-locks').checked;
    const rows = [];
    for (const e of s.events) {
      const g = group(e.kind);
      if (!shown.has(g)) continue;
      const prev = rows[rows.length - 1];
      if (fold && g === 'lock' && prev && prev.lock === e.lockKind + ' ' + e.name) {
        prev.events.push(e);
        continue;
      }
      rows.push(g === 'lock' && fold ? { lock: e.lockKind + ' ' + e.name, events: [e] } : { event: e });
    }
    const lines = rows.reverse().map((r) => {
      if (r.event) return el('div', { class: r.event.failoverMs != null ? 'failover' : '', 'data-event': r.event.kind }, el('time', { text: time(r.event.at) }), r.event.text);
      const taken = r.events.filter((e) => e.kind === 'lock');
      if (r.events.length === 1) return el('div', { 'data-event': r.events[0].kind }, el('time', { text: time(r.events[0].at) }), r.events[0].text);
      const holders = [...new Set(taken.map((e) => e.value))];
      const first = r.events[0], end = r.events[r.events.length - 1];
      return el('div', { class: 'folded', 'data-event': 'lock-churn', 'data-count': taken.length },
        el('time', { text: time(first.at) + '–' + time(end.at) }),
        r.lock + ': ' + taken.length + ' handover' + (taken.length === 1 ? '' : 's') + ' between ', ...holders.slice(0, 8).map((h) => chip(h)),
        holders.length > 8 ? ' and ' + (holders.length - 8) + ' more' : '');
    });
    fill('events', lines.length ? el('div', {}, ...lines) : el('div', { class: 'empty', text: 'no events yet' }));
  };
  for (const input of document.querySelectorAll('#timeline-filters input')) input.addEventListener('change', () => last && render(last));
  views.push({ render });
}
`,
};
