// kurz web page: the chart of a link's clicks per day, drawn as SVG
// elements (one bar and one tooltip a day) with a text summary beside it.

import { $, el, plural } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    node.setAttribute(name, String(value));
  }
  return node;
}

/** Draws daily clicks as bars, each with a <title> tooltip. */
export function drawChart(daily) {
  const box = $('chart');
  const n = daily.length;
  const width = Math.max(n, 1) * 10;
  const height = 100;
  const max = daily.reduce((m, d) => Math.max(m, d.clicks), 0);
  const total = daily.reduce((s, d) => s + d.clicks, 0);
  const chart = svg('svg', {
    viewBox: '0 0 ' + width + ' ' + height,
    preserveAspectRatio: 'none',
    role: 'img',
  });
  const busiest = daily.reduce((b, d) => (b === null || d.clicks > b.clicks ? d : b), null);
  let label = plural(total, 'click', 'clicks') + ' in the last ' + plural(n, 'day', 'days');
  if (busiest && busiest.clicks > 0) {
    label += '; most on ' + busiest.date + ' (' + busiest.clicks.toLocaleString() + ')';
  }
  chart.setAttribute('aria-label', label);
  daily.forEach((d, i) => {
    const g = svg('g');
    const title = svg('title');
    title.textContent = d.date + ': ' + plural(d.clicks, 'click', 'clicks');
    const h = max === 0 ? 0 : Math.max((d.clicks / max) * (height - 2), d.clicks > 0 ? 1 : 0);
    g.append(
      title,
      svg('rect', { class: 'hit', x: i * 10, y: 0, width: 10, height }),
      svg('rect', { class: 'bar', x: i * 10 + 1, y: height - h, width: 8, height: h }),
    );
    chart.append(g);
  });
  chart.append(svg('line', { class: 'axis', x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }));
  const labels = el('div', 'chart-labels');
  if (n > 0) {
    labels.append(el('span', '', daily[0].date), el('span', '', 'peak ' + max.toLocaleString() + '/day'), el('span', '', daily[n - 1].date));
  }
  box.replaceChildren(chart, labels);
  $('chart-summary').textContent = label + '.';
}

/** Empties the chart and its summary. */
export function clearChart() {
  $('chart').replaceChildren();
  $('chart-summary').textContent = '';
}
