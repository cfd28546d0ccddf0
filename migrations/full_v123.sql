-- DBOS system database, created directly at schema version 123.
--
-- The result is catalog-identical to what @dbos-inc/dbos-sdk 5.3.0 builds on an empty
-- database by replaying its numbered migrations 1..123 (checked with
-- __test__/helpers/schema-snapshot.mjs): same tables, column order, types, defaults,
-- nullability, constraint and index names and definitions, functions and trigger, and
-- dbos_migrations holding the single row 123, so official SDKs (TS, Python, Go, Java)
-- accept the database and skip every migration.
--
-- {{schema}} is replaced by the double-quoted schema name before execution. The script
-- runs as one transaction, under the caller's advisory lock, only when no version is
-- recorded and there is no workflow_status table (a schema that has one but lost its
-- version record gets the shared migrations again instead, see src/engine/migrations.rs).
-- It deliberately uses no IF NOT EXISTS on tables other than the version table (which an
-- SDK may have created before anything else): a half-built schema must fail loudly
-- rather than be stamped 123 with a wrong shape.
--
-- Column order matters for byte-for-byte compatibility (SELECT *, COPY, pg_dump diffs)
-- and follows the order in which the official migrations added each column, which is
-- why several tables have "odd" orders (e.g. notifications starts with message_uuid,
-- operation_outputs has function_name before output).
--
-- Default expressions are spelled so that Postgres stores the same expression as the
-- official DDL: epoch-ms defaults use 1000.0 (numeric), giving
-- ((EXTRACT(epoch FROM now()) * 1000.0))::bigint in the catalog.

CREATE SCHEMA IF NOT EXISTS {{schema}};

-- Version table (single row, see the INSERT at the end).
CREATE TABLE IF NOT EXISTS {{schema}}.dbos_migrations (
    version bigint NOT NULL,
    CONSTRAINT dbos_migrations_pkey PRIMARY KEY (version)
);

-- One row per workflow. Columns 1-10 come from the original table, the rest were
-- appended in migration order. inputs/output/error/request are legacy: 5.3.0 keeps
-- payloads in workflow_input / workflow_output and writes NULL here.
CREATE TABLE {{schema}}.workflow_status (
    workflow_uuid              text NOT NULL,
    status                     text,
    name                       text,
    authenticated_user         text,
    assumed_role               text,
    authenticated_roles        text,
    request                    text,
    output                     text,
    error                      text,
    executor_id                text,
    created_at                 bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    updated_at                 bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    application_version        text,
    application_id             text,
    -- The explicit DEFAULT NULL is kept on purpose: on varchar(255) it is stored in the
    -- catalog as NULL::character varying, exactly like the official schema.
    class_name                 varchar(255) DEFAULT NULL,
    config_name                varchar(255) DEFAULT NULL,
    recovery_attempts          bigint DEFAULT 0,
    queue_name                 text,
    workflow_timeout_ms        bigint,
    workflow_deadline_epoch_ms bigint,
    inputs                     text,
    started_at_epoch_ms        bigint,
    deduplication_id           text,
    priority                   integer NOT NULL DEFAULT 0,
    queue_partition_key        text,
    forked_from                text,
    owner_xid                  text,
    parent_workflow_id         text,
    serialization              text,
    delay_until_epoch_ms       bigint,
    was_forked_from            boolean NOT NULL DEFAULT false,
    rate_limited               boolean NOT NULL DEFAULT false,
    completed_at               bigint,
    attributes                 jsonb,
    schedule_name              text,
    debounce_deadline_epoch_ms bigint,
    is_debounced               boolean NOT NULL DEFAULT false,
    application_name           text,  -- NULL = unclaimed, any application may run it
    creator_xid                text,  -- token of the insert that created the row
    CONSTRAINT workflow_status_pkey PRIMARY KEY (workflow_uuid)
);

CREATE INDEX workflow_status_created_at_index
    ON {{schema}}.workflow_status USING btree (created_at);
-- Partial indexes, one per query pattern (recovery, troubleshooting, dequeue, sweeps).
CREATE INDEX idx_workflow_status_forked_from
    ON {{schema}}.workflow_status USING btree (forked_from) WHERE forked_from IS NOT NULL;
