//! The suite: a versioned YAML file of a schema contract and expectations, as a typed model.
//!
//! [`Suite::from_yaml`] reads a file, reports every problem at once (line, column, key path) and
//! fingerprints the result. The model never sees data; binding it to columns is
//! [`crate::CompiledSuite`]'s step, which for a suite with a schema contract happens when it is
//! compiled, so a bound of the wrong type is caught by `dq-check lint` before any data arrives.

mod alerts;
pub mod diff;
mod expectations;
pub mod export;
mod fingerprint;
pub mod import;
mod kinds;
pub mod limits;
pub(crate) mod parse;
mod reader;
pub(crate) mod regex;
mod slos;
pub(crate) mod yaml;

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

pub use crate::error::{Pos, SuiteProblem, SuiteProblems};
pub use crate::types::ColumnType;
pub use alerts::{AlertEvent, Alerts, Sink};
pub use kinds::{HistoryCheck, Kind, MetricKind, Strategy, Unjudged, Window};
pub use slos::{DEFAULT_SLO_WINDOW, Slo, SloKind};

/// The run log beside a target: `<target>_dq_runs`.
pub fn runs_of(target: &str) -> String {
    format!("{}_dq_runs", target.trim_end_matches('/'))
}

/// Whether `s` is a valid suite name (`[a-z0-9_.-]+`).
pub fn is_suite_name(s: &str) -> bool {
    reader::is_name(s, b".-")
}

/// Whether `s` is a valid expectation id (`[a-z0-9_]+`).
pub fn is_expectation_id(s: &str) -> bool {
    reader::is_name(s, b"")
}

/// A parsed, checked suite.
#[derive(Debug, Clone, Serialize)]
pub struct Suite {
    /// Suite id, `[a-z0-9_.-]+`.
    pub name: String,
    /// Suite version, bumped on every change.
    pub version: u64,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who to ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Default table URIs for `dq-check run`.
    pub tables: Tables,
    /// The schema contract, if the suite has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Contract>,
    /// The expectations, in file order.
    pub expectations: Vec<Expectation>,
    /// Service-level objectives, evaluated from the run log (docs/monitoring.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    /// Where alerts go and when they fire (docs/monitoring.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Alerts>,
    #[serde(skip)]
    fingerprint: String,
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    text: String,
}

/// Default tables named by the suite.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tables {
    /// Target table URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Quarantine table URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// Run-log table URI (default `<target>_dq_runs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<String>,
}

/// The schema contract (docs/suite-format.md).
#[derive(Debug, Clone, Serialize)]
pub struct Contract {
    /// `strict` (default): extra columns violate; `additive`: extra columns allowed.
    pub mode: SchemaMode,
    /// The columns, in table order.
    pub columns: Vec<ColumnSpec>,
}

/// How a contract treats columns it does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaMode {
    /// An extra column is a schema violation.
    Strict,
    /// Extra columns are allowed (and not written to the target).
    Additive,
}

/// One column of a contract.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// Declared type.
    #[serde(rename = "type", serialize_with = "ser_display")]
    pub ty: ColumnType,
    /// Whether nulls are allowed (default true).
    pub nullable: bool,
    /// Tags; `key` and `pii` have meaning to dq-gate, others are kept for people.
    pub tags: Vec<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the target (shared) table receives of a `pii` column. Default: the value as is.
    #[serde(skip_serializing_if = "Share::is_as_is")]
    pub share: Share,
    /// Announced for removal (docs/suites-as-code.md#deprecation-windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<Deprecation>,
}

/// A column's deprecation window: partners are told it goes, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deprecation {
    /// The column may be removed after this day.
    pub after: chrono::NaiveDate,
    /// What partners should use instead, or why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the target table, the one partners read, receives of a column tagged `pii`. The
/// quarantine table, a restricted table, always keeps the original value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Share {
    /// The value itself (the default).
    #[default]
    AsIs,
    /// A keyed deterministic token (HMAC-SHA256 with a key from the environment or a file, never
    /// from the suite): the same value always gives the same token, so partners can still join
    /// and count distinct values. The column is a string in the target.
    Token,
    /// The value's shape (`M123-45` becomes `A999-99`). The column is a string in the target.
    Mask,
    /// Nothing: the column is left out of the target.
    Drop,
}

impl Share {
    /// The suite spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Share::AsIs => "as_is",
            Share::Token => "token",
            Share::Mask => "mask",
            Share::Drop => "drop",
        }
    }

    fn is_as_is(&self) -> bool {
        *self == Share::AsIs
    }
}

