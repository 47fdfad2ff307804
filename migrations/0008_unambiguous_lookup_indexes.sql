-- Each identity's unique index holds only the members that have that
-- identity; the admin ticket listing gets an index in its own order.
--
-- Why: before any ANALYZE (a fresh install, or the first minute of a burst),
-- the planner costs every index on a near-empty table the same. Each of the
-- five identity indexes carried the same predicate (`merged_into IS NULL`),
-- which every member query also states, so an email lookup could be planned
-- as a full scan of, say, the app-user index with the email as a filter. A
-- pooled connection keeps that plan while the table grows, and the lookup
-- grows with it: measured 1.9 ms and 107 buffers per lookup after 9,000
-- intake posts, instead of 0.01 ms and 2 buffers. With `<identity> IS NOT
-- NULL` in its predicate, an index is usable only by a query on its own
-- identity (`x = $1` implies `x IS NOT NULL`). Uniqueness is unchanged
-- (NULLs never collided), and a lead with only an email no longer adds
-- entries to four indexes.
--
-- Each index is built under a new name before the old one goes, in this
-- one transaction, so uniqueness is enforced throughout.
CREATE UNIQUE INDEX members_email_lower_v2 ON members (email_lower)
    WHERE merged_into IS NULL AND email_lower IS NOT NULL;
CREATE UNIQUE INDEX members_stripe_customer_v2 ON members (stripe_customer_id)
    WHERE merged_into IS NULL AND stripe_customer_id IS NOT NULL;
CREATE UNIQUE INDEX members_crm_contact_v2 ON members (crm_contact_id)
    WHERE merged_into IS NULL AND crm_contact_id IS NOT NULL;
CREATE UNIQUE INDEX members_support_user_v2 ON members (support_user_id)
    WHERE merged_into IS NULL AND support_user_id IS NOT NULL;
CREATE UNIQUE INDEX members_app_user_v2 ON members (app_user_id)
    WHERE merged_into IS NULL AND app_user_id IS NOT NULL;
DROP INDEX members_email_lower, members_stripe_customer, members_crm_contact,
    members_support_user, members_app_user;
ALTER INDEX members_email_lower_v2 RENAME TO members_email_lower;
ALTER INDEX members_stripe_customer_v2 RENAME TO members_stripe_customer;
ALTER INDEX members_crm_contact_v2 RENAME TO members_crm_contact;
ALTER INDEX members_support_user_v2 RENAME TO members_support_user;
ALTER INDEX members_app_user_v2 RENAME TO members_app_user;

-- The admin listing orders by (last_contact_at DESC, id DESC), with or
-- without a status. The (status, last_contact_at) index served neither a
-- listing of all tickets (it sorted the whole table for 50 rows) nor,
-- through its `$1 IS NULL OR status = $1` filter, a cached generic plan.
CREATE INDEX tickets_recent ON tickets (last_contact_at DESC, id DESC);
DROP INDEX tickets_status;
