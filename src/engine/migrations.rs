//! The system-database schema: creates it at the version the official SDK 5.3.0 expects (123), upgrades
//! a database left at 108 by SDK 4.x through the shared migrations, re-runs those on a schema whose
//! version record was lost (they are all safe to run again), and leaves a newer one alone.
//! Parameterised statements here run unnamed with their types given (`query_typed`), so they are
//! safe through a transaction pooler too.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::db::quote_ident;
use super::error::{EngineError, Result};

/// The schema version this engine writes and reads (the official SDK 5.3.0's).
pub const TARGET_VERSION: i64 = 123;
/// The oldest version we can upgrade from: the first shared migration we ship is 109.
const OLDEST_UPGRADABLE: i64 = 108;

const FULL_SCHEMA: &str = include_str!("../../migrations/full_v123.sql");

/// The version table as the full script creates it (the schema tests compare the two).
const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS {{schema}}.dbos_migrations (\
     version bigint NOT NULL, CONSTRAINT dbos_migrations_pkey PRIMARY KEY (version))";

/// Shared migrations 109..=123, each tagged `-- mode: transaction` or `-- mode: online` on line one.
const UPGRADES: &[(i64, &str)] = &[
    (109, include_str!("../../migrations/upgrade/109.sql")),
    (110, include_str!("../../migrations/upgrade/110.sql")),
    (111, include_str!("../../migrations/upgrade/111.sql")),
    (112, include_str!("../../migrations/upgrade/112.sql")),
    (113, include_str!("../../migrations/upgrade/113.sql")),
    (114, include_str!("../../migrations/upgrade/114.sql")),
    (115, include_str!("../../migrations/upgrade/115.sql")),
    (116, include_str!("../../migrations/upgrade/116.sql")),
    (117, include_str!("../../migrations/upgrade/117.sql")),
    (118, include_str!("../../migrations/upgrade/118.sql")),
    (119, include_str!("../../migrations/upgrade/119.sql")),
    (120, include_str!("../../migrations/upgrade/120.sql")),
    (121, include_str!("../../migrations/upgrade/121.sql")),
    (122, include_str!("../../migrations/upgrade/122.sql")),
    (123, include_str!("../../migrations/upgrade/123.sql")),
];

fn render(sql: &str, schema: &str) -> String {
    sql.replace("{{schema}}", &quote_ident(schema))
}

/// Serializes concurrent migrators (several app processes launching at once) on one server.
fn lock_key(schema: &str) -> i64 {
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in "dbos-native-migrate:".bytes().chain(schema.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h as i64
}

/// The recorded schema version: 0 when the schema or its version table is missing.
pub async fn current_version(client: &Client, schema: &str) -> Result<i64> {
    let exists = client
        .query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = 'dbos_migrations')",
            &[(&schema, Type::TEXT)],
        )
        .await?
        .get::<_, bool>(0);
    if !exists {
        return Ok(0);
    }
    let sql = format!(
        "SELECT version FROM {}.dbos_migrations ORDER BY version DESC LIMIT 1",
        quote_ident(schema)
    );
    Ok(client
        .query_typed_opt(&sql, &[])
        .await?
        .map(|r| r.get::<_, i64>(0))
        .unwrap_or(0))
}

/// `runMigrations: false`: accept only a database already at (or past) our version.
pub async fn verify(client: &Client, schema: &str, url_for_message: &str) -> Result<()> {
    let version = current_version(client, schema).await?;
    if version < TARGET_VERSION {
        return Err(EngineError::initialization(format!(
            "System database {url_for_message} is at schema version {version}, but this version of DBOS \
             requires {TARGET_VERSION}. This process is configured with runMigrations disabled, so it will \
             not migrate it: either migrate the system database out of band (`npx dbos schema`) or launch \
             with runMigrations enabled."
        )));
    }
    Ok(())
}

/// dbos-native's one addition to the shared schema: the unconsumed messages of a destination and
/// topic, oldest first. The shared index covers only (destination, topic), and consumed messages
/// stay in the table, so without this a recv reads past every message that topic ever carried.
/// Other DBOS processes never see it, and their inserts keep it up to date.
const UNCONSUMED_INDEX: &str = "dbos_native_unconsumed_notifications";

/// Brings the schema to TARGET_VERSION (a database at the target or newer gets no DDL from the
/// shared migrations), then adds `UNCONSUMED_INDEX` if it is missing.
pub async fn migrate(client: &mut Client, schema: &str) -> Result<()> {
    if current_version(client, schema).await? < TARGET_VERSION {
        migrate_shared(client, schema).await?;
    }
    ensure_unconsumed_index(client, schema).await;
    Ok(())
}

