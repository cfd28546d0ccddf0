-- mode: online
-- 114: idx_notifications duplicates idx_workflow_topic (same columns, same order).
DROP INDEX CONCURRENTLY IF EXISTS {{schema}}.idx_notifications;
