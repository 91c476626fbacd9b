//! The report (docs/suite-format.md, "The report"): what was checked, what was found, what went where.
//!
//! The JSON shape is the contract schedulers and auditors read; field names here are exactly
//! the ones the suite format lists. [`text`] renders the same model for people. Values of
//! columns tagged `pii` never reach this model unmasked ([`cells::mask`]).

pub(crate) mod cells;
pub mod html;
pub mod text;

use serde::{Deserialize, Serialize};

/// `dq_report` format version.
pub const REPORT_VERSION: u32 = 1;

/// The whole report of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always 1.
    pub dq_report: u32,
    /// The run id.
    pub run_id: String,
    /// Which suite judged.
    pub suite: SuiteRef,
    /// The run's clock (RFC 3339).
    pub as_of: String,
    /// Wall clock at start (RFC 3339).
    pub started_at: String,
    /// Wall clock at the end (RFC 3339).
    pub finished_at: String,
    /// Input files, in the order read.
    pub inputs: Vec<String>,
    /// `passed` | `warned` | `quarantined` | `failed`.
    pub status: Status,
    /// Totals.
    pub summary: Summary,
    /// Schema-contract outcome over all batches.
    pub schema: SchemaSummary,
    /// One entry per batch.
    pub batches: Vec<BatchReport>,
    /// Tables written (only for `run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<TablesReport>,
    /// Alerts the run raised (`run` with a suite's `alerts:`; docs/monitoring.md#alerts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertOutcome>,
}

/// Suite identity in a report.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteRef {
    /// Suite name.
    pub name: String,
    /// Suite version.
    pub version: u64,
    /// SHA-256 of the canonical suite.
    pub fingerprint: String,
}

/// The run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every expectation succeeded.
    Passed,
    /// Only `warn` expectations did not succeed.
    Warned,
    /// Rows or batches went to quarantine.
    Quarantined,
    /// A `fail` expectation stopped the run.
    Failed,
}

impl Status {
    /// The process exit code for this status: 0 passed/warned, 1 quarantined/failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Passed | Status::Warned => 0,
            Status::Quarantined | Status::Failed => 1,
        }
    }
}

/// Totals over all batches.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Batches evaluated.
    pub batches: u64,
    /// Rows read.
    pub rows: u64,
    /// Rows that passed every routing check (committed to the target by `run`).
    pub rows_passed: u64,
    /// Rows routed to quarantine.
    pub rows_quarantined: u64,
    /// Batches quarantined whole.
    pub batches_quarantined: u64,
}

/// Schema-contract outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaSummary {
    /// No batch violated the contract.
    pub success: bool,
    /// Every violation, with its batch.
    pub violations: Vec<SchemaViolation>,
}

/// One schema violation.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaViolation {
    /// Batch sequence number (from 1).
    pub batch: u64,
    /// The input file.
    pub input: String,
    /// What is wrong.
    pub problem: String,
}

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcome {
    /// Every row passed.
    Passed,
    /// Some rows were quarantined, the rest passed.
    RowsQuarantined,
    /// The whole batch was quarantined (an aggregate or `quarantine_batch` expectation, or a
    /// schema violation).
    BatchQuarantined,
    /// A `fail` expectation did not succeed: the batch went nowhere and the run stopped.
    Failed,
}

/// One batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchReport {
    /// Sequence number within the run, from 1.
    pub batch: u64,
    /// The input file it came from.
    pub input: String,
    /// First row of the batch within its file (0-based).
    pub first_row: u64,
    /// Rows in the batch.
    pub rows: u64,
    /// Rows that passed.
    pub rows_passed: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// What happened to it.
    pub outcome: BatchOutcome,
    /// Schema violations (the batch is quarantined whole when there are any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_violations: Vec<String>,
    /// Per expectation (implicit `schema.*` ones first).
    pub expectations: Vec<ExpectationResult>,
    /// `true` when the batch held more Arrow data than its memory budget: it was evaluated as a
    /// stream of chunks, not held (`run` then reads it again to route it; docs/gate.md,
    /// "Batches larger than memory"). Absent when it was held whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over_budget: bool,
    /// Delta versions this batch was committed at (only for `run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
    /// The input's columns and types (`name type, ...`), as the run log records them.
    #[serde(skip)]
    pub input_columns: Option<String>,
}

/// Where a batch landed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Committed {
    /// Target table version holding its passing rows (`None`: no rows went there).
    pub target_version: Option<i64>,
    /// Quarantine table version holding its quarantined rows.
    pub quarantine_version: Option<i64>,
    /// `true` when an earlier attempt of this run had already committed it.
    pub already_committed: bool,
}

