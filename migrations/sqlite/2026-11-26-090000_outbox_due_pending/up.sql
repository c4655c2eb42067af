-- The outbox worker's claim reads due messages in send order. Indexed on the pending ones only
-- and in that order, a claim reads the first few entries instead of every pending message: an
-- import queues tens of thousands at once, and a planner whose statistics still see an empty
-- table sorted all of them for each claim of ten.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
