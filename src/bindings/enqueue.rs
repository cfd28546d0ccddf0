//! napi methods for enqueueing by name: inside a caller's own transaction, and as a child of a
//! running workflow (engine: `workflows::start`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::{JsNewWorkflow, JsStartOutcome};
use super::errors::promise;
use super::NativeEngine;

/// A statement for the caller to run on its own connection: `values` are bound as text (null for
/// NULL); the statement casts each one.
#[napi(object, use_nullable = true)]
pub struct JsRenderedStatement {
    pub text: String,
    pub values: Vec<Option<String>>,
}

#[napi]
impl NativeEngine {
    /// A client's enqueue as one statement for the caller's open transaction: the rows as
    /// `enqueueManyForClient` writes them, and the queue's notification, delivered at the caller's
    /// commit. Its one result row is described at `Engine::render_enqueue`.
    #[napi]
    pub fn render_enqueue<'env>(
        &self,
        env: &'env Env,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsRenderedStatement>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let (text, values) = engine.render_enqueue(&wf.into())?;
            Ok(JsRenderedStatement { text, values })
        })
    }

    /// A child enqueued by name from a running parent: as `startChildWorkflow`, stamped as a
    /// client's enqueue (no executor; only the application and version the row names).
    #[napi]
    pub fn enqueue_child_by_name<'env>(
        &self,
        env: &'env Env,
        parent_id: String,
        parent_token: String,
        function_id: i32,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsStartOutcome>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let outcome = engine
                .enqueue_child_by_name(&parent_id, &parent_token, function_id, &wf.into())
                .await?;
            Ok(outcome.into())
        })
    }
}
