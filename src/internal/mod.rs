//! The crate's own plumbing, public only for its tests, benches and the `dq-check` binary. It
//! is not part of the API and changes without notice.

pub mod generate;
pub mod process;

pub use crate::eval::batch::{BatchResult, BatchRun, MAX_SAMPLES};
pub use crate::eval::drive::{BatchOptions, FileBatches};
pub use crate::eval::mask::{Fate, RoutedChunk};
pub use crate::io::{Batches, ColumnPlan, InputFile, Strings, discover, facts};
pub use crate::metrics::{MetricState, Observed};
pub use crate::report::text::render;

/// A timestamp in a suite's text forms: RFC 3339, a naive date and time (UTC), or a date.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    crate::values::parse::parse_timestamp(s, false)
}
