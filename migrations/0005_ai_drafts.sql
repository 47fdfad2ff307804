-- AI drafts: one row per ticket contact (the unique pair ties every model
-- call to one draft row). `status` is decided by deterministic guardrails
-- (`reasons` says why a draft waits for a person); people approve, reject
-- or edit. Nothing here is ever sent to a customer by the system.

CREATE TABLE ai_drafts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id          uuid        NOT NULL REFERENCES tickets (id),
    contact_n          integer     NOT NULL,
    status             text        NOT NULL
                       CHECK (status IN ('pending_approval', 'ready', 'approved', 'rejected')),
    category           text        NOT NULL
                       CHECK (category IN ('billing', 'refund', 'access', 'bug', 'how_to', 'account', 'other')),
    urgency            text        NOT NULL CHECK (urgency IN ('low', 'normal', 'high')),
    summary            text        NOT NULL,
    draft_reply        text        NOT NULL,
    -- The model's own flags: mentions_billing_change, mentions_access_change, mentions_refund.
    flags              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    confidence         double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    -- Why the draft waits for a person (empty when ready).
    reasons            text[]      NOT NULL DEFAULT '{}',
    model              text        NOT NULL,
    prompt_tokens      integer,
    completion_tokens  integer,
    latency_ms         bigint,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    approved_by        text,
    approved_at        timestamptz,
    rejected_by        text,
    rejected_at        timestamptz,
    rejected_note      text,
    edited_by          text,
    edited_at          timestamptz,
    CONSTRAINT ai_drafts_ticket_contact UNIQUE (ticket_id, contact_n)
);
CREATE INDEX ai_drafts_status ON ai_drafts (status, created_at DESC);
CREATE INDEX ai_drafts_created ON ai_drafts (created_at);
