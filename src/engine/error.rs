//! One error type for the whole engine: each variant is one condition, with the data a caller needs
//! to act on it (the workflow, the step, the SQLSTATE). The napi layer turns a variant into a JS error
//! with a stable `code` and these fields as properties (`src/bindings/errors.rs`); nothing on either
//! side reads the message text.

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum EngineError {
    /// The engine was closed while the call was in flight or before it started.
    #[error("The system database has been shut down")]
    Shutdown,

    /// The database could not be reached (refused, reset, admin shutdown, pool timeout).
    #[error("{message}")]
    Connection {
        message: String,
        sqlstate: Option<String>,
    },

    /// The TLS handshake with the database failed for good (its certificate did not verify, or it
    /// refused ours): a connection error that no retry cures.
    #[error("{0}")]
    TlsRejected(String),

    /// A statement failed for a reason other than the connection.
    #[error("{message}")]
    Database {
        message: String,
        sqlstate: Option<String>,
    },

    /// Cannot connect, the schema is not migrated, or a migration failed.
    #[error("{0}")]
    Initialization(String),

    /// This execution no longer owns the workflow row (fenced out).
    #[error("Workflow {workflow_id} is no longer owned by this execution")]
    Conflict { workflow_id: String },

    /// A read or a management call named a workflow that has no row.
    #[error("Workflow {workflow_id} does not exist")]
    NoSuchWorkflow { workflow_id: String },

    /// A send to a workflow that has no row (the DBOS SDK's wording).
    #[error("Sent to non-existent destination workflow UUID: {workflow_id}")]
    NoSuchDestination { workflow_id: String },

    /// Another execution already recorded this step of the workflow: replay would diverge.
    #[error("Workflow {workflow_id}: step {step_id} ({step_name}) was already recorded by another execution")]
    StepTaken {
        workflow_id: String,
        step_id: i32,
        step_name: String,
    },

    /// A named row (a queue) already belongs to another application sharing the system database
    /// (the DBOS SDK's wording).
    #[error(
        "{kind} '{name}' is already registered by application '{owner}' in this system database. \
         {kind} names must be unique across applications sharing a system database. \
         Either give '{requested}' a different {noun} name, or, if '{owner}' was renamed to \
         '{requested}', re-own its rows first with dbos rename-application",
        noun = .kind.to_lowercase()
    )]
    NameTaken {
        kind: &'static str,
        name: String,
        owner: String,
        requested: String,
    },

    /// A bad argument reached the engine (the TS layer validates first; this is a backstop).
    #[error("{0}")]
    InvalidArgument(String),

    /// An invariant of the engine itself broke (a batch answered with too few rows).
    #[error("{0}")]
    Internal(String),
}

/// The variant without its data, for matching (tests, retry rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Shutdown,
    Connection,
    Database,
    Initialization,
    WorkflowConflict,
    NonExistentWorkflow,
    StepNondeterminism,
    InvalidArgument,
    Internal,
}

pub type Result<T> = std::result::Result<T, EngineError>;

impl EngineError {
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Shutdown => ErrorCode::Shutdown,
            EngineError::Connection { .. } | EngineError::TlsRejected(_) => ErrorCode::Connection,
            EngineError::Database { .. } => ErrorCode::Database,
            EngineError::Initialization(_) => ErrorCode::Initialization,
            EngineError::Conflict { .. } => ErrorCode::WorkflowConflict,
            EngineError::NoSuchWorkflow { .. } | EngineError::NoSuchDestination { .. } => {
                ErrorCode::NonExistentWorkflow
            }
            EngineError::StepTaken { .. } => ErrorCode::StepNondeterminism,
            // The DBOS SDK raises a plain DBOSError for it, as for a bad argument.
            EngineError::InvalidArgument(_) | EngineError::NameTaken { .. } => {
                ErrorCode::InvalidArgument
            }
            EngineError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn initialization(message: impl Into<String>) -> Self {
        EngineError::Initialization(message.into())
    }

    pub fn conflict(workflow_id: &str) -> Self {
        EngineError::Conflict {
            workflow_id: workflow_id.to_string(),
        }
    }

    pub fn shutdown() -> Self {
        EngineError::Shutdown
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        EngineError::InvalidArgument(message.into())
    }

    /// A batch statement answered with fewer results than it had writes: the writes left over fail.
    pub fn too_few_results() -> Self {
        EngineError::Internal("a batch returned too few results".into())
    }

    pub fn step_taken(workflow_id: &str, step_id: i32, step_name: &str) -> Self {
        EngineError::StepTaken {
            workflow_id: workflow_id.to_string(),
            step_id,
            step_name: step_name.to_string(),
        }
    }

    /// True for errors that a retry after reconnecting may cure.
    pub fn is_transient(&self) -> bool {
        matches!(self, EngineError::Connection { .. })
    }

    /// The SQLSTATE of a database or connection error, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            EngineError::Connection { sqlstate, .. } | EngineError::Database { sqlstate, .. } => {
                sqlstate.as_deref()
            }
            _ => None,
        }
    }
}

/// SQLSTATE classes that mean "the connection, not the statement, failed" (57014, a cancelled
/// statement, is the statement's own fault).
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || (code.starts_with("57") && code != "57014")
        || code == "40003"
}

/// An error's message and its causes': tokio-postgres's own message names only the kind ("error
/// performing TLS handshake"). None of them holds the URL's password.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A TLS handshake that failed for good: rustls's verdict (a certificate that does not verify, an
/// alert refusing ours), which tokio-rustls hands over inside an `io::Error`, or a server without
/// TLS when the client requires it. Not a socket dropped mid-handshake (a plain `io::Error`).
fn is_tls_rejection(e: &tokio_postgres::Error) -> bool {
    use std::error::Error;
    let Some(cause) = e.source() else {
        return false;
    };
    match cause.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .is_some_and(|inner| inner.is::<rustls::Error>()),
        // tokio-postgres exposes no error kind; its Display is the kind's text alone.
        None => e.to_string() == "error performing TLS handshake",
    }
}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let state = db.code().code().to_string();
                let message = format!("{} (SQLSTATE {})", db.message(), state);
                if is_connection_sqlstate(&state) {
                    EngineError::Connection {
                        message,
                        sqlstate: Some(state),
                    }
                } else {
                    EngineError::Database {
                        message,
                        sqlstate: Some(state),
                    }
                }
            }
            None if is_tls_rejection(&e) => EngineError::TlsRejected(format!(
                "system database connection error: {}",
                with_causes(&e)
            )),
            // No server error: the socket closed, the connection was refused or timed out.
            None => EngineError::Connection {
                message: format!("system database connection error: {}", with_causes(&e)),
                sqlstate: None,
            },
        }
    }
}

impl From<deadpool_postgres::PoolError> for EngineError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(pg) => pg.into(),
            deadpool_postgres::PoolError::Closed => EngineError::Shutdown,
            other => EngineError::Connection {
                message: format!("system database pool error: {other}"),
                sqlstate: None,
            },
        }
    }
}
