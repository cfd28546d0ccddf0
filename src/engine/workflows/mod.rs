//! Workflow rows, by concern: `start` (the start insert with its creator/owner tokens, child
//! starts), `complete` (completion with ownership fencing), `read` (status reads and result
//! polling), `list` (listings by filter), `steps_list` (a workflow's recorded operations), `fork`,
//! `delete` and `await_done` (waiting for the first or all of several workflows).

mod await_done;
mod client_start;
mod complete;
mod delete;
mod fork;
mod list;
mod read;
mod rewind; // --- rest
mod start;
mod start_sql;
mod steps_list;

pub(crate) use client_start::ClientStart;
pub use fork::ForkRequest;
pub use list::ListFilter;
pub use read::{WorkflowOutcome, WorkflowStatusRow};
pub use rewind::RewindRequest; // --- rest
pub use start::{NewWorkflow, StartOutcome};
pub use steps_list::StepRow;

use super::status::Status;

pub(crate) struct Sql {
    start: start_sql::Sql,
    complete: complete::Sql,
    read: read::Sql,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            start: start_sql::Sql::new(s),
            complete: complete::Sql::new(s),
            read: read::Sql::new(s),
        }
    }
}

/// Terminal statuses (`Status::is_terminal`): a poller stops on these.
pub fn is_terminal(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::is_terminal)
}
