-- Zendesk: the ticket Zendesk holds for each of our tickets, once its
-- `zendesk_ticket` job has created it (`GET /api/admin/tickets/{id}` shows
-- it as `zendesk_ticket_id`), and that ticket's requester, who is the
-- author of the comments later contacts add. Both NULL until then, and for
-- every ticket when Zendesk is not configured.
ALTER TABLE tickets
    ADD COLUMN zendesk_ticket_id bigint,
    ADD COLUMN zendesk_requester_id bigint;
