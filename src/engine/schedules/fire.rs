//! Firing schedules (the DBOS SDK 5.3.0's `DynamicSchedulerLoop`, with its timers here): every
//! launched process fires each ACTIVE schedule of its application (and unclaimed ones) at its ticks.
//! Processes do not coordinate: a tick's ID is the workflow's key, so each process makes one insert
//! attempt per tick and only the first creates the row (no status read first, unlike the SDK).
//!
//! JS pulls: `next_schedule_ticks` waits until ticks are due and hands them over; JS serializes their
//! inputs (the application serializer is JS) and writes them with `fire_scheduled`. The table is
//! re-read when a store write notifies `SCHEDULES_CHANNEL` (ours, from any process), at every
//! reconnect of the listener, and on the SDK's poll (every second during the first minute, then
//! every `schedulerPollingIntervalMs`) for changes made by SDK processes, which do not notify.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;

use super::fire_runs::{parse_iso, schedule_of, tick_id, tick_of, ScheduleTick};
use super::next::Schedule;
use super::store::{ScheduleFilter, ScheduleRecord};
use crate::engine::db::now_ms;
use crate::engine::error::{EngineError, Result};
use crate::engine::listener::{Waiter, SCHEDULES_KEY};
use crate::engine::Engine;

/// The SDK polls every second for the first minute after launch (`FiringOptions::fast_poll_for_ms`).
const FAST_POLL_MS: i64 = 1_000;
/// The SDK's jitter: up to a tenth of the wait, at most 10 s.
const MAX_JITTER_MS: i64 = 10_000;

/// How this process fires (from `DBOSConfig`).
#[derive(Debug, Clone)]
pub struct FiringOptions {
    pub poll_interval_ms: u64,
    /// How long after the first call the table is re-read every second (the SDK: 60 s).
    pub fast_poll_for_ms: u64,
    /// The host's timezone, for schedules without one (the SDK's default).
    pub default_timezone: String,
    /// At most this many ticks per call (a long catch-up is handed over in slices).
    pub max_ticks: usize,
}

/// The firing state of one engine; `next_schedule_ticks` has one caller at a time.
#[derive(Default)]
pub struct Firing {
    state: Mutex<Option<State>>,
}

/// What `next_schedule_ticks` hands over.
#[derive(Debug, Default)]
pub struct Firings {
    pub ticks: Vec<ScheduleTick>,
    /// ACTIVE schedules armed since the last call that never fire (bad crontab or timezone): each is
    /// reported once per arming, not at every read, for the caller to warn about as the SDK does.
    pub invalid: Vec<InvalidSchedule>,
}

/// A schedule that cannot fire, and why.
#[derive(Debug, Clone)]
pub struct InvalidSchedule {
    pub schedule_name: String,
    /// Its crontab, as stored.
    pub schedule: String,
    pub message: String,
}

struct State {
    armed: HashMap<String, Armed>,
    /// Found by `reconcile`, not yet handed over.
    invalid: Vec<InvalidSchedule>,
    started_ms: i64,
    next_read_ms: i64,
    waiter: Waiter,
}

/// The definition a running schedule captured: a change re-arms it (the SDK's signature; status and
/// `last_fired_at` are not part of it, so an unchanged re-apply keeps the schedule's place).
type Signature = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn signature(r: &ScheduleRecord) -> Signature {
    (
        r.workflow_name.clone(),
        r.workflow_class_name.clone(),
        r.schedule.clone(),
        r.context.clone(),
        r.cron_timezone.clone(),
        r.queue_name.clone(),
    )
}

/// One ACTIVE schedule this process fires.
struct Armed {
    signature: Signature,
    record: ScheduleRecord,
    /// None: its crontab or timezone is invalid, so it never fires (as the SDK).
    schedule: Option<Schedule>,
    /// The last tick handed over (or the start: ticks after it are due).
    cursor_ms: i64,
    /// The next tick and when to fire it (the tick plus jitter), once computed.
    next: Option<(i64, i64)>,
}

impl Armed {
    /// The armed schedule, and why it never fires if its crontab or timezone is invalid.
    fn new(record: ScheduleRecord, now: i64, default_tz: &str) -> (Armed, Option<InvalidSchedule>) {
        // Without backfill a schedule starts at this second; with it, after its last firing (the
        // ticks missed meanwhile are due at once: the SDK's backfill from `last_fired_at` to now).
        let mut cursor = now.div_euclid(1000) * 1000;
        if record.automatic_backfill {
            if let Some(last) = record.last_fired_at.as_deref().and_then(parse_iso) {
                cursor = cursor.min(last);
            }
        }
        let (schedule, invalid) = match schedule_of(&record, default_tz) {
            Ok(s) => (Some(s), None),
            Err(e) => (
                None,
                Some(InvalidSchedule {
                    schedule_name: record.schedule_name.clone(),
                    schedule: record.schedule.clone(),
                    message: e.to_string(),
                }),
            ),
        };
        let armed = Armed {
            signature: signature(&record),
            schedule,
            record,
            cursor_ms: cursor,
            next: None,
        };
        (armed, invalid)
    }

