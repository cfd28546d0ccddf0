//! Database-backed queues (`engine::queues`): registration, reads, deletion and the setters of a
//! `WorkflowQueue`. Conversions only; the TS layer validates the values first.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::queues::{QueueConflict, QueueLimit, QueueRecord, RateLimit, RegisteredQueue};

/// Mirrors `engine::queues::QueueConflict` (the SDK's `onConflict` values).
#[napi(string_enum = "snake_case")]
pub enum JsQueueConflict {
    UpdateIfLatestVersion,
    AlwaysUpdate,
    NeverUpdate,
}

impl From<JsQueueConflict> for QueueConflict {
    fn from(m: JsQueueConflict) -> Self {
        match m {
            JsQueueConflict::UpdateIfLatestVersion => QueueConflict::UpdateIfLatestVersion,
            JsQueueConflict::AlwaysUpdate => QueueConflict::AlwaysUpdate,
            JsQueueConflict::NeverUpdate => QueueConflict::NeverUpdate,
        }
    }
}

/// Mirrors `engine::queues::QueueLimit`.
#[napi(string_enum = "camelCase")]
pub enum JsQueueLimit {
    Concurrency,
    WorkerConcurrency,
    PartitionConcurrency,
    PartitionWorkerConcurrency,
}

impl From<JsQueueLimit> for QueueLimit {
    fn from(l: JsQueueLimit) -> Self {
        match l {
            JsQueueLimit::Concurrency => QueueLimit::Concurrency,
            JsQueueLimit::WorkerConcurrency => QueueLimit::WorkerConcurrency,
            JsQueueLimit::PartitionConcurrency => QueueLimit::PartitionConcurrency,
            JsQueueLimit::PartitionWorkerConcurrency => QueueLimit::PartitionWorkerConcurrency,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsRateLimit {
    pub limit_per_period: i32,
    pub period_sec: f64,
}

impl From<JsRateLimit> for RateLimit {
    fn from(r: JsRateLimit) -> Self {
        RateLimit {
            limit_per_period: r.limit_per_period,
            period_sec: r.period_sec,
        }
    }
}

/// A queue's row (`dbos.queues`), both ways: what to register and what is stored.
#[napi(object, use_nullable = true)]
pub struct JsQueueRecord {
    pub name: String,
    pub concurrency: Option<i32>,
    pub worker_concurrency: Option<i32>,
    pub rate_limit_max: Option<i32>,
    pub rate_limit_period_sec: Option<f64>,
    pub partition_concurrency: Option<i32>,
    pub partition_worker_concurrency: Option<i32>,
    pub partition_rate_limit_max: Option<i32>,
    pub partition_rate_limit_period_sec: Option<f64>,
    pub polling_interval_sec: f64,
    pub application_name: Option<String>,
}

impl From<JsQueueRecord> for QueueRecord {
    fn from(q: JsQueueRecord) -> Self {
        QueueRecord {
            name: q.name,
            concurrency: q.concurrency,
            worker_concurrency: q.worker_concurrency,
            rate_limit_max: q.rate_limit_max,
            rate_limit_period_sec: q.rate_limit_period_sec,
            partition_concurrency: q.partition_concurrency,
            partition_worker_concurrency: q.partition_worker_concurrency,
            partition_rate_limit_max: q.partition_rate_limit_max,
            partition_rate_limit_period_sec: q.partition_rate_limit_period_sec,
            polling_interval_sec: q.polling_interval_sec,
            application_name: q.application_name,
        }
    }
}

impl From<QueueRecord> for JsQueueRecord {
    fn from(q: QueueRecord) -> Self {
        JsQueueRecord {
            name: q.name,
            concurrency: q.concurrency,
            worker_concurrency: q.worker_concurrency,
            rate_limit_max: q.rate_limit_max,
            rate_limit_period_sec: q.rate_limit_period_sec,
            partition_concurrency: q.partition_concurrency,
            partition_worker_concurrency: q.partition_worker_concurrency,
            partition_rate_limit_max: q.partition_rate_limit_max,
            partition_rate_limit_period_sec: q.partition_rate_limit_period_sec,
            polling_interval_sec: q.polling_interval_sec,
            application_name: q.application_name,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsRegisteredQueue {
    pub queue: JsQueueRecord,
    /// This call created the row.
    pub inserted: bool,
}

impl From<RegisteredQueue> for JsRegisteredQueue {
    fn from(r: RegisteredQueue) -> Self {
        JsRegisteredQueue {
            queue: r.queue.into(),
            inserted: r.inserted,
        }
    }
}

/// A registration: the row to write (its `applicationName` is the registering owner, null for
/// none) and what to do if the queue already has one.
#[napi(object, use_nullable = true)]
pub struct JsQueueRegistration {
    pub queue: JsQueueRecord,
    pub on_conflict: JsQueueConflict,
}

#[napi]
impl NativeEngine {
    #[napi]
    pub fn register_queue<'env>(
        &self,
        env: &'env Env,
        registration: JsQueueRegistration,
    ) -> Result<PromiseRaw<'env, JsRegisteredQueue>> {
        let engine = self.inner.clone();
        let mode = registration.on_conflict.into();
        let mut queue: QueueRecord = registration.queue.into();
        let owner = queue.application_name.take();
        promise(env, async move {
            Ok(engine
                .register_queue(&queue, mode, owner.as_deref())
                .await?
                .into())
        })
    }

    #[napi]
    pub fn get_queue<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> Result<PromiseRaw<'env, Option<JsQueueRecord>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            Ok(engine.get_queue(&name).await?.map(Into::into))
        })
    }

    /// Queues owned by any of `applicationNames` plus unclaimed ones; all of them for an empty list.
    #[napi]
    pub fn list_queues<'env>(
        &self,
        env: &'env Env,
        application_names: Vec<String>,
    ) -> Result<PromiseRaw<'env, Vec<JsQueueRecord>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let queues = engine.list_queues(&application_names).await?;
            Ok(queues.into_iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn delete_queue<'env>(&self, env: &'env Env, name: String) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.delete_queue(&name).await })
    }

    #[napi]
    pub fn set_queue_limit<'env>(
        &self,
        env: &'env Env,
        name: String,
        limit: JsQueueLimit,
        value: Option<i32>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        let limit = limit.into();
        promise(env, async move {
            engine.set_queue_limit(&name, limit, value).await
        })
    }

    /// Sets the queue's rate limit (`partition`: its per-partition one); null clears it.
    #[napi]
    pub fn set_queue_rate_limit<'env>(
        &self,
        env: &'env Env,
        name: String,
        partition: bool,
        value: Option<JsRateLimit>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        let value = value.map(Into::into);
        promise(env, async move {
            engine.set_queue_rate_limit(&name, partition, value).await
        })
    }

    #[napi]
    pub fn set_queue_polling_interval<'env>(
        &self,
        env: &'env Env,
        name: String,
        seconds: f64,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.set_queue_polling_interval(&name, seconds).await
        })
    }
}
