// The Node.js reference for the webhook benchmark (scripts/bench/webhook.sh):
// what a careful plain Node developer writes for POST /api/webhooks/stripe,
// with the same durability as opsbridge (same Postgres with synchronous
// commits, same Redis). Verify the signature over the raw bytes with
// stripe-node, claim the event id in Redis, store the event and its two
// outbox jobs in one transaction, mark the id done, answer.
//
// Environment: PORT, STRIPE_WEBHOOK_SECRET, DATABASE_URL (postgres://… or the
// stack's postgres:///db?host=/socket/dir form, which pg reads as is),
// REDIS_URL (redis://… or redis+unix:///path/to/redis.sock), PG_POOL_SIZE.
'use strict';

const http = require('node:http');
const Stripe = require('stripe');
const { Pool } = require('pg');
const { createClient } = require('redis');

const MAX_BODY_BYTES = 1024 * 1024;
const CLAIM_TTL_MS = 12_000;
const DONE_TTL_MS = 288_000_000; // 80 hours: longer than Stripe's retry window
const PATH = '/api/webhooks/stripe';

const secret = required('STRIPE_WEBHOOK_SECRET');
// Only stripe.webhooks is used: no API call is made, so any key will do.
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY || 'sk_test_unused');
const pool = new Pool({
  connectionString: required('DATABASE_URL'),
  max: Number(process.env.PG_POOL_SIZE || 20),
});
const redis = createClient(redisOptions(required('REDIS_URL')));

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// node-redis takes redis:// URLs; a Unix socket is given as {socket: {path}}.
function redisOptions(url) {
  const unix = url.match(/^(?:redis\+unix|unix):\/\/(.+)$/);
  return unix ? { socket: { path: unix[1] } } : { url };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ref_events (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  type text NOT NULL,
  payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ref_jobs (
  id bigserial PRIMARY KEY,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  state text NOT NULL DEFAULT 'queued',
  dedupe_key text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

// Reads the whole body as bytes, refusing more than `limit`.
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

// The event and its two outbox jobs in one transaction. Returns false when
// the event was already stored (unique violation on event_id).
async function store(event, raw) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO ref_events (event_id, type, payload) VALUES ($1, $2, $3)',
      [event.id, event.type, raw],
    );
    await client.query(
      `INSERT INTO ref_jobs (kind, payload, dedupe_key) VALUES
         ('crm_upsert', $1, $2), ('app_webhook', $1, $3)`,
      [JSON.stringify({ event_id: event.id, type: event.type }),
        `crm_upsert:${event.id}`, `app_webhook:${event.id}`],
    );
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    if (err.code === '23505' && err.constraint === 'ref_events_event_id_key') return false;
    throw err;
  } finally {
    client.release();
  }
}

async function webhook(req, res) {
  const raw = await readBody(req, MAX_BODY_BYTES);
  let event;
  try {
    event = stripe.webhooks.constructEvent(raw, req.headers['stripe-signature'], secret);
  } catch (err) {
    return send(res, 400, { error: 'invalid_signature' });
  }
  const key = `stripe:${event.id}`;
  const claimed = await redis.set(key, 'inflight', { NX: true, PX: CLAIM_TTL_MS });
  if (claimed !== 'OK') {
    if ((await redis.get(key)) === 'done') return send(res, 200, { received: true, duplicate: true });
    return send(res, 409, { error: 'in_flight' });
  }
  let fresh;
  try {
    // The raw text, not event: the stored payload is what Stripe sent.
    fresh = await store(event, raw.toString('utf8'));
  } catch (err) {
    console.error(`stripe event ${event.id} not stored: ${err.message}`);
    await redis.del(key).catch(() => {});
    return send(res, 503, { error: 'store_unavailable' });
  }
  await redis.set(key, 'done', { PX: DONE_TTL_MS });
  send(res, 200, { received: true, duplicate: !fresh });
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/api/health') return send(res, 200, { ok: true });
  if (req.method !== 'POST' || req.url !== PATH) return send(res, 404, { error: 'not_found' });
  webhook(req, res).catch((err) => {
    console.error(`webhook failed: ${err.message}`);
    if (!res.headersSent) send(res, err.status || 503, { error: 'unavailable' });
  });
});
server.keepAliveTimeout = 65_000;

async function main() {
  redis.on('error', (err) => console.error(`redis: ${err.message}`));
  await redis.connect();
  await pool.query(SCHEMA);
  const port = Number(process.env.PORT || 3000);
  server.listen(port, '127.0.0.1', () => console.error(`node reference listening on :${port}`));
}

function stop() {
  server.close();
  Promise.allSettled([pool.end(), redis.quit()]).then(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
