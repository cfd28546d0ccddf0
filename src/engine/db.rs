//! Connections: the pooled connections every operation uses, running a statement on one, creating
//! the database on first use, and quoting the schema identifier that every statement is built with.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, Row};

use super::conn::{Conn, Stmt};
use super::error::{EngineError, Result};
use super::tls::{self, Tls};
use super::Engine;

/// A statement's bind parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// Quotes an identifier for interpolation into SQL (the schema name is the only identifier we
/// interpolate; every value goes through a bind parameter).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL's settings for tokio-postgres, and the TLS connector its `ssl*` keys describe (`tls.rs`).
pub fn parse_url(url: &str) -> Result<(Config, Tls)> {
    let (rest, settings) = tls::split_url(url);
    let mut config = Config::from_str(&rest).map_err(|e| {
        // The URL may hold a password: never echo it back.
        EngineError::initialization(format!("invalid system database URL: {}", redact_error(&e)))
    })?;
    let tls = tls::connector(&settings, &mut config)?;
    Ok((config, tls))
}

fn redact_error(e: &tokio_postgres::Error) -> String {
    let text = e.to_string();
    if text.contains('@') || text.contains("password") {
        "malformed connection string".to_string()
    } else {
        text
    }
}

pub fn database_name(config: &Config) -> String {
    config
        .get_dbname()
        .map(str::to_string)
        .or_else(|| config.get_user().map(str::to_string))
        .unwrap_or_else(|| "postgres".to_string())
}

pub fn build_pool(
    mut config: Config,
    tls: Tls,
    size: usize,
    application_name: &str,
) -> Result<Pool> {
    config.application_name(application_name);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|e| EngineError::initialization(format!("cannot build connection pool: {e}")))
}

/// Connects to the server's `postgres` database and creates the target database if it is missing.
/// Two processes racing to create it is fine: the loser sees duplicate_database and moves on.
pub async fn ensure_database(config: &Config, tls: &Tls) -> Result<()> {
    let target = database_name(config);
    let mut admin = config.clone();
    admin.dbname("postgres");
    admin.connect_timeout(Duration::from_secs(10));
    let (client, connection) = admin.connect(tls.clone()).await.map_err(|e| {
        EngineError::initialization(format!(
            "cannot connect to the system database server: {}",
            EngineError::from(e)
        ))
    })?;
    let driver = tokio::spawn(connection);
    let exists = client
        // Unnamed: safe through a transaction pooler (no named statement outlives a transaction).
        .query_typed_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[(&target, tokio_postgres::types::Type::TEXT)],
        )
        .await?
        .is_some();
    if !exists {
        let create = format!("CREATE DATABASE {}", quote_ident(&target));
        if let Err(e) = client.batch_execute(&create).await {
            let duplicate = e
                .as_db_error()
                .map(|d| d.code().code() == "42P04" || d.code().code() == "23505")
                .unwrap_or(false);
            if !duplicate {
                drop(client);
                driver.abort();
                return Err(EngineError::initialization(format!(
                    "cannot create system database {target}: {}",
                    EngineError::from(e)
                )));
            }
        }
    }
    drop(client);
    driver.abort();
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Statements run on a pooled connection, each prepared once per connection (its statement cache).
/// No retry here: callers safe to run again wrap these in `retrying`.
impl Engine {
    pub(crate) async fn prepared(&self, sql: &str) -> Result<(Conn, Stmt)> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok((client, stmt))
    }

    pub(crate) async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let (client, stmt) = self.prepared(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }

    /// For a statement that always returns one row.
    pub(crate) async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        let (client, stmt) = self.prepared(sql).await?;
        Ok(client.query_one(&stmt, params).await?)
    }

    pub(crate) async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        let (client, stmt) = self.prepared(sql).await?;
        Ok(client.query_opt(&stmt, params).await?)
    }
}
