//! recv: the wait for a message and its consumption, whose consumed row and checkpoint commit together;
//! a send from this process hands a message straight to a parked recv (see `parked`).

use super::{
    send_params, send_verdict, slot_taken, Engine, OutgoingMessage, Received, RecvDeadline,
    SendContext, BEGIN_GENERIC,
};
use crate::engine::db::{now_ms, Param};
use crate::engine::error::{EngineError, Result};
use crate::engine::listener::next_wait;
use crate::engine::parked::{Left, RecvCall};

impl Engine {
    /// recv for workflow code: until a message for `topic` is there or the deadline passes, tries to
    /// consume one and record `DBOS.recv` at `function_id` in one statement, waiting between tries
    /// without holding a connection; at the deadline the timeout's NULL is recorded. Between tries it
    /// is parked, so that a send from this process can consume for it (see `parked`). Fenced: a run
    /// that lost ownership gets `WorkflowConflict`.
    #[allow(clippy::too_many_arguments)]
    pub async fn recv(
        &self,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        topic: &str,
        deadline_epoch_ms: i64,
        started_at: i64,
        poll_ms: u64,
    ) -> Result<Received> {
        let deadline = RecvDeadline {
            epoch_ms: deadline_epoch_ms,
            record: false,
        };
        self.recv_until(
            workflow_id,
            token,
            function_id,
            topic,
            deadline,
            started_at,
            poll_ms,
        )
        .await
    }

