// The API client: JSON in the envelope, RFC 7807 problems as errors, and a
// session that lives only in HttpOnly cookies. When the access cookie has
// expired, one refresh (the refresh cookie goes to /api/v1/auth only) is
// tried before the request is repeated; no token is ever read or kept here.

export const API = '/api/v1';

/** A failed request: the problem's title, detail, status and field errors. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `request failed (${status})`);
    this.status = status;
    this.problem = problem || {};
  }
}

/** Routes whose 401 is an answer about signing in, not an expired session. */
const SIGN_IN = ['/auth/refresh', '/auth/login', '/auth/link', '/auth/logout'];

let refreshing = null;
const signedOutListeners = [];

/** Called when the session is gone for good (refresh refused). */
export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

/** Exchanges the refresh cookie for new session cookies; whether it worked. */
export async function refresh() {
  refreshing ??= fetch(`${API}/auth/refresh`, { method: 'POST', credentials: 'same-origin' })
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function parse(response) {
  if (response.status === 204) return { data: null };
  const type = response.headers.get('content-type') || '';
  if (!type.includes('json')) return { data: await response.text() };
  return response.json();
}

/** A request to the API; resolves with the envelope ({data, pagination}). */
export async function request(method, path, body, options = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  Object.assign(init.headers, options.headers || {});
  let response = await fetch(API + path, init);
  if (response.status === 401 && !SIGN_IN.some((route) => path.startsWith(route))) {
    if (await refresh()) response = await fetch(API + path, init);
    if (response.status === 401) signedOutListeners.forEach((listener) => listener());
  }
  const parsed = await parse(response).catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, parsed.error);
  return parsed;
}

export const get = async (path) => (await request('GET', path)).data;
export const post = async (path, body) => (await request('POST', path, body ?? {})).data;
export const put = async (path, body) => (await request('PUT', path, body)).data;
export const patch = async (path, body) => (await request('PATCH', path, body)).data;
export const del = async (path) => (await request('DELETE', path)).data;

/** Every page of a list (up to `max` items), oldest first when asked. */
export async function all(path, max = 2000) {
  const items = [];
  let cursor = null;
  const join = path.includes('?') ? '&' : '?';
  do {
    const page = await request('GET', `${path}${join}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.data);
    cursor = page.pagination?.has_more ? page.pagination.next_cursor : null;
  } while (cursor && items.length < max);
  return { items, truncated: Boolean(cursor) };
}

/**
 * Uploads a file with progress (XMLHttpRequest reports upload progress;
 * fetch does not). Resolves with the file record.
 */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API}/files`);
    xhr.withCredentials = true;
    xhr.responseType = 'json';
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(body.data);
      else reject(new ApiError(xhr.status, body.error));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { detail: 'the upload failed (network)' })));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

const users = new Map();

/** A user's display name, looked up once. */
export async function userName(id) {
  if (!id) return 'assistant';
  if (!users.has(id)) {
    users.set(id, get(`/users/${id}`).then((u) => u.name || u.email).catch(() => 'someone'));
  }
  return users.get(id);
}

/** Remembers a user already known (the caller). */
export function knowUser(user) {
  users.set(user.id, Promise.resolve(user.name || user.email));
}
