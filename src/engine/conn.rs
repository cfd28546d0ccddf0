//! A pooled connection as the engine uses it, in one of two modes.
//!
//! Direct (the default, the performance core): tokio-postgres named statements, each prepared once
//! per connection and cached there (deadpool's statement cache), exactly as before this module.
//!
//! Transaction pooling (`EngineOptions::transaction_pooling`, PgBouncer `pool_mode = transaction`):
//! each transaction may run on another server connection, and PgBouncer 1.18 does not carry
//! protocol-level prepared statements across them, so a named statement must never outlive its
//! transaction. Every statement then runs unnamed (`query_typed`: Parse, Bind, Execute in one round
//! trip), with its parameter types learned once per SQL text for the whole engine: prepared inside a
//! transaction and closed before its COMMIT, so the Close reaches the server connection that
//! prepared it.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Object, Transaction};
use tokio_postgres::types::Type;
use tokio_postgres::{Error, Row, Statement};

use super::db::Param;

/// How statements run, shared by every connection of an engine.
#[derive(Default)]
pub(crate) struct StatementMode {
    /// True behind a transaction-mode pooler: unnamed statements only.
    pub(crate) unnamed: bool,
    /// Parameter types by SQL text (transaction pooling only).
    types: Mutex<HashMap<String, Arc<[Type]>>>,
}

impl StatementMode {
    pub(crate) fn new(unnamed: bool) -> Arc<Self> {
        Arc::new(StatementMode {
            unnamed,
            types: Mutex::new(HashMap::new()),
        })
    }

    fn known(&self, sql: &str) -> Option<Arc<[Type]>> {
        self.types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(sql)
            .cloned()
    }

    fn learn(&self, sql: &str, stmt: &Statement) -> Arc<[Type]> {
        let types: Arc<[Type]> = stmt.params().to_vec().into();
        self.types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(sql.to_string(), types.clone());
        types
    }
}

/// A statement ready to run: a named one of this connection (direct), or SQL text with its
/// parameter types (transaction pooling).
pub(crate) enum Stmt {
    Named(Statement),
    Unnamed { sql: String, types: Arc<[Type]> },
}

/// What the query methods take: a prepared `Stmt` or SQL text.
pub(crate) trait ToStmt {
    fn source(&self) -> Source<'_>;
}

pub(crate) enum Source<'a> {
    Sql(&'a str),
    Stmt(&'a Stmt),
}

impl ToStmt for Stmt {
    fn source(&self) -> Source<'_> {
        Source::Stmt(self)
    }
}
impl ToStmt for str {
    fn source(&self) -> Source<'_> {
        Source::Sql(self)
    }
}
impl ToStmt for String {
    fn source(&self) -> Source<'_> {
        Source::Sql(self)
    }
}

