//! Debouncing (the SDK's `Debouncer` / `DebouncerClient`): a debounced workflow is a DELAYED row on
//! a queue whose deduplication ID is the debounce key (`is_debounced`). A bounce extends its delay
//! (never past `debounce_deadline_epoch_ms`) and replaces its inputs; when the delay ends the
//! dispatcher moves it to ENQUEUED and frees the key (`dispatch`). The statements are the SDK's
//! `debounceDelayedWorkflow`, so its processes and ours bounce each other's rows.

use serde_json::json;

use crate::engine::db::now_ms;
use crate::engine::error::Result;
use crate::engine::steps::NewCheckpoint;
use crate::engine::Engine;

/// The step name the SDK records a bounce from workflow code under.
pub const BOUNCE_STEP: &str = "DBOS.debounceDelayedWorkflow";

/// The SDK's `DebounceParams`.
#[derive(Debug, Clone, Default)]
pub struct DebounceParams {
    pub workflow_name: String,
    /// '' for a function outside a class (stored as NULL).
    pub workflow_class_name: String,
    pub queue_name: String,
    pub deduplication_id: String,
    pub delay_until_epoch_ms: i64,
    pub input: Option<String>,
    pub serialization: Option<String>,
    /// The application the bounce acts for: it extends only that application's rows and unclaimed
    /// ones (claiming them). None or '': any application's.
    pub application_name: Option<String>,
}

/// The SDK's `DebounceResult`: the workflow extended, else who holds the key (if anyone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebounceResult {
    pub bounced_workflow_id: Option<String>,
    pub holder_workflow_id: Option<String>,
    pub holder_is_debounced: bool,
    pub holder_workflow_name: Option<String>,
    pub holder_workflow_class_name: Option<String>,
    pub holder_application_name: Option<String>,
}

impl DebounceResult {
    /// As the SDK's step output (an object with its field names), written as portable JSON.
    fn to_json(&self) -> String {
        json!({
            "bouncedWorkflowID": self.bounced_workflow_id,
            "holderWorkflowID": self.holder_workflow_id,
            "holderIsDebounced": self.holder_is_debounced,
            "holderWorkflowName": self.holder_workflow_name,
            "holderWorkflowClassName": self.holder_workflow_class_name,
            "holderApplicationName": self.holder_application_name,
        })
        .to_string()
    }
}

/// The workflow code a bounce is recorded for (its step at `function_id`).
#[derive(Debug, Clone)]
pub struct BounceStep {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub started_at: i64,
}

/// $1 delay until, $2 serialization, $3 name, $4 class (NULL: none), $5 queue, $6 key,
/// $7 application (NULL or '': any).
fn extend(s: &str) -> String {
    format!(
        "UPDATE {s}.workflow_status \
         SET delay_until_epoch_ms = CASE \
               WHEN debounce_deadline_epoch_ms IS NOT NULL AND debounce_deadline_epoch_ms < $1 \
               THEN debounce_deadline_epoch_ms ELSE $1 END, \
             serialization = $2, \
             updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint, \
             application_name = COALESCE(application_name, $7) \
         WHERE name = $3 AND class_name IS NOT DISTINCT FROM $4 \
           AND queue_name = $5 AND deduplication_id = $6 \
           AND status = 'DELAYED' AND is_debounced = TRUE \
           AND (COALESCE($7, '') = '' OR application_name = $7 OR application_name IS NULL) \
         RETURNING workflow_uuid"
    )
}

fn replace_input(s: &str) -> String {
    format!(
        "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES ($1, $2) \
         ON CONFLICT (workflow_uuid) DO UPDATE SET inputs = EXCLUDED.inputs"
    )
}

fn holder(s: &str) -> String {
    format!(
        "SELECT workflow_uuid, is_debounced, name, class_name, application_name \
         FROM {s}.workflow_status WHERE queue_name = $1 AND deduplication_id = $2"
    )
}

impl Engine {
    /// Extends the debounced DELAYED workflow holding the key (its delay, capped at its deadline, and
    /// its inputs), or reports the key's holder. From workflow code (`step`), the bounce and its
    /// checkpoint commit together, so a recovery never bounces again for a bounce that committed.
    /// Transactions, locks: one READ COMMITTED transaction; the update row-locks the holder's status
    /// row (waiting for a dispatcher moving it out of DELAYED, then re-checking its status) until the
    /// input row is replaced and the transaction commits; the holder read takes no lock.
    pub async fn debounce_delayed_workflow(
        &self,
        p: &DebounceParams,
        step: Option<&BounceStep>,
    ) -> Result<DebounceResult> {
        let s = self.schema();
        let (extend, replace_input, holder) = (extend(s), replace_input(s), holder(s));
        let class = Some(p.workflow_class_name.as_str()).filter(|c| !c.is_empty());
        // Fixed across retries: an attempt whose commit went unacknowledged is recognised as ours.
        let completed_at = now_ms();
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let extended = tx
                .query_opt(
                    &extend,
                    &[
                        &p.delay_until_epoch_ms,
                        &p.serialization,
                        &p.workflow_name,
                        &class,
                        &p.queue_name,
                        &p.deduplication_id,
                        &p.application_name,
                    ],
                )
                .await?;
            let result = match extended {
                Some(row) => {
                    let id: String = row.get(0);
                    tx.execute(&replace_input, &[&id, &p.input]).await?;
                    DebounceResult {
                        bounced_workflow_id: Some(id),
                        ..Default::default()
                    }
                }
                None => match tx
                    .query_opt(&holder, &[&p.queue_name, &p.deduplication_id])
                    .await?
                {
                    Some(row) => DebounceResult {
                        bounced_workflow_id: None,
                        holder_workflow_id: row.get(0),
                        holder_is_debounced: row.get::<_, Option<bool>>(1).unwrap_or(false),
                        holder_workflow_name: row.get(2),
                        holder_workflow_class_name: row.get(3),
                        holder_application_name: row.get(4),
                    },
                    None => DebounceResult::default(),
                },
            };
            if let Some(step) = step {
                let cp = NewCheckpoint {
                    function_id: step.function_id,
                    name: BOUNCE_STEP.to_string(),
                    output: Some(result.to_json()),
                    started_at: step.started_at,
                    completed_at,
                    serialization: Some("portable_json".to_string()),
                    ..Default::default()
                };
                self.insert_checkpoint_in(&tx, &step.workflow_id, &step.token, &cp, true)
                    .await?;
            }
            tx.commit().await?;
            Ok(result)
        })
        .await
    }
}
