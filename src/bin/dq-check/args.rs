//! Command-line arguments in two steps, as ripgrep does: the clap structs below hold what was
//! typed, validated but not acted on; [`Common::validator`] and [`RunArgs::gate`] turn them into
//! the library's real objects.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use dq_gate::internal::process::batch_memory_budget;
use dq_gate::{
    Codec, CompiledSuite, DEFAULT_CODEC, DEFAULT_TARGET_FILE_SIZE, Error, Gate, Validator,
};

mod ops;

pub use ops::*;

const MIB: u64 = 1 << 20;

/// dq-check: a data-quality gate for Delta tables.
///
/// Exit codes: 0 every expectation succeeded (warnings allowed); 1 a data-quality failure
/// (rows or batches quarantined, or a `fail` expectation stopped the run); 2 an error (bad suite,
/// unreadable input, I/O).
#[derive(Debug, Parser)]
#[command(name = "dq-check", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate inputs against a suite and report; writes no table.
    Validate(ValidateArgs),
    /// Gate inputs into Delta: passing rows to the target table, failing rows to quarantine,
    /// every batch recorded in the run log. Defaults to the suite's `tables`, else
    /// lake/<suite> and lake/<suite>_quarantine.
    Run(RunArgs),
    /// Check suite files and print their fingerprints.
    Lint(LintArgs),
    /// Look inside a quarantine table, release rows from it under a suite, or discard them.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Print the metric history a run log holds: every value a `metric` expectation observed,
    /// oldest first (what `history:` checks judge against).
    History(HistoryArgs),
    /// A target's status: the suite's objectives (SLOs) with their error budgets, the last
    /// run of each suite, expectations failing in their newest batch, open quarantine rows.
    /// Exit 0 healthy, 1 an objective breached or without data or an alert firing, 2 an error.
    Status(StatusArgs),
    /// An audit of one or more datasets over a period: runs, reconciliation of rows, pass
    /// rates and trends, the quarantine's fate, suite versions, alerts; HTML, Markdown or
    /// JSON, with the SHA-256 of its JSON record. Exit 1 when a run does not reconcile.
    Audit(AuditArgs),
    /// Compare two suites (files, or git:REV:path) as models: each change with its verdict for
    /// consumers and producers, the version check, and release notes. Exit 0 compatible,
    /// 1 breaking or the version not raised, 2 an error.
    Diff(DiffArgs),
    /// Write a suite's row-level rules for another engine: Delta CHECK constraints, Lakeflow
    /// (DLT) expectations, or plain SQL; rules with no SQL row form are listed, not dropped.
    Export(ExportArgs),
    /// Profile data in one pass and write a starting suite, each rule with its evidence.
    Suggest(SuggestArgs),
    /// Convert a Great Expectations 1.x suite, an ODCS v3 contract or DQX checks into a suite;
    /// every rule whose meaning differs gets a warning, every rule with no equivalent a line.
    Import(ImportArgs),
    /// Commit the runs staged with `run --stage` beside a run log: one commit per table for all
    /// of them, each run exactly once.
    CommitStaged(CommitStagedArgs),
    /// Write the benchmark's seeded health-claims table as Parquet.
    Generate(GenerateArgs),
    /// Run a Ballista scheduler for `validate --cluster` (feature `distributed`).
    #[cfg(feature = "distributed")]
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor that judges files for `validate --cluster` (feature
    /// `distributed`).
    #[cfg(feature = "distributed")]
    Executor(ExecutorArgs),
}

#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Where to listen.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,
    /// Seconds without a heartbeat after which an executor is lost and its tasks run again.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub executor_timeout_s: u64,
}

#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub scheduler: String,
    /// The port this executor serves results on (Arrow Flight).
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    pub port: u16,
    /// Its gRPC port.
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks it runs at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub vcores: usize,
    /// Its name in reports. Default: executor-<port>.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Rows in all.
    #[arg(long, value_name = "N")]
    pub rows: u64,
    /// Seed: the same seed always gives the same table.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Split the rows over this many files (claims-00000.parquet, ...) in OUT, a directory.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub files: Option<u64>,
    /// The Parquet file to write (or the directory, with --files).
    #[arg(long, value_name = "PATH")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable summary.
    Text,
    /// The JSON report.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A readable summary.
    Text,
    /// The JSON report.
    Json,
    /// One self-contained HTML page (data docs of the run).
    Html,
}

