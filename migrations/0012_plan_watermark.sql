-- The plan and the billing period follow the newest subscription event, on a
-- watermark of their own: Stripe does not deliver in order, and an invoice
-- newer than a plan change (which moves the state watermark) must not make
-- that plan change stale. Existing plans came from an event at or before the
-- state watermark, so it is their conservative starting point.
ALTER TABLE members
    ADD COLUMN plan_event_created timestamptz,
    ADD COLUMN plan_event_id      text;
UPDATE members SET plan_event_created = last_event_created, plan_event_id = last_event_id
 WHERE plan IS NOT NULL OR current_period_end IS NOT NULL;
