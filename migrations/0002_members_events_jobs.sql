-- Members (the one source of truth per person), inbound events (the durable
-- dedupe backstop), the member timeline, and the outbox.

CREATE TABLE members (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text,
    email_lower         text GENERATED ALWAYS AS (lower(email)) STORED,
    name                text,
    state               text NOT NULL DEFAULT 'lead'
                        CHECK (state IN ('lead', 'trial', 'active', 'past_due', 'canceled')),
    plan                text,
    needs_support       boolean NOT NULL DEFAULT false,
    stripe_customer_id  text,
    crm_contact_id      text,
    support_user_id     text,
    app_user_id         text,
    -- Ordering guard: the newest Stripe event applied (created, then id).
    last_event_created  timestamptz,
    last_event_id       text,
    -- Created time of the first failed payment of the current past_due spell.
    past_due_since      timestamptz,
    current_period_end  timestamptz,
    -- Grows by one per exported change (app webhook `sequence`).
    sequence            bigint NOT NULL DEFAULT 0,
    -- Access last exported; lets the sweep notice a grace period running out.
    access              text NOT NULL DEFAULT 'none',
    merged_into         uuid REFERENCES members (id),
    crm_synced_seq      bigint NOT NULL DEFAULT 0,
    crm_synced_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- Identities are unique among live (not merged) members: never two members for one person.
CREATE UNIQUE INDEX members_email_lower ON members (email_lower) WHERE merged_into IS NULL;
CREATE UNIQUE INDEX members_stripe_customer ON members (stripe_customer_id) WHERE merged_into IS NULL;
CREATE UNIQUE INDEX members_crm_contact ON members (crm_contact_id) WHERE merged_into IS NULL;
CREATE UNIQUE INDEX members_support_user ON members (support_user_id) WHERE merged_into IS NULL;
CREATE UNIQUE INDEX members_app_user ON members (app_user_id) WHERE merged_into IS NULL;
CREATE INDEX members_grace ON members (past_due_since) WHERE state = 'past_due';
CREATE INDEX members_crm_stale ON members (updated_at) WHERE crm_synced_seq < sequence;

CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    type         text        NOT NULL,
    created      timestamptz NOT NULL,
    livemode     boolean,
    account      text,
    api_version  text,
    payload      jsonb       NOT NULL,
    member_id    uuid REFERENCES members (id),
    outcome      text        NOT NULL,
    via          text        NOT NULL DEFAULT 'webhook',
    received_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_source_event_id UNIQUE (source, event_id)
);
CREATE INDEX events_member ON events (member_id, created);
CREATE INDEX events_received ON events (received_at);

CREATE TABLE timeline (
    id         bigserial PRIMARY KEY,
    member_id  uuid        NOT NULL REFERENCES members (id),
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text        NOT NULL,
    summary    text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX timeline_member ON timeline (member_id, at DESC);

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    kind             text        NOT NULL,
    dedupe_key       text        NOT NULL,
    payload          jsonb       NOT NULL,
    member_id        uuid,
    -- app_webhook jobs of one member run in this order.
    sequence         bigint,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'succeeded', 'held', 'dead', 'discarded')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_error       text,
    reason           text,
    upstream_status  integer,
    history          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    note             text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_dedupe_key UNIQUE (dedupe_key)
);
-- Partial indexes: claiming touches only live rows, however many succeeded
-- rows the table holds.
CREATE INDEX jobs_due ON jobs (kind, run_at) WHERE state = 'pending';
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_held ON jobs (kind) WHERE state = 'held';
CREATE INDEX jobs_dead ON jobs (kind, reason, updated_at) WHERE state = 'dead';
CREATE INDEX jobs_done ON jobs (updated_at) WHERE state = 'succeeded';
CREATE INDEX jobs_member_seq ON jobs (member_id, sequence) WHERE kind = 'app_webhook' AND state <> 'succeeded';
CREATE INDEX jobs_member ON jobs (member_id, created_at);

-- Failed invoices: one row per invoice, for the follow-up and the
-- recovery rate (paid within 24 h of the first failure).
CREATE TABLE payment_failures (
    invoice_id    text PRIMARY KEY,
    member_id     uuid        NOT NULL REFERENCES members (id),
    failed_at     timestamptz NOT NULL,
    recovered_at  timestamptz
);
CREATE INDEX payment_failures_failed ON payment_failures (failed_at);

-- App webhook deliveries caused by a Stripe event: payment → access delay.
CREATE TABLE access_deliveries (
    change_id      text PRIMARY KEY,
    member_id      uuid        NOT NULL,
    event_type     text        NOT NULL,
    event_created  timestamptz NOT NULL,
    delivered_at   timestamptz NOT NULL
);
CREATE INDEX access_deliveries_delivered ON access_deliveries (delivered_at);