/// Flags shared by `validate` and `run`.
#[derive(Debug, Args)]
pub struct Common {
    /// The suite file (YAML).
    #[arg(long, value_name = "FILE")]
    pub suite: PathBuf,
    /// Input files or directories (Parquet, CSV, NDJSON, Arrow IPC, by extension), or local
    /// Delta tables (a directory with a _delta_log), read at their newest version.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Read Delta table inputs as of version N.
    #[arg(long, value_name = "N", conflicts_with = "since_version", value_parser = clap::value_parser!(i64).range(0..))]
    pub version: Option<i64>,
    /// Read only the files Delta table inputs gained after version N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub since_version: Option<i64>,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write the report as one HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// The run's clock for not_in_future and freshness: RFC 3339, a date and time without an
    /// offset (read as UTC), or a date (midnight UTC). Default: now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Rows per batch (the unit of verdict and commit). Default: one batch per input file.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_rows: Option<u64>,
    /// Arrow data a batch may hold in memory, in MiB. A larger batch is evaluated in one
    /// streaming pass and read again from its file to be routed, so files larger than memory
    /// work. Default: an eighth of the memory the process may use (the machine's, or its
    /// cgroup's limit), at least 1024.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_memory_mb: Option<u64>,
    /// Print nothing on stdout (the exit code and --report still tell).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub common: Common,
    /// A run log whose metric history `history:` checks judge against (as a run into that
    /// target would). Default: none, so they have no history and warn.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// Validate on a Ballista cluster of N executors started in this process, each file
    /// judged by an executor (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64), conflicts_with = "cluster")]
    pub standalone: Option<u64>,
    /// Validate on the Ballista cluster whose scheduler is at df://HOST:PORT; its executors
    /// are `dq-check executor` processes (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,
    /// The shared (target) table: a local path or an object-store URI (s3://bucket/path).
    #[arg(long, value_name = "URI")]
    pub target: Option<String>,
    /// The quarantine table.
    #[arg(long, value_name = "URI")]
    pub quarantine: Option<String>,
    /// The run-log table. Default: <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// The run id. Re-running an id after a crash finishes that run without duplicating
    /// anything. Default: a new UUID.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Target size of the Parquet files written, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_TARGET_FILE_SIZE / MIB, value_parser = clap::value_parser!(u64).range(1..))]
    pub target_file_size_mb: u64,
    /// Compression of the files written: snappy, zstd (level 1), zstd:LEVEL (1 to 22) or none.
    #[arg(long, value_name = "CODEC", default_value_t = DEFAULT_CODEC)]
    pub compression: Codec,
    /// Commit at least every N batches, even when files are still small. Default: commit when
    /// files reach the target size, and at the end.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batches_per_commit: Option<u64>,
    /// A file holding the key for `pii` columns shared as tokens (`share: token`). Default:
    /// $DQ_GATE_TOKEN_KEY, else the file $DQ_GATE_TOKEN_KEY_FILE names.
    #[arg(long, value_name = "FILE")]
    pub token_key_file: Option<PathBuf>,
    /// Who runs it, recorded with the run. Default: $DQ_GATE_ACTOR, else $USER.
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// Tries of a commit that conflicts with another writer's, with backoff between them.
    #[arg(long, value_name = "N", default_value_t = dq_gate::DEFAULT_COMMIT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub commit_attempts: u32,
    /// Backoff base between those tries, in ms: waits of twice it doubling to 64 times it,
    /// plus jitter (0: try again at once).
    #[arg(long, value_name = "MS", default_value_t = dq_gate::DEFAULT_COMMIT_BACKOFF_MS, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub commit_backoff_ms: u64,
    /// Write the files but stage the commits beside the run log, for `dq-check commit-staged`
    /// to commit with other workers' runs at once.
    #[arg(long)]
    pub stage: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Suite files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// A time as `--as-of` takes it: like a timestamp literal of a suite.
pub fn parse_as_of(t: &str) -> Result<DateTime<Utc>, Error> {
    dq_gate::internal::parse_timestamp(t).ok_or_else(|| {
        Error::Usage(format!(
            "--as-of `{t}` is not an RFC 3339 time (2026-01-31T12:00:00Z), a date and time \
             (2026-01-31 12:00:00) or a date (2026-01-31)"
        ))
    })
}

impl Common {
    /// The inputs with every Delta table replaced by the data files of the version asked for.
    pub async fn resolve_inputs(&self) -> Result<Vec<PathBuf>, Error> {
        use dq_gate::delta_input::{DeltaVersion, delta_files, is_delta_table};
        let version = match (self.version, self.since_version) {
            (Some(v), _) => DeltaVersion::At(v),
            (None, Some(v)) => DeltaVersion::Since(v),
            (None, None) => DeltaVersion::Latest,
        };
        let mut out = Vec::new();
        let mut tables = 0;
        for p in &self.inputs {
            if is_delta_table(p) {
                tables += 1;
                let files = delta_files(p, version).await?;
                if files.is_empty() {
                    return Err(Error::Usage(format!(
                        "{}: the Delta table has no data files {}",
                        p.display(),
                        match version {
                            DeltaVersion::Since(v) => format!("added after version {v}"),
                            DeltaVersion::At(v) => format!("at version {v}"),
                            DeltaVersion::Latest => "at its newest version".into(),
                        }
                    )));
                }
                out.extend(files);
            } else {
                out.push(p.clone());
            }
        }
        if tables == 0 && version != DeltaVersion::Latest {
            return Err(Error::Usage(
                "--version and --since-version apply to Delta table inputs; none was given".into(),
            ));
        }
        Ok(out)
    }

