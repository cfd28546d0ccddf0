-- mode: online
-- 111: index for the retention sweep. Built CONCURRENTLY (autocommit) because
-- operation_outputs is typically the largest table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_operation_outputs_retention
    ON {{schema}}.operation_outputs USING btree (retention_timestamp);