fn typed<'a>(params: &[Param<'a>], types: &[Type]) -> Vec<(Param<'a>, Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

/// The query methods, for a connection and for a transaction on one.
macro_rules! statement_methods {
    () => {
        /// Named and cached on this connection (direct), or unnamed with its parameter types.
        pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<Stmt, Error> {
            if !self.mode.unnamed {
                return Ok(Stmt::Named(self.inner.prepare_cached(sql).await?));
            }
            if let Some(types) = self.mode.known(sql) {
                return Ok(Stmt::Unnamed {
                    sql: sql.to_string(),
                    types,
                });
            }
            let types = self.learn_types(sql).await?;
            Ok(Stmt::Unnamed {
                sql: sql.to_string(),
                types,
            })
        }

        async fn resolve<'s, T: ?Sized + ToStmt>(
            &self,
            statement: &'s T,
        ) -> Result<StmtRef<'s>, Error> {
            Ok(match statement.source() {
                Source::Stmt(s) => StmtRef::Borrowed(s),
                Source::Sql(sql) if !self.mode.unnamed => StmtRef::Text(sql),
                Source::Sql(sql) => StmtRef::Owned(self.prepare_cached(sql).await?),
            })
        }

        pub(crate) async fn query<T: ?Sized + ToStmt>(
            &self,
            statement: &T,
            params: &[Param<'_>],
        ) -> Result<Vec<Row>, Error> {
            match self.resolve(statement).await?.get() {
                Either::Text(sql) => self.inner.query(sql, params).await,
                Either::Stmt(Stmt::Named(s)) => self.inner.query(s, params).await,
                Either::Stmt(Stmt::Unnamed { sql, types }) => {
                    self.inner.query_typed(sql, &typed(params, types)).await
                }
            }
        }

        pub(crate) async fn query_one<T: ?Sized + ToStmt>(
            &self,
            statement: &T,
            params: &[Param<'_>],
        ) -> Result<Row, Error> {
            match self.resolve(statement).await?.get() {
                Either::Text(sql) => self.inner.query_one(sql, params).await,
                Either::Stmt(Stmt::Named(s)) => self.inner.query_one(s, params).await,
                Either::Stmt(Stmt::Unnamed { sql, types }) => {
                    self.inner.query_typed_one(sql, &typed(params, types)).await
                }
            }
        }

        pub(crate) async fn query_opt<T: ?Sized + ToStmt>(
            &self,
            statement: &T,
            params: &[Param<'_>],
        ) -> Result<Option<Row>, Error> {
            match self.resolve(statement).await?.get() {
                Either::Text(sql) => self.inner.query_opt(sql, params).await,
                Either::Stmt(Stmt::Named(s)) => self.inner.query_opt(s, params).await,
                Either::Stmt(Stmt::Unnamed { sql, types }) => {
                    self.inner.query_typed_opt(sql, &typed(params, types)).await
                }
            }
        }

        pub(crate) async fn execute<T: ?Sized + ToStmt>(
            &self,
            statement: &T,
            params: &[Param<'_>],
        ) -> Result<u64, Error> {
            match self.resolve(statement).await?.get() {
                Either::Text(sql) => self.inner.execute(sql, params).await,
                Either::Stmt(Stmt::Named(s)) => self.inner.execute(s, params).await,
                Either::Stmt(Stmt::Unnamed { sql, types }) => {
                    self.inner.execute_typed(sql, &typed(params, types)).await
                }
            }
        }
    };
}

/// A statement as resolved for one call.
enum StmtRef<'s> {
    Text(&'s str),
    Borrowed(&'s Stmt),
    Owned(Stmt),
}

enum Either<'a> {
    Text(&'a str),
    Stmt(&'a Stmt),
}

impl StmtRef<'_> {
    fn get(&self) -> Either<'_> {
        match self {
            StmtRef::Text(sql) => Either::Text(sql),
            StmtRef::Borrowed(s) => Either::Stmt(s),
            StmtRef::Owned(s) => Either::Stmt(s),
        }
    }
}

/// A pooled connection (derefs to deadpool's for what needs no statement: `batch_execute`, ...).
pub(crate) struct Conn {
    inner: Object,
    mode: Arc<StatementMode>,
}

impl Conn {
    pub(crate) fn new(inner: Object, mode: Arc<StatementMode>) -> Self {
        Conn { inner, mode }
    }

    statement_methods!();

    /// Learns `sql`'s parameter types in a transaction of its own: the named statement is closed
    /// before COMMIT, so its Close goes to the server connection that prepared it. Never called
    /// inside a transaction (a statement run inside one is prepared on its `Tx`).
    async fn learn_types(&self, sql: &str) -> Result<Arc<[Type]>, Error> {
        self.inner.batch_execute("BEGIN").await?;
        let types = match self.inner.prepare(sql).await {
            // Dropping the statement here queues its Close ahead of the COMMIT below.
            Ok(stmt) => Ok(self.mode.learn(sql, &stmt)),
            Err(e) => Err(e),
        };
        match types {
            Ok(types) => {
                self.inner.batch_execute("COMMIT").await?;
                Ok(types)
            }
            Err(e) => {
                let _ = self.inner.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    pub(crate) async fn transaction(&mut self) -> Result<Tx<'_>, Error> {
        let mode = self.mode.clone();
        Ok(Tx {
            inner: self.inner.transaction().await?,
            mode,
        })
    }
}

impl Deref for Conn {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.inner
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.inner
    }
}

/// A transaction on a `Conn` (derefs to deadpool's for `batch_execute`, `commit`, ...).
pub(crate) struct Tx<'a> {
    inner: Transaction<'a>,
    mode: Arc<StatementMode>,
}

impl<'a> Tx<'a> {
    statement_methods!();

    /// Inside the transaction already: prepared and closed in it.
    async fn learn_types(&self, sql: &str) -> Result<Arc<[Type]>, Error> {
        let stmt = self.inner.prepare(sql).await?;
        Ok(self.mode.learn(sql, &stmt))
    }

    pub(crate) async fn commit(self) -> Result<(), Error> {
        self.inner.commit().await
    }
}

impl<'a> Deref for Tx<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.inner
    }
}
