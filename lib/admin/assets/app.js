// The console's entry point: sign in (token once per browser session),
// section navigation, sign out. Each section is its own module with
// init() (wire its controls once) and load() (fetch and render).

import { api, token, whenUnauthorized } from './api.js';
import { byId, describe, status } from './dom.js';
import * as overview from './overview.js';
import * as members from './members.js';
import * as dead from './dead.js';
import * as drafts from './drafts.js';
import * as switches from './switches.js';

const SECTIONS = { overview, members, dead, drafts, switches };
let current = null;

function signedIn(on) {
  byId('login').hidden = on;
  byId('nav').hidden = !on;
  byId('signout').hidden = !on;
  if (!on) {
    for (const name of Object.keys(SECTIONS)) byId(name).hidden = true;
    current = null;
  }
}

/** Shows one section (and loads it), marking its nav button current. */
export function show(name, { load = true } = {}) {
  const target = SECTIONS[name] ? name : 'overview';
  for (const key of Object.keys(SECTIONS)) byId(key).hidden = key !== target;
  for (const button of byId('nav').querySelectorAll('button[data-section]')) {
    if (button.dataset.section === target) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  if (location.hash !== `#${target}`) history.replaceState(null, '', `#${target}`);
  current = target;
  if (load) SECTIONS[target].load();
}

function signOut(message) {
  token.clear();
  signedIn(false);
  status(byId('login-status'), message ? 'error' : '', message || '');
  byId('token').value = '';
  byId('token').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = byId('token');
  const line = byId('login-status');
  const value = input.value.trim();
  if (!value) return;
  token.set(value);
  status(line, 'loading', 'Checking the token…');
  try {
    await api('/api/admin/flags');
  } catch (error) {
    token.clear();
    const text = error.status === 401 ? 'That token was refused.' : describe(error);
    status(line, 'error', text);
    input.select();
    return;
  }
  input.value = '';
  status(line, '', '');
  enter();
}

function enter() {
  signedIn(true);
  show(location.hash.slice(1) || 'overview');
  byId('main').focus();
}

function start() {
  for (const section of Object.values(SECTIONS)) section.init({ show });
  byId('login-form').addEventListener('submit', signIn);
  byId('signout').addEventListener('click', () => signOut(''));
  byId('nav').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-section]');
    if (button) show(button.dataset.section);
  });
  whenUnauthorized(() => {
    if (current) signOut('The token was refused (rotated or mistyped). Sign in again.');
  });
  if (token.get()) enter();
  else {
    signedIn(false);
    byId('token').focus();
  }
}

start();
