//! # dq-gate
//!
//! A data-quality gate for shared Delta tables. A versioned YAML suite (a schema contract and
//! expectations) is evaluated over Arrow record batches; rows that pass are committed to the
//! target table, rows that fail go to a quarantine table with their violations, exactly once,
//! and every run is recorded in a run log.
//!
//! ```text
//! suite.yaml ─parse─▶ Suite ─compile─▶ CompiledSuite
//! inputs ─read─▶ chunks ─conform─▶ evaluate ─▶ masks + metric states ─route─▶ commit ─▶ report
//! ```
//!
//! # Example: validate a batch in memory
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Int64Array, StringArray, RecordBatch};
//! use dq_gate::{CompiledSuite, Suite};
//! use dq_gate::eval::batch::BatchRun;
//!
//! let suite = Suite::from_yaml(r#"
//! dq_suite: 1
//! name: demo
//! version: 1
//! expectations:
//!   - id: code_known
//!     expect: in_set
//!     column: code
//!     values: [A, B]
//! "#, "demo.yaml")?;
//! let compiled = CompiledSuite::new(suite)?;
//! let batch = RecordBatch::try_from_iter(vec![
//!     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
//!     ("code", Arc::new(StringArray::from(vec![Some("A"), Some("X"), None])) as ArrayRef),
//! ])?;
//! let mut run = BatchRun::new(&compiled, chrono::Utc::now(), 1, "memory", 0);
//! run.push(&batch, false)?;
//! let result = run.finish()?;
//! let e = &result.report.expectations[0];
//! assert_eq!((e.evaluated, e.failed), (2, 1)); // the null is not evaluated
//! assert_eq!(result.report.rows_quarantined, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub(crate) mod conform;
pub mod error;
pub mod eval;
pub mod gate;
pub mod generate;
pub mod io;
pub mod metrics;
pub(crate) mod par;
pub(crate) mod pii;
pub mod report;
pub mod suite;
pub mod types;
pub mod validate;
pub mod values;

pub use error::{Error, Result};
pub use eval::CompiledSuite;
pub use report::{Report, Status};
pub use suite::Suite;
pub use validate::{RunOptions, validate};
