//! A workflow's completion as it waits to be written: in the completions' group commit, or behind
//! its workflow's last checkpoints (write-behind). Its SQL is `fence::complete_set` and `completes`.

/// A completion waiting in the group commit (or behind its workflow's last checkpoints).
pub(crate) struct Completion {
    pub(crate) workflow_id: String,
    pub(crate) token: String,
    pub(crate) status: String,
    pub(crate) output: Option<String>,
    pub(crate) error: Option<String>,
}

impl Completion {
    pub(crate) fn new(
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
