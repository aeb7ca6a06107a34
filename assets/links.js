// kurz web page: the main view. The shorten form and its result, and the
// list of links with search, a tag filter (click a tag) and paging ("More").

import { api, qrPath } from './api.js';
import { $, busy, copy, el, localToRfc3339, maxClicks, parseTags, plural, setSafeHref, withScheme } from './dom.js';

const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 300;

// ----- shortening -----------------------------------------------------------

/** Hides the last link made, so it is never taken for the next one's. */
function clearResult() {
  $('shorten-result').hidden = true;
  $('shorten-short').textContent = '';
  $('shorten-short').removeAttribute('href');
  $('shorten-copied').textContent = '';
  $('shorten-note').textContent = '';
  $('shorten-note').hidden = true;
  $('shorten-qr').removeAttribute('src');
}

async function shorten(event) {
  event.preventDefault();
  clearResult();
  await busy($('shorten-submit'), async () => {
    const typed = withScheme($('shorten-url'));
    // What is sent stays in the field, so a refusal reads against it.
    $('shorten-url').value = typed.url;
    const body = { url: typed.url };
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
    const tags = parseTags($('shorten-tags'));
    if (tags.length > 0) {
      body.tags = tags;
    }
    const password = $('shorten-password').value;
    if (password !== '') {
      body.password = password;
    }
    const link = await api('POST', '/api/links', body);
    const a = $('shorten-short');
    setSafeHref(a, link.short_url);
    if (typed.added) {
      $('shorten-note').textContent = 'No scheme was typed, so kurz took ' + typed.url + '.';
      $('shorten-note').hidden = false;
    }
    $('shorten-qr').src = qrPath(link.slug, 'svg');
    $('shorten-qr').alt = 'QR code of ' + link.short_url;
    $('shorten-result').hidden = false;
    $('shorten-form').reset();
    $('shorten-copy').focus();
    await loadLinks(true);
  }, $('shorten-error'));
}

/** Forgets the last link made (on signing out). */
export function resetShorten() {
  clearResult();
}

// ----- the list -------------------------------------------------------------

const list = { cursor: null, query: '', tag: '', seq: 0 };

/** Empties the list and drops any answer still on its way. */
export function resetList() {
  list.cursor = null;
  list.seq += 1;
  $('links').replaceChildren();
  $('links-more').hidden = true;
  $('links-empty').hidden = true;
}

// How the list names a link's `state` when clicks no longer go through.
const DEAD = { expired: 'expired', used_up: 'used up' };

function linkItem(link) {
  const li = el('li');
  const a = el('a', 'link-open');
  a.href = '#link/' + encodeURIComponent(link.slug);
  a.append(el('span', 'link-slug', '/' + link.slug), el('span', 'link-url', link.url_display));
  a.title = link.url;
  li.append(a);
  const dead = DEAD[link.state];
  if (dead) {
    // Said in words, not only by a colour: a click on it gets 410.
    li.classList.add('dead');
    const mark = el('span', 'link-state', dead);
    mark.title = 'A click on it gets 410 Gone';
    li.append(mark);
  }
  if (link.protected) {
    li.append(el('span', 'link-protected', 'password'));
  }
  if (link.tags.length > 0) {
    const tags = el('span', 'link-tags');
    for (const tag of link.tags) {
      const b = el('button', 'tag', tag);
      b.type = 'button';
      b.title = 'Show only links tagged ' + tag;
      b.addEventListener('click', () => filterByTag(tag));
      tags.append(b);
    }
    li.append(tags);
  }
  li.append(el('span', 'link-clicks', plural(link.clicks, 'click', 'clicks')));
  return li;
}

/** Lists only the links tagged `tag` ('' for all of them again). */
export function filterByTag(tag) {
  list.tag = tag;
  $('tag-filter-name').textContent = tag;
  $('tag-filter').hidden = tag === '';
  busy(null, () => loadLinks(true), $('list-error'));
}

/** Loads the first page (`fresh`) or the next one. */
export async function loadLinks(fresh) {
  if (fresh) {
    resetList();
    list.query = $('search').value.trim();
  }
  const seq = list.seq;
  let path = '/api/links?limit=' + PAGE_SIZE;
  if (list.query !== '') {
    path += '&q=' + encodeURIComponent(list.query);
  }
  if (list.tag !== '') {
    path += '&tag=' + encodeURIComponent(list.tag);
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
  $('links-empty').textContent = list.query === '' && list.tag === '' ? 'No links yet.' : 'No link matches.';
}

let searchTimer = 0;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    busy(null, () => loadLinks(true), $('list-error'));
  }, SEARCH_DELAY_MS);
}

/** Connects the shorten form, the search box and "More". */
export function initLinks() {
  $('shorten-form').addEventListener('submit', shorten);
  $('shorten-copy').addEventListener('click', () => copy($('shorten-short').textContent, $('shorten-copied')));
  $('search').addEventListener('input', onSearch);
  $('tag-filter-clear').addEventListener('click', () => {
    filterByTag('');
    $('search').focus();
  });
  $('links-more').addEventListener('click', () => busy($('links-more'), () => loadLinks(false), $('list-error')));
}
