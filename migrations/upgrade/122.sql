-- mode: online
-- 122: only active workflows with a deadline are indexed, so the 1 s timeout sweep reads
-- just the expired ones.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_status_deadline
    ON {{schema}}.workflow_status USING btree (workflow_deadline_epoch_ms)
    WHERE status IN ('ENQUEUED', 'PENDING', 'DELAYED') AND workflow_deadline_epoch_ms IS NOT NULL;