impl ColumnSpec {
    /// Tagged `key`: identifies rows in reports.
    pub fn is_key(&self) -> bool {
        self.tags.iter().any(|t| t == "key")
    }
    /// Tagged `pii`: values never appear in reports.
    pub fn is_pii(&self) -> bool {
        self.tags.iter().any(|t| t == "pii")
    }
}

fn ser_display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// What happens when an expectation does not succeed (docs/suite-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// Reported only.
    Warn,
    /// Every failing row goes to quarantine (default for row-level kinds).
    QuarantineRows,
    /// The whole batch goes to quarantine (default for aggregate kinds).
    QuarantineBatch,
    /// The run stops; the batch is committed nowhere.
    Fail,
}

impl OnFail {
    /// The suite spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFail::Warn => "warn",
            OnFail::QuarantineRows => "quarantine_rows",
            OnFail::QuarantineBatch => "quarantine_batch",
            OnFail::Fail => "fail",
        }
    }
}

/// How a row-level kind treats a null value (docs/suite-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NullPolicy {
    /// Not evaluated: in neither numerator nor denominator, never routed for it.
    Ignore,
    /// Counts as passing.
    Pass,
    /// Counts as failing.
    Fail,
}

/// A literal written in the suite (set members, bounds, comparison values).
///
/// Numbers keep the text they were written as: `01` is still `01` for a string column, and
/// `12.50` binds exactly to a decimal column.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// An integer, with its text.
    Int(i128, String),
    /// A number with a fraction or exponent, with its text.
    Float(f64, String),
    /// A string (also dates and timestamps, typed when bound to a column).
    Str(String),
}

impl Serialize for Literal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Literal::Bool(b) => s.serialize_bool(*b),
            Literal::Int(i, t) if *t == i.to_string() => s.serialize_i128(*i),
            Literal::Float(f, t) if *t == f.to_string() => s.serialize_f64(*f),
            Literal::Int(_, t) | Literal::Float(_, t) | Literal::Str(t) => s.serialize_str(t),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(_, t) | Literal::Float(_, t) => f.write_str(t),
            Literal::Str(s) => write!(f, "'{s}'"),
        }
    }
}

/// `full` (default): the whole value must match; `search`: some substring must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegexMode {
    /// Anchored at both ends (`\A(?:re)\z`).
    Full,
    /// Unanchored.
    Search,
}

/// Comparison operator of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    LtEq,
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    NotEq,
    /// `>=`
    #[serde(rename = ">=")]
    GtEq,
    /// `>`
    #[serde(rename = ">")]
    Gt,
}

impl CmpOp {
    /// The suite spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Eq => "=",
            CmpOp::NotEq => "!=",
            CmpOp::GtEq => ">=",
            CmpOp::Gt => ">",
        }
    }
}

/// The right-hand side of `compare`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    /// Another column of the same row.
    Column(String),
    /// A literal.
    Value(Literal),
}

/// One expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    /// Unique id, `[a-z0-9_]+`; reports cite it.
    pub id: String,
    /// The kind and its parameters.
    #[serde(flatten)]
    pub kind: Kind,
    /// What happens when it does not succeed.
    pub on_fail: OnFail,
    /// Row-level only: the share of evaluated rows that must pass (default 1.0).
    pub mostly: f64,
    /// Row-level only: how nulls count.
    pub nulls: NullPolicy,
    /// Optional SQL boolean; rows where it is not TRUE are not evaluated.
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip)]
    pub(crate) positions: Vec<(String, Pos)>,
}

impl Expectation {
    /// For a `metric`, a digest of what it measures (metric, column, `q`, `where`): the run
    /// log records it with each value, and a `history:` check reads only values of the same
    /// measure.
    pub fn measure(&self) -> Option<String> {
        fingerprint::measure(self)
    }

    /// Where a key of this expectation was written (the expectation itself for `""`).
    pub(crate) fn pos_of(&self, key: &str) -> Pos {
        self.positions
            .iter()
            .find(|(k, _)| k == key)
            .or_else(|| self.positions.iter().find(|(k, _)| k.is_empty()))
            .map(|(_, p)| *p)
            .unwrap_or_default()
    }
}

impl Suite {
    /// The target when nothing else names one: `tables.target`, else `lake/<name>`.
    pub fn default_target(&self) -> String {
        self.tables
            .target
            .clone()
            .unwrap_or_else(|| format!("lake/{}", self.name))
    }

