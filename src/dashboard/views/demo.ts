/** Demo: the facts `tenure demo` adds to each frame (workers, writes, faults), when it runs. */
import type { PageView } from './view.js';

export const DEMO_VIEW: PageView = {
  id: 'demo',
  title: 'Demo',
  hidden: true,
  html: `<div id="demo-body"></div>`,
  style: `
  #demo table td:first-child { color: #56606b; }
`,
  script: String.raw`
views.push({
  render(s) {
    if (!s.demo) return;
    document.getElementById('demo').hidden = false;
    fill('demo-body', table([], Object.entries(s.demo).map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { text: String(v) })))));
  },
});
`,
};
