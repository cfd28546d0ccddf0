//! A workflow's completion as it waits to be written: in the completions' group commit, or behind
//! its workflow's last checkpoints (write-behind). Its SQL is `fence::complete_set` and `completes`.

use super::batch::column;
use super::db::Param;

/// A completion waiting in the group commit (or behind its workflow's last checkpoints).
#[derive(Clone)]
pub struct Completion {
    pub workflow_id: String,
    pub token: String,
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
}

impl Completion {
    pub fn new(
        workflow_id: &str,
        token: &str,
        status: &str,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Self {
        Completion {
            workflow_id: workflow_id.to_string(),
            token: token.to_string(),
            status: status.to_string(),
            output: output.map(str::to_string),
            error: error.map(str::to_string),
        }
    }
}

/// Completions as the columns of a batch statement: workflow IDs, statuses, tokens, outputs and
/// errors, in that order (the statements' `unnest`).
pub(crate) struct CompletionColumns<'a> {
    ids: Vec<&'a str>,
    statuses: Vec<&'a str>,
    tokens: Vec<&'a str>,
    outputs: Vec<Option<&'a str>>,
    errors: Vec<Option<&'a str>>,
}

impl<'a> CompletionColumns<'a> {
    pub(crate) fn of(items: &'a [Completion]) -> Self {
        CompletionColumns {
            ids: column(items, |c| c.workflow_id.as_str()),
            statuses: column(items, |c| c.status.as_str()),
            tokens: column(items, |c| c.token.as_str()),
            outputs: column(items, |c| c.output.as_deref()),
            errors: column(items, |c| c.error.as_deref()),
        }
    }

    pub(crate) fn params(&self) -> [Param<'_>; 5] {
        [
            &self.ids,
            &self.statuses,
            &self.tokens,
            &self.outputs,
            &self.errors,
        ]
    }
}
