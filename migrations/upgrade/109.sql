-- mode: transaction
-- 109: workflow payloads move off workflow_status into their own tables, so a status
-- update no longer rewrites a large input/output. No foreign keys: payload rows are
-- reclaimed by the retention sweep (ordered by retention_timestamp).
CREATE TABLE IF NOT EXISTS {{schema}}.workflow_input (
    workflow_uuid       text NOT NULL,
    inputs              text,
    retention_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    CONSTRAINT workflow_input_pkey PRIMARY KEY (workflow_uuid)
);
CREATE TABLE IF NOT EXISTS {{schema}}.workflow_output (
    workflow_uuid       text NOT NULL,
    output              text,
    error               text,
    retention_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    CONSTRAINT workflow_output_pkey PRIMARY KEY (workflow_uuid)
);
CREATE INDEX IF NOT EXISTS idx_workflow_input_retention
    ON {{schema}}.workflow_input USING btree (retention_timestamp);
CREATE INDEX IF NOT EXISTS idx_workflow_output_retention
    ON {{schema}}.workflow_output USING btree (retention_timestamp);
