// Overview: open incidents, health, outbox, crons, signature failures,
// business outcomes, manual interventions (GET /api/admin/overview), then
// the Stripe catch-up and open tickets when those endpoints exist on this
// deployment.

import { api, notAvailable } from './api.js';
import {
  ago, badge, byId, describe, duration, h, millis, pairs, state, status, time,
} from './dom.js';
import { renderCatchup, renderTickets, initCatchup } from './extras.js';

let generation = 0;

function body(card) {
  return byId(card).querySelector('.body');
}

/** The watchdog's open incidents, newest first, each with its summary. */
function renderIncidents(incidents) {
  const node = body('card-incidents');
  if (!incidents) return state(node, 'error', 'Incidents unavailable.');
  if (!incidents.length) return state(node, 'empty', 'No open incident: every watched flow is healthy.');
  const list = h('ul', { class: 'rows', 'aria-label': 'Open incidents' });
  for (const i of incidents) {
    list.append(h('li', {}, h('strong', { text: i.key ? `${i.kind} · ${i.key}` : i.kind }), badge('open', 'bad'),
      h('span', { class: 'summary' }, h('span', { class: 'muted', text: `Opened ${ago(i.opened_at)}. ` }), i.summary)));
  }
  node.replaceChildren(list);
}

function renderHealth(health) {
  const checks = Object.entries((health && health.checks) || {});
  const list = h('ul', { class: 'rows' });
  for (const [name, check] of checks) {
    const open = check.open !== undefined && check.open !== null ? `${check.open} open` : '';
    const note = check.error || (check.latency_ms !== undefined ? `${check.latency_ms} ms` : open);
    list.append(h('li', {}, h('span', { text: name }), badge(check.ok ? 'ok' : 'failing'),
      h('span', { class: 'muted', text: note })));
  }
  const head = h('p', {}, 'Overall ', badge(health ? health.status : 'unknown'));
  body('card-health').replaceChildren(head, list);
}

function renderOutbox(outbox) {
  if (!outbox) return state(body('card-outbox'), 'error', 'Outbox figures unavailable.');
  const states = h('ul', { class: 'chips', 'aria-label': 'Jobs by state' });
  for (const [name, count] of Object.entries(outbox.by_state)) {
    states.append(h('li', {}, badge(name), ` ${count}`));
  }
  states.append(h('li', {}, badge('succeeded'), ` ${outbox.succeeded_last_24h} (24 h)`));
  const reasons = h('ul', { class: 'rows', 'aria-label': 'Jobs by reason' });
  for (const r of outbox.by_reason) {
    reasons.append(h('li', {}, h('span', { text: `${r.kind} · ${r.reason}` }),
      h('span', {}, badge(r.state), h('strong', { class: 'count', text: ` ${r.count}` }))));
  }
  if (!outbox.by_reason.length) reasons.append(h('li', { class: 'muted', text: 'No job is waiting for a reason.' }));
  body('card-outbox').replaceChildren(states, pairs([
    ['Oldest pending', duration(outbox.oldest_pending_age_secs)],
    ['Oldest due', duration(outbox.oldest_due_age_secs)],
  ]), reasons);
}

function renderCrons(crons) {
  if (!crons) return state(body('card-crons'), 'error', 'Cron history unavailable.');
  const list = h('ul', { class: 'rows' });
  for (const c of crons) {
    const last = c.last_started_at ? `last ${ago(c.last_started_at)}` : 'never ran';
    list.append(h('li', {}, h('span', { text: c.name }), badge(c.status),
      h('span', { class: 'muted', text: `${last} · ${c.schedule}` })));
  }
  body('card-crons').replaceChildren(list);
}

function renderSignatures(sig) {
  const node = body('card-signatures');
  if (!sig || !sig.available) return state(node, 'error', 'Redis is unavailable: no count.');
  const tone = sig.last_hour > 0 ? 'bad' : 'good';
  node.replaceChildren(h('p', { class: `big ${tone}`, text: String(sig.last_hour) }),
    h('p', { class: 'muted', text: 'Stripe signature failures, this hour and the previous one.' }));
}

function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)} %`;
}

/** Ticket → first draft latency from the drafts API, if deployed. */
async function draftLatency() {
  try {
    const d = await api('/api/admin/drafts/metrics');
    return d.ticket_to_first_draft || null;
  } catch {
    return null;
  }
}

/** Business outcomes: the overview's copy, or GET /api/admin/metrics. */
async function renderOutcomes(metrics, gen) {
  const node = body('card-outcomes');
  let m = metrics;
  if (!m) {
    try {
      m = await api('/api/admin/metrics');
    } catch (error) {
      if (gen !== generation) return;
      const text = notAvailable(error) ? 'Not available on this deployment yet.' : describe(error);
      return state(node, notAvailable(error) ? 'empty' : 'error', text);
    }
  }
  if (gen !== generation) return;
  const pta = m.payment_to_access || {};
  const rec = m.failed_payment_recovery || {};
  const paid = m.paid_checkouts || {};
  const draft = m.ticket_to_first_draft || (await draftLatency());
  if (gen !== generation) return;
  node.replaceChildren(pairs([
    ['Paid checkouts → active', `${paid.reached_active ?? '—'} of ${paid.paid ?? '—'}`],
    ['Payment → access p50', millis(pta.p50_ms)],
    ['Payment → access p95', millis(pta.p95_ms)],
    ['Failed payments recovered in 24 h', `${rec.recovered_within_24h ?? '—'} of ${rec.failed ?? '—'} (${percent(rec.rate)})`],
    ['Ticket → first draft', draft ? `p50 ${millis(draft.p50_ms)} · p95 ${millis(draft.p95_ms)}` : 'not available yet'],
  ]), h('p', { class: 'muted', text: `Last ${m.window_days ?? 30} days.` }));
}

function renderInterventions(i) {
  if (!i) return state(body('card-interventions'), 'error', 'Unavailable.');
  body('card-interventions').replaceChildren(
    h('p', { class: 'big', text: String(i.total) }),
    pairs([['Job retries and discards', i.job_actions], ['Switch flips', i.flag_changes]]),
    h('p', { class: 'muted', text: 'Last 7 days.' }));
}

/** Loads the overview. */
export async function load() {
  const gen = ++generation;
  const line = byId('overview-status');
  status(line, 'loading', 'Loading…');
  let data;
  try {
    data = await api('/api/admin/overview');
  } catch (error) {
    if (gen === generation) status(line, 'error', describe(error));
    return;
  }
  if (gen !== generation) return;
  const note = data.store_error ? 'Postgres did not answer: some figures are missing.' : '';
  status(line, note ? 'error' : 'ok', note || 'Updated ');
  if (!note) line.append(time(data.generated_at));
  renderIncidents(data.incidents);
  renderHealth(data.health);
  renderOutbox(data.outbox);
  renderCrons(data.crons);
  renderSignatures(data.signature_failures);
  renderInterventions(data.interventions);
  renderOutcomes(data.metrics, gen);
  renderCatchup(body('card-catchup'));
  renderTickets(body('card-tickets'));
}

/** Wires the controls. */
export function init(ctx) {
  byId('overview-refresh').addEventListener('click', () => load());
  initCatchup(ctx);
}
