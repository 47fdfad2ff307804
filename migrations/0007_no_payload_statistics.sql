-- Documents stored as jsonb are read by id, never filtered or joined on, so
-- the planner needs no statistics of them. Why: ANALYZE sorts its sample of
-- every column; for Stripe payloads of several KB that sort is most of the
-- cost of analyzing `events`, and the catch-up analyzes while it ingests.
ALTER TABLE events ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE jobs ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE jobs ALTER COLUMN history SET STATISTICS 0;
ALTER TABLE timeline ALTER COLUMN data SET STATISTICS 0;
