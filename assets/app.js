// kurz web page: the entry point. Signing in and out, and which view the
// URL's fragment asks for (`#link/{slug}` or the list). Everything goes
// through the JSON API under /api/, with the session cookie that signing in
// sets. No framework, no build step: the other files are ES modules that
// this one imports, all served from /assets/.
//
// Rule: every string that comes from a user or from the API is put into the
// page with textContent or an attribute setter, never parsed as HTML.

import { api, ApiError, setOnUnauthorized } from './api.js';
import { initBookmarklet, offerSharedUrl, takeSharedUrl } from './bookmarklet.js';
import { initDetail, resetDetail, showDetail, showList } from './detail.js';
import { $, busy, clearError, showError } from './dom.js';
import { initKeys, loadKeys, resetKeys } from './keys.js';
import { initLinks, loadLinks, resetList, resetShorten } from './links.js';

// An address the bookmarklet brought, kept until the form is shown.
let shared = null;

// ----- signing in and out ---------------------------------------------------

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
  offerSharedUrl(shared);
  shared = null;
}

setOnUnauthorized(() => {
  resetList();
  resetKeys();
  showSignIn();
});

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
  }, $('signin-error'));
}

async function signOut() {
  await busy($('signout'), async () => {
    await api('DELETE', '/api/session');
    resetList();
    resetKeys();
    resetDetail();
    resetShorten();
    location.hash = '';
    showSignIn();
  });
}

// ----- views by the URL's fragment ------------------------------------------

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
      $('keys').hidden = true;
      await showDetail(slug);
      return;
    }
  }
  const wasDetail = !$('detail').hidden;
  showList();
  await busy(null, () => loadLinks(true));
  await busy(null, loadKeys);
  if (wasDetail) {
    $('list-title').focus();
  }
}

// ----- start ----------------------------------------------------------------

async function start() {
  shared = takeSharedUrl();
  initBookmarklet();
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  initLinks();
  initDetail();
  initKeys();
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

// A module script runs once the document is parsed (modules are deferred),
// so the elements are all there.
start();
