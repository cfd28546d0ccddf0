//! A workflow's status, as `workflow_status.status` stores it. The napi boundary and the status reads
//! keep carrying the stored text; the engine compares and writes through this enum, and SQL text
//! interpolates its literals (`Status::sql`).

/// Every status the SDK writes (DELAYED: a queued start waiting for its delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Enqueued,
    Delayed,
    Success,
    Error,
    Cancelled,
    MaxRecoveryAttemptsExceeded,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Enqueued,
        Status::Delayed,
        Status::Success,
        Status::Error,
        Status::Cancelled,
        Status::MaxRecoveryAttemptsExceeded,
    ];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Enqueued => "ENQUEUED",
            Status::Delayed => "DELAYED",
            Status::Success => "SUCCESS",
            Status::Error => "ERROR",
            Status::Cancelled => "CANCELLED",
            Status::MaxRecoveryAttemptsExceeded => "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
        }
    }

    /// The stored text as a quoted SQL literal, for statements that name a status.
    pub const fn sql(self) -> &'static str {
        match self {
            Status::Pending => "'PENDING'",
            Status::Enqueued => "'ENQUEUED'",
            Status::Delayed => "'DELAYED'",
            Status::Success => "'SUCCESS'",
            Status::Error => "'ERROR'",
            Status::Cancelled => "'CANCELLED'",
            Status::MaxRecoveryAttemptsExceeded => "'MAX_RECOVERY_ATTEMPTS_EXCEEDED'",
        }
    }

    /// None for text that is no status the SDK writes.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Finished for good: a poller stops here and no execution writes the row's outcome again.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Success
                | Status::Error
                | Status::Cancelled
                | Status::MaxRecoveryAttemptsExceeded
        )
    }

    /// The workflow may still run (and append to its streams).
    pub const fn is_active(self) -> bool {
        matches!(self, Status::Pending | Status::Enqueued | Status::Delayed)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn text_round_trips_and_literals_quote_it() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(s.sql(), format!("'{}'", s.as_str()));
        }
        assert_eq!(Status::parse("pending"), None);
    }
}
