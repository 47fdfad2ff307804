#!/usr/bin/env node
// Signs Stripe webhook payloads with the official `stripe` package
// (stripe.webhooks.generateTestHeaderString), an implementation independent
// of ours, so tests/stripe_npm.rs can check that our verifier accepts what
// Stripe's own code produces.
//
// Two modes:
//   node sign.js <secret> <payload-file> [timestamp]
//       prints one Stripe-Signature header value for the file's bytes.
//   node sign.js < cases.jsonl
//       reads one {"secret", "payload", "timestamp"} JSON object per line and
//       prints one header value per line, in the same order.
// `timestamp` is unix seconds; when absent, now. (stripe-node treats 0 as
// absent too.)
'use strict';

const fs = require('node:fs');
const Stripe = require('stripe');

// No request is ever made: the key only satisfies the constructor.
const stripe = new Stripe('sk_test_FAKE_crosscheck_not_a_real_key');

function header({secret, payload, timestamp}) {
  if (typeof secret !== 'string' || typeof payload !== 'string') {
    throw new Error('each case needs string "secret" and "payload"');
  }
  return stripe.webhooks.generateTestHeaderString({payload, secret, timestamp});
}

function main(argv) {
  if (argv.length >= 2) {
    const [secret, file, timestamp] = argv;
    const payload = fs.readFileSync(file, 'utf8');
    const t = timestamp === undefined ? undefined : Number(timestamp);
    process.stdout.write(header({secret, payload, timestamp: t}) + '\n');
    return;
  }
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim());
  const out = lines.map((line) => header(JSON.parse(line)));
  process.stdout.write(out.map((h) => h + '\n').join(''));
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`sign.js: ${err.message}\n`);
  process.exit(1);
}
