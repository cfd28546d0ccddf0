//! How the binding's promises are settled: one threadsafe function per JS environment, shared by
//! every call, instead of napi-rs's one per call.
//!
//! A threadsafe function is a libuv handle and an async resource: creating one per call ran the
//! async_hooks init and destroy callbacks (live whenever the app uses AsyncLocalStorage, as every
//! DBOS app does) and opened and closed a handle for each of the two or three engine calls a
//! workflow makes, which was most of the JS thread's time in a call. Here a finished call queues its
//! outcome and wakes the shared function only if the queue was empty; the JS thread then settles
//! every queued promise in one callback (Node runs the microtasks after it).
//!
//! The shared function keeps the event loop alive only while some promise is pending, as a
//! per-call one does: it is referenced when the first call starts and unreferenced when the last
//! settles. It is released when its environment is torn down; outcomes arriving after that are
//! dropped with their promises.

use std::cell::RefCell;
use std::ffi::c_void;
use std::future::Future;
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{sys, Env, Status};

/// Builds a promise's outcome on the JS thread: Ok to resolve, Err to reject, with that value.
type Settle = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value, sys::napi_value> + Send>;

struct Settlement {
    /// The `napi_deferred`, as an address: only ever used on the JS thread.
    deferred: usize,
    settle: Settle,
}

/// The part shared with the runtime's threads.
struct Shared {
    tsfn: sys::napi_threadsafe_function,
    queue: Mutex<Vec<Settlement>>,
}

// SAFETY: the threadsafe function's handle is made to be called from any thread
// (`napi_call_threadsafe_function`); everything else is behind the mutex.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn push(&self, settlement: Settlement) {
        let was_empty = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(settlement);
            queue.len() == 1
        };
        // A non-empty queue has a call on its way that has not taken the queue yet: it settles
        // this one too. Fails only once the environment is gone: the promise goes with it.
        if was_empty {
            unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }

    fn take(&self) -> Vec<Settlement> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The JS thread's side: its environment's shared function and how many promises are pending.
struct Local {
    env: sys::napi_env,
    shared: Arc<Shared>,
    pending: usize,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::GenericFailure,
            format!("{what} failed ({status})"),
        ))
    }
}

/// The shared function of `env`, created on first use.
fn shared_for(env: sys::napi_env) -> napi::Result<Arc<Shared>> {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if let Some(l) = local.as_ref().filter(|l| l.env == env) {
            return Ok(l.shared.clone());
        }
        let mut name = ptr::null_mut();
        let label = "dbos_native_settle";
        check(
            unsafe {
                sys::napi_create_string_utf8(
                    env,
                    label.as_ptr().cast(),
                    label.len() as isize,
                    &mut name,
                )
            },
            "naming the settling function",
        )?;
        let mut tsfn = ptr::null_mut();
        check(
            unsafe {
                sys::napi_create_threadsafe_function(
                    env,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    name,
                    0,
                    1,
                    ptr::null_mut(),
                    None,
                    ptr::null_mut(),
                    Some(settle_queued),
                    &mut tsfn,
                )
            },
            "creating the settling function",
        )?;
        // Idle until a promise is pending (see the module's comment).
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
        let shared = Arc::new(Shared {
            tsfn,
            queue: Mutex::new(Vec::new()),
        });
        unsafe { sys::napi_add_env_cleanup_hook(env, Some(release), ptr::null_mut()) };
        *local = Some(Local {
            env,
            shared: shared.clone(),
            pending: 0,
        });
        Ok(shared)
    })
}

/// Counts pending promises on the JS thread, referencing the function while any is pending.
fn adjust_pending(env: sys::napi_env, started: usize, settled: usize) {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        let Some(l) = local.as_mut().filter(|l| l.env == env) else {
            return;
        };
        let before = l.pending;
        l.pending = (l.pending + started).saturating_sub(settled);
        if before == 0 && l.pending > 0 {
            unsafe { sys::napi_ref_threadsafe_function(env, l.shared.tsfn) };
        } else if before > 0 && l.pending == 0 {
            unsafe { sys::napi_unref_threadsafe_function(env, l.shared.tsfn) };
        }
    });
}

/// The environment is going: release its function (queued outcomes are dropped).
unsafe extern "C" fn release(_arg: *mut c_void) {
    let gone = LOCAL.with(|local| local.borrow_mut().take());
    if let Some(l) = gone {
        sys::napi_release_threadsafe_function(
            l.shared.tsfn,
            sys::ThreadsafeFunctionReleaseMode::abort,
        );
        drop(l.shared.take());
    }
}