    /// `--batch-memory-mb` in bytes, or the budget sized from the machine.
    fn batch_memory(&self) -> usize {
        self.batch_memory_mb.map_or_else(batch_memory_budget, |mb| {
            usize::try_from(mb.saturating_mul(MIB)).unwrap_or(usize::MAX)
        })
    }

    /// `--as-of`, parsed like a timestamp literal of a suite.
    fn as_of(&self) -> Result<Option<DateTime<Utc>>, Error> {
        self.as_of.as_deref().map(parse_as_of).transpose()
    }

    /// The validator these flags ask for.
    pub fn validator(&self, compiled: CompiledSuite) -> Result<Validator, Error> {
        let mut b = Validator::builder(Arc::new(compiled))
            .with_batch_rows(self.batch_rows.map(|n| n as usize))
            .with_batch_memory(self.batch_memory());
        if let Some(t) = self.as_of()? {
            b = b.with_as_of(t);
        }
        if let Some(p) = crate::progress::bar(self.quiet) {
            b = b.on_progress(p);
        }
        Ok(b.build())
    }
}

impl RunArgs {
    /// The gate these flags ask for.
    pub fn gate(&self, compiled: CompiledSuite) -> Result<Gate, Error> {
        let c = &self.common;
        let mut b = Gate::builder(Arc::new(compiled))
            .with_batch_rows(c.batch_rows.map(|n| n as usize))
            .with_target_file_size(self.target_file_size_mb * MIB)
            .with_codec(self.compression)
            .with_batch_memory(c.batch_memory());
        if let Some(n) = self.max_batches_per_commit {
            b = b.with_max_batches_per_commit(n as usize);
        }
        if let Some(t) = c.as_of()? {
            b = b.with_as_of(t);
        }
        if let Some(t) = &self.target {
            b = b.with_target(t);
        }
        if let Some(q) = &self.quarantine {
            b = b.with_quarantine(q);
        }
        if let Some(r) = &self.runs {
            b = b.with_runs(r);
        }
        if let Some(id) = &self.run_id {
            b = b.with_run_id(id);
        }
        if let Some(f) = &self.token_key_file {
            b = b.with_token_key_file(f)?;
        }
        if let Some(a) = &self.actor {
            b = b.with_actor(a);
        }
        b = b.with_commit_attempts(self.commit_attempts);
        b = b.with_commit_backoff(std::time::Duration::from_millis(self.commit_backoff_ms));
        b = b.with_staging(self.stage);
        if let Some(p) = crate::progress::bar(c.quiet) {
            b = b.on_progress(p);
        }
        b.build()
    }
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Quarantined rows grouped by run, batch, suite version, expectation and status.
    Ls(InspectArgs),
    /// Quarantined rows with their violations, `pii` values masked.
    Show(ShowArgs),
    /// Judge open rows again under a suite; append the passing ones to the target.
    Release(ReleaseArgs),
    /// Mark open rows discarded, with a reason (a mark, never a delete).
    Discard(DiscardArgs),
}

/// Which quarantined rows.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Rows of this run (repeatable).
    #[arg(long = "run-id", value_name = "ID")]
    pub run_ids: Vec<String>,
    /// Rows that broke this expectation.
    #[arg(long, value_name = "ID")]
    pub expectation: Option<String>,
    /// Rows where this SQL condition over their columns is TRUE.
    #[arg(long = "where", value_name = "SQL")]
    pub filter: Option<String>,
}

