//! dbos-native: the Rust engine (`engine`, plain Rust) and its napi bindings (`bindings`).

mod bindings;
pub mod engine;
