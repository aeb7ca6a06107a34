// kurz web page: small helpers for the page itself. Building elements,
// showing errors, busy buttons, reading and showing times and numbers,
// links and copying.
//
// Rule: every string that comes from a user or from the API is put into the
// page with textContent or an attribute setter, never parsed as HTML.

import { ApiError } from './api.js';

/** The element with the id `id`. */
export const $ = (id) => document.getElementById(id);

/** A new `tag` element with an optional class and text (set as text). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * Shows `err` (an Error's message, or the value) in the alert box `box`: the
 * one next to what failed, or the page's own (`#error`, at the top) for
 * what has no place of its own, such as a view that failed to load.
 */
export function showError(err, box = $('error')) {
  const page = $('error');
  box.hidden = false;
  // Its section may be hidden (a 401 sent the page back to signing in, say):
  // an error must never land where it cannot be seen.
  const target = box !== page && box.getClientRects().length === 0 ? page : box;
  if (target !== box) {
    clearError(box);
  }
  target.textContent = err instanceof Error ? err.message : String(err);
  target.hidden = false;
  // On a phone the box can be a screen away from the button pressed.
  target.scrollIntoView({ block: 'nearest' });
}

/** Empties and hides the alert box `box`, or every alert box without one. */
export function clearError(box) {
  const boxes = box ? [box] : document.querySelectorAll('.alert');
  for (const b of boxes) {
    b.textContent = '';
    b.hidden = true;
  }
}

/**
 * Runs `work` with `button` disabled; an error goes to the alert box `box`
 * (the page's own by default). Starting clears that box and the page's.
 */
export async function busy(button, work, box = $('error')) {
  clearError(box);
  clearError($('error'));
  if (button) {
    button.disabled = true;
  }
  try {
    return await work();
  } catch (e) {
    showError(e, box);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
    }
  }
}

/** A `datetime-local` value (local time) as RFC 3339 UTC, or null if empty. */
export function localToRfc3339(value) {
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
export function rfc3339ToLocal(iso) {
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

/** An RFC 3339 time for people, in local time ('never' if none). */
export function showTime(iso) {
  if (!iso) {
    return 'never';
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A max-clicks field as a number, or null if empty. */
export function maxClicks(input) {
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

// What a URL typed without a scheme gets: the web is https now, and the
// target rules refuse what is neither http nor https anyway.
const ASSUMED_SCHEME = 'https://';

// A scheme: letters first, then a colon that does not start a port
// (`example.com:8080` names a host and a port, not a scheme).
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:(?![0-9])/i;

/**
 * The URL field's text, trimmed, with the https scheme in front when it
 * names none (`example.com/x`), and whether that was added.
 */
export function withScheme(input) {
  const text = input.value.trim();
  if (text === '' || HAS_SCHEME.test(text)) {
    return { url: text, added: false };
  }
  return { url: ASSUMED_SCHEME + text.replace(/^\/\//, ''), added: true };
}

/** A tags field as a list: split at commas and spaces, empty parts dropped. */
export function parseTags(input) {
  return input.value.split(/[\s,]+/).filter((t) => t !== '');
}

/** `n` and the noun: '1 click', '2 clicks'. */
export const plural = (n, one, many) => n.toLocaleString() + ' ' + (n === 1 ? one : many);

/**
 * Sets `a` to point at `url` only if it is http(s); otherwise no link.
 * It shows `text` (the URL itself when not given).
 */
export function setSafeHref(a, url, text = url) {
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
  a.textContent = text;
}

/** Copies `text` to the clipboard and says how that went in `status`. */
export async function copy(text, status) {
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
