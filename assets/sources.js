// kurz web page: where a link's clicks came from. Its top referrer hosts and
// its bot visits, from the same stats answer as the chart.
//
// Hosts and bot names come from request headers, so they are user-controlled:
// they go into the page with textContent (through `el`) only.

import { $, el, plural } from './dom.js';

/** How many referrer hosts are listed by name; the rest count as other. */
const TOP = 10;

/** A row of a count list: the name, then its count as text. */
function row(name, count) {
  const li = el('li');
  li.append(el('span', 'count-name', name), el('span', 'count-n', count));
  return li;
}

/** Shows the top referrer hosts, and how many clicks came from the rest. */
function drawReferrers(referrers, clicks) {
  const hosts = referrers.hosts || [];
  const shown = hosts.slice(0, TOP);
  const other = (referrers.other || 0) + hosts.slice(TOP).reduce((s, h) => s + h.clicks, 0);
  const attributed = hosts.reduce((s, h) => s + h.clicks, 0) + (referrers.other || 0);
  $('referrers').replaceChildren(...shown.map((h) => row(h.host, plural(h.clicks, 'click', 'clicks'))));
  $('referrers').hidden = shown.length === 0;
  $('referrers-other').textContent = other > 0 ? 'Other hosts: ' + plural(other, 'click', 'clicks') + '.' : '';
  $('referrers-other').hidden = other === 0;
  let summary = 'No referrer yet: clicks without a Referer header are not attributed.';
  if (attributed > 0) {
    summary = attributed.toLocaleString() + ' of ' + plural(clicks, 'click', 'clicks') +
      ' came with a referring host; browsers often send none.';
  }
  $('referrers-summary').textContent = summary;
}

/** Shows how many bot visits there were, and by which bots. */
function drawBots(bots) {
  const visits = bots.visits || 0;
  const names = bots.names || [];
  $('bots-summary').textContent =
    visits > 0 ? plural(visits, 'bot visit', 'bot visits') + ' (not counted as clicks).' : 'No bot visits.';
  $('bots').replaceChildren(
    ...names.map((b) => row(b.name === 'other' ? 'other bots' : b.name, plural(b.visits, 'visit', 'visits'))),
  );
  $('bots').hidden = names.length === 0;
}

/** Shows the referrers and bots of a stats answer (`GET …/stats`). */
export function drawSources(stats) {
  drawReferrers(stats.referrers || { hosts: [], other: 0 }, stats.clicks || 0);
  drawBots(stats.bots || { visits: 0, names: [] });
  $('sources').hidden = false;
}

/** Hides the referrers and bots until the next stats answer. */
export function clearSources() {
  $('sources').hidden = true;
  for (const id of ['referrers', 'bots']) {
    $(id).replaceChildren();
  }
  for (const id of ['referrers-summary', 'referrers-other', 'bots-summary']) {
    $(id).textContent = '';
  }
}
