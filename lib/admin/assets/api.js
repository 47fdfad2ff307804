// The admin API client. The token lives in sessionStorage (this tab only,
// gone when it closes) and travels only in the Authorization header: never
// a cookie (credentials: 'omit'), never a URL.

const KEY = 'opsbridge.admin.token';

/** The session's token. */
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An error answer: HTTP status, the API's stable code, its message. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId || null;
  }
}

let onUnauthorized = () => {};

/** Called when the API refuses the token (401): the app signs out. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** True when the endpoint does not exist on this deployment (yet). */
export function notAvailable(error) {
  return error instanceof ApiError && error.status === 404 && error.code === 'not_found';
}

async function send(path, method, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token.get() || ''}` };
  const init = {
    method,
    headers,
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
    referrerPolicy: 'no-referrer',
  };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached.');
  }
}

/** Calls the admin API; resolves to the JSON body, or throws ApiError. */
export async function api(path, { method = 'GET', body } = {}) {
  const res = await send(path, method, body);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const err = (data && data.error) || {};
  const error = new ApiError(
    res.status,
    err.code || `http_${res.status}`,
    err.message || res.statusText || 'request failed',
    err.request_id || res.headers.get('x-request-id'),
  );
  if (res.status === 401) onUnauthorized(error);
  throw error;
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Known job kinds and reason codes (the filters also learn any others seen). */
export const KINDS = ['crm_upsert', 'app_webhook', 'customer_email', 'slack_alert', 'helpdesk_ticket'];
export const REASONS = [
  'crm_timeout', 'crm_rate_limited', 'upstream_5xx', 'upstream_timeout', 'rate_limited',
  'auth_failed', 'invalid_payload', 'upstream_4xx', 'not_configured', 'paused',
  'max_attempts', 'duplicate_event', 'missing_data',
];
