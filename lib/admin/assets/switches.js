// Switches: pause or resume each integration (GET/POST /api/admin/flags),
// showing who flipped it last, when and why.

import { api } from './api.js';
import {
  ago, badge, busy, byId, describe, h, state, status, time, toast,
} from './dom.js';

let generation = 0;

function who(flag) {
  if (!flag.updated_at) return 'Never changed (running by default).';
  const note = flag.note ? ` — “${flag.note}”` : '';
  return `${flag.enabled ? 'Resumed' : 'Paused'} by ${flag.updated_by} ${ago(flag.updated_at)}${note}`;
}

function item(flag) {
  const id = `flag-note-${flag.name}`;
  const note = h('input', { id, type: 'text', maxlength: '500', autocomplete: 'off', placeholder: 'optional' });
  const action = flag.enabled ? 'Pause' : 'Resume';
  const button = h('button', { type: 'submit', class: flag.enabled ? 'danger' : 'primary', text: `${action} ${flag.name}` });
  const form = h('form', { class: 'toolbar' },
    h('div', { class: 'field grow' }, h('label', { for: id, text: 'Note' }), note), button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(button, async () => {
      try {
        await api(`/api/admin/flags/${encodeURIComponent(flag.name)}`, {
          method: 'POST', body: { enabled: !flag.enabled, note: note.value },
        });
        toast(`${flag.name} ${flag.enabled ? 'paused' : 'resumed'}`);
        await load();
      } catch (error) {
        toast(describe(error), 'error');
      }
    });
  });
  const configured = flag.configured === false ? badge('not configured', 'warn') : null;
  return h('li', { class: 'item', 'data-flag': flag.name },
    h('p', { class: 'meta' }, h('strong', { text: flag.name }),
      badge(flag.enabled ? 'running' : 'paused'), configured),
    h('p', { class: 'muted' }, who(flag), ' ', flag.updated_at ? time(flag.updated_at) : null),
    form);
}

/** Loads every switch. */
export async function load() {
  const gen = ++generation;
  const list = byId('switches-list');
  status(byId('switches-status'), '', '');
  if (!list.children.length) state(list, 'loading', 'Loading…');
  let data;
  try {
    data = await api('/api/admin/flags');
  } catch (error) {
    if (gen === generation) state(list, 'error', describe(error));
    return;
  }
  if (gen !== generation) return;
  const flags = data.flags || [];
  if (!flags.length) return state(list, 'empty', 'No integration can be paused.');
  list.replaceChildren(...flags.map(item));
}

/** Wires the refresh button. */
export function init() {
  byId('switches-refresh').addEventListener('click', () => load());
}
