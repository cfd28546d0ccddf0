//! Listing workflows (`listWorkflows`, `listQueuedWorkflows`): one parameterized SELECT built from
//! the filters that are set, returning the same rows `get_workflow_status` reads.

use tokio_postgres::types::ToSql;

use super::read::{status_columns, status_row, WorkflowStatusRow};
use crate::engine::error::Result;
use crate::engine::status::Status;
use crate::engine::Engine;

/// The filters of a listing; each list is matched with `= ANY` (a single value is a list of one).
/// Unset (None) filters nothing; an empty list matches nothing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub workflow_ids: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub authenticated_users: Option<Vec<String>>,
    pub application_versions: Option<Vec<String>>,
    pub executor_ids: Option<Vec<String>>,
    /// `workflow_uuid LIKE prefix || '%'`, ORed.
    pub id_prefixes: Option<Vec<String>>,
    pub queue_names: Option<Vec<String>>,
    pub forked_from: Option<Vec<String>>,
    pub parent_workflow_ids: Option<Vec<String>>,
    pub schedule_names: Option<Vec<String>>,
    /// The application scope: these names plus unclaimed rows; empty means every application.
    pub application_names: Vec<String>,
    /// Epoch milliseconds, inclusive bounds.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub completed_from: Option<i64>,
    pub completed_to: Option<i64>,
    pub dequeued_from: Option<i64>,
    pub dequeued_to: Option<i64>,
    /// Only rows on a queue that have not finished (ENQUEUED, PENDING, DELAYED).
    pub queues_only: bool,
    pub was_forked_from: Option<bool>,
    pub is_fork: Option<bool>,
    pub has_parent: Option<bool>,
    /// JSON text of an object the row's `attributes` must contain.
    pub attributes: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub sort_desc: bool,
    pub load_input: bool,
    pub load_output: bool,
    /// The statement timeout of a listing not keyed by IDs (`observabilityQueryTimeoutMs`), in ms;
    /// None: no cap. A read by IDs is bounded by its IDs and takes none.
    pub timeout_ms: Option<i64>,
}

type BoxedParam = Box<dyn ToSql + Sync + Send>;

/// WHERE clauses with their parameters, numbered as they are added.
#[derive(Default)]
struct Query {
    clauses: Vec<String>,
    params: Vec<BoxedParam>,
}

impl Query {
    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, v: BoxedParam) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn any(&mut self, column: &str, values: &Option<Vec<String>>) {
        if let Some(v) = values {
            let p = self.param(Box::new(v.clone()));
            self.clauses.push(format!("{column} = ANY({p})"));
        }
    }

    fn cmp(&mut self, column: &str, op: &str, value: Option<i64>) {
        if let Some(v) = value {
            let p = self.param(Box::new(v));
            self.clauses.push(format!("{column} {op} {p}"));
        }
    }

    fn null_test(&mut self, column: &str, not_null: Option<bool>) {
        match not_null {
            Some(true) => self.clauses.push(format!("{column} IS NOT NULL")),
            Some(false) => self.clauses.push(format!("{column} IS NULL")),
            None => {}
        }
    }
}

