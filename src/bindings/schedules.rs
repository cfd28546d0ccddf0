//! Schedules: the crontab check and next-time search (`engine::schedules`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use crate::engine::schedules::Schedule;

/// The next `count` firing times (epoch ms) strictly after `afterMs` of a crontab in an IANA
/// timezone, stopping early when a century holds no more. Rejects with INVALID_ARGUMENT and the
/// SDK's message for a bad expression or timezone.
#[napi]
pub fn cron_next_times(
    env: &Env,
    expression: String,
    timezone: String,
    after_ms: i64,
    count: u32,
) -> Result<PromiseRaw<'_, Vec<i64>>> {
    promise(env, async move {
        let schedule = Schedule::new(&expression, &timezone)?;
        let mut times = Vec::new();
        let mut at = after_ms;
        while times.len() < count as usize {
            let Some(next) = schedule.next_after(at) else {
                break;
            };
            times.push(next);
            at = next;
        }
        Ok(times)
    })
}