    /// `recv`, whose first try also records the deadline when `deadline.record` is set (in the same
    /// statement: a recv whose message is there costs one write, not two).
    #[allow(clippy::too_many_arguments)]
    pub async fn recv_until(
        &self,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        topic: &str,
        deadline: RecvDeadline,
        started_at: i64,
        poll_ms: u64,
    ) -> Result<Received> {
        let deadline_epoch_ms = deadline.epoch_ms;
        let mut record_deadline = deadline.record.then(|| deadline_epoch_ms.to_string());
        let key = format!("{workflow_id}::{topic}");
        let call = RecvCall {
            workflow_id: workflow_id.to_owned(),
            token: token.to_owned(),
            function_id,
            topic: topic.to_owned(),
            started_at,
        };
        let consume = |completed_at: i64, last: bool, deadline: Option<String>| {
            let call = &call;
            async move {
                self.retrying(|| self.consume_once(call, completed_at, last, &deadline))
                    .await
            }
        };
        let listener = self.listener().await;
        let waiter = listener.register(key.clone());
        // Set when a sender's consume for us may have committed: our next try must carry its
        // completion time to recognise that record as ours.
        let mut completed_at = None;
        loop {
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            // Registered before the try: a notification that lands during it still wakes us.
            notified.as_mut().enable();
            // The consume checks ownership itself: a cancelled or fenced-out recv ends here.
            let at = completed_at.take().unwrap_or_else(now_ms);
            if let Some(received) = consume(at, false, record_deadline.take()).await? {
                return Ok(received);
            }
            let Some(wait) = next_wait(listener.poll_ms(poll_ms), Some(deadline_epoch_ms)) else {
                break;
            };
            let parking = self.parked.park(&key, call.clone());
            let claim_settled = async {
                match &parking {
                    Some(p) => p.settled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = claim_settled => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
            }
            if let Some(parking) = parking {
                match parking.leave().await {
                    Left::Free => {}
                    Left::Released(at) => completed_at = Some(at),
                    Left::Handed(received) => return Ok(received),
                }
            }
        }
        let at = completed_at.unwrap_or_else(now_ms);
        Ok(consume(at, true, record_deadline)
            .await?
            .unwrap_or_default())
    }

    /// How many recv calls are parked between tries (for tests and diagnostics).
    pub fn parked_recvs(&self) -> usize {
        self.parked.len()
    }

    /// Serves a recv parked on the message's key, if there is one: runs the send and that recv's
    /// consume in one transaction (one round trip). Some with the send's outcome if that transaction
    /// committed (the recv then has its message, or is released to try by itself); None if the caller
    /// must send the ordinary way.
    pub(super) async fn hand_over(
        &self,
        msg: &OutgoingMessage,
        ctx: SendContext<'_>,
        completed_at: i64,
    ) -> Option<Result<()>> {
        if self.parked.is_empty() {
            return None;
        }
        let key = format!("{}::{}", msg.destination_id, msg.topic);
        let (claim, call) = self.parked.claim(&key, now_ms())?;
        // Any failure releases the recv (dropping the claim); a commit whose reply was lost is then
        // recognised by the ordinary send (same message UUID and completion time) and by the recv (same
        // completion time).
        let (sent, received) = self
            .send_and_consume(msg, ctx, completed_at, &call, claim.completed_at())
            .await
            .ok()?;
        if let Some(received) = received {
            claim.finish(received);
        }
        Some(sent)
    }

    /// The send and `call`'s consume, in one pipelined transaction: the send's outcome, and what the
    /// consume took for `call` (not necessarily this message: the oldest unconsumed one), None if
    /// nothing (the recv lost its ownership, its slot is recorded, or the send wrote nothing).
    async fn send_and_consume(
        &self,
        msg: &OutgoingMessage,
        ctx: SendContext<'_>,
        completed_at: i64,
        call: &RecvCall,
        consumed_at: i64,
    ) -> Result<(Result<()>, Option<Received>)> {
        let client = self.client().await?;
        let send = client.prepare_cached(self.send_sql(ctx)).await?;
        let consume = client.prepare_cached(&self.sql.messages.consume).await?;
        let last = false;
        let send_params = send_params(msg, &ctx, &completed_at, &self.identity.app_name);
        let consume_params =
            consume_params(call, &consumed_at, &self.identity.app_name, &last, &None);
        let (begun, sent, row, committed) = futures::join!(
            client.batch_execute(BEGIN_GENERIC),
            client.query(&send, &send_params),
            client.query_one(&consume, &consume_params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        // A failed send (a missing destination) aborts the transaction: the caller sends again the
        // ordinary way, which reports it.
        let sent = sent?;
        let row = row?;
        committed?;
        Ok((
            send_verdict(msg, ctx, Ok(sent)),
            consumed(&row, call, last).ok().flatten(),
        ))
    }

    /// One consume attempt: Some if a message was consumed (or this call's record found), None if
    /// there was none and `last` is false.
    async fn consume_once(
        &self,
        call: &RecvCall,
        completed_at: i64,
        last: bool,
        deadline: &Option<String>,
    ) -> Result<Option<Received>> {
        let (client, stmt) = self.prepared(&self.sql.messages.consume).await?;
        let params = consume_params(
            call,
            &completed_at,
            &self.identity.app_name,
            &last,
            deadline,
        );
        // Still one round trip: each request goes out when first polled, in this order, so the
        // transaction commits (or rolls back) even if this future is dropped after the first poll.
        let (begun, row, committed) = futures::join!(
            client.batch_execute(BEGIN_GENERIC),
            client.query_one(&stmt, &params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        let row = row?;
        committed?;
        consumed(&row, call, last)
    }
}

fn consume_params<'a>(
    call: &'a RecvCall,
    completed_at: &'a i64,
    app_name: &'a String,
    last: &'a bool,
    deadline: &'a Option<String>,
) -> [Param<'a>; 9] {
    [
        &call.workflow_id,
        &call.topic,
        &call.token,
        &call.function_id,
        &call.started_at,
        completed_at,
        app_name,
        last,
        deadline,
    ]
}

/// Reads the consume statement's row (see `Sql::consume`).
fn consumed(row: &tokio_postgres::Row, call: &RecvCall, last: bool) -> Result<Option<Received>> {
    let (workflow_id, function_id) = (call.workflow_id.as_str(), call.function_id);
    if row.get::<_, Option<String>>(0).as_deref() != Some(call.token.as_str()) {
        return Err(EngineError::conflict(workflow_id));
    }
    if row.get::<_, bool>(1) {
        return Ok(Some(Received {
            message: row.get(2),
            serialization: row.get(3),
        }));
    }
    match row.get::<_, Option<bool>>(4) {
        Some(true) => Ok(Some(Received {
            message: row.get(5),
            serialization: row.get(6),
        })),
        Some(false) => Err(slot_taken(workflow_id, function_id, "DBOS.recv")),
        None if last => Err(slot_taken(workflow_id, function_id, "DBOS.recv")),
        None => Ok(None),
    }
}
