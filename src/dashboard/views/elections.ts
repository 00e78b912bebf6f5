/**
 * Elections: each election's leader, term and candidates, its leadership timeline (who led
 * which term, from when, and how long each failover took), and a chart of failover durations
 * over time, crash and graceful apart.
 */
import type { PageView } from './view.js';

export const ELECTIONS_VIEW: PageView = {
  id: 'elections-view',
  title: 'Elections',
  wide: true,
  html: `<div id="elections"></div>
<h3>Leadership timeline</h3><div id="leadership"></div>
<h3>Failover durations</h3><div id="failover-chart" class="chart"></div><div id="failovers"></div>`,
  style: `
  .timeline { display: flex; height: 22px; margin: 2px 0 8px; border-radius: 4px; overflow: hidden; background: #eceff2; }
  .timeline > div { color: #fff; font-size: 11px; line-height: 22px; padding: 0 4px; white-space: nowrap; overflow: hidden; min-width: 3px; border-right: 2px solid #fff; }
  .timeline-name { font-size: 12px; color: #56606b; }
`,
  script: String.raw`
views.push({
  render(s) {
    fill('elections', table(['election', 'leader', 'term', 'candidates'], s.elections.map((e) =>
      el('tr', { 'data-election': e.name },
        el('td', { text: e.name }),
        el('td', { class: 'leader', 'data-testid': 'leader-' + e.name }, e.leader ? chip(e.leader.value) : 'none'),
        el('td', { class: 'term', 'data-testid': 'term-' + e.name, text: e.leader ? e.leader.revision : '-' }),
        el('td', {}, ...e.candidates.slice(1).map((c) => chip(c.value)))))));
    // One strip per election: each term a segment as long as it lasted, in its leader's colour.
    const now = Date.now();
    const strips = s.elections.filter((e) => e.history.length > 0).map((e) => {
      const from = e.history[0].since;
      const span = Math.max(1, now - from);
      const segments = e.history.map((h, i) => {
        const until = i + 1 < e.history.length ? e.history[i + 1].since : now;
        const label = h.value + ' · term ' + h.term + (h.failoverMs != null ? ' · failover ' + h.failoverMs + ' ms' : '');
        return el('div', {
          'data-term': h.term, 'data-leader': h.value,
          ...(h.failoverMs != null ? { 'data-failover-ms': h.failoverMs } : {}),
          title: label + ', from ' + time(h.since),
          style: 'flex:0 0 ' + Math.max(0.5, ((until - h.since) / span) * 100) + '%;background:' + colour(h.value),
          text: label,
        });
      });
      return el('div', { 'data-timeline': e.name }, el('div', { class: 'timeline-name', text: e.name + ' since ' + time(from) }), el('div', { class: 'timeline' }, ...segments));
    });
    fill('leadership', strips.length ? el('div', {}, ...strips) : el('div', { class: 'empty', text: 'no leader seen yet' }));

    const points = (s.history && s.history.failovers) || [];
    plot('failover-chart', points.length === 0 ? null : {
      series: [{ label: 'crash (lease expired)', stroke: '#d62728' }, { label: 'graceful (let go)', stroke: '#2ca02c' }],
      points: true,
      yLabel: 'ms',
      x: points.map((p) => p.at / 1000),
      y: [points.map((p) => p.departure === 'expired' ? p.failoverMs : null), points.map((p) => p.departure === 'let-go' ? p.failoverMs : null)],
    });
    fill('failovers', table(['time', 'election', 'new leader', 'failover', 'old leader went'], points.slice(-5).reverse().map((p) =>
      el('tr', { 'data-failover': p.election, 'data-departure': p.departure || '' },
        el('td', { text: time(p.at) }), el('td', { text: p.election }), el('td', {}, chip(p.value), ' term ' + p.term),
        el('td', { class: 'failover', text: p.failoverMs + ' ms' }),
        el('td', { text: p.departure === 'expired' ? 'lease expired (crash)' : p.departure === 'let-go' ? 'let go (graceful)' : '-' })))));
  },
});
`,
};