/// One expectation's result for one batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// Expectation id.
    pub id: String,
    /// Kind.
    pub expect: String,
    /// The column, for one-column kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The columns, for multi-column kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// What a failure does.
    pub on_fail: String,
    /// Succeeded (row-level: passed / evaluated >= mostly).
    pub success: bool,
    /// Rows evaluated (row-level) or in scope (aggregate).
    pub evaluated: u64,
    /// Of the evaluated rows, those the input's statistics proved to pass without scanning
    /// them (Parquet row groups with no nulls, or min/max within the bounds); absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub proven: u64,
    /// Rows that failed (row-level; 0 for aggregates).
    pub failed: u64,
    /// failed / evaluated (`null` when nothing was evaluated).
    pub failed_fraction: Option<f64>,
    /// failed / rows in the batch.
    pub failed_fraction_total: Option<f64>,
    /// The metric's value (aggregates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<serde_json::Value>,
    /// Why an aggregate failed, or other notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Up to 20 failing values (masked for `pii` columns).
    pub samples: Vec<serde_json::Value>,
    /// The `key` columns of the sampled rows.
    pub sample_keys: Vec<serde_json::Value>,
    /// A `history:` check: the band its strategy allowed and the history it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryResult>,
}

/// One alert a run raised, and what became of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertOutcome {
    /// `expectation:<id>`, `quarantine` or `slo:<id>`.
    pub subject: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Delivered to every sink.
    pub delivered: bool,
    /// Recorded but not delivered: within the suppression interval, or a recovery of an
    /// alert nobody was told about.
    pub suppressed: bool,
    /// Another process recorded the same transition first (and delivers it).
    pub duplicate: bool,
    /// What failed while delivering (each sink's last error).
    pub errors: Vec<String>,
}

/// What a `history:` check read and the band it allowed (docs/monitoring.md).
#[derive(Debug, Clone, Serialize, PartialEq, Deserialize)]
pub struct HistoryResult {
    /// The strategy.
    pub strategy: String,
    /// Earlier points within the window.
    pub points: u64,
    /// The fewest points before it judges.
    pub min_history: u64,
    /// It judged (else the history was too short).
    pub judged: bool,
    /// The band's lower end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lo: Option<f64>,
    /// The band's upper end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hi: Option<f64>,
    /// The clock of the oldest point read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// The clock of the newest point read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest values read (up to 30), oldest first.
    pub values: Vec<f64>,
}

/// Tables written by `run`.
#[derive(Debug, Clone, Serialize)]
pub struct TablesReport {
    /// The shared table.
    pub target: TableRef,
    /// What the target received of each `pii` column shared other than as is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared: Vec<SharedColumn>,
    /// The quarantine table.
    pub quarantine: TableRef,
    /// The run log.
    pub runs: TableRef,
    /// The run was staged, not committed: `dq-check commit-staged` commits it, and the
    /// versions are the tables' before it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub staged: bool,
}

/// A `pii` column's sharing policy for the target table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedColumn {
    /// The column.
    pub column: String,
    /// `token`, `mask` or `drop`.
    pub share: String,
    /// For tokens, the id of the key (a hash of it, never the key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A table and its version after the run.
#[derive(Debug, Clone, Serialize)]
pub struct TableRef {
    /// URI.
    pub uri: String,
    /// Latest committed version.
    pub version: Option<i64>,
}

/// Assembles a [`Report`] batch by batch.
#[derive(Debug)]
pub struct ReportBuilder {
    report: Report,
}

impl ReportBuilder {
    /// Starts a report for a run.
    pub fn new(
        suite: &crate::suite::Suite,
        run_id: &str,
        as_of: chrono::DateTime<chrono::Utc>,
        inputs: Vec<String>,
    ) -> Self {
        let now = chrono::Utc::now();
        ReportBuilder {
            report: Report {
                dq_report: REPORT_VERSION,
                run_id: run_id.to_string(),
                suite: SuiteRef {
                    name: suite.name.clone(),
                    version: suite.version,
                    fingerprint: suite.fingerprint().to_string(),
                },
                as_of: as_of.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                finished_at: String::new(),
                inputs,
                status: Status::Passed,
                summary: Summary::default(),
                schema: SchemaSummary {
                    success: true,
                    violations: Vec::new(),
                },
                batches: Vec::new(),
                tables: None,
                alerts: Vec::new(),
            },
        }
    }

    /// Adds a batch's entry.
    pub fn add(&mut self, batch: BatchReport) {
        let r = &mut self.report;
        r.summary.batches += 1;
        r.summary.rows += batch.rows;
        r.summary.rows_passed += batch.rows_passed;
        r.summary.rows_quarantined += batch.rows_quarantined;
        if batch.outcome == BatchOutcome::BatchQuarantined {
            r.summary.batches_quarantined += 1;
        }
        for v in &batch.schema_violations {
            r.schema.success = false;
            r.schema.violations.push(SchemaViolation {
                batch: batch.batch,
                input: batch.input.clone(),
                problem: v.clone(),
            });
        }
        let status = match batch.outcome {
            BatchOutcome::Failed => Status::Failed,
            BatchOutcome::BatchQuarantined | BatchOutcome::RowsQuarantined => Status::Quarantined,
            BatchOutcome::Passed if batch.expectations.iter().any(|e| !e.success) => Status::Warned,
            BatchOutcome::Passed => Status::Passed,
        };
        r.status = r.status.max(status);
        r.batches.push(batch);
    }

    /// The batches added so far.
    pub fn batches_mut(&mut self) -> &mut [BatchReport] {
        &mut self.report.batches
    }

    /// Records the tables written.
    pub fn tables(&mut self, tables: TablesReport) {
        self.report.tables = Some(tables);
    }

    /// Stamps the end time and returns the report.
    pub fn finish(mut self) -> Report {
        self.report.finished_at =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.report
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
