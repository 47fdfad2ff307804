// DOM helpers for the console. Every piece of text goes in through
// textContent / text nodes: nothing here parses HTML, so customer text
// (ticket messages, names, error strings) can never become markup.

/** Builds an element: h('li', {class: 'x', text: 'y', onclick: fn}, child, ...). */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'value') node.value = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Finds an element by id (throws when the page lacks it: a bug, not a state). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

/** A status line: kind is loading | empty | error | ok | '' (cleared). */
export function status(node, kind, text = '') {
  node.textContent = text;
  if (kind) node.dataset.kind = kind;
  else delete node.dataset.kind;
}

/** Replaces a container's content with one state message. */
export function state(container, kind, text) {
  const message = h('p', { class: 'status', 'data-kind': kind, text });
  const inList = container.tagName === 'UL' || container.tagName === 'OL';
  container.replaceChildren(inList ? h('li', { class: 'state' }, message) : message);
}

/** An error as a sentence a person can act on, with the request id. */
export function describe(error) {
  if (!error) return 'Something went wrong.';
  const base = error.message || 'Something went wrong.';
  const rid = error.requestId ? ` (request ${error.requestId})` : '';
  if (error.status === 0) return 'The server could not be reached. Check the connection and retry.';
  if (error.status === 429) return `Too many requests: ${base}${rid}`;
  if (error.status >= 500) return `The server could not answer (${error.code}). Retry in a moment${rid}.`;
  return `${base}${rid}`;
}

const TONES = {
  good: ['ok', 'succeeded', 'applied', 'active', 'trial', 'full', 'enabled', 'running', 'resolved', 'approved', 'ready'],
  warn: ['pending', 'held', 'grace', 'past_due', 'stale', 'never_run', 'paused', 'open', 'high', 'pending_approval'],
  bad: ['dead', 'missed', 'failing', 'invalid', 'degraded', 'canceled', 'none', 'urgent', 'failed', 'rejected'],
};

/** A small coloured label; tone is inferred from common words unless given. */
export function badge(text, tone) {
  const known = Object.keys(TONES).find((k) => TONES[k].includes(String(text)));
  const shown = known ? String(text).replaceAll('_', ' ') : String(text);
  return h('span', { class: `badge ${tone || known || 'plain'}`, text: shown });
}

/** A <time> with the local date and time, and the exact instant on hover. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', { text: String(iso) });
  const text = d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  return h('time', { datetime: d.toISOString(), title: d.toISOString(), text });
}

/** "3 min ago" for an ISO time. */
export function ago(iso) {
  if (!iso) return 'never';
  const secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  return secs < 10 ? 'just now' : `${duration(secs)} ago`;
}

/** A duration in seconds, compact: 45 s, 12 min, 3 h, 2 d. */
export function duration(secs) {
  if (secs === null || secs === undefined) return '—';
  if (secs < 90) return `${Math.round(secs)} s`;
  if (secs < 90 * 60) return `${Math.round(secs / 60)} min`;
  if (secs < 36 * 3600) return `${Math.round(secs / 3600)} h`;
  return `${Math.round(secs / 86400)} d`;
}

/** Milliseconds, compact. */
export function millis(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : duration(ms / 1000);
}

/** A definition list from [label, value] pairs (value: text or a node). */
export function pairs(items) {
  const dl = h('dl', { class: 'pairs' });
  for (const [label, value] of items) {
    const shown = value === null || value === undefined || value === '' ? '—' : value;
    dl.append(h('dt', { text: label }), h('dd', {}, shown));
  }
  return dl;
}

/** A collapsed JSON view of some data (text only). */
export function details(label, data) {
  if (data === null || data === undefined) return null;
  if (typeof data === 'object' && Object.keys(data).length === 0) return null;
  return h('details', { class: 'raw' },
    h('summary', { text: label }),
    h('pre', { text: JSON.stringify(data, null, 2) }));
}

/** A short message that fades: confirms an action without moving focus. */
export function toast(text, kind = 'ok') {
  const node = byId('toast');
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

/** Disables a button while `work` runs; returns work's result. */
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}
