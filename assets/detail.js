// kurz web page: one link's view. Its facts, chart, referrers and bots, QR
// code, editing it and deleting it (after a confirmation).
//
// Rule: the view shows one link or none. Opening a view empties it first, and
// it fills only with the answer for that view: a failed load leaves it empty,
// and an answer that comes after the view changed (another link, the list,
// signing out) is dropped. Copy, the period, Save and Delete act only on the
// link the view has loaded, so never on a link an earlier view showed.

import { api, linkPath, qrPath } from './api.js';
import { clearChart, drawChart } from './chart.js';
import {
  $, busy, clearError, copy, localToRfc3339, maxClicks, parseTags, rfc3339ToLocal, setSafeHref, showTime, withScheme,
} from './dom.js';
import { clearSources, drawSources } from './sources.js';

// `seq` counts the views opened; `link` is the link shown (null until it has
// loaded, and when it failed to); `chart` counts the stats requests.
const view = { seq: 0, link: null, chart: 0 };

/** A check that holds while the view opened last is still the one shown. */
function thisView() {
  const seq = view.seq;
  return () => seq === view.seq;
}

/**
 * Awaits `request` for a view: `{ answer }`, or null if `still()` no longer
 * holds when it settles. A failure is thrown only while it still holds.
 */
async function unlessStale(still, request) {
  let answer;
  try {
    answer = await request;
  } catch (e) {
    if (still()) {
      throw e;
    }
    return null;
  }
  return still() ? { answer } : null;
}

// The view's texts and its edit form's fields, emptied with it.
const TEXTS = [
  'detail-short', 'detail-copied', 'detail-target', 'detail-clicks', 'detail-created', 'detail-expires',
  'detail-max', 'detail-by', 'detail-tags', 'detail-protected', 'detail-state', 'edit-saved',
];

// What the view says of a link's `state`; the ones whose clicks get 410 are
// marked `dead`.
const STATES = {
  active: { text: 'active', dead: false },
  expired: { text: 'expired: a click gets 410 Gone', dead: true },
  used_up: { text: 'used up: a click gets 410 Gone', dead: true },
};
const FIELDS = ['edit-url', 'edit-expires', 'edit-max', 'edit-tags', 'edit-password'];

/** Empties the view and forgets its link; answers still on their way are dropped. */
function clearDetail() {
  view.seq += 1;
  view.link = null;
  $('detail-body').hidden = true;
  $('delete-confirm').hidden = true;
  $('detail-title').textContent = '';
  for (const id of ['detail-short', 'detail-target', 'qr-svg', 'qr-png']) {
    $(id).removeAttribute('href');
  }
  $('qr-svg').removeAttribute('download');
  $('qr-png').removeAttribute('download');
  for (const id of TEXTS) {
    $(id).textContent = '';
  }
  for (const id of FIELDS) {
    $(id).value = '';
  }
  $('edit-password-remove').checked = false;
  $('edit-password-remove').disabled = true;
  $('detail-state').classList.remove('dead');
  for (const id of ['chart-error', 'edit-error', 'delete-error']) {
    clearError($(id));
  }
  $('detail-qr').removeAttribute('src');
  $('detail-qr').alt = '';
  clearChart();
  clearSources();
}

function fillDetail(link) {
  view.link = link;
  $('detail-title').textContent = '/' + link.slug;
  setSafeHref($('detail-short'), link.short_url);
  $('detail-copied').textContent = '';
  setSafeHref($('detail-target'), link.url, link.url_display);
  $('detail-clicks').textContent = link.clicks.toLocaleString();
  $('detail-created').textContent = showTime(link.created_at);
  $('detail-expires').textContent = showTime(link.expires_at);
  $('detail-max').textContent = link.max_clicks === null ? 'no limit' : link.max_clicks.toLocaleString();
  $('detail-by').textContent = link.created_by === null ? 'unknown (made before named keys)' : link.created_by;
  $('edit-url').value = link.url;
  $('edit-expires').value = rfc3339ToLocal(link.expires_at);
  $('edit-max').value = link.max_clicks === null ? '' : String(link.max_clicks);
  $('detail-tags').textContent = link.tags.length === 0 ? 'none' : link.tags.join(', ');
  $('edit-tags').value = link.tags.join(' ');
  $('detail-protected').textContent = link.protected ? 'yes: visitors must type it' : 'none';
  const state = STATES[link.state] || { text: String(link.state), dead: false };
  $('detail-state').textContent = state.text;
  $('detail-state').classList.toggle('dead', state.dead);
  $('edit-password').value = '';
  $('edit-password-remove').checked = false;
  $('edit-password-remove').disabled = !link.protected;
  $('edit-saved').textContent = '';
  $('detail-qr').src = qrPath(link.slug, 'svg');
  $('detail-qr').alt = 'QR code of ' + link.short_url;
  $('qr-svg').href = qrPath(link.slug, 'svg', 512);
  $('qr-svg').download = link.slug + '.svg';
  $('qr-png').href = qrPath(link.slug, 'png', 512);
  $('qr-png').download = link.slug + '.png';
  $('delete-confirm').hidden = true;
  $('detail-body').hidden = false;
}

