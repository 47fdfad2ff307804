// Overview cards backed by other features' endpoints, each optional: the
// Stripe catch-up (GET/POST /api/admin/stripe/catchup) and open tickets
// (GET /api/admin/tickets). A 404 shows "not available", not an error.

import { api, notAvailable } from './api.js';
import {
  ago, badge, busy, byId, describe, h, pairs, state, status, toast,
} from './dom.js';
import { openMember } from './members.js';

let pendingSince = null;

function scalarPairs(data) {
  return Object.entries(data)
    .filter(([k, v]) => k !== 'ok' && k !== 'status' && (v === null || typeof v !== 'object'))
    .map(([k, v]) => [k.replaceAll('_', ' '), v === null ? '—' : String(v)]);
}

/** The catch-up card: status, and the manual range form when configured. */
export async function renderCatchup(node) {
  const form = byId('catchup-form');
  state(node, 'loading', 'Loading…');
  let data;
  try {
    data = await api('/api/admin/stripe/catchup');
  } catch (error) {
    form.hidden = true;
    const na = notAvailable(error);
    return state(node, na ? 'empty' : 'error', na ? 'Not available on this deployment yet.' : describe(error));
  }
  const configured = data.status !== 'not_configured';
  node.replaceChildren(h('p', {}, 'Status ', badge(data.ok ? 'ok' : 'failing'), ' ',
    badge(String(data.status || 'unknown'))), pairs(scalarPairs(data).slice(0, 8)));
  if (!configured) node.append(h('p', { class: 'muted', text: 'Set STRIPE_SECRET_KEY to enable catch-up.' }));
  form.hidden = !configured;
  const since = byId('catchup-since');
  if (!since.value) {
    const d = new Date(Date.now() - 24 * 3600 * 1000 - new Date().getTimezoneOffset() * 60000);
    since.value = d.toISOString().slice(0, 16);
  }
}

async function runCatchup(dryRun) {
  const line = byId('catchup-status');
  const since = pendingSince || new Date(byId('catchup-since').value).toISOString();
  status(line, 'loading', dryRun ? 'Counting missing events…' : 'Catching up…');
  try {
    const r = await api('/api/admin/stripe/catchup', { method: 'POST', body: { since, dry_run: dryRun } });
    if (dryRun) {
      pendingSince = since;
      status(line, 'ok', `${r.missing} of ${r.listed} listed events are missing${r.complete ? '' : ' (listing incomplete)'}.`);
      byId('catchup-run').hidden = !r.missing;
    } else {
      pendingSince = null;
      byId('catchup-run').hidden = true;
      status(line, 'ok', `Stored ${r.new ?? 0} new event(s), ${r.duplicates ?? 0} already stored.`);
      toast('Catch-up finished');
    }
  } catch (error) {
    status(line, 'error', error.code === 'not_configured' ? 'STRIPE_SECRET_KEY is not set.' : describe(error));
  }
}

/** Wires the catch-up form (dry run first, then the real run). */
export function initCatchup() {
  byId('catchup-form').addEventListener('submit', (event) => {
    event.preventDefault();
    pendingSince = null;
    busy(event.submitter || byId('catchup-form').querySelector('button'), () => runCatchup(true));
  });
  byId('catchup-since').addEventListener('change', () => {
    pendingSince = null;
    byId('catchup-run').hidden = true;
  });
  byId('catchup-run').addEventListener('click', (event) => busy(event.currentTarget, () => runCatchup(false)));
}

function ticketItem(t) {
  const title = t.subject || t.preview || '(no subject)';
  const meta = h('div', { class: 'meta' }, badge(t.priority), t.needs_human ? badge('needs a person', 'bad') : null,
    h('span', { class: 'muted', text: `${t.contact_count || 1} contact(s) · ${ago(t.last_contact_at)}` }));
  const open = t.email
    ? h('button', { type: 'button', text: 'Member timeline', onclick: () => openMember('email', t.email) })
    : null;
  return h('li', { class: 'item' }, h('strong', { class: 'title', text: title }),
    t.subject && t.preview ? h('p', { class: 'quote', text: t.preview }) : null, meta,
    open ? h('div', { class: 'actions' }, open) : null);
}

/** The open tickets card (newest contact first). */
export async function renderTickets(node) {
  state(node, 'loading', 'Loading…');
  let data;
  try {
    data = await api('/api/admin/tickets?status=open&limit=10');
  } catch (error) {
    const na = notAvailable(error);
    return state(node, na ? 'empty' : 'error', na ? 'Not available on this deployment yet.' : describe(error));
  }
  const tickets = data.tickets || [];
  if (!tickets.length) return state(node, 'empty', 'No open ticket.');
  node.replaceChildren(h('ul', { class: 'list' }, tickets.map(ticketItem)));
}