/// The shared function's callback, on the JS thread: settles everything queued.
unsafe extern "C" fn settle_queued(
    env: sys::napi_env,
    _callback: sys::napi_value,
    _context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() {
        return; // torn down: nothing can be settled any more
    }
    let Some(shared) = LOCAL.with(|l| l.borrow().as_ref().map(|l| l.shared.clone())) else {
        return;
    };
    let batch = shared.take();
    let settled = batch.len();
    for Settlement { deferred, settle } in batch {
        let mut scope = ptr::null_mut();
        sys::napi_open_handle_scope(env, &mut scope);
        let deferred = deferred as sys::napi_deferred;
        match settle(env) {
            Ok(value) => {
                sys::napi_resolve_deferred(env, deferred, value);
            }
            Err(error) => {
                // A conversion that failed may have left its exception pending: reject with that.
                let mut pending = false;
                sys::napi_is_exception_pending(env, &mut pending);
                let mut rejection = error;
                if pending {
                    sys::napi_get_and_clear_last_exception(env, &mut rejection);
                }
                sys::napi_reject_deferred(env, deferred, rejection);
            }
        }
        sys::napi_close_handle_scope(env, scope);
    }
    adjust_pending(env, 0, settled);
}

/// A promise for `call`'s outcome, run on napi's Tokio runtime. `reject` turns an error into the
/// rejection value (on the JS thread).
pub(crate) fn promise_with<'env, T, E, F>(
    env: &'env Env,
    call: F,
    reject: fn(&Env, E) -> sys::napi_value,
) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    E: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
{
    let raw = env.raw();
    let shared = shared_for(raw)?;
    let (deferred, promise) = pending_promise(raw)?;
    napi::bindgen_prelude::spawn(async move {
        let outcome = call.await;
        shared.push(settlement(deferred, outcome, reject));
    });
    Ok(PromiseRaw::new(raw, promise))
}

/// A new promise, counted as pending: its deferred (as an address) and the promise.
fn pending_promise(raw: sys::napi_env) -> napi::Result<(usize, sys::napi_value)> {
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check(
        unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) },
        "creating a promise",
    )?;
    adjust_pending(raw, 1, 0);
    Ok((deferred as usize, promise))
}

/// How `deferred` is settled with `outcome`, on the JS thread.
fn settlement<T, E>(
    deferred: usize,
    outcome: Result<T, E>,
    reject: fn(&Env, E) -> sys::napi_value,
) -> Settlement
where
    T: ToNapiValue + Send + 'static,
    E: Send + 'static,
{
    let settle: Settle = Box::new(move |env| {
        let js = Env::from_raw(env);
        match outcome {
            Ok(value) => unsafe { T::to_napi_value(env, value) }
                .map_err(|e| unsafe { napi::JsError::from(e).into_value(env) }),
            Err(e) => Err(reject(&js, e)),
        }
    });
    Settlement { deferred, settle }
}

/// One promise per outcome of `call`, which yields them in order (one Tokio task for all: a call
/// made for several items at once keeps them together). Missing outcomes reject with `missing`.
pub(crate) fn promises_with<'env, T, E, F>(
    env: &'env Env,
    count: usize,
    call: F,
    reject: fn(&Env, E) -> sys::napi_value,
    missing: fn() -> E,
) -> napi::Result<Vec<PromiseRaw<'env, T>>>
where
    T: ToNapiValue + Send + 'static,
    E: Send + 'static,
    F: Future<Output = Vec<Result<T, E>>> + Send + 'static,
{
    let raw = env.raw();
    let shared = shared_for(raw)?;
    let mut deferreds = Vec::with_capacity(count);
    let mut promises = Vec::with_capacity(count);
    for _ in 0..count {
        let (deferred, promise) = pending_promise(raw)?;
        deferreds.push(deferred);
        promises.push(PromiseRaw::new(raw, promise));
    }
    napi::bindgen_prelude::spawn(async move {
        let mut outcomes = call.await.into_iter();
        for deferred in deferreds {
            let outcome = outcomes.next().unwrap_or_else(|| Err(missing()));
            shared.push(settlement(deferred, outcome, reject));
        }
    });
    Ok(promises)
}