    /// The next tick and its firing time; None when there is none within the SDK's century.
    fn next(&mut self, now: i64) -> Option<(i64, i64)> {
        if self.next.is_none() {
            let tick = self.schedule.as_ref()?.next_after(self.cursor_ms)?;
            let wait = tick - now;
            let jitter = if wait > 0 {
                let max = (wait / 10).min(MAX_JITTER_MS);
                if max > 0 {
                    (uuid::Uuid::new_v4().as_u128() % max as u128) as i64
                } else {
                    0
                }
            } else {
                0
            };
            self.next = Some((tick, tick + jitter));
        }
        self.next
    }
}

impl State {
    /// Re-reads the schedules and re-arms what changed.
    fn reconcile(&mut self, records: Vec<ScheduleRecord>, now: i64, default_tz: &str) {
        let mut keep: HashMap<String, Armed> = HashMap::new();
        for record in records {
            if record.status != "ACTIVE" {
                continue;
            }
            let name = record.schedule_name.clone();
            let armed = match self.armed.remove(&name) {
                Some(a) if a.signature == signature(&record) => a,
                _ => {
                    let (armed, invalid) = Armed::new(record, now, default_tz);
                    self.invalid.extend(invalid);
                    armed
                }
            };
            keep.insert(name, armed);
        }
        self.armed = keep;
    }

    fn poll_ms(&self, now: i64, opts: &FiringOptions) -> i64 {
        let configured = opts.poll_interval_ms.max(1) as i64;
        if now < self.started_ms + opts.fast_poll_for_ms as i64 {
            configured.min(FAST_POLL_MS)
        } else {
            configured
        }
    }

    /// The ticks due by `now`, at most `max`, each schedule's cursor moved past them.
    fn take_due(&mut self, now: i64, max: usize, app: &str) -> Vec<ScheduleTick> {
        let mut due = Vec::new();
        for armed in self.armed.values_mut() {
            while due.len() < max {
                let Some((tick, fire_at)) = armed.next(now) else {
                    break;
                };
                if fire_at > now {
                    break;
                }
                let id = tick_id(&armed.record.schedule_name, tick);
                due.push(tick_of(&armed.record, id, tick, app));
                armed.cursor_ms = tick;
                armed.next = None;
            }
        }
        due
    }

    /// When the next tick fires, if any.
    fn next_fire(&mut self, now: i64) -> Option<i64> {
        self.armed
            .values_mut()
            .filter_map(|a| a.next(now).map(|(_, at)| at))
            .min()
    }
}

impl Engine {
    /// Waits until ticks of this application's ACTIVE schedules (and unclaimed ones) are due, or
    /// until some are found invalid, and returns them (at most `max_ticks` ticks). Rejects with a
    /// shutdown error when the engine closes.
    pub async fn next_schedule_ticks(&self, opts: &FiringOptions) -> Result<Firings> {
        let mut guard = self.firing.state.lock().await;
        let listener = self.listener().await;
        let state = guard.get_or_insert_with(|| State {
            armed: HashMap::new(),
            invalid: Vec::new(),
            started_ms: now_ms(),
            next_read_ms: 0,
            waiter: listener.register(SCHEDULES_KEY.to_string()),
        });
        let app = self.identity.app_name.clone();
        let notify = state.waiter.notify.clone();
        loop {
            if self.is_closed() {
                return Err(EngineError::shutdown());
            }
            // Enabled before the read, so a change committed during it still wakes us.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = now_ms();
            if now >= state.next_read_ms {
                let filter = ScheduleFilter {
                    apps: if app.is_empty() {
                        vec![]
                    } else {
                        vec![app.clone()]
                    },
                    ..ScheduleFilter::default()
                };
                let records = self.list_schedules(&filter).await?;
                let now = now_ms();
                state.reconcile(records, now, &opts.default_timezone);
                state.next_read_ms = now + state.poll_ms(now, opts);
            }
            let now = now_ms();
            let due = state.take_due(now, opts.max_ticks.max(1), &app);
            if !due.is_empty() || !state.invalid.is_empty() {
                let invalid = std::mem::take(&mut state.invalid);
                return Ok(Firings {
                    ticks: due,
                    invalid,
                });
            }
            let until = state
                .next_fire(now)
                .map_or(state.next_read_ms, |t| t.min(state.next_read_ms));
            let wait = Duration::from_millis((until - now).clamp(1, 3_600_000) as u64);
            tokio::select! {
                _ = &mut notified => state.next_read_ms = 0,
                _ = tokio::time::sleep(wait) => {}
                _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
            }
        }
    }
}
