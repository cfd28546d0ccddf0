-- mode: online
-- 115: in-flight index v2 = v1 plus INCLUDE (application_name), so app-scoped queue
-- counts run index-only. Built before v1 is dropped (116) so no window is left without one.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_status_in_flight_v2
    ON {{schema}}.workflow_status USING btree (queue_name, status, priority, created_at)
    INCLUDE (application_name)
    WHERE status IN ('ENQUEUED', 'PENDING');
