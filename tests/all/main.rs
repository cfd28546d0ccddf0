//! The engine's integration tests, one binary: each test file is a module here, so `cargo test` links one
//! executable instead of one per file (each link is a thin-LTO pass, minutes in CI). Each test makes its own
//! database on the server `DBOS_TEST_DATABASE_URL` names (`npm test` sets it), so the modules run side by side.

mod common;
mod debounce;
mod engine;
mod rewind;
mod schedules;
mod schedules_fire;
mod takeover;
