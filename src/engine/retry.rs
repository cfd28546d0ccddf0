//! Riding out database faults: an operation that fails because the connection did (the server
//! restarting, a dropped socket, too many connections) is run again with jittered exponential backoff
//! until it succeeds, fails for another reason, or the engine closes. Every operation is written to be
//! safe to re-run after a commit whose acknowledgement was lost (see the checkpoint statements).

use std::future::Future;
use std::time::Duration;

use super::error::{EngineError, Result};
use super::Engine;

const FIRST_DELAY: Duration = Duration::from_millis(50);
/// Short enough that work resumes within a couple of seconds of the server coming back.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// A random extra delay in [0, d/2), so a crowd of waiting operations does not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    let half = (d.as_millis() as u64 / 2).max(1);
    Duration::from_millis((uuid::Uuid::new_v4().as_u128() as u64) % half)
}

impl Engine {
    pub(crate) async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut delay = FIRST_DELAY;
        loop {
            match op().await {
                Err(e) if e.is_transient() && !self.closed.is_closed() => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay + jitter(delay)) => {}
                        _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
                    }
                    delay = (delay * 2).min(MAX_DELAY);
                }
                other => return other,
            }
        }
    }
}
