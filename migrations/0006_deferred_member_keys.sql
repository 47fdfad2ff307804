-- Rows that point at a member are checked at COMMIT instead of per statement.
-- Why: an ingest writes a brand-new member together with its timeline lines,
-- its events row, its ticket or payment failure in ONE pipelined round trip,
-- and the order of pipelined statements on the wire is not guaranteed. The
-- integrity is the same (a transaction cannot commit a dangling member id);
-- only the moment of the check moves.
ALTER TABLE events ALTER CONSTRAINT events_member_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE timeline ALTER CONSTRAINT timeline_member_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE tickets ALTER CONSTRAINT tickets_member_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE payment_failures ALTER CONSTRAINT payment_failures_member_id_fkey DEFERRABLE INITIALLY DEFERRED;
