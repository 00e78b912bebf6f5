/**
 * Slots: each ShardManager group's slot map (who holds each slot, in its owner's colour; moving
 * slots grey), and how many slots moved after each membership change.
 */
import type { PageView } from './view.js';

export const SLOTS_VIEW: PageView = {
  id: 'slots-view',
  title: 'Slots',
  html: `<div id="slots"></div><h3>Slot moves per membership change</h3><div id="slotmove-chart" class="chart"></div><div id="slotmoves"></div>`,
  script: String.raw`
views.push({
  render(s) {
    const maps = s.slots.map((m) => {
      const counts = new Map();
      for (const o of m.owners) counts.set(o, (counts.get(o) || 0) + 1);
      return el('div', { 'data-slots': m.name },
        el('div', {}, 'group ' + m.name + (m.epoch != null ? ' (table revision ' + m.epoch + ')' : '') + ': ', ...[...counts].map(([o, n]) => el('span', {}, o == null ? el('span', { class: 'chip', style: 'background:#d0d5da;color:#1d2329', text: 'moving' }) : chip(o), ' ' + n + ' '))),
        el('div', { class: 'slots' }, ...m.owners.map((o, i) => el('div', { title: 'slot ' + i + ': ' + (o || 'moving') + (m.planned[i] && m.planned[i] !== o ? ' → ' + m.planned[i] : ''), style: 'background:' + colour(o) }))));
    });
    fill('slots', maps.length ? el('div', {}, ...maps) : el('div', { class: 'empty', text: 'none' }));
    const moves = ((s.history && s.history.slotMoves) || []).slice(-20);
    plot('slotmove-chart', moves.length === 0 ? null : {
      bars: true,
      xLabels: moves.map((m) => m.cause || time(m.at)),
      yLabel: 'slots moved',
      series: [{ label: 'slots moved', stroke: '#1f77b4' }],
      x: moves.map((_, i) => i),
      y: [moves.map((m) => m.moved)],
    });
    fill('slotmoves', table(['time', 'group', 'moved', 'after'], moves.slice(-6).reverse().map((m) =>
      el('tr', { 'data-slotmove': m.group },
        el('td', { text: time(m.at) }), el('td', { text: m.group }),
        el('td', { class: 'term', text: m.moved + ' of ' + m.slotCount }), el('td', { text: m.cause || '-' })))));
  },
});
`,
};
