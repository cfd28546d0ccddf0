//! dbos-native: the Rust engine (`engine`, plain Rust) and its napi bindings (`bindings`).

pub mod bindings;
pub mod engine;
