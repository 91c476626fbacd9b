//! Operating the gate: what runs recorded, read back (docs/monitoring.md). The metric history
//! `history:` checks judge against, the suite's objectives over the run log, and the status of
//! a target.

mod alert_state;
pub mod alerts;
pub mod audit;
pub mod audit_page;
mod deliver;
mod log;
mod reconcile;
pub mod slo;
pub mod status;
mod suite_versions;

pub use crate::eval::history::{History, HistoryPoint};
pub use crate::gate::history::{MetricPoint, load_history, metric_history};
pub use alert_state::{AlertState, read_alert_states};
