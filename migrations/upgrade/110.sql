-- mode: transaction
-- 110: retention timestamp on step checkpoints (orders the retention sweep). Existing
-- rows get the migration time, filled in by the volatile default (a table rewrite).
ALTER TABLE {{schema}}.operation_outputs
    ADD COLUMN IF NOT EXISTS retention_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint;
