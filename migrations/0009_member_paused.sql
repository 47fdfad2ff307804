-- A member whose Stripe subscription is paused gets its own state, `paused`
-- (access `none`, reason `paused`), instead of being counted as `canceled`:
-- a paused subscription comes back with `customer.subscription.resumed`,
-- and the app, the CRM and the founder need to tell the two apart.
--
-- The CHECK from 0002 was declared on the column, so Postgres named it
-- `members_state_check`; it is replaced in this one transaction, so the
-- column is never unchecked.
ALTER TABLE members DROP CONSTRAINT members_state_check;
ALTER TABLE members ADD CONSTRAINT members_state_check
    CHECK (state IN ('lead', 'trial', 'active', 'past_due', 'paused', 'canceled'));
