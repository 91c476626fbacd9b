//! Operating the gate: what runs recorded, read back (docs/monitoring.md). Today: the metric
//! history that `history:` checks judge against and `dq-check history` prints.

pub use crate::eval::history::{History, HistoryPoint};
pub use crate::gate::history::{MetricPoint, metric_history};
