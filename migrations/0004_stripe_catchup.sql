-- Catching up with Stripe: the stored cursor of the catch-up cron (its run
-- history goes to cron_runs), and an index for "events recovered in the last
-- 24 h" (health, the lost-webhooks alert).

CREATE TABLE catchup_state (
    name            text PRIMARY KEY,
    -- Every listed event created at or before this instant is stored. Only
    -- moves forward (GREATEST), so overlapping runs cannot move it back.
    cursor_created  timestamptz,
    last_run_at     timestamptz,
    -- The last run that read its whole window.
    last_ok_at      timestamptz,
    -- ok, partial, auth_failed, store_failed.
    last_status     text,
    -- Why the last run stopped early (a reason code), if it did.
    last_error      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_recovered ON events (received_at) WHERE via = 'catchup';
