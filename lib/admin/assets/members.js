// Member search (email, Stripe customer id, app user id) → the member's
// identities and one timeline: Stripe events, state changes, jobs (dead ones
// retryable here), tickets. All text is set as text.

import { api, query } from './api.js';
import {
  badge, busy, byId, describe, details, h, pairs, status, time, toast,
} from './dom.js';

let ctx = { show: () => {} };
let last = null;
let generation = 0;

const SOURCES = { timeline: 'member', stripe: 'stripe', job: 'job', ticket: 'ticket', draft: 'AI draft' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Which identity a typed value is, when the select says "auto". */
export function guessField(value) {
  if (value.includes('@')) return 'email';
  if (value.startsWith('cus_')) return 'stripe_customer_id';
  if (UUID.test(value)) return 'id';
  return 'user_id';
}

function memberCard(m) {
  const title = m.name ? `${m.name} · ${m.email || ''}` : m.email || m.id;
  const flags = h('p', { class: 'meta' }, badge(m.state), badge(`access: ${m.access}`, m.access === 'full' ? 'good' : m.access === 'grace' ? 'warn' : 'bad'),
    m.plan ? badge(m.plan, 'plain') : null, m.needs_support ? badge('needs support', 'bad') : null);
  return h('article', { class: 'card member', 'aria-label': 'Member' },
    h('h2', { text: title }), flags,
    pairs([
      ['Email', m.email],
      ['Access', `${m.access} (${m.access_reason})`],
      ['Access until', m.access_until ? time(m.access_until) : null],
      ['Stripe customer', m.stripe_customer_id],
      ['CRM contact', m.crm_contact_id],
      ['Support user', m.support_user_id],
      ['App user', m.app_user_id],
      ['Change sequence', String(m.sequence)],
      ['Member id', m.id],
      ['Member since', time(m.created_at)],
    ]));
}

async function retryJob(button, jobId) {
  await busy(button, async () => {
    try {
      const r = await api(`/api/admin/jobs/${encodeURIComponent(jobId)}/retry`, { method: 'POST' });
      toast(r.retried ? `Job ${jobId} queued again` : `Job ${jobId} is already ${r.state}`);
      if (last) await search(last.field, last.value);
    } catch (error) {
      toast(describe(error), 'error');
    }
  });
}

function entry(e) {
  const data = e.data || {};
  const retry = e.source === 'job' && e.outcome === 'dead' && data.job_id
    ? h('button', { type: 'button', text: 'Retry job', onclick: (ev) => retryJob(ev.currentTarget, data.job_id) })
    : null;
  const message = e.source === 'ticket' && data.message ? h('p', { class: 'quote', text: data.message }) : null;
  return h('li', { class: `entry source-${e.source}` },
    h('div', { class: 'when' }, time(e.at)),
    h('div', { class: 'what' },
      h('p', { class: 'meta' }, badge(SOURCES[e.source] || e.source, 'plain'), h('strong', { text: e.kind }), e.outcome ? badge(e.outcome) : null),
      h('p', { class: 'summary', text: e.summary }),
      message,
      retry ? h('div', { class: 'actions' }, retry) : null,
      details('Details', data)));
}

function render(result) {
  const list = result.timeline || [];
  const timeline = list.length
    ? h('ol', { class: 'timeline', 'aria-label': 'Timeline, newest first' }, list.map(entry))
    : h('p', { class: 'status', 'data-kind': 'empty', text: 'Nothing on this member’s timeline yet.' });
  const note = list.length >= result.limit ? h('p', { class: 'muted', text: `Showing the newest ${result.limit} entries.` }) : null;
  const parts = [memberCard(result.member), h('h2', { class: 'section-title', text: `Timeline (${list.length})` }), note, timeline];
  byId('member-result').replaceChildren(...parts.filter(Boolean));
}

/** Looks a member up and renders the result. */
export async function search(field, value) {
  const gen = ++generation;
  const line = byId('member-status');
  const out = byId('member-result');
  last = { field, value };
  status(line, 'loading', 'Searching…');
  out.setAttribute('aria-busy', 'true');
  try {
    const result = await api(`/api/admin/members${query({ [field]: value })}`);
    if (gen !== generation) return;
    status(line, '', '');
    render(result);
  } catch (error) {
    if (gen !== generation) return;
    out.replaceChildren();
    if (error.code === 'member_not_found') status(line, 'empty', 'No member matches that. Check the spelling or try another identity.');
    else status(line, 'error', describe(error));
  } finally {
    out.removeAttribute('aria-busy');
  }
}

/** Opens the members section on one member (from another section). */
export function openMember(field, value) {
  byId('member-field').value = field;
  byId('member-q').value = value;
  ctx.show('members', { load: false });
  search(field, value);
}

/** Section shown. */
export function load() {
  if (!last) byId('member-q').focus();
}

/** Wires the search form. */
export function init(context) {
  ctx = context;
  byId('member-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = byId('member-q').value.trim();
    if (!value) return;
    const chosen = byId('member-field').value;
    search(chosen === 'auto' ? guessField(value) : chosen, value);
  });
}
