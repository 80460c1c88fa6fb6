// The console's entry: redeems a one-time sign-in link, finds out who is
// signed in (the session is the HttpOnly cookie; this code never sees a
// token), and routes `#/…` addresses to the views.

import { API, ApiError, get, knowUser, onSignedOut, post, request } from './api.js';
import { h, replace, toast } from './dom.js';
import { threadsView } from './threads.js';
import { threadView } from './thread.js';

const main = document.getElementById('main');
let me = null;
let current = null;

/** Tears down the view on screen (closes its event stream) and shows another. */
async function show(view) {
  current?.close?.();
  // Notices belong to the view they were about.
  document.getElementById('toasts').replaceChildren();
  current = view;
}

async function route() {
  if (!me) return;
  const path = location.hash.replace(/^#/, '') || '/';
  const thread = /^\/t\/([0-9a-f-]{36})$/.exec(path);
  if (path === '/usage') {
    const { usageView } = await import('./usage.js');
    await show(await usageView(main, me));
  } else if (thread) {
    // On a wide screen the list stays beside the thread.
    await show(await threadsView(main, me, thread[1], threadView));
  } else {
    await show(await threadsView(main, me, null, threadView));
  }
  main.focus({ preventScroll: true });
}

function signInPage(methods, failure) {
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'email', placeholder: 'ada@example.com' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', placeholder: 'Ada Lovelace' });
  const form = methods.dev_login && h('form', { class: 'card', 'aria-label': 'Dev login' },
    h('h2', null, 'Dev login'),
    h('p', { class: 'muted' }, 'AUTH_DEV_LOGIN is on: sign in with an address alone.'),
    h('label', null, 'Email', email),
    h('label', null, 'Name', name),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await request('POST', '/auth/login', { email: email.value, ...(name.value ? { name: name.value } : {}) });
      await start();
    } catch (err) {
      toast(err.message, 'error');
    }
  });
  const providers = { google: 'Google', github: 'GitHub' };
  replace(main, h('div', { class: 'sign-in' },
    h('h1', null, 'Sign in'),
    failure ? h('p', { class: 'error', role: 'alert' }, failure) : null,
    methods.oauth.length ? h('div', { class: 'card' }, h('h2', null, 'With your account'),
      methods.oauth.map((p) => h('a', { class: 'button primary', href: `${API}/auth/${p}?return_to=/` }, `Continue with ${providers[p] || p}`))) : null,
    form,
    methods.sign_in_link || (!methods.dev_login && !methods.oauth.length)
      ? h('div', { class: 'card' }, h('h2', null, 'One-time link'),
        h('p', null, 'xl serve printed a sign-in link in its terminal. Open it in this browser; it works once, for 15 minutes. Restart the server for a new one.'))
      : null));
}

async function redeemLink() {
  const match = /^#login=([\w-]+)$/.exec(location.hash);
  if (!match) return null;
  // The secret leaves the address bar (and history) before anything else.
  history.replaceState(null, '', location.pathname);
  try {
    await post('/auth/link', { token: match[1] });
    return null;
  } catch (err) {
    return err instanceof ApiError ? err.message : 'the sign-in link did not work';
  }
}

async function start() {
  const failure = await redeemLink();
  try {
    const who = await get('/auth/me');
    me = who.user;
  } catch (err) {
    me = null;
    document.getElementById('nav').hidden = true;
    const methods = await get('/auth/methods').catch(() => ({ dev_login: false, oauth: [], sign_in_link: false }));
    signInPage(methods, failure);
    return;
  }
  knowUser(me);
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = me.name || me.email;
  await route();
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await post('/auth/logout').catch(() => null);
  me = null;
  current?.close?.();
  location.hash = '';
  await start();
});

onSignedOut(() => {
  if (me) toast('Your session has ended; sign in again.', 'error');
});

window.addEventListener('hashchange', () => {
  if (/^#login=/.test(location.hash)) start();
  else route().catch((err) => toast(err.message, 'error'));
});

start().catch((err) => replace(main, h('p', { class: 'error' }, `The console could not start: ${err.message}`)));
