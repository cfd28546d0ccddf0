//! Messages, events and streams: send/recv, setEvent/getEvent, writeStream/readStream
//! (`engine::messages`, `engine::events`, `engine::streams`). Conversions only.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::*;
use super::errors::promise;
use super::NativeEngine;
use crate::engine::messages::{RecvDeadline, SendContext};

#[napi]
impl NativeEngine {
    /// Sends a message; `context` says whether it comes from workflow code, a step, or elsewhere.
    #[napi]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        message: JsOutgoingMessage,
        context: JsSendContext,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let msg = message.into();
            let ctx = match (&context.workflow_id, &context.token, context.function_id) {
                (Some(workflow_id), Some(token), Some(function_id)) => SendContext::Workflow {
                    workflow_id,
                    token,
                    function_id,
                    started_at: context.started_at.unwrap_or(0),
                },
                (Some(workflow_id), Some(token), None) => SendContext::Step { workflow_id, token },
                _ => SendContext::Outside,
            };
            engine.send(&msg, ctx).await
        })
    }

    #[napi]
    pub fn recv<'env>(
        &self,
        env: &'env Env,
        call: JsRecv,
    ) -> Result<PromiseRaw<'env, JsStoredValue>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let deadline = RecvDeadline {
                epoch_ms: call.deadline_epoch_ms,
                record: call.record_deadline,
            };
            let received = engine
                .recv_until(
                    &call.workflow_id,
                    &call.token,
                    call.function_id,
                    &call.topic,
                    deadline,
                    call.started_at,
                    u64::from(call.poll_ms),
                )
                .await?;
            Ok(received.into())
        })
    }

    #[napi]
    pub fn set_event<'env>(
        &self,
        env: &'env Env,
        call: JsSetEvent,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .set_event(
                    &call.workflow_id,
                    &call.token,
                    call.function_id,
                    &call.key,
                    &call.value,
                    call.serialization.as_deref(),
                    call.started_at,
                )
                .await
        })
    }

    /// Waits for an event; null after the deadline.
    #[napi]
    pub fn get_event<'env>(
        &self,
        env: &'env Env,
        call: JsGetEvent,
    ) -> Result<PromiseRaw<'env, Option<JsStoredValue>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let value = engine
                .get_event(
                    &call.workflow_id,
                    &call.key,
                    call.deadline_epoch_ms,
                    u64::from(call.poll_ms),
                    call.guard.as_ref().map(JsGuard::as_wait_guard),
                )
                .await?;
            Ok(value.map(Into::into))
        })
    }

    #[napi]
    pub fn write_stream<'env>(
        &self,
        env: &'env Env,
        write: JsStreamWrite,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .write_stream(
                    &write.writer(),
                    &write.key,
                    &write.value,
                    write.serialization.as_deref(),
                )
                .await
        })
    }

    #[napi]
    pub fn read_stream<'env>(
        &self,
        env: &'env Env,
        read: JsStreamRead,
    ) -> Result<PromiseRaw<'env, JsStreamPage>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let page = engine
                .read_stream(
                    &read.workflow_id,
                    &read.key,
                    read.offset,
                    read.limit,
                    read.deadline_epoch_ms,
                    u64::from(read.poll_ms),
                    read.guard.as_ref().map(JsGuard::as_wait_guard),
                )
                .await?;
            Ok(page.into())
        })
    }
}
