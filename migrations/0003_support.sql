-- Support intake: tickets (one per open conversation, with a snapshot of the
-- member's context taken at each contact), the repeat contacts merged into
-- them, and the durable Idempotency-Key records of the intake endpoint.

CREATE TABLE tickets (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id        uuid REFERENCES members (id),
    email            text        NOT NULL,
    email_lower      text GENERATED ALWAYS AS (lower(email)) STORED,
    name             text,
    subject          text,
    -- The first contact's message; later contacts are in ticket_messages.
    message          text        NOT NULL,
    source           text        NOT NULL CHECK (source IN ('form', 'portal', 'email', 'chat')),
    -- Caller-supplied, flat string map: data only, never used to decide anything.
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status           text        NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'resolved', 'merged')),
    priority         text        NOT NULL CHECK (priority IN ('normal', 'high', 'urgent')),
    -- Set by the deterministic rules; never cleared by automation.
    needs_human      boolean     NOT NULL DEFAULT false,
    reasons          text[]      NOT NULL DEFAULT '{}',
    tags             text[]      NOT NULL DEFAULT '{}',
    contact_count    integer     NOT NULL DEFAULT 1,
    -- state, plan, last payment event, last failed automation step, open tickets.
    member_snapshot  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_contact_at  timestamptz NOT NULL,
    resolved_at      timestamptz
);
-- Repeat contacts find the open ticket of the same address.
CREATE INDEX tickets_open_email ON tickets (email_lower, last_contact_at DESC) WHERE status = 'open';
CREATE INDEX tickets_member ON tickets (member_id, status);
CREATE INDEX tickets_status ON tickets (status, last_contact_at DESC);

CREATE TABLE ticket_messages (
    id           bigserial PRIMARY KEY,
    ticket_id    uuid        NOT NULL REFERENCES tickets (id),
    -- 2, 3, ...: the ticket's own row is contact 1.
    contact_n    integer     NOT NULL,
    name         text,
    subject      text,
    message      text        NOT NULL,
    source       text        NOT NULL,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL,
    CONSTRAINT ticket_messages_contact UNIQUE (ticket_id, contact_n)
);

-- Idempotency-Key records (IETF httpapi draft): the first response, replayed
-- for the same key and body within 24 h. Scoped per client (the sender's
-- address); the Redis claim answers 409 while the first is in flight.
CREATE TABLE support_idempotency (
    scope            text        NOT NULL,
    key              text        NOT NULL,
    request_hash     text        NOT NULL,
    response_status  integer     NOT NULL,
    response_body    jsonb       NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX support_idempotency_created ON support_idempotency (created_at);