/// The statement and its parameters for a filter (schema `s`, quoted).
fn build(s: &str, f: &ListFilter) -> (String, Vec<BoxedParam>) {
    let mut q = Query::default();
    if f.queues_only {
        let (enqueued, pending, delayed) = (
            Status::Enqueued.sql(),
            Status::Pending.sql(),
            Status::Delayed.sql(),
        );
        q.clauses.push(format!(
            "ws.queue_name IS NOT NULL AND ws.status IN ({enqueued}, {pending}, {delayed})"
        ));
    }
    q.any("ws.name", &f.names);
    q.any("ws.queue_name", &f.queue_names);
    q.any("ws.schedule_name", &f.schedule_names);
    if !f.application_names.is_empty() {
        let p = q.param(Box::new(f.application_names.clone()));
        q.clauses.push(format!(
            "(ws.application_name = ANY({p}) OR ws.application_name IS NULL)"
        ));
    }
    if let Some(prefixes) = &f.id_prefixes {
        // LIKE patterns with the prefix's own wildcards left active, as the SDK does.
        let patterns: Vec<String> = prefixes.iter().map(|p| format!("{p}%")).collect();
        let p = q.param(Box::new(patterns));
        q.clauses.push(format!("ws.workflow_uuid LIKE ANY({p})"));
    }
    q.any("ws.workflow_uuid", &f.workflow_ids);
    q.any("ws.authenticated_user", &f.authenticated_users);
    q.any("ws.forked_from", &f.forked_from);
    q.any("ws.parent_workflow_id", &f.parent_workflow_ids);
    if let Some(b) = f.was_forked_from {
        let p = q.param(Box::new(b));
        q.clauses.push(format!("ws.was_forked_from = {p}"));
    }
    q.null_test("ws.forked_from", f.is_fork);
    q.null_test("ws.parent_workflow_id", f.has_parent);
    if let Some(json) = &f.attributes {
        let p = q.param(Box::new(json.clone()));
        q.clauses.push(format!("ws.attributes @> {p}::text::jsonb"));
    }
    q.cmp("ws.created_at", ">=", f.created_from);
    q.cmp("ws.created_at", "<=", f.created_to);
    q.cmp("ws.completed_at", ">=", f.completed_from);
    q.cmp("ws.completed_at", "<=", f.completed_to);
    q.cmp("ws.started_at_epoch_ms", ">=", f.dequeued_from);
    q.cmp("ws.started_at_epoch_ms", "<=", f.dequeued_to);
    q.any("ws.status", &f.statuses);
    q.any("ws.application_version", &f.application_versions);
    q.any("ws.executor_id", &f.executor_ids);

    let mut sql = format!(
        "SELECT {} FROM {s}.workflow_status ws",
        status_columns(f.load_input, f.load_output)
    );
    if f.load_input {
        sql.push_str(&format!(
            " LEFT JOIN {s}.workflow_input i ON i.workflow_uuid = ws.workflow_uuid"
        ));
    }
    if f.load_output {
        sql.push_str(&format!(
            " LEFT JOIN {s}.workflow_output o ON o.workflow_uuid = ws.workflow_uuid"
        ));
    }
    if !q.clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&q.clauses.join(" AND "));
    }
    sql.push_str(if f.sort_desc {
        " ORDER BY ws.created_at DESC"
    } else {
        " ORDER BY ws.created_at ASC"
    });
    // Zero means "no limit" / "no offset", as in the SDK.
    if let Some(n) = f.limit.filter(|n| *n != 0) {
        let p = q.param(Box::new(n));
        sql.push_str(&format!(" LIMIT {p}"));
    }
    if let Some(n) = f.offset.filter(|n| *n != 0) {
        let p = q.param(Box::new(n));
        sql.push_str(&format!(" OFFSET {p}"));
    }
    (sql, q.params)
}

impl Engine {
    /// The workflows matching `filter`, ordered by creation time. A listing cancelled by its
    /// timeout fails with a `Database` error of SQLSTATE 57014.
    /// Transactions, locks: a READ COMMITTED READ ONLY transaction (a plain snapshot read, no row
    /// locks) whose `SET LOCAL statement_timeout` caps a listing not keyed by IDs.
    pub async fn list_workflows(&self, filter: &ListFilter) -> Result<Vec<WorkflowStatusRow>> {
        let (sql, params) = build(self.schema(), filter);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let id_keyed = filter
            .workflow_ids
            .as_ref()
            .is_some_and(|ids| !ids.is_empty());
        let cap = filter.timeout_ms.filter(|ms| *ms > 0 && !id_keyed);
        let rows = self
            .retrying(|| async {
                let mut client = self.client().await?;
                let tx = client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
                    .read_only(true)
                    .start()
                    .await?;
                if let Some(ms) = cap {
                    // An integer, so it can be written into the statement (SET takes no parameters).
                    tx.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))
                        .await?;
                }
                let rows = tx.query(&sql, &refs).await?;
                tx.commit().await?;
                Ok(rows)
            })
            .await?;
        Ok(rows.iter().map(status_row).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_filters_add_no_clause_and_zero_limit_is_none() {
        let f = ListFilter {
            limit: Some(0),
            offset: Some(0),
            ..ListFilter::default()
        };
        let (sql, params) = build("dbos", &f);
        assert!(!sql.contains("WHERE"));
        assert!(!sql.contains("LIMIT"));
        assert!(params.is_empty());
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let f = ListFilter {
            names: Some(vec!["a".into()]),
            application_names: vec!["app".into()],
            limit: Some(5),
            load_input: true,
            ..ListFilter::default()
        };
        let (sql, params) = build("dbos", &f);
        assert!(sql.contains("ws.name = ANY($1)"));
        assert!(sql.contains("ws.application_name = ANY($2)"));
        assert!(sql.ends_with("LIMIT $3"));
        assert!(sql.contains("workflow_input"));
        assert!(!sql.contains("workflow_output"));
        assert_eq!(params.len(), 3);
    }
}
