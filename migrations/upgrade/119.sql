-- mode: online
-- 119: step-listing index v2 = v1 plus INCLUDE (application_name).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_operation_outputs_completed_at_function_name_v2
    ON {{schema}}.operation_outputs USING btree (completed_at_epoch_ms, function_name)
    INCLUDE (application_name);
