//! The arguments of the commands that read what runs recorded or work on suites as code:
//! history, status, audit, diff, export, import, suggest.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::OutputFormat;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The target table whose run log to read (<target>_dq_runs). Default: the suite's, else
    /// lake/<suite>.
    #[arg(long, value_name = "URI")]
    pub target: Option<String>,
    /// The run log itself, when it is not <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// A suite: its tables are the defaults, and only its values are printed, with whether
    /// each is of the measure its expectation has today.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Only this expectation.
    #[arg(long, value_name = "ID")]
    pub expectation: Option<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The suite: its objectives, its tables as defaults; only its runs count.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// The target table. Default: the suite's, else lake/<suite>.
    #[arg(long, value_name = "URI")]
    pub target: Option<String>,
    /// The quarantine table. Default: the suite's, else lake/<suite>_quarantine, else
    /// <target>_quarantine.
    #[arg(long, value_name = "URI")]
    pub quarantine: Option<String>,
    /// The run log. Default: the suite's, else <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// The clock the objectives are evaluated at (as `run --as-of`). Default: now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// One self-contained page that prints to PDF.
    Html,
    /// Markdown.
    Md,
    /// The JSON record itself.
    Json,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A suite: its tables are the defaults (and its alert-state table).
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// A target table (repeat for several datasets). Default: the suite's, else lake/<suite>.
    #[arg(long, value_name = "URI")]
    pub target: Vec<String>,
    /// The quarantine (one target only). Default: the suite's, else <target>_quarantine.
    #[arg(long, value_name = "URI")]
    pub quarantine: Option<String>,
    /// The run log (one target only). Default: the suite's, else <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// The period's first day (by each run's as_of), inclusive.
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// The period's last day, inclusive.
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// The file to write; for html and md, the JSON record goes beside it (FILE with .json).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The form.
    #[arg(long, value_enum, default_value_t = AuditFormat::Html)]
    pub format: AuditFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// The changes, one a line.
    Text,
    /// Release notes for partners, in Markdown.
    Md,
    /// The changes as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The suite before: a file, or git:REV:path.
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The suite after: a file, or git:REV:path.
    #[arg(value_name = "NEW")]
    pub new: String,
    /// What to print.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// The day deprecation windows are judged at. Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Sample inputs: count the rows the new suite would quarantine that the old one passed,
    /// and the reverse.
    #[arg(long, value_name = "DATA")]
    pub against: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportTarget {
    /// `ALTER TABLE ... ADD CONSTRAINT name CHECK (...)`.
    DeltaConstraints,
    /// `CONSTRAINT name EXPECT (...) ON VIOLATION ...`.
    DltSql,
    /// A query per rule that selects its violating rows.
    Sql,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write.
    #[arg(value_enum)]
    pub target: ExportTarget,
    /// The suite file.
    #[arg(value_name = "SUITE")]
    pub suite: PathBuf,
    /// The table name in the statements. Default: the suite's name.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// `json` gives the rules and the skipped ones as data.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// Great Expectations 1.x expectation suite JSON.
    Gx,
    /// Open Data Contract Standard v3 (YAML or JSON).
    Odcs,
    /// Databricks DQX checks (YAML or JSON).
    Dqx,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source format.
    #[arg(value_enum)]
    pub from: ImportFormat,
    /// The file to convert.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The suite's name when the source has none. Default: the file's stem.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The suite file to write. Default: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// Input files or directories, as `validate` reads them.
    #[arg(required = true, value_name = "DATA")]
    pub inputs: Vec<PathBuf>,
    /// The suite's name.
    #[arg(long, value_name = "NAME", default_value = "suggested")]
    pub name: String,
    /// The suite file to write. Default: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CommitStagedArgs {
    /// The suite: its tables as defaults.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// The target table. Default: the suite's, else lake/<suite>.
    #[arg(long, value_name = "URI")]
    pub target: Option<String>,
    /// The run log the runs were staged beside. Default: the suite's, else <target>_dq_runs.
    #[arg(long, value_name = "URI")]
    pub runs: Option<String>,
    /// Tries of a commit that conflicts with another writer's.
    #[arg(long, value_name = "N", default_value_t = dq_gate::DEFAULT_COMMIT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub commit_attempts: u32,
    /// What to print.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}
