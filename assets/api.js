// kurz web page: talking to the JSON API under /api/, with the session
// cookie that signing in sets. Failures become an ApiError whose message is
// a sentence a person can act on.

/** A failed request: `status` is the HTTP status (0 if kurz was not reached). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// Called when the API says the session is gone.
let onUnauthorized = () => {};

/** Sets what happens when a request answers 401 (the session ended). */
export function setOnUnauthorized(handler) {
  onUnauthorized = handler;
}

/** Sends a request to the API; resolves to the JSON answer (null for 204). */
export async function api(method, path, body) {
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

/** The API path of the link `slug`. */
export const linkPath = (slug) => '/api/links/' + encodeURIComponent(slug);

/** The API path of the link's QR code (`size` in pixels, optional). */
export const qrPath = (slug, format, size) =>
  linkPath(slug) + '/qr?format=' + format + (size ? '&size=' + size : '');
