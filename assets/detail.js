// kurz web page: one link's view. Its facts, chart, referrers and bots, QR
// code, editing it and deleting it (after a confirmation).

import { api, linkPath, qrPath } from './api.js';
import { clearChart, drawChart } from './chart.js';
import { $, busy, copy, localToRfc3339, maxClicks, parseTags, rfc3339ToLocal, setSafeHref, showTime } from './dom.js';
import { clearSources, drawSources } from './sources.js';

let current = null; // the link shown in the detail view

function fillDetail(link) {
  current = link;
  $('detail-title').textContent = '/' + link.slug;
  setSafeHref($('detail-short'), link.short_url);
  $('detail-copied').textContent = '';
  setSafeHref($('detail-target'), link.url);
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
}

/** Shows the link `slug` in place of the shorten form and the list. */
export async function showDetail(slug) {
  $('shorten').hidden = true;
  $('list').hidden = true;
  $('detail').hidden = false;
  $('detail-title').textContent = '/' + slug;
  clearChart();
  clearSources();
  await busy(null, async () => {
    const link = await api('GET', linkPath(slug));
    fillDetail(link);
    $('detail-title').focus();
    await loadChart();
  });
}

/** Leaves the link's view: the shorten form and the list show again. */
export function showList() {
  current = null;
  $('detail').hidden = true;
  $('shorten').hidden = false;
  $('list').hidden = false;
}

async function saveEdit(event) {
  event.preventDefault();
  if (!current) {
    return;
  }
  const slug = current.slug;
  await busy($('edit-save'), async () => {
    const body = {
      url: $('edit-url').value.trim(),
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
    const link = await api('PATCH', linkPath(slug), body);
    fillDetail(link);
    $('edit-saved').textContent = 'Saved.';
  });
}

function askDelete() {
  $('delete-confirm').hidden = false;
  $('delete-no').focus();
}

function keepLink() {
  $('delete-confirm').hidden = true;
  $('delete').focus();
}

async function deleteLink() {
  if (!current) {
    return;
  }
  const slug = current.slug;
  await busy($('delete-yes'), async () => {
    await api('DELETE', linkPath(slug));
    current = null;
    location.hash = '';
  });
}

/**
 * Loads the shown link's stats: clicks for the chosen period (the chart),
 * referrers and bots since the link was made (whatever the period).
 */
async function loadChart() {
  if (!current) {
    return;
  }
  const slug = current.slug;
  const days = Number($('chart-days').value) || 30;
  const stats = await api('GET', linkPath(slug) + '/stats?days=' + days);
  if (!current || current.slug !== slug) {
    return;
  }
  $('detail-clicks').textContent = stats.clicks.toLocaleString();
  drawChart(stats.daily);
  drawSources(stats);
}

/** Connects the link view's copy button, edit form, delete and period. */
export function initDetail() {
  $('detail-copy').addEventListener('click', () => copy($('detail-short').textContent, $('detail-copied')));
  $('edit-form').addEventListener('submit', saveEdit);
  $('delete').addEventListener('click', askDelete);
  $('delete-no').addEventListener('click', keepLink);
  $('delete-yes').addEventListener('click', deleteLink);
  $('chart-days').addEventListener('change', () => busy(null, loadChart));
}
