-- mode: transaction
-- 123: token of the insert that created the row (owner_xid holds the executing owner's).
-- Nullable, no default: a catalog-only change.
ALTER TABLE {{schema}}.workflow_status ADD COLUMN IF NOT EXISTS creator_xid text;
