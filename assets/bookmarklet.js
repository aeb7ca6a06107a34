// kurz web page: the bookmarklet, and the address it brings.
//
// The bookmarklet only navigates: it opens this page with the current tab's
// address in the fragment (`#shorten=<address>`), so it needs no script of
// ours to run on the other site. The page then fills the Shorten form with
// it and waits: it never creates a link on its own, so a link to
// `#shorten=…` from elsewhere cannot make links in a signed-in session.

import { $ } from './dom.js';

const FRAGMENT = '#shorten=';

// The one script URL the page builds: what the bookmark runs. This page's
// address is fixed into it as a JSON string literal.
function bookmarkletCode() {
  const page = location.origin + location.pathname + FRAGMENT;
  return 'javascript:void(location.href=' + JSON.stringify(page) +
    '+encodeURIComponent(location.href))';
}

export function initBookmarklet() {
  const link = $('bookmarklet');
  link.setAttribute('href', bookmarkletCode());
  link.addEventListener('click', (event) => {
    // Clicked here rather than dragged: the page's CSP would block it anyway.
    event.preventDefault();
    $('bookmarklet-hint').classList.add('emphasis');
  });
}

// The address a bookmarklet brought, if the fragment holds one; the
// fragment is cleared so a reload does not bring it again.
export function takeSharedUrl() {
  if (!location.hash.startsWith(FRAGMENT)) {
    return null;
  }
  let url = null;
  try {
    url = decodeURIComponent(location.hash.slice(FRAGMENT.length));
  } catch (e) {
    url = null;
  }
  history.replaceState(null, '', location.pathname + location.search);
  return url;
}

// Puts a brought address into the Shorten form and moves focus there.
export function offerSharedUrl(url) {
  if (url === null || url === '') {
    return;
  }
  const input = $('shorten-url');
  input.value = url;
  $('shorten-submit').focus();
}