CREATE INDEX idx_workflow_status_parent_workflow_id
    ON {{schema}}.workflow_status USING btree (parent_workflow_id) WHERE parent_workflow_id IS NOT NULL;
CREATE INDEX idx_workflow_status_completed_at
    ON {{schema}}.workflow_status USING btree (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX idx_workflow_status_started_at
    ON {{schema}}.workflow_status USING btree (started_at_epoch_ms) WHERE started_at_epoch_ms IS NOT NULL;
CREATE INDEX idx_workflow_status_schedule_name
    ON {{schema}}.workflow_status USING btree (schedule_name) WHERE schedule_name IS NOT NULL;
CREATE INDEX idx_workflow_status_delayed
    ON {{schema}}.workflow_status USING btree (delay_until_epoch_ms) WHERE status = 'DELAYED';
CREATE INDEX idx_workflow_status_pending
    ON {{schema}}.workflow_status USING btree (created_at) WHERE status = 'PENDING';
CREATE INDEX idx_workflow_status_failed
    ON {{schema}}.workflow_status USING btree (status, created_at)
    WHERE status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
-- application_name is INCLUDEd (not a key column) so app-scoped counts stay index-only.
CREATE INDEX idx_workflow_status_in_flight_v2
    ON {{schema}}.workflow_status USING btree (queue_name, status, priority, created_at)
    INCLUDE (application_name)
    WHERE status IN ('ENQUEUED', 'PENDING');
-- Written as "= true" (not a bare boolean) because that is how the official index is
-- stored: pg_get_indexdef shows WHERE (rate_limited = true).
CREATE INDEX idx_workflow_status_rate_limited
    ON {{schema}}.workflow_status USING btree (queue_name, started_at_epoch_ms) WHERE rate_limited = true;
CREATE INDEX idx_workflow_status_partition_dequeue_v3
    ON {{schema}}.workflow_status USING btree (queue_name, status, queue_partition_key, priority, created_at, workflow_uuid)
    INCLUDE (application_name)
    WHERE status IN ('ENQUEUED', 'PENDING') AND queue_partition_key IS NOT NULL;
CREATE INDEX idx_workflow_status_deadline
    ON {{schema}}.workflow_status USING btree (workflow_deadline_epoch_ms)
    WHERE status IN ('ENQUEUED', 'PENDING', 'DELAYED') AND workflow_deadline_epoch_ms IS NOT NULL;
CREATE INDEX idx_workflow_status_attributes
    ON {{schema}}.workflow_status USING gin (attributes) WHERE attributes IS NOT NULL;
-- Queue deduplication. A unique *index* (not a constraint): rows without a
-- deduplication_id are not indexed at all.
CREATE UNIQUE INDEX uq_workflow_status_dedup_id
    ON {{schema}}.workflow_status USING btree (queue_name, deduplication_id) WHERE deduplication_id IS NOT NULL;

-- Step checkpoints. No foreign key to workflow_status since 5.3.0 (migration 112):
-- steps are reclaimed by the retention sweep, not by ON DELETE CASCADE.
CREATE TABLE {{schema}}.operation_outputs (
    workflow_uuid         text NOT NULL,
    function_id           integer NOT NULL,
    function_name         text NOT NULL DEFAULT '',
    output                text,
    error                 text,
    child_workflow_id     text,
    started_at_epoch_ms   bigint,
    completed_at_epoch_ms bigint,
    serialization         text,
    application_name      text,
    retention_timestamp   bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    CONSTRAINT operation_outputs_pkey PRIMARY KEY (workflow_uuid, function_id)
);

CREATE INDEX idx_operation_outputs_completed_at_function_name_v2
    ON {{schema}}.operation_outputs USING btree (completed_at_epoch_ms, function_name) INCLUDE (application_name);
CREATE INDEX idx_operation_outputs_retention
    ON {{schema}}.operation_outputs USING btree (retention_timestamp);

-- Workflow payloads, kept off workflow_status so status updates do not rewrite them.
-- No foreign keys (a payload may be written before/without its status row and is
-- reclaimed by the retention sweep).
CREATE TABLE {{schema}}.workflow_input (
    workflow_uuid       text NOT NULL,
    inputs              text,
    retention_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    CONSTRAINT workflow_input_pkey PRIMARY KEY (workflow_uuid)
);
CREATE INDEX idx_workflow_input_retention
    ON {{schema}}.workflow_input USING btree (retention_timestamp);

CREATE TABLE {{schema}}.workflow_output (
    workflow_uuid       text NOT NULL,
    output              text,
    error               text,
    retention_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    CONSTRAINT workflow_output_pkey PRIMARY KEY (workflow_uuid)
);
CREATE INDEX idx_workflow_output_retention
    ON {{schema}}.workflow_output USING btree (retention_timestamp);

-- Messages (send/recv). message_uuid is the first column: the original table was
-- created with it first. gen_random_uuid() is core since PG 13, no extension needed.
CREATE TABLE {{schema}}.notifications (
    message_uuid            text NOT NULL DEFAULT gen_random_uuid(),
    destination_uuid        text NOT NULL,
    topic                   text,
    message                 text NOT NULL,
    created_at_epoch_ms     bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    serialization           text,
    consumed                boolean NOT NULL DEFAULT false,
    consumed_by_function_id integer,  -- the recv that consumed it (used by rewind)
    CONSTRAINT notifications_pkey PRIMARY KEY (message_uuid),
    CONSTRAINT notifications_destination_uuid_fkey FOREIGN KEY (destination_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX idx_workflow_topic
    ON {{schema}}.notifications USING btree (destination_uuid, topic);

-- Events: current value per key, plus the per-step history used by fork/rewind.
CREATE TABLE {{schema}}.workflow_events (
    workflow_uuid text NOT NULL,
    key           text NOT NULL,
    value         text NOT NULL,
    serialization text,
    CONSTRAINT workflow_events_pkey PRIMARY KEY (workflow_uuid, key),
    CONSTRAINT workflow_events_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE {{schema}}.workflow_events_history (
    workflow_uuid text NOT NULL,
    function_id   integer NOT NULL,
    key           text NOT NULL,
    value         text NOT NULL,
    serialization text,
    CONSTRAINT workflow_events_history_pkey PRIMARY KEY (workflow_uuid, function_id, key),
    CONSTRAINT workflow_events_history_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

-- Streams: dense offsets from 0 per (workflow, key). "offset" is a reserved word.
CREATE TABLE {{schema}}.streams (
    workflow_uuid text NOT NULL,
    key           text NOT NULL,
    value         text NOT NULL,
    "offset"      integer NOT NULL,
    function_id   integer NOT NULL DEFAULT 0,
    serialization text,
    CONSTRAINT streams_pkey PRIMARY KEY (workflow_uuid, key, "offset"),
    CONSTRAINT streams_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

-- Key/value store for event receivers (DBOS.getEventDispatchState & co).
CREATE TABLE {{schema}}.event_dispatch_kv (
    service_name     text NOT NULL,
    workflow_fn_name text NOT NULL,
    key              text NOT NULL,
    value            text,
    update_seq       numeric(38,0),
    update_time      numeric(38,15),
    CONSTRAINT event_dispatch_kv_pkey PRIMARY KEY (service_name, workflow_fn_name, key)
);

-- Durable schedules.
CREATE TABLE {{schema}}.workflow_schedules (
    schedule_id         text NOT NULL,
    schedule_name       text NOT NULL,
    workflow_name       text NOT NULL,
    workflow_class_name text,
    schedule            text NOT NULL,
    status              text NOT NULL DEFAULT 'ACTIVE',
    context             text NOT NULL,
    last_fired_at       text,
    automatic_backfill  boolean NOT NULL DEFAULT false,
    cron_timezone       text,
    queue_name          text,
    application_name    text,
    CONSTRAINT workflow_schedules_pkey PRIMARY KEY (schedule_id),
    CONSTRAINT workflow_schedules_schedule_name_key UNIQUE (schedule_name)
);

-- Registered application versions. version_name is still globally unique (the
-- constraint will be dropped by a future SDK); the two partial unique indexes are
-- the replacement key (per owning application, and unclaimed rows as one owner).
CREATE TABLE {{schema}}.application_versions (
    version_id        text NOT NULL,
    version_name      text NOT NULL,
    version_timestamp bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    created_at        bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    application_name  text,
    CONSTRAINT application_versions_pkey PRIMARY KEY (version_id),
    CONSTRAINT application_versions_version_name_key UNIQUE (version_name)
);
CREATE UNIQUE INDEX uq_application_versions_owner_version
    ON {{schema}}.application_versions USING btree (application_name, version_name)
    WHERE application_name IS NOT NULL;
CREATE UNIQUE INDEX uq_application_versions_unclaimed_version
    ON {{schema}}.application_versions USING btree (version_name)
    WHERE application_name IS NULL;

-- Database-defined queues.
CREATE TABLE {{schema}}.queues (
    queue_id                        text NOT NULL DEFAULT gen_random_uuid()::text,
    name                            text NOT NULL,
    concurrency                     integer,
    worker_concurrency              integer,
    rate_limit_max                  integer,
    rate_limit_period_sec           double precision,
    priority_enabled                boolean NOT NULL DEFAULT false,
    partition_queue                 boolean NOT NULL DEFAULT false,
    polling_interval_sec            double precision NOT NULL DEFAULT 1.0,
    created_at                      bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    updated_at                      bigint NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000.0)::bigint,
    application_name                text,
    partition_concurrency           integer,
    partition_worker_concurrency    integer,
    partition_rate_limit_max        integer,
    partition_rate_limit_period_sec double precision,
    CONSTRAINT queues_pkey PRIMARY KEY (queue_id),
    CONSTRAINT queues_name_key UNIQUE (name)
);

-- ---------------------------------------------------------------------------------
-- SQL API and LISTEN/NOTIFY plumbing.
--
-- The function bodies below are kept text-identical (including indentation and the
-- whitespace before the closing $$) to the bodies the official SDK stores, so that
-- pg_get_functiondef() matches exactly. All three pin search_path to
-- pg_catalog, pg_temp (hardening against search_path hijacking); every table reference
-- inside is therefore schema-qualified.
-- ---------------------------------------------------------------------------------

-- NOTIFY '<destination>::<topic>' for every inserted message, delivered at commit.
-- Fires only for rows actually inserted (an ON CONFLICT DO NOTHING duplicate sends nothing).
CREATE FUNCTION {{schema}}.notifications_function() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        payload text := NEW.destination_uuid || '::' || NEW.topic;
    BEGIN
        PERFORM pg_notify('dbos_notifications_channel', payload);
        RETURN NEW;
    END;
    $$;

CREATE TRIGGER dbos_notifications_trigger
    AFTER INSERT ON {{schema}}.notifications
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.notifications_function();

-- send_message(destination, message JSON, topic?, message_id?): portable_json send from
-- plain SQL. message_id is the idempotency key, used verbatim as message_uuid.
CREATE FUNCTION {{schema}}.send_message(
    destination_id text,
    message json,
    topic text DEFAULT NULL,
    message_id text DEFAULT NULL
) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
        DECLARE
            v_topic TEXT := COALESCE(topic, '__null__topic__');
            v_message_id TEXT := COALESCE(message_id, gen_random_uuid()::TEXT);
        BEGIN
            INSERT INTO {{schema}}.notifications (
                destination_uuid, topic, message, message_uuid, serialization
            ) VALUES (
                destination_id, v_topic, message, v_message_id, 'portable_json'
            )
            ON CONFLICT (message_uuid) DO NOTHING;
        EXCEPTION
            WHEN foreign_key_violation THEN
                RAISE EXCEPTION 'DBOS non-existent workflow'
                   USING DETAIL = format('Destination workflow %s does not exist', destination_id),
                        ERRCODE = 'foreign_key_violation';
        END;
        $$;

-- enqueue_workflow(...17 args...): portable_json enqueue from plain SQL. Returns the
-- workflow ID. Status ENQUEUED (DELAYED when delay_until_epoch_ms is given); the inputs
-- go to workflow_input. A conflicting workflow ID only bumps updated_at; a duplicate
-- (queue_name, deduplication_id) raises 'DBOS queue duplicated' (23505).
CREATE FUNCTION {{schema}}.enqueue_workflow(
    workflow_name text,
    queue_name text,
    positional_args json[] DEFAULT ARRAY[]::json[],
    named_args json DEFAULT '{}'::json,
    class_name text DEFAULT NULL,
    config_name text DEFAULT NULL,
    workflow_id text DEFAULT NULL,
    app_version text DEFAULT NULL,
    timeout_ms bigint DEFAULT NULL,
    deadline_epoch_ms bigint DEFAULT NULL,
    deduplication_id text DEFAULT NULL,
    priority integer DEFAULT NULL,
    queue_partition_key text DEFAULT NULL,
    authenticated_user text DEFAULT NULL,
    authenticated_roles text DEFAULT NULL,
    delay_until_epoch_ms bigint DEFAULT NULL,
    application_name text DEFAULT NULL
) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_workflow_id TEXT;
    v_serialized_inputs TEXT;
    v_owner_xid TEXT;
    v_now BIGINT;
    v_recovery_attempts INT4 := 0;
    v_priority INT4;
    v_status TEXT;
BEGIN

    -- Validate required parameters
    IF workflow_name IS NULL OR workflow_name = '' THEN
        RAISE EXCEPTION 'Workflow name cannot be null or empty';
    END IF;
    IF queue_name IS NULL OR queue_name = '' THEN
        RAISE EXCEPTION 'Queue name cannot be null or empty';
    END IF;
    IF named_args IS NOT NULL AND jsonb_typeof(named_args::jsonb) != 'object' THEN
        RAISE EXCEPTION 'Named args must be a JSON object';
    END IF;
    IF workflow_id IS NOT NULL AND workflow_id = '' THEN
        RAISE EXCEPTION 'Workflow ID cannot be an empty string if provided.';
    END IF;
    IF delay_until_epoch_ms IS NOT NULL AND delay_until_epoch_ms < 0 THEN
        RAISE EXCEPTION 'delay_until_epoch_ms must be >= 0';
    END IF;

    v_workflow_id := COALESCE(workflow_id, gen_random_uuid()::TEXT);
    v_owner_xid := gen_random_uuid()::TEXT;
    v_priority := COALESCE(priority, 0);
    v_serialized_inputs := json_build_object(
        'positionalArgs', positional_args,
        'namedArgs', named_args
    )::TEXT;
    v_now := EXTRACT(epoch FROM now()) * 1000;
    v_status := CASE WHEN delay_until_epoch_ms IS NULL THEN 'ENQUEUED' ELSE 'DELAYED' END;

    INSERT INTO {{schema}}.workflow_status (
        workflow_uuid, status,
        name, class_name, config_name,
        queue_name, deduplication_id, priority, queue_partition_key,
        application_version,
        created_at, updated_at, recovery_attempts,
        workflow_timeout_ms, workflow_deadline_epoch_ms,
        parent_workflow_id, owner_xid, serialization,
        authenticated_user, authenticated_roles,
        delay_until_epoch_ms, application_name
    ) VALUES (
        v_workflow_id, v_status,
        workflow_name, class_name, config_name,
        queue_name, deduplication_id, v_priority, queue_partition_key,
        app_version,
        v_now, v_now, v_recovery_attempts,
        timeout_ms, deadline_epoch_ms,
        NULL, v_owner_xid, 'portable_json',
        authenticated_user, authenticated_roles,
        delay_until_epoch_ms, application_name
    )
    ON CONFLICT (workflow_uuid)
    DO UPDATE SET
        updated_at = EXCLUDED.updated_at;

    INSERT INTO {{schema}}.workflow_input (
        workflow_uuid, inputs, retention_timestamp
    ) VALUES (
        v_workflow_id, v_serialized_inputs, v_now
    )
    ON CONFLICT (workflow_uuid) DO NOTHING;

    RETURN v_workflow_id;

EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'DBOS queue duplicated'
            USING DETAIL = format('Workflow %s with queue %s and deduplication ID %s already exists', v_workflow_id, queue_name, deduplication_id),
                ERRCODE = 'unique_violation';
END;
$$;

-- Everything above corresponds to the official migrations 1..123 (shared 100..123
-- included), so the database is recorded at 123: official SDKs at 5.3.0 then run no DDL.
-- The single row, whatever the table held (a version of 0, or no row).
WITH bumped AS (UPDATE {{schema}}.dbos_migrations SET version = 123 RETURNING 1)
INSERT INTO {{schema}}.dbos_migrations (version) SELECT 123 WHERE NOT EXISTS (SELECT 1 FROM bumped);