    /// The quarantine when nothing else names one: `tables.quarantine`, else
    /// `lake/<name>_quarantine`.
    pub fn default_quarantine(&self) -> String {
        self.tables
            .quarantine
            .clone()
            .unwrap_or_else(|| format!("lake/{}_quarantine", self.name))
    }

    /// The run log of `target` when nothing else names one: `tables.runs`, else
    /// `<target>_dq_runs`.
    pub fn default_runs(&self, target: &str) -> String {
        self.tables.runs.clone().unwrap_or_else(|| runs_of(target))
    }

    /// Parses a suite from YAML text. `source` names the file in messages.
    ///
    /// Every problem in the text is reported in one [`Error::Suite`]. The suite is checked on
    /// its own (keys, kinds, parameters, column names against the contract); binding its
    /// expectations to the contract's types is [`crate::CompiledSuite`]'s step, and
    /// [`crate::CompiledSuite::from_yaml`] does both, reporting every problem at once.
    pub fn from_yaml(text: &str, source: &str) -> Result<Suite> {
        let p = Suite::parse(text, source);
        match p.suite {
            Some(s) if p.problems.is_empty() => Ok(s),
            _ => Err(Error::Suite(SuiteProblems::new(source, p.problems))),
        }
    }

    /// Reads a suite as far as it can: see [`parse::Partial`].
    pub(crate) fn parse(text: &str, source: &str) -> parse::Partial {
        let mut p = parse::parse(text, source);
        if let Some(s) = p.suite.as_mut() {
            s.fingerprint = fingerprint::fingerprint(s);
            s.text = text.to_string();
        }
        p
    }

    /// Reads and parses a suite file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Suite> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
        Suite::from_yaml(&text, &path.display().to_string())
    }

    /// SHA-256 (hex) of the suite's canonical form: stable under key order, whitespace and
    /// comments, changed by any change of meaning.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The file the suite came from, as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The YAML text it was parsed from, comments and all (each run records it, so an audit
    /// can show what changed between the versions in force).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The expectations that hold literal values to compare with a `pii` column's (a set, a
    /// bound, a compared value, or a `sql`/`where` expression naming the column): a blocklist
    /// of member ids is itself protected, so the run log does not keep such a suite's text.
    pub fn pii_literals(&self) -> Vec<&str> {
        let Some(contract) = &self.schema else {
            return Vec::new();
        };
        let pii: Vec<&str> = contract
            .columns
            .iter()
            .filter(|c| c.is_pii())
            .map(|c| c.name.as_str())
            .collect();
        let names = |text: &str| {
            let text = text.to_lowercase();
            pii.iter().any(|c| {
                let c = c.to_lowercase();
                text.match_indices(&c).any(|(i, _)| {
                    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
                    !text[..i].chars().next_back().is_some_and(word)
                        && !text[i + c.len()..].chars().next().is_some_and(word)
                })
            })
        };
        self.expectations
            .iter()
            .filter(|e| {
                let reads = e.kind.columns().iter().any(|c| pii.contains(c));
                let literal = match &e.kind {
                    Kind::InSet { .. } | Kind::Between { .. } => true,
                    Kind::Compare { right, .. } => matches!(right, Operand::Value(_)),
                    // Bounds in the column's own values; a count or a fraction is not one.
                    Kind::Metric {
                        metric, min, max, ..
                    } => {
                        matches!(
                            metric,
                            MetricKind::Min | MetricKind::Max | MetricKind::Quantile
                        ) && (min.is_some() || max.is_some())
                    }
                    Kind::Sql { expr } => names(expr),
                    _ => false,
                };
                ((reads || matches!(&e.kind, Kind::Sql { .. })) && literal)
                    || e.filter.as_deref().is_some_and(names)
            })
            .map(|e| e.id.as_str())
            .collect()
    }
}

impl Contract {
    /// The columns shared with a policy other than as is.
    pub fn shared_pii(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().filter(|c| c.share != Share::AsIs)
    }

    /// The Arrow schema of the data: contract columns in order, with their nullability.
    pub fn arrow_schema(&self) -> arrow::datatypes::SchemaRef {
        std::sync::Arc::new(arrow::datatypes::Schema::new(
            self.columns
                .iter()
                .map(|c| arrow::datatypes::Field::new(&c.name, c.ty.to_arrow(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// The column spec by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}
