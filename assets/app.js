// kurz web page: everything goes through the JSON API under /api/, with the
// session cookie that signing in sets. No framework, no build step.
//
// Rule: every string that comes from a user or from the API is put into the
// page with textContent or an attribute setter, never parsed as HTML.
'use strict';

(function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PAGE_SIZE = 50;
  const SEARCH_DELAY_MS = 300;

  const $ = (id) => document.getElementById(id);

  // ----- talking to the API -------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // Called when the API says the session is gone.
  let onUnauthorized = () => {};

  /** Sends a request to the API; resolves to the JSON answer (null for 204). */
  async function api(method, path, body) {
    const init = {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'kurz could not be reached. Check the connection and try again.');
    }
    if (!resp.ok) {
      let detail = 'The server answered ' + resp.status + (resp.statusText ? ' ' + resp.statusText : '') + '.';
      try {
        const problem = await resp.json();
        if (problem && typeof problem.detail === 'string' && problem.detail !== '') {
          detail = problem.detail;
        }
      } catch (e) {
        // Not problem+json: keep the status line.
      }
      if (resp.status === 401 && path !== '/api/session') {
        // The session ended (expiry, sign-out elsewhere, a restart of kurz).
        onUnauthorized();
        throw new ApiError(401, 'You are signed out. Sign in again with the API key.');
      }
      throw new ApiError(resp.status, detail);
    }
    if (resp.status === 204) {
      return null;
    }
    return resp.json();
  }

  const linkPath = (slug) => '/api/links/' + encodeURIComponent(slug);
  const qrPath = (slug, format, size) =>
    linkPath(slug) + '/qr?format=' + format + (size ? '&size=' + size : '');

  // ----- small helpers ------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function showError(err) {
    const box = $('error');
    box.textContent = err instanceof Error ? err.message : String(err);
    box.hidden = false;
  }

  function clearError() {
    const box = $('error');
    box.textContent = '';
    box.hidden = true;
  }

  /** Runs `work` with `button` disabled; errors go to the alert box. */
  async function busy(button, work) {
    clearError();
    if (button) {
      button.disabled = true;
    }
    try {
      return await work();
    } catch (e) {
      showError(e);
      return undefined;
    } finally {
      if (button) {
        button.disabled = false;
      }
    }
  }

  /** A `datetime-local` value (local time) as RFC 3339 UTC, or null if empty. */
  function localToRfc3339(value) {
    if (!value) {
      return null;
    }
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) {
      throw new ApiError(0, 'The expiry time is not a valid date and time.');
    }
    return d.toISOString();
  }

  /** An RFC 3339 time as a `datetime-local` value in local time ('' if none). */
  function rfc3339ToLocal(iso) {
    if (!iso) {
      return '';
    }
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) {
      return '';
    }
    const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 16);
  }

  function showTime(iso) {
    if (!iso) {
      return 'never';
    }
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  /** A max-clicks field as a number, or null if empty. */
  function maxClicks(input) {
    const v = input.value.trim();
    if (v === '') {
      return null;
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new ApiError(0, 'Max clicks must be a whole number of at least 1.');
    }
    return n;
  }

  const plural = (n, one, many) => n.toLocaleString() + ' ' + (n === 1 ? one : many);

  /** Sets `a` to point at `url` only if it is http(s); otherwise no link. */
  function setSafeHref(a, url) {
    let ok = false;
    try {
      const u = new URL(url);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch (e) {
      ok = false;
    }
    if (ok) {
      a.href = url;
    } else {
      a.removeAttribute('href');
    }
    a.textContent = url;
  }

  async function copy(text, status) {
    status.textContent = '';
    try {
      if (!navigator.clipboard) {
        throw new Error('no clipboard');
      }
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied.';
    } catch (e) {
      status.textContent = 'Copying is not allowed here; select the link and copy it.';
    }
  }

  // ----- signing in and out -------------------------------------------------

  function showSignIn() {
    $('loading').hidden = true;
    $('app').hidden = true;
    $('signout').hidden = true;
    $('signin').hidden = false;
    $('signin-key').focus();
  }

  function showApp() {
    $('loading').hidden = true;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
  }

  onUnauthorized = () => {
    resetList();
    showSignIn();
  };

  async function signIn(event) {
    event.preventDefault();
    const input = $('signin-key');
    const key = input.value;
    await busy($('signin-submit'), async () => {
      try {
        await api('POST', '/api/session', { key });
      } finally {
        // The page never keeps the key: the cookie stands in for it.
        input.value = '';
      }
      showApp();
      await route();
    });
  }

  async function signOut() {
    await busy($('signout'), async () => {
      await api('DELETE', '/api/session');
      resetList();
      $('shorten-result').hidden = true;
      location.hash = '';
      showSignIn();
    });
  }

  // ----- shortening ---------------------------------------------------------

  async function shorten(event) {
    event.preventDefault();
    await busy($('shorten-submit'), async () => {
      const body = { url: $('shorten-url').value.trim() };
      const slug = $('shorten-slug').value.trim();
      if (slug !== '') {
        body.slug = slug;
      }
      const expires = localToRfc3339($('shorten-expires').value);
      if (expires !== null) {
        body.expires_at = expires;
      }
      const max = maxClicks($('shorten-max'));
      if (max !== null) {
        body.max_clicks = max;
      }
      const link = await api('POST', '/api/links', body);
      const a = $('shorten-short');
      setSafeHref(a, link.short_url);
      $('shorten-copied').textContent = '';
      $('shorten-qr').src = qrPath(link.slug, 'svg');
      $('shorten-qr').alt = 'QR code of ' + link.short_url;
      $('shorten-result').hidden = false;
      $('shorten-form').reset();
      $('shorten-copy').focus();
      await loadLinks(true);
    });
  }

  // ----- the list -----------------------------------------------------------

  const list = { cursor: null, query: '', seq: 0 };

  function resetList() {
    list.cursor = null;
    list.seq += 1;
    $('links').replaceChildren();
    $('links-more').hidden = true;
    $('links-empty').hidden = true;
  }

  function linkItem(link) {
    const li = el('li');
    const a = el('a', 'link-open');
    a.href = '#link/' + encodeURIComponent(link.slug);
    a.append(el('span', 'link-slug', '/' + link.slug), el('span', 'link-url', link.url));
    a.title = link.url;
    li.append(a, el('span', 'link-clicks', plural(link.clicks, 'click', 'clicks')));
    return li;
  }

  /** Loads the first page (`fresh`) or the next one. */
  async function loadLinks(fresh) {
    if (fresh) {
      resetList();
      list.query = $('search').value.trim();
    }
    const seq = list.seq;
    let path = '/api/links?limit=' + PAGE_SIZE;
    if (list.query !== '') {
      path += '&q=' + encodeURIComponent(list.query);
    }
    if (!fresh && list.cursor) {
      path += '&cursor=' + encodeURIComponent(list.cursor);
    }
    const page = await api('GET', path);
    if (seq !== list.seq) {
      return; // A newer search started meanwhile.
    }
    const ul = $('links');
    for (const link of page.links) {
      ul.append(linkItem(link));
    }
    list.cursor = page.next_cursor;
    $('links-more').hidden = !page.next_cursor;
    const empty = ul.childElementCount === 0;
    $('links-empty').hidden = !empty || Boolean(page.next_cursor);
    $('links-empty').textContent = list.query === '' ? 'No links yet.' : 'No link matches.';
  }

  let searchTimer = 0;
  function onSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      busy(null, () => loadLinks(true));
    }, SEARCH_DELAY_MS);
  }

  // ----- one link -----------------------------------------------------------

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
    $('edit-url').value = link.url;
    $('edit-expires').value = rfc3339ToLocal(link.expires_at);
    $('edit-max').value = link.max_clicks === null ? '' : String(link.max_clicks);
    $('edit-saved').textContent = '';
    $('detail-qr').src = qrPath(link.slug, 'svg');
    $('detail-qr').alt = 'QR code of ' + link.short_url;
    $('qr-svg').href = qrPath(link.slug, 'svg', 512);
    $('qr-svg').download = link.slug + '.svg';
    $('qr-png').href = qrPath(link.slug, 'png', 512);
    $('qr-png').download = link.slug + '.png';
    $('delete-confirm').hidden = true;
  }

  async function showDetail(slug) {
    $('shorten').hidden = true;
    $('list').hidden = true;
    $('detail').hidden = false;
    $('detail-title').textContent = '/' + slug;
    $('chart').replaceChildren();
    $('chart-summary').textContent = '';
    await busy(null, async () => {
      const link = await api('GET', linkPath(slug));
      fillDetail(link);
      $('detail-title').focus();
      await loadChart();
    });
  }

  function showList() {
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
      };
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

  // ----- the chart ----------------------------------------------------------

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, String(value));
    }
    return node;
  }

  /** Draws daily clicks as bars, each with a <title> tooltip. */
  function drawChart(daily) {
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
  }

  // ----- views by the URL's fragment ---------------------------------------

  async function route() {
    clearError();
    const hash = location.hash;
    if (hash.startsWith('#link/')) {
      let slug;
      try {
        slug = decodeURIComponent(hash.slice('#link/'.length));
      } catch (e) {
        slug = '';
      }
      if (slug !== '') {
        await showDetail(slug);
        return;
      }
    }
    const wasDetail = !$('detail').hidden;
    showList();
    await busy(null, () => loadLinks(true));
    if (wasDetail) {
      $('list-title').focus();
    }
  }

  // ----- start --------------------------------------------------------------

  async function start() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('shorten-form').addEventListener('submit', shorten);
    $('shorten-copy').addEventListener('click', () => copy($('shorten-short').textContent, $('shorten-copied')));
    $('detail-copy').addEventListener('click', () => copy($('detail-short').textContent, $('detail-copied')));
    $('search').addEventListener('input', onSearch);
    $('links-more').addEventListener('click', () => busy($('links-more'), () => loadLinks(false)));
    $('edit-form').addEventListener('submit', saveEdit);
    $('delete').addEventListener('click', askDelete);
    $('delete-no').addEventListener('click', keepLink);
    $('delete-yes').addEventListener('click', deleteLink);
    $('chart-days').addEventListener('change', () => busy(null, loadChart));
    window.addEventListener('hashchange', () => {
      if (!$('app').hidden) {
        route();
      }
    });

    // Signed in already? A list request answers 401 when not.
    try {
      await api('GET', '/api/links?limit=1');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        return; // onUnauthorized showed the form
      }
      $('loading').hidden = true;
      showError(e);
      return;
    }
    showApp();
    await route();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
