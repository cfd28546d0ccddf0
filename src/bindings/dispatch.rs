//! napi methods for dispatching application queues (engine: `engine::dispatch`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::JsClaimedWorkflow;
use super::errors::promise;
use super::NativeEngine;
use crate::engine::dispatch::QueueToServe;

/// A queue this process dispatches and how often to poll it for work enqueued elsewhere.
#[napi(object, use_nullable = true)]
pub struct JsQueueToServe {
    pub name: String,
    pub polling_interval_ms: i64,
}

impl From<QueueToServe> for JsQueueToServe {
    fn from(q: QueueToServe) -> Self {
        JsQueueToServe {
            name: q.name,
            polling_interval_ms: q.polling_interval_ms,
        }
    }
}

#[napi]
impl NativeEngine {
    /// The application's queues (rows of dbos.queues) this process dispatches.
    #[napi]
    pub fn queues_to_serve<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<JsQueueToServe>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let queues = engine.queues_to_serve().await?;
            Ok(queues.into_iter().map(Into::into).collect())
        })
    }

    /// Claims up to `cap` ENQUEUED rows of `queue` within its limits; `local_running` is how many of
    /// the queue's workflows this process runs now (for the worker limit).
    #[napi]
    pub fn claim_from_queue<'env>(
        &self,
        env: &'env Env,
        queue: String,
        local_running: i32,
        cap: i32,
    ) -> Result<PromiseRaw<'env, Vec<JsClaimedWorkflow>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine.claim_from_queue(&queue, local_running, cap).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    /// Tells every listening process that `queue` has new work.
    #[napi]
    pub fn notify_queue<'env>(
        &self,
        env: &'env Env,
        queue: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.notify_queue(&queue).await })
    }

    /// The queues other processes (or this one) enqueued onto since the last call, waiting up to
    /// `timeout_ms` for one; empty on timeout. Rejects once the engine closes.
    #[napi]
    pub fn next_queue_wakes<'env>(
        &self,
        env: &'env Env,
        timeout_ms: u32,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.next_queue_wakes(u64::from(timeout_ms)).await
        })
    }
}
