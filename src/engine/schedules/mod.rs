//! Scheduled workflows (`dbos.workflow_schedules`): the crontab syntax and next-time search of the
//! DBOS SDK 5.3.0.

pub mod cron;
// --- schedules (firing)
pub mod fire;
pub mod fire_runs;
pub mod next;
pub mod store;

pub use next::{parse_timezone, Schedule};
