//! Workflow streams (`streams`), by concern: `write` (appends with dense per-key offsets, exactly
//! once from workflow code, at least once from a step) and `read` (paged reads that wait through the
//! listener). A stream ends with the close marker, written like any value.

mod read;
mod write;

pub use read::{PageEnd, StreamPage, StreamValue, MAX_PAGE_VALUES};
pub(crate) use write::StreamWrite;
pub use write::StreamWriter;

/// The stored close marker: a portable_json string, quotes included.
pub const CLOSE_MARKER: &str = "\"__DBOS_STREAM_CLOSED__\"";
/// The marker as older SDKs wrote it (unquoted).
pub const LEGACY_CLOSE_MARKER: &str = "__DBOS_STREAM_CLOSED__";

pub fn is_close_marker(value: &str) -> bool {
    value == CLOSE_MARKER || value == LEGACY_CLOSE_MARKER
}

pub(crate) struct Sql {
    write: write::Sql,
    read: read::Sql,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            write: write::Sql::new(s),
            read: read::Sql::new(s),
        }
    }
}
