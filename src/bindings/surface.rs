//! napi methods of the rest of the SDK surface (issue 15, SURFACE): a client's send rendered for the
//! caller's own transaction (engine: `messages::render`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::JsOutgoingMessage;
use super::enqueue::JsRenderedStatement;
use super::errors::promise;
use super::NativeEngine;

#[napi]
impl NativeEngine {
    /// `DBOSClient.sendInTransaction`: the send's one statement, for the caller's open transaction.
    #[napi]
    pub fn render_send<'env>(
        &self,
        env: &'env Env,
        message: JsOutgoingMessage,
    ) -> Result<PromiseRaw<'env, JsRenderedStatement>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let (text, values) = engine.render_send(&message.into());
            Ok(JsRenderedStatement { text, values })
        })
    }
}