/**
 * Shows the link `slug` in place of the shorten form and the list: its slug
 * at once, the rest once it has loaded (nothing else if that fails).
 */
export async function showDetail(slug) {
  clearDetail();
  const still = thisView();
  $('shorten').hidden = true;
  $('list').hidden = true;
  $('detail').hidden = false;
  $('detail-title').textContent = '/' + slug;
  await busy(null, async () => {
    const got = await unlessStale(still, api('GET', linkPath(slug)));
    if (!got) {
      return;
    }
    fillDetail(got.answer);
    $('detail-title').focus();
    await loadChart();
  });
}

/** Leaves the link's view: the shorten form and the list show again. */
export function showList() {
  clearDetail();
  $('detail').hidden = true;
  $('shorten').hidden = false;
  $('list').hidden = false;
}

async function saveEdit(event) {
  event.preventDefault();
  const link = view.link;
  if (!link) {
    return;
  }
  const still = thisView();
  // A "Saved." from before must not stand next to a refusal.
  $('edit-saved').textContent = '';
  await busy($('edit-save'), async () => {
    const typed = withScheme($('edit-url'));
    $('edit-url').value = typed.url;
    const body = {
      url: typed.url,
      expires_at: localToRfc3339($('edit-expires').value),
      max_clicks: maxClicks($('edit-max')),
      tags: parseTags($('edit-tags')),
    };
    // Absent keeps the password; the API never shows it, so the field starts empty.
    const password = $('edit-password').value;
    if ($('edit-password-remove').checked) {
      body.password = null;
    } else if (password !== '') {
      body.password = password;
    }
    const got = await unlessStale(still, api('PATCH', linkPath(link.slug), body));
    if (!got) {
      return;
    }
    fillDetail(got.answer);
    $('edit-saved').textContent = typed.added ? 'Saved, as ' + typed.url + ' (no scheme was typed).' : 'Saved.';
  }, $('edit-error'));
}

function askDelete() {
  if (!view.link) {
    return;
  }
  $('delete-confirm').hidden = false;
  $('delete-no').focus();
}

function keepLink() {
  $('delete-confirm').hidden = true;
  $('delete').focus();
}

async function deleteLink() {
  const link = view.link;
  if (!link) {
    return;
  }
  const still = thisView();
  await busy($('delete-yes'), async () => {
    const got = await unlessStale(still, api('DELETE', linkPath(link.slug)));
    if (!got) {
      return;
    }
    clearDetail();
    location.hash = '';
  }, $('delete-error'));
}

/**
 * Loads the shown link's stats: clicks for the chosen period (the chart),
 * referrers and bots since the link was made (whatever the period). Only the
 * answer to the latest request for this view is drawn.
 */
async function loadChart() {
  const link = view.link;
  if (!link) {
    return;
  }
  const sameView = thisView();
  view.chart += 1;
  const n = view.chart;
  const days = Number($('chart-days').value) || 30;
  const still = () => sameView() && n === view.chart;
  const got = await unlessStale(still, api('GET', linkPath(link.slug) + '/stats?days=' + days));
  if (!got) {
    return;
  }
  const stats = got.answer;
  $('detail-clicks').textContent = stats.clicks.toLocaleString();
  drawChart(stats.daily);
  drawSources(stats);
}

/** Empties the link's view (on signing out): nothing of it stays on the page. */
export function resetDetail() {
  clearDetail();
}

/** Connects the link view's copy button, edit form, delete and period. */
export function initDetail() {
  $('detail-copy').addEventListener('click', () => {
    if (view.link) {
      copy(view.link.short_url, $('detail-copied'));
    }
  });
  $('edit-form').addEventListener('submit', saveEdit);
  $('delete').addEventListener('click', askDelete);
  $('delete-no').addEventListener('click', keepLink);
  $('delete-yes').addEventListener('click', deleteLink);
  $('chart-days').addEventListener('change', () => busy(null, loadChart, $('chart-error')));
}
