/**
 * Locks: each mutex, semaphore and read-write lock with its holders (and their fencing tokens)
 * and queue, and the distribution of lock waits as the store showed them (the buckets of
 * `tenure_fleet_lock_wait_seconds`).
 */
import type { PageView } from './view.js';

export const LOCKS_VIEW: PageView = {
  id: 'locks-view',
  title: 'Locks',
  html: `<div id="locks"></div><h3>Wait distribution</h3><div id="lockwait-chart" class="chart"></div><div id="lockwaits"></div>`,
  script: String.raw`
views.push({
  render(s) {
    const who = (e) => e.mode ? el('span', {}, e.mode + ' ', chip(e.value)) : chip(e.value);
    fill('locks', table(['lock', 'kind', 'holders', 'fencing tokens', 'queue'], s.locks.map((l) =>
      el('tr', { 'data-lock': l.name, 'data-kind': l.kind },
        el('td', { text: l.name }),
        el('td', { text: l.kind + (l.permits != null ? ' of ' + l.permits : '') + (l.permitsDeclared ? ' (processes disagree: ' + l.permitsDeclared.join(', ') + ')' : '') }),
        el('td', {}, ...(l.holders.length ? l.holders.map(who) : ['free'])),
        el('td', { class: 'term', text: l.holders.map((h) => h.revision).join(', ') || '-' }),
        el('td', {}, ...l.waiters.map(who))))));
    const buckets = s.lockBuckets || [];
    const waits = (s.lockWaits || []).slice(0, 6);
    const labels = buckets.map((b) => '≤' + (b < 1 ? Math.round(b * 1000) + ' ms' : b + ' s')).concat(['more']);
    plot('lockwait-chart', waits.length === 0 ? null : {
      bars: true,
      xLabels: labels,
      yLabel: 'waits',
      series: waits.map((w, i) => ({ label: w.lock, stroke: ['#1f77b4', '#ff7f0e', '#9467bd', '#17becf', '#8c564b', '#e377c2'][i] })),
      x: labels.map((_, i) => i),
      y: waits.map((w) => w.counts),
    });
    fill('lockwaits', table(['lock', 'waits', 'median wait at most'], waits.map((w) => {
      const total = w.counts.reduce((a, b) => a + b, 0);
      let seen = 0, median = labels.length - 1;
      for (let i = 0; i < w.counts.length; i++) { seen += w.counts[i]; if (seen * 2 >= total) { median = i; break; } }
      return el('tr', { 'data-lockwait': w.lock }, el('td', { text: w.lock + ' (' + w.kind + ')' }), el('td', { class: 'term', text: String(total) }), el('td', { text: labels[median] }));
    })));
  },
});
`,
};
