-- mode: transaction
-- 112: steps no longer cascade-delete with their workflow (the retention sweep reclaims
-- them). The TS SDK created this FK under the knex name (_foreign), other SDKs under the
-- Postgres default name (_fkey), so both are dropped.
ALTER TABLE {{schema}}.operation_outputs DROP CONSTRAINT IF EXISTS operation_outputs_workflow_uuid_foreign;
ALTER TABLE {{schema}}.operation_outputs DROP CONSTRAINT IF EXISTS operation_outputs_workflow_uuid_fkey;
