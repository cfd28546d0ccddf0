//! The durable-execution engine: plain Rust over tokio-postgres, no napi types. Each submodule owns
//! one concern of the DBOS system database and all of its SQL.

pub mod app_versions;
mod batch;
pub mod behind;
pub mod completion;
mod conn;
pub mod db;
mod done_notices;
mod notices;
mod queue_notices;
mod waiting_presence;
// --- debouncer
pub mod debounce;
pub mod dispatch;
pub mod error;
pub mod events;
mod fence;
// --- fleet (takeover of dead executors)
pub mod fleet;
pub mod held;
pub mod listener;
pub mod messages;
pub mod migrations;
pub mod parked;
pub mod queued;
pub mod queues;
pub mod recovery;
// --- rest (rename application)
pub mod rename_app;
mod retry;
pub mod schedules;
pub mod status;
pub mod steps;
pub mod streams;
pub mod tls;
pub mod workflows;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{Notify, OnceCell};

pub use error::{EngineError, ErrorCode, Result};

/// Who this process is: stamped on the rows it writes and used to pick what it recovers.
#[derive(Debug, Clone)]
pub struct Identity {
    pub app_name: String,
    pub executor_id: String,
    pub app_version: String,
}

/// What connecting does to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// Create the database if it is missing and migrate it to version 123 (an app's launch).
    Migrate,
    /// Only check that the schema is at version 123 or newer (`runMigrations: false`).
    Verify,
    /// Touch nothing and open no connection until the first call (a client).
    Lazy,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub url: String,
    pub schema: String,
    pub pool_size: usize,
    pub identity: Identity,
    pub schema_mode: SchemaMode,
    /// Start the LISTEN connection now rather than at the first wait.
    pub listen: bool,
    /// False: polling mode. The listener connection is still opened (and kept) but LISTENs to
    /// nothing, and every wait polls (`listener::POLLING_MODE_POLL_MS`). NOTIFYs are still sent.
    pub listen_notify: bool,
    /// Where the listener connects (a direct URL when `url` goes through a transaction pooler);
    /// None: `url`.
    pub listen_url: Option<String>,
    /// `url` goes through a transaction-mode pooler (PgBouncer): no named statement outlives a
    /// transaction (`db::Statements`).
    pub transaction_pooling: bool,
}

pub(crate) struct Statements {
    workflows: workflows::Sql,
    steps: steps::Sql,
    recovery: recovery::Sql,
    messages: messages::Sql,
    events: events::Sql,
    streams: streams::Sql,
    dispatch: dispatch::Sql,
}

/// The group commits of the hot-path writes.
#[derive(Default)]
pub(crate) struct Groups {
    starts: batch::Group<workflows::NewWorkflow, workflows::StartOutcome>,
    client_starts: batch::Group<workflows::ClientStart, workflows::StartOutcome>,
    checkpoints: batch::Group<steps::CheckpointWrite, ()>,
    completions: batch::Group<completion::Completion, bool>,
    sends: batch::Group<messages::OutgoingMessage, ()>,
    /// Batches whose statement failed, so that each item was then written alone (see `run_batch`).
    fallbacks: std::sync::atomic::AtomicU64,
}

/// Closing flag that async waits can select on.
pub(crate) struct Closer {
    flag: AtomicBool,
    notify: Notify,
}

