// kurz web page: the API keys, for a browser signed in with an admin key.
// Lists them (name, scope, created, last used; never a key), makes one
// (shown once, to copy), revokes one. A browser signed in with a read or
// write key gets 403 from /api/keys, and the section stays hidden.
//
// Rule: every string that comes from a user or from the API is put into the
// page with textContent or an attribute setter, never parsed as HTML.

import { api, ApiError } from './api.js';
import { $, busy, copy, el, showTime } from './dom.js';

const keyPath = (name) => '/api/keys/' + encodeURIComponent(name);

function row(key) {
  const li = el('li', 'key');
  li.append(el('strong', null, key.name), ' ');
  li.append(el('span', 'tag', key.scope), ' ');
  const when = key.builtin
    ? 'built-in'
    : 'made ' + showTime(key.created_at);
  const used = key.last_used_at ? 'last used ' + showTime(key.last_used_at) : 'never used';
  li.append(el('span', 'hint', when + ' · ' + used));
  if (!key.builtin) {
    const revoke = el('button', 'danger quiet', 'Revoke');
    revoke.type = 'button';
    revoke.setAttribute('aria-label', 'Revoke the key ' + key.name);
    revoke.addEventListener('click', () =>
      busy(revoke, async () => {
        await api('DELETE', keyPath(key.name));
        await loadKeys();
      }, $('keys-error')),
    );
    li.append(' ', revoke);
  }
  return li;
}

/** Shows the keys, or hides the section when this session may not see them. */
export async function loadKeys() {
  let answer;
  try {
    answer = await api('GET', '/api/keys');
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      $('keys').hidden = true;
      return;
    }
    throw e;
  }
  const list = $('keys-list');
  list.replaceChildren(...answer.keys.map(row));
  $('keys').hidden = false;
}

async function addKey(event) {
  event.preventDefault();
  const name = $('key-name').value.trim();
  const scope = $('key-scope').value;
  // The key shown before is not this attempt's: hide it first.
  $('key-new').textContent = '';
  $('key-made').hidden = true;
  await busy($('key-add'), async () => {
    const made = await api('POST', '/api/keys', { name, scope });
    $('key-name').value = '';
    $('key-new').textContent = made.key;
    $('key-made').hidden = false;
    $('key-copy').focus();
    await loadKeys();
  }, $('key-error'));
}

/** Wires the key form and buttons. */
export function initKeys() {
  $('key-form').addEventListener('submit', addKey);
  $('key-copy').addEventListener('click', () => copy($('key-new').textContent, $('key-copied')));
}

/** Forgets a shown key (on sign-out). */
export function resetKeys() {
  $('key-new').textContent = '';
  $('key-made').hidden = true;
  $('keys-list').replaceChildren();
  $('keys').hidden = true;
}
