//! `takeOverDeadExecutors`: one look at the fleet (see `engine::fleet`).

use std::time::Duration;

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::fleet::TakenOver;

/// Mirrors `engine::fleet::TakenOver`: a dead executor's workflows now back on these queues.
#[napi(object)]
pub struct JsTakenOver {
    pub executor_id: String,
    pub workflow_ids: Vec<String>,
    pub queues: Vec<String>,
}

impl From<TakenOver> for JsTakenOver {
    fn from(t: TakenOver) -> Self {
        JsTakenOver {
            executor_id: t.executor_id,
            workflow_ids: t.workflow_ids,
            queues: t.queues,
        }
    }
}

#[napi]
impl NativeEngine {
    /// Takes over the executors of ours that have been dead for `graceMs` (their PENDING workflows of
    /// this application and version go back on their queues); returns what moved.
    #[napi]
    pub fn take_over_dead_executors<'env>(
        &self,
        env: &'env Env,
        grace_ms: u32,
    ) -> Result<PromiseRaw<'env, Vec<JsTakenOver>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let moved = engine
                .take_over_dead_executors(Duration::from_millis(u64::from(grace_ms)))
                .await?;
            Ok(moved.into_iter().map(JsTakenOver::from).collect())
        })
    }
}
