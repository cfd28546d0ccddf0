//! The one place an engine error becomes a JS value. A rejected call throws a JS `Error` whose
//! `code` is a `NativeErrorCode` and whose properties are the fields of `JsEngineError`; a result that
//! carries an error (`JsCompletion.writeError`) holds the same `JsEngineError` as plain data.
//! `ts/error.ts` switches on `code` to build the DBOS class; nothing reads the message text.

use std::future::Future;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{Env, JsValue, Status};
use napi_derive::napi;

use crate::engine::{EngineError, ErrorCode};

/// Stable codes: the contract with `ts/error.ts` (add, never rename).
#[napi(string_enum = "UPPER_SNAKE")]
pub enum NativeErrorCode {
    Shutdown,
    Connection,
    Database,
    Initialization,
    WorkflowConflict,
    NonExistentWorkflow,
    StepNondeterminism,
    InvalidArgument,
    Internal,
}

/// An engine error as data. Fields that do not apply to the code are null.
#[napi(object, use_nullable = true)]
pub struct JsEngineError {
    pub code: NativeErrorCode,
    pub message: String,
    pub workflow_id: Option<String>,
    pub step_id: Option<i32>,
    pub step_name: Option<String>,
    pub sqlstate: Option<String>,
}

impl From<&EngineError> for JsEngineError {
    fn from(e: &EngineError) -> Self {
        let (workflow_id, step_id, step_name) = match e {
            EngineError::Conflict { workflow_id }
            | EngineError::NoSuchWorkflow { workflow_id }
            | EngineError::NoSuchDestination { workflow_id } => {
                (Some(workflow_id.clone()), None, None)
            }
            EngineError::StepTaken {
                workflow_id,
                step_id,
                step_name,
            } => (
                Some(workflow_id.clone()),
                Some(*step_id),
                Some(step_name.clone()),
            ),
            _ => (None, None, None),
        };
        JsEngineError {
            code: match e.code() {
                ErrorCode::Shutdown => NativeErrorCode::Shutdown,
                ErrorCode::Connection => NativeErrorCode::Connection,
                ErrorCode::Database => NativeErrorCode::Database,
                ErrorCode::Initialization => NativeErrorCode::Initialization,
                ErrorCode::WorkflowConflict => NativeErrorCode::WorkflowConflict,
                ErrorCode::NonExistentWorkflow => NativeErrorCode::NonExistentWorkflow,
                ErrorCode::StepNondeterminism => NativeErrorCode::StepNondeterminism,
                ErrorCode::InvalidArgument => NativeErrorCode::InvalidArgument,
                ErrorCode::Internal => NativeErrorCode::Internal,
            },
            message: e.to_string(),
            workflow_id,
            step_id,
            step_name,
            sqlstate: e.sqlstate().map(str::to_string),
        }
    }
}

/// The JS error thrown for `e`: an `Error` with the message, plus every field of `JsEngineError`
/// as a property (same names, null when absent), so a thrown error and a `writeError` read alike.
pub(crate) fn js_error(env: &Env, e: &EngineError) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let data = JsEngineError::from(e);
        let mut error = env.create_error(napi::Error::new(Status::GenericFailure, data.message))?;
        error.set("code", data.code)?;
        error.set("workflowId", data.workflow_id)?;
        error.set("stepId", data.step_id)?;
        error.set("stepName", data.step_name)?;
        error.set("sqlstate", data.sqlstate)?;
        Ok(napi::Error::from(error.to_unknown()))
    };
    build().unwrap_or_else(|failed| failed)
}

/// Runs an engine call as a promise: its result converted for JS, or a rejection with `js_error`.
/// Every asynchronous method of the binding goes through here, so none rejects any other way. The
/// promise is settled through the environment's shared settling function (`settle`).
pub(crate) fn promise<'env, T, F>(env: &'env Env, call: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = crate::engine::Result<T>> + Send + 'static,
{
    super::settle::promise_with(env, call, rejection)
}

/// One promise per outcome of `call` (see `settle::promises_with`).
pub(crate) fn promises<'env, T, F>(
    env: &'env Env,
    count: usize,
    call: F,
) -> napi::Result<Vec<PromiseRaw<'env, T>>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Vec<crate::engine::Result<T>>> + Send + 'static,
{
    super::settle::promises_with(env, count, call, rejection, EngineError::too_few_results)
}

/// The rejection value of a failed call: the `js_error` object itself.
fn rejection(env: &Env, e: EngineError) -> napi::sys::napi_value {
    // SAFETY: called on the JS thread with its live environment (`settle`).
    unsafe { napi::JsError::from(js_error(env, &e)).into_value(env.raw()) }
}
