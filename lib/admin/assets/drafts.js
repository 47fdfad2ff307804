// Drafts pending approval (GET /api/admin/drafts?status=pending_approval):
// the customer's text and the AI draft side by side, then approve, edit or
// reject. Both texts are untrusted and shown as text only. When the drafts
// API is not deployed (404) the section says so.

import { api, notAvailable } from './api.js';
import {
  ago, badge, busy, byId, describe, h, state, toast,
} from './dom.js';

let generation = 0;

/** The fields of a draft, whatever the exact answer shape. */
function fields(d) {
  const ticket = d.ticket || {};
  return {
    id: d.id,
    subject: d.customer_subject ?? ticket.subject ?? d.subject ?? '',
    customer: d.customer_text ?? ticket.message ?? d.message ?? '',
    draft: d.draft_reply ?? d.draft ?? d.body ?? d.text ?? '',
    category: d.category,
    urgency: d.urgency,
    reasons: d.reasons || [],
    confidence: d.confidence,
    created: d.created_at,
  };
}

function confidence(c) {
  return typeof c === 'number' ? `model confidence ${Math.round(c * 100)} %` : '';
}

function removeItem(li, text) {
  li.remove();
  toast(text);
  if (!byId('drafts-list').children.length) state(byId('drafts-list'), 'empty', 'No draft is waiting for approval.');
}

async function act(li, button, id, action, body) {
  await busy(button, async () => {
    try {
      await api(`/api/admin/drafts/${encodeURIComponent(id)}/${action}`, { method: 'POST', body });
      removeItem(li, action === 'approve' ? 'Draft approved' : 'Draft rejected');
    } catch (error) {
      toast(describe(error), 'error');
    }
  });
}

function editor(li, f, shown) {
  const id = `draft-edit-${f.id}`;
  const area = h('textarea', { id, rows: '8' });
  area.value = shown.textContent;
  const form = h('form', { class: 'inline stack' }, h('label', { for: id, text: 'Edit the draft' }), area,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Save edit' }),
      h('button', { type: 'button', text: 'Cancel', onclick: () => { form.remove(); shown.hidden = false; } })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(event.submitter, async () => {
      try {
        await api(`/api/admin/drafts/${encodeURIComponent(f.id)}/edit`, { method: 'POST', body: { draft_reply: area.value } });
        shown.textContent = area.value;
        form.remove();
        shown.hidden = false;
        toast('Draft saved');
      } catch (error) {
        toast(describe(error), 'error');
      }
    });
  });
  return form;
}

function rejectForm(li, f) {
  const id = `draft-reject-${f.id}`;
  const input = h('input', { id, type: 'text', maxlength: '2000', autocomplete: 'off', required: true });
  const form = h('form', { class: 'inline stack' }, h('label', { for: id, text: 'Why reject it? (required)' }), input,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger', text: 'Reject draft' }),
      h('button', { type: 'button', text: 'Cancel', onclick: () => form.remove() })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(li, event.submitter, f.id, 'reject', { note: input.value });
  });
  return form;
}

function item(d) {
  const f = fields(d);
  const li = h('li', { class: 'item draft', 'data-draft-id': f.id });
  const shown = h('p', { class: 'quote draft-text', text: f.draft });
  const draftCol = h('div', { class: 'col' }, h('h3', { text: 'Draft reply' }), shown);
  const approve = h('button', { type: 'button', class: 'primary', text: 'Approve' });
  approve.addEventListener('click', () => act(li, approve, f.id, 'approve', {}));
  const edit = h('button', { type: 'button', text: 'Edit' });
  edit.addEventListener('click', () => {
    if (draftCol.querySelector('form')) return;
    shown.hidden = true;
    draftCol.append(editor(li, f, shown));
    draftCol.querySelector('textarea').focus();
  });
  const reject = h('button', { type: 'button', text: 'Reject…' });
  reject.addEventListener('click', () => {
    if (li.querySelector('form.reject')) return;
    const form = rejectForm(li, f);
    form.classList.add('reject');
    li.append(form);
    form.querySelector('input').focus();
  });
  li.append(
    h('p', { class: 'meta' }, f.category ? badge(f.category, 'plain') : null, f.urgency ? badge(f.urgency) : null,
      ...f.reasons.map((r) => badge(r, 'warn')),
      h('span', { class: 'muted', text: [confidence(f.confidence), f.created ? ago(f.created) : ''].filter(Boolean).join(' · ') })),
    h('div', { class: 'side-by-side' },
      h('div', { class: 'col' }, h('h3', { text: 'Customer wrote' }),
        f.subject ? h('p', { class: 'subject', text: f.subject }) : null,
        h('p', { class: 'quote', text: f.customer || '(no text)' })),
      draftCol),
    h('div', { class: 'actions' }, approve, edit, reject));
  return li;
}

/** Loads the drafts waiting for a person. */
export async function load() {
  const gen = ++generation;
  const list = byId('drafts-list');
  state(list, 'loading', 'Loading…');
  let data;
  try {
    data = await api('/api/admin/drafts?status=pending_approval');
  } catch (error) {
    if (gen !== generation) return;
    if (notAvailable(error)) state(list, 'empty', 'Drafts are not available on this deployment yet.');
    else state(list, 'error', describe(error));
    return;
  }
  if (gen !== generation) return;
  const drafts = Array.isArray(data) ? data : data.drafts || data.items || [];
  if (!drafts.length) return state(list, 'empty', 'No draft is waiting for approval.');
  list.replaceChildren(...drafts.map(item));
}

/** Wires the refresh button. */
export function init() {
  byId('drafts-refresh').addEventListener('click', () => load());
}
