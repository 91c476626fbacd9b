//! # dq-gate
//!
//! A data-quality gate for shared Delta tables. A versioned YAML suite (a schema contract and
//! expectations) is evaluated over Arrow record batches; rows that pass are committed to the
//! target table, rows that fail go to a quarantine table with their violations, exactly once,
//! and every run is recorded in a run log.
//!
//! ```text
//! suite.yaml ─parse─▶ Suite ─bind─▶ CompiledSuite
//! inputs ─read─▶ chunks ─conform─▶ evaluate ─▶ masks + metric states ─route─▶ commit ─▶ report
//! ```
//!
//! The API has two doors, built alike:
//!
//! - [`Validator`]: evaluate record batches in memory (or files), get a [`report::BatchReport`]
//!   or a [`Report`] and the rows split into passing and quarantined. Writes nothing.
//! - [`Gate`]: gate files or a stream of record batches into Delta tables: passing rows to the
//!   target, failing rows to quarantine, every batch in the run log, exactly once.
//!
//! Both take a [`CompiledSuite`] (a [`Suite`] bound to its contract); failures of expectations
//! are report entries, never errors. [`Error`] means something could not be done at all.
//!
//! # Example: validate a batch in memory
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Int64Array, StringArray, RecordBatch};
//! use dq_gate::{CompiledSuite, Validator};
//!
//! let suite = CompiledSuite::from_yaml(r#"
//! dq_suite: 1
//! name: demo
//! version: 1
//! expectations:
//!   - id: code_known
//!     expect: in_set
//!     column: code
//!     values: [A, B]
//! "#, "demo.yaml")?;
//! let validator = Validator::builder(Arc::new(suite)).build();
//! let batch = RecordBatch::try_from_iter(vec![
//!     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
//!     ("code", Arc::new(StringArray::from(vec![Some("A"), Some("X"), None])) as ArrayRef),
//! ])?;
//! let checked = validator.validate_batch(&batch)?;
//! let e = &checked.report.expectations[0];
//! assert_eq!((e.evaluated, e.failed), (2, 1)); // the null is not evaluated
//! assert_eq!(checked.report.rows_quarantined, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The `examples/` folder of the repository has a runnable program for each door.
#![warn(missing_docs)]

pub mod error;
pub mod report;
pub mod suite;

mod conform;
#[cfg(feature = "distributed")]
pub mod distributed;
mod eval;
mod gate;
mod io;
mod metrics;
pub mod monitor;
mod par;
mod pii;
pub mod profile;
pub mod quarantine;
#[cfg(test)]
mod testing;
mod types;
mod validate;
mod values;

pub use error::{Error, Result};
pub use eval::CompiledSuite;
pub use eval::drive::{Progress, ProgressFn};
pub use gate::delta_input;
pub use gate::stage;
pub use gate::{
    BatchCallback, Codec, DEFAULT_BATCH_MEMORY, DEFAULT_CODEC, DEFAULT_COMMIT_ATTEMPTS,
    DEFAULT_COMMIT_BACKOFF_MS, DEFAULT_TARGET_FILE_SIZE, Gate, GateBuilder,
};
pub use report::{Report, Status};
pub use suite::Suite;
pub use validate::{Validated, Validator, ValidatorBuilder};
pub use values::Typed;

/// The crate's own plumbing, public only for its tests, benches and the `dq-check` binary. It
/// is not part of the API and changes without notice.
#[doc(hidden)]
pub mod internal;
