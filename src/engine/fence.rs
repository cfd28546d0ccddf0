//! Which execution may still write a workflow's checkpoints. Every checkpoint insert locks the
//! workflow's status row (`FOR NO KEY UPDATE`) and asks `admits`; the row lock orders the insert against
//! whatever rewrites `owner_xid` (recovery, a claim, a cancel, a completion).

/// The status-row columns `admits` reads; the CTE that locks the row selects them.
pub(crate) const OWNER_COLUMNS: &str = "owner_xid, status, completed_at";

/// SQL that is true when the locked status row `o` (with `OWNER_COLUMNS`) lets the execution holding
/// `token` record a checkpoint whose operation finished at `completed_at` (epoch ms).
///
/// The owner may always write. A cancel (ours, the SDK's, the DBOS CLI's, a timeout) clears the owner
/// and stamps `completed_at` with its own time; steps written behind their workflow may still be queued
/// then. A cancel is not a crash: what finished before it is kept, so a resumed run does not do it
/// again. Only a cancelled row with no owner admits these, and only operations that finished no later
/// than the cancel (both stamps from one host's clock, or within the clocks' skew across hosts); once
/// the row is resumed (ENQUEUED, then a new owner), late writes of the old run are refused again, since
/// the new run may already have replayed past them.
pub(crate) fn admits(o: &str, token: &str, completed_at: &str) -> String {
    format!(
        "({o}.owner_xid = {token} OR ({o}.owner_xid IS NULL AND {o}.status = 'CANCELLED' \
         AND {completed_at} <= {o}.completed_at))"
    )
}

/// The owner a checkpoint's verdict compares with its token: the token itself when `admits` let it in.
pub(crate) fn writer(o: &str, token: &str, completed_at: &str) -> String {
    format!(
        "CASE WHEN {} THEN {token} ELSE {o}.owner_xid END",
        admits(o, token, completed_at)
    )
}