impl SelectArgs {
    pub fn selection(&self, open_only: bool) -> dq_gate::quarantine::Selection {
        dq_gate::quarantine::Selection {
            run_ids: self.run_ids.clone(),
            expectation: self.expectation.clone(),
            filter: self.filter.clone(),
            open_only,
        }
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The quarantine table. Default: the suite's.
    #[arg(long, value_name = "URI")]
    pub quarantine: Option<String>,
    /// A suite: its tables are the defaults, and its `pii` tags say what to mask when the table
    /// does not record them.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Released and discarded rows too (default: open rows only).
    #[arg(long)]
    pub all: bool,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
    /// Rows to print at most.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Show `pii` values as they are. For the quarantine's own readers only: the output then
    /// holds protected values.
    #[arg(long)]
    pub unmask: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The suite to judge the rows under (typically a new version).
    #[arg(long, value_name = "FILE")]
    pub suite: PathBuf,
    /// The target table. Default: the suite's.
    #[arg(long, value_name = "URI")]
    pub target: Option<String>,
    /// The quarantine table. Default: the suite's.
    #[arg(long, value_name = "URI")]
    pub quarantine: Option<String>,
    /// The run-log table. Default: the suite's, else <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// The release id: re-running an id after a crash finishes that release. Default: a new
    /// UUID.
    #[arg(long, value_name = "ID")]
    pub release_id: Option<String>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Judge and print what would move; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Who releases. Default: $DQ_GATE_ACTOR, else $USER.
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// The clock for not_in_future and freshness (as for `run`). Default: now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// A file holding the key of `pii` columns shared as tokens.
    #[arg(long, value_name = "FILE")]
    pub token_key_file: Option<PathBuf>,
    /// Also write the JSON of the release to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The quarantine table.
    #[arg(long, value_name = "URI")]
    pub quarantine: String,
    /// Why (recorded on every row).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The discard's id. Default: a new UUID.
    #[arg(long, value_name = "ID")]
    pub discard_id: Option<String>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Count what would be discarded; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Who discards. Default: $DQ_GATE_ACTOR, else $USER.
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

impl ReleaseArgs {
    /// The release these flags ask for.
    pub fn release(&self, compiled: CompiledSuite) -> Result<dq_gate::quarantine::Release, Error> {
        let mut b = dq_gate::quarantine::Release::builder(Arc::new(compiled))
            .with_selection(self.select.selection(true))
            .dry_run(self.dry_run);
        if let Some(t) = &self.target {
            b = b.with_target(t);
        }
        if let Some(q) = &self.quarantine {
            b = b.with_quarantine(q);
        }
        if let Some(r) = &self.runs {
            b = b.with_runs(r);
        }
        if let Some(id) = &self.release_id {
            b = b.with_release_id(id);
        }
        if let Some(a) = &self.actor {
            b = b.with_actor(a);
        }
        if let Some(t) = self.as_of.as_deref() {
            b = b.with_as_of(parse_as_of(t)?);
        }
        if let Some(f) = &self.token_key_file {
            b = b.with_token_key_file(f)?;
        }
        b.build()
    }
}
