-- mode: transaction
-- 121: which recv (function ID) consumed a message, so rewind can delete the messages a
-- discarded run took delivery of. Nullable, no default: a catalog-only change.
ALTER TABLE {{schema}}.notifications ADD COLUMN IF NOT EXISTS consumed_by_function_id integer;
