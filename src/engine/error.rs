//! One error type for the whole engine. Each variant carries a stable numeric code: the DBOS error
//! code where DBOS has one, so the napi layer can map it to the matching DBOS error class in JS.

use std::fmt;

/// Stable codes shared with the TypeScript layer (`ts/native.ts`). Values below 100 are DBOS's own
/// `dbosErrorCode`s; values from 100 up are engine conditions that have no DBOS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Generic DBOSError.
    Dbos = 1,
    /// Cannot connect, schema not migrated, migration failed.
    Initialization = 3,
    /// This execution no longer owns the workflow row (fenced out).
    WorkflowConflict = 5,
    NonExistentWorkflow = 16,
    ConflictingWorkflow = 22,
    WorkflowIdInUse = 36,
    StepNondeterminism = 37,
    /// The engine was closed while the call was in flight or before it started.
    Shutdown = 100,
    /// A database error that is not a connection problem (carries the SQLSTATE).
    Database = 101,
    /// The database could not be reached (connection refused, reset, admin shutdown).
    Connection = 102,
    /// Bad argument detected by the engine (the TS layer validates first; this is a backstop).
    InvalidArgument = 103,
}

#[derive(Debug, Clone)]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
    pub sqlstate: Option<String>,
}

pub type Result<T> = std::result::Result<T, EngineError>;

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        EngineError {
            code,
            message: message.into(),
            sqlstate: None,
        }
    }

    pub fn initialization(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Initialization, message)
    }

    pub fn conflict(workflow_id: &str) -> Self {
        Self::new(
            ErrorCode::WorkflowConflict,
            format!("Workflow {workflow_id} is no longer owned by this execution"),
        )
    }

    pub fn shutdown() -> Self {
        Self::new(
            ErrorCode::Shutdown,
            "The system database has been shut down",
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// True for errors that a retry after reconnecting may cure.
    pub fn is_transient(&self) -> bool {
        self.code == ErrorCode::Connection
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for EngineError {}

/// SQLSTATE classes that mean "the connection, not the statement, failed" (57014, a cancelled
/// statement, is the statement's own fault).
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || (code.starts_with("57") && code != "57014")
        || code == "40003"
}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let state = db.code().code().to_string();
                let code = if is_connection_sqlstate(&state) {
                    ErrorCode::Connection
                } else {
                    ErrorCode::Database
                };
                EngineError {
                    code,
                    message: format!("{} (SQLSTATE {})", db.message(), state),
                    sqlstate: Some(state),
                }
            }
            // No server error: the socket closed, the connection was refused or timed out.
            None => EngineError {
                code: ErrorCode::Connection,
                message: format!("system database connection error: {e}"),
                sqlstate: None,
            },
        }
    }
}

impl From<deadpool_postgres::PoolError> for EngineError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(pg) => pg.into(),
            deadpool_postgres::PoolError::Closed => EngineError::shutdown(),
            other => EngineError::new(
                ErrorCode::Connection,
                format!("system database pool error: {other}"),
            ),
        }
    }
}
