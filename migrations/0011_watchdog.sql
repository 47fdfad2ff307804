-- The watchdog: incidents, the requests each integration answered, and an
-- index that holds only the paid changes the app has not received yet.

-- One row per incident. At most ONE open incident per (kind, key): the
-- partial unique index is what makes two watchdog runs at once open it once
-- (the second insert waits for the first and then does nothing).
CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    kind         text        NOT NULL,
    -- The integration for integration_failing; NULL for kinds without a key.
    key          text,
    status       text        NOT NULL CHECK (status IN ('open', 'resolved')),
    -- Ids and masked emails only: it goes to Slack as it is.
    summary      text        NOT NULL,
    -- When the condition started (the window start, the first failure
    -- counted, the oldest late change): a rule that resolves on a good
    -- signal (a verified delivery, a successful request) needs one after it.
    since        timestamptz NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (kind, (coalesce(key, ''))) WHERE status = 'open';
CREATE INDEX incidents_recent ON incidents (opened_at DESC, id DESC);

-- One row per request an outbox job made to an integration (a HubSpot batch
-- of 100 contacts is ONE request), written with the results of the batch.
-- integration_failing reads, per integration, the newest success and the
-- failures after it inside the window: two range scans of this index, however
-- many old rows the table holds. The watchdog prunes rows past 7 days.
CREATE TABLE integration_requests (
    id           bigserial PRIMARY KEY,
    integration  text        NOT NULL,
    at           timestamptz NOT NULL,
    ok           boolean     NOT NULL,
    -- A failure's reason code and upstream status.
    reason       text,
    status       integer,
    -- Jobs the request carried.
    jobs         integer     NOT NULL
);
CREATE INDEX integration_requests_window ON integration_requests (integration, ok, at);

-- provisioning_delayed: app webhooks of a paid checkout (at once, or a
-- delayed payment that settled) or a paid invoice that changed access to
-- active, not delivered yet. The job row already records the
-- paid change (its payload names the cause and the new state) and its
-- delivery (state = 'succeeded'), so nothing new is written on the hot
-- path; this index holds only the undelivered ones (a handful), and a
-- delivered job leaves it. Its predicate is repeated word for word by the
-- rule's query (lib/watchdog/rules/provisioning.rs), which is what lets the
-- planner use it.
CREATE INDEX jobs_paid_access_undelivered ON jobs (created_at)
    WHERE kind = 'app_webhook' AND state <> 'succeeded' AND state <> 'discarded'
      AND payload->'body'->>'type' = 'member.access_changed'
      AND payload->'body'->'data'->>'state' = 'active'
      AND payload->'meta'->>'event_type' IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded',
                                        'invoice.paid', 'invoice.payment_succeeded');
