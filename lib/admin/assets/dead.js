// Dead letters: dead jobs filtered by kind and reason (GET /api/admin/jobs),
// retry one, discard one with a note, and retry everything matching the
// filter — a dry-run count first, then an explicit confirmation.

import { api, KINDS, query, REASONS } from './api.js';
import {
  ago, badge, busy, byId, describe, h, state, status, toast,
} from './dom.js';
import { openMember } from './members.js';

const PAGE = 25;
let cursor = null;
let generation = 0;
let pendingBulk = null;

function filter() {
  return { kind: byId('dead-kind').value, reason: byId('dead-reason').value };
}

function fillSelect(select, values) {
  const known = new Set([...select.options].map((o) => o.value));
  for (const v of values) {
    if (!known.has(v)) select.append(h('option', { value: v, text: v }));
  }
}

function remove(li, text) {
  li.remove();
  toast(text);
  if (!byId('dead-list').children.length) state(byId('dead-list'), 'empty', 'No dead job matches this filter.');
}

async function retry(li, button, job) {
  await busy(button, async () => {
    try {
      const r = await api(`/api/admin/jobs/${job.id}/retry`, { method: 'POST' });
      remove(li, r.retried ? `Job ${job.id} queued again` : `Job ${job.id} is already ${r.state}`);
    } catch (error) {
      toast(describe(error), 'error');
    }
  });
}

function discardForm(li, job) {
  const id = `discard-note-${job.id}`;
  const input = h('input', { id, type: 'text', maxlength: '500', autocomplete: 'off' });
  const form = h('form', { class: 'inline stack' },
    h('label', { for: id, text: 'Why discard it? (kept with the job)' }), input,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'danger', text: 'Discard job' }),
      h('button', { type: 'button', text: 'Cancel', onclick: () => form.remove() })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(event.submitter, async () => {
      try {
        await api(`/api/admin/jobs/${job.id}/discard`, { method: 'POST', body: { note: input.value } });
        remove(li, `Job ${job.id} discarded`);
      } catch (error) {
        toast(describe(error), 'error');
      }
    });
  });
  return form;
}

function item(job) {
  const li = h('li', { class: 'item', 'data-job-id': job.id });
  const discard = h('button', { type: 'button', text: 'Discard…' });
  discard.addEventListener('click', () => {
    if (li.querySelector('form')) return;
    const form = discardForm(li, job);
    li.append(form);
    form.querySelector('input').focus();
  });
  const retryButton = h('button', { type: 'button', class: 'primary', text: 'Retry' });
  retryButton.addEventListener('click', () => retry(li, retryButton, job));
  const member = job.member_id
    ? h('button', { type: 'button', text: 'Member', onclick: () => openMember('id', job.member_id) })
    : null;
  li.append(
    h('p', { class: 'meta' }, h('strong', { text: `#${job.id} ${job.kind}` }), badge(job.reason || 'no reason', 'bad'),
      job.upstream_status ? badge(`HTTP ${job.upstream_status}`, 'plain') : null),
    job.last_error ? h('p', { class: 'error-text', text: job.last_error }) : null,
    h('p', { class: 'muted', text: `${job.attempts}/${job.max_attempts} attempts · died ${ago(job.updated_at)}` }),
    h('div', { class: 'actions' }, retryButton, discard, member));
  return li;
}

/** Loads the first page (or the next one with more = true). */
export async function load(more = false) {
  const gen = ++generation;
  const list = byId('dead-list');
  const line = byId('dead-status');
  if (!more) {
    cursor = null;
    state(list, 'loading', 'Loading…');
  }
  status(line, '', '');
  let page;
  try {
    page = await api(`/api/admin/jobs${query({ state: 'dead', ...filter(), cursor, limit: PAGE })}`);
  } catch (error) {
    if (gen === generation) state(list, 'error', describe(error));
    return;
  }
  if (gen !== generation) return;
  if (!more) list.replaceChildren();
  list.append(...page.jobs.map(item));
  fillSelect(byId('dead-reason'), page.jobs.map((j) => j.reason).filter(Boolean));
  fillSelect(byId('dead-kind'), page.jobs.map((j) => j.kind));
  cursor = page.next_cursor;
  byId('dead-more').hidden = !cursor;
  if (!list.children.length) state(list, 'empty', 'No dead job matches this filter. Nothing is stuck.');
}

function describeFilter(f) {
  const parts = [f.kind && `kind ${f.kind}`, f.reason && `reason ${f.reason}`].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : ' (every kind and reason)';
}

async function bulkDryRun() {
  const f = filter();
  const line = byId('dead-status');
  status(line, 'loading', 'Counting matching dead jobs…');
  try {
    const r = await api('/api/admin/jobs/retry', { method: 'POST', body: { state: 'dead', ...f, dry_run: true } });
    if (!r.matched) {
      status(line, 'empty', 'No dead job matches this filter.');
      return;
    }
    status(line, '', '');
    pendingBulk = f;
    byId('dead-confirm-text').textContent = `${r.matched} dead job(s) match${describeFilter(f)}. Retry them all now?`;
    byId('dead-confirm-yes').textContent = `Retry ${r.matched} job(s)`;
    byId('dead-confirm').hidden = false;
    byId('dead-confirm-yes').focus();
  } catch (error) {
    status(line, 'error', describe(error));
  }
}

async function bulkConfirm() {
  const f = pendingBulk;
  if (!f) return;
  try {
    const r = await api('/api/admin/jobs/retry', { method: 'POST', body: { state: 'dead', ...f, dry_run: false } });
    closeConfirm();
    toast(`${r.retried} job(s) queued again`);
    await load();
  } catch (error) {
    status(byId('dead-status'), 'error', describe(error));
  }
}

function closeConfirm() {
  pendingBulk = null;
  byId('dead-confirm').hidden = true;
}

/** Wires filters, bulk retry and paging. */
export function init() {
  fillSelect(byId('dead-kind'), KINDS);
  fillSelect(byId('dead-reason'), REASONS);
  byId('dead-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    closeConfirm();
    load();
  });
  byId('dead-refresh').addEventListener('click', () => load());
  byId('dead-more').addEventListener('click', (event) => busy(event.currentTarget, () => load(true)));
  byId('dead-bulk').addEventListener('click', (event) => busy(event.currentTarget, bulkDryRun));
  byId('dead-confirm-yes').addEventListener('click', (event) => busy(event.currentTarget, bulkConfirm));
  byId('dead-confirm-no').addEventListener('click', () => {
    closeConfirm();
    byId('dead-bulk').focus();
  });
  for (const id of ['dead-kind', 'dead-reason']) byId(id).addEventListener('change', closeConfirm);
}