/// Best effort: built CONCURRENTLY so that other processes keep sending meanwhile; if it cannot be
/// built (no privilege, a race with another launch), recv only stays slower.
async fn ensure_unconsumed_index(client: &Client, schema: &str) {
    let valid: Option<bool> = match client
        .query_typed_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[(&schema, Type::TEXT), (&UNCONSUMED_INDEX, Type::TEXT)],
        )
        .await
    {
        Ok(row) => row.map(|r| r.get(0)),
        Err(_) => return,
    };
    let s = quote_ident(schema);
    let name = quote_ident(UNCONSUMED_INDEX);
    let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {s}.{name}");
    match valid {
        Some(true) => return,
        // An interrupted build leaves an invalid index that IF NOT EXISTS would skip.
        Some(false) if client.batch_execute(&drop).await.is_err() => return,
        _ => {}
    }
    let _ = client
        .batch_execute(&format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {s}.notifications \
             (destination_uuid, topic, created_at_epoch_ms) WHERE consumed = false"
        ))
        .await;
}

async fn migrate_shared(client: &mut Client, schema: &str) -> Result<()> {
    let key = lock_key(schema);
    client
        .execute_typed("SELECT pg_advisory_lock($1)", &[(&key, Type::INT8)])
        .await?;
    let result = migrate_locked(client, schema).await;
    let unlock = client
        .execute_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
        .await;
    result?;
    unlock?;
    Ok(())
}

async fn migrate_locked(client: &mut Client, schema: &str) -> Result<()> {
    // Another process may have migrated while we waited for the lock.
    let version = current_version(client, schema).await?;
    if version >= TARGET_VERSION {
        return Ok(());
    }
    // No version on a schema that has the system tables means the record was lost (set back to 0,
    // deleted, dropped), not that nothing was built. Like the SDK, which re-runs its migrations then,
    // we re-run the shared ones from our oldest base: each is safe on a schema that already has it.
    // The full script, which refuses existing tables, is only for a schema without them.
    let from = if version == 0 {
        if !has_status_table(client, schema).await? {
            let tx = client.transaction().await?;
            tx.batch_execute(&render(FULL_SCHEMA, schema))
                .await
                .map_err(|e| migration_error("creating the system schema", e))?;
            tx.commit().await?;
            return Ok(());
        }
        client
            .batch_execute(&render(VERSION_TABLE, schema))
            .await
            .map_err(|e| migration_error("recreating the version table", e))?;
        OLDEST_UPGRADABLE
    } else if version < OLDEST_UPGRADABLE {
        return Err(EngineError::initialization(format!(
            "System database schema {schema} is at version {version}; dbos-native upgrades from \
             {OLDEST_UPGRADABLE} or later. Upgrade it first with the official DBOS tools (`npx dbos migrate`)."
        )));
    } else {
        version
    };
    let bump = format!(
        "WITH u AS (UPDATE {s}.dbos_migrations SET version = $1 RETURNING 1) \
         INSERT INTO {s}.dbos_migrations (version) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM u)",
        s = quote_ident(schema)
    );
    for (v, sql) in UPGRADES.iter().filter(|(v, _)| *v > from) {
        let sql = render(sql, schema);
        let what = format!("applying shared migration {v}");
        if sql.starts_with("-- mode: online") {
            drop_invalid_indexes(client, schema).await?;
            for statement in sql.split(";\n").map(str::trim).filter(|s| !is_blank(s)) {
                client
                    .batch_execute(statement)
                    .await
                    .map_err(|e| migration_error(&what, e))?;
            }
            client.execute_typed(&bump, &[(v, Type::INT8)]).await?;
        } else {
            let tx = client.transaction().await?;
            tx.batch_execute(&sql)
                .await
                .map_err(|e| migration_error(&what, e))?;
            tx.execute_typed(&bump, &[(v, Type::INT8)]).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

async fn has_status_table(client: &Client, schema: &str) -> Result<bool> {
    Ok(client
        .query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = 'workflow_status')",
            &[(&schema, Type::TEXT)],
        )
        .await?
        .get::<_, bool>(0))
}

fn is_blank(statement: &str) -> bool {
    statement
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

/// An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind that IF NOT EXISTS would skip.
async fn drop_invalid_indexes(client: &Client, schema: &str) -> Result<()> {
    let rows = client
        .query_typed(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT i.indisvalid",
            &[(&schema, Type::TEXT)],
        )
        .await?;
    for row in rows {
        let name: String = row.get(0);
        let sql = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            quote_ident(schema),
            quote_ident(&name)
        );
        client.batch_execute(&sql).await?;
    }
    Ok(())
}

fn migration_error(what: &str, e: tokio_postgres::Error) -> EngineError {
    let inner = EngineError::from(e);
    EngineError::initialization(format!("migration failed while {what}: {inner}"))
}
