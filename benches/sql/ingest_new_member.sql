-- The Stripe ingest's statements for a checkout that creates a member, in the
-- shape lib/stripe runs them (BEGIN; identity locks; identity lookup; then
-- member, jobs, timeline and events row pipelined; COMMIT), for pgbench:
-- Postgres' own ceiling on this machine, without our function or HTTP.
-- Run by scripts/bench/pg_ceiling.sh. (Spaces after ':' in JSON keep pgbench
-- from reading them as variables.)
\set n random(1, 1000000000)
BEGIN;
SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(ARRAY['cus:' || :n, 'email:' || :n || '@x.io']) AS k;
SELECT * FROM (SELECT id, created_at FROM members WHERE app_user_id = 'user_' || :n AND merged_into IS NULL FOR UPDATE) a UNION ALL SELECT * FROM (SELECT id, created_at FROM members WHERE stripe_customer_id = 'cus_' || :n AND merged_into IS NULL FOR UPDATE) b UNION ALL SELECT * FROM (SELECT id, created_at FROM members WHERE email_lower = lower(:n || '@x.io') AND merged_into IS NULL FOR UPDATE) c;
\startpipeline
INSERT INTO members (id, email, name, state, plan, stripe_customer_id, last_event_created, last_event_id, sequence, access, created_at, updated_at) VALUES (md5(:n::text)::uuid, :n || '@x.io', 'Name', 'active', 'pro', 'cus_' || :n, now(), 'evt_' || :n, 1, 'full', now(), now());
INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, max_attempts, run_at, created_at, updated_at) VALUES ('app_webhook', 'aw:' || :n, '{"body": {"type": "member.access_changed","id": "chg_0191","data": {"member_id": "x","email": "a@b.c","state": "active","plan": "pro","access": "full","sequence": 1}},"meta": {"event_type": "checkout.session.completed"}}', md5(:n::text)::uuid, 1, 10, now(), now(), now()), ('crm_upsert', 'crm:' || :n, '{"member_id": "x","sequence": 1}', md5(:n::text)::uuid, 1, 10, now(), now(), now()) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id;
INSERT INTO timeline (member_id, at, kind, summary, data) VALUES (md5(:n::text)::uuid, now(), 'state', 'new → active (full access)', '{"sequence": 1,"change_id": "chg_01"}'), (md5(:n::text)::uuid, now(), 'stripe_event', 'checkout.session.completed (applied)', '{"event_id": "evt_1","state_changed": true}');
INSERT INTO events (source, event_id, type, created, livemode, account, api_version, payload, outcome, via, received_at, member_id) VALUES ('stripe', 'evt_' || :n, 'checkout.session.completed', now(), false, null, '2024-06-20', '{"id": "evt_1","object": "event","api_version": "2024-06-20","data": {"object": {"id": "cs_test_a1","object": "checkout.session","amount_total": 2900,"currency": "usd","customer": "cus_1","customer_details": {"email": "a@b.c","name": "A B"},"mode": "subscription","payment_status": "paid","status": "complete","subscription": "sub_1"}},"type": "checkout.session.completed","livemode": false,"pending_webhooks": 1,"request": {"id": null,"idempotency_key": null}}', 'applied', 'webhook', now(), md5(:n::text)::uuid);
\endpipeline
COMMIT;