impl Closer {
    fn new() -> Self {
        Closer {
            flag: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }

    fn close(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub(crate) async fn cancelled(&self) {
        loop {
            // Register before checking the flag, so a close between the two still wakes us.
            let notified = self.notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

pub struct Engine {
    pool: Pool,
    config: tokio_postgres::Config,
    /// The TLS connector of every connection (`tls.rs`), for the listener's.
    tls: tls::Tls,
    /// The listener's connection settings when not `config` (`EngineOptions::listen_url`), and
    /// their TLS connector.
    listen_config: Option<tokio_postgres::Config>,
    listen_tls: Option<tls::Tls>,
    /// False: polling mode (see `EngineOptions::listen_notify`).
    listen_notify: bool,
    /// Named and cached statements, or unnamed ones behind a transaction pooler (`conn`).
    statements: Arc<conn::StatementMode>,
    pub identity: Identity,
    schema_q: String,
    sql: Statements,
    closed: Arc<Closer>,
    listener: OnceCell<Arc<listener::Listener>>,
    groups: Groups,
    behind: behind::Behind,
    /// Starts whose rows wait for their workflow to need them.
    held: held::Held,
    /// recv calls between tries, which a local send can serve.
    parked: parked::Parked,
    /// Where writes handed off without a waiting caller run.
    runtime: tokio::runtime::Handle,
    /// Tells this engine's queue notifications from every other engine's (see `notify_queue`).
    origin: String,
    /// Queued workflows' completions, notified after they commit (see `done_notices`).
    done_notices: done_notices::DoneNotices,
    /// A client's enqueues, notified after they commit (see `queue_notices`).
    queue_notices: queue_notices::QueueNotices,
    // --- schedules (firing): which schedules this process fires, and when (`schedules::fire`).
    firing: schedules::fire::Firing,
    // --- fleet: the executors this process has seen as ours, and since when each looks dead.
    fleet: fleet::Fleet,
}

impl Engine {
    /// Connects, creates the database if it is missing, and brings the schema to version 123.
    pub async fn connect(opts: EngineOptions) -> Result<Engine> {
        let (config, tls) = db::parse_url(&opts.url)?;
        let (listen_config, listen_tls) =
            match opts.listen_url.as_deref().map(db::parse_url).transpose()? {
                Some((c, t)) => (Some(c), Some(t)),
                None => (None, None),
            };
        if opts.schema.is_empty() {
            return Err(EngineError::invalid(
                "systemDatabaseSchemaName must not be empty",
            ));
        }
        if opts.schema_mode == SchemaMode::Migrate {
            db::ensure_database(&config, &tls).await?;
        }
        let app = format!(
            "dbos_native_{}_{}",
            opts.identity.executor_id, opts.identity.app_version
        );
        let pool = db::build_pool(config.clone(), tls.clone(), opts.pool_size, &app)?;
        if opts.schema_mode != SchemaMode::Lazy {
            // Behind a transaction pooler, the migration's session advisory lock must hold one server
            // connection: migrate over the direct listen URL when there is one.
            let setup = match (&listen_config, opts.transaction_pooling) {
                (Some(direct), true) => db::build_pool(
                    direct.clone(),
                    listen_tls.clone().unwrap_or_else(|| tls.clone()),
                    1,
                    &app,
                )?,
                _ => pool.clone(),
            };
            let mut client = setup.get().await.map_err(|e| {
                EngineError::initialization(format!(
                    "cannot connect to the system database: {}",
                    EngineError::from(e)
                ))
            })?;
            if opts.schema_mode == SchemaMode::Migrate {
                migrations::migrate(&mut client, &opts.schema).await?;
            } else {
                let shown = format!(
                    "{}:{}/{}",
                    config
                        .get_hosts()
                        .first()
                        .map(|h| format!("{h:?}"))
                        .unwrap_or_default(),
                    config.get_ports().first().copied().unwrap_or(5432),
                    db::database_name(&config)
                );
                migrations::verify(&client, &opts.schema, &shown).await?;
            }
        }
        let schema_q = db::quote_ident(&opts.schema);
        let statements = conn::StatementMode::new(opts.transaction_pooling);
        let closed = Arc::new(Closer::new());
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let engine = Engine {
            pool: pool.clone(),
            config,
            tls,
            listen_config,
            listen_tls,
            listen_notify: opts.listen_notify,
            statements: statements.clone(),
            identity: opts.identity,
            sql: Statements {
                workflows: workflows::Sql::new(&schema_q),
                steps: steps::Sql::new(&schema_q),
                recovery: recovery::Sql::new(&schema_q),
                messages: messages::Sql::new(&schema_q),
                events: events::Sql::new(&schema_q),
                streams: streams::Sql::new(&schema_q),
                dispatch: dispatch::Sql::new(&schema_q),
            },
            schema_q,
            closed: closed.clone(),
            listener: OnceCell::new(),
            groups: Groups::default(),
            behind: behind::Behind::default(),
            held: held::Held::default(),
            parked: parked::Parked::default(),
            runtime: tokio::runtime::Handle::current(),
            origin: origin.clone(),
            firing: Default::default(),
            // A client (lazy schema) is no executor: it publishes no liveness.
            // Behind a transaction pooler with no direct listen URL, the listener's session lock
            // would sit on a pooled server connection: such a process publishes no liveness.
            fleet: fleet::Fleet::new(
                opts.schema_mode != SchemaMode::Lazy
                    && !(opts.transaction_pooling && opts.listen_url.is_none()),
            ),
            done_notices: done_notices::DoneNotices::start(
                pool.clone(),
                statements.clone(),
                closed.clone(),
                &tokio::runtime::Handle::current(),
            ),
            queue_notices: queue_notices::QueueNotices::start(
                pool.clone(),
                statements,
                closed.clone(),
                listener::queue_payload_prefix(&origin),
                &tokio::runtime::Handle::current(),
            ),
        };
        if opts.listen {
            engine.listener().await;
        }
        Ok(engine)
    }

    pub(crate) async fn client(&self) -> Result<conn::Conn> {
        if self.closed.is_closed() {
            return Err(EngineError::shutdown());
        }
        Ok(conn::Conn::new(
            self.pool.get().await?,
            self.statements.clone(),
        ))
    }

    /// Idempotent: wakes every wait with a shutdown error and closes the pool.
    pub fn close(&self) {
        self.closed.close();
        self.pool.close();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_closed()
    }

    pub fn schema(&self) -> &str {
        &self.schema_q
    }
}
