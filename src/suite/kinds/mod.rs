//! Every expectation kind in one place: its model (the parameters it takes, here), how it
//! reads from YAML ([`parse`]), which keys and columns it has, and the message a failing row
//! gets. The evaluator binds each kind to a kernel in one arm of [`crate::eval`]'s binding;
//! see `docs/architecture.md` for the places a new kind touches.

mod history;
mod parse;

pub use history::{HistoryCheck, Strategy, Unjudged, Window};
pub(in crate::suite) use parse::{check_sql_syntax, column_key, kind, kind_keys};

use serde::Serialize;

use super::{CmpOp, Literal, NullPolicy, Operand, RegexMode};

/// The metrics of the `metric` kind (docs/suite-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Rows (no column).
    RowCount,
    /// Nulls of the column.
    NullCount,
    /// Nulls over all rows.
    NullFraction,
    /// Non-null values over all rows.
    NonNullFraction,
    /// Distinct non-null values.
    DistinctCount,
    /// Distinct non-null values over all rows.
    DistinctFraction,
    /// Values that occur exactly once, over all rows.
    UniqueFraction,
    /// The smallest value (NaN above every number).
    Min,
    /// The largest value (NaN above every number).
    Max,
    /// The arithmetic mean.
    Mean,
    /// The sum (compensated for floats, exact for integers).
    Sum,
    /// The sample standard deviation.
    Stddev,
    /// The population standard deviation.
    StddevPop,
    /// The shortest value, in characters.
    MinLength,
    /// The longest value, in characters.
    MaxLength,
    /// The exact `q` quantile, linearly interpolated.
    Quantile,
}

impl MetricKind {
    /// Every metric with its suite spelling.
    pub const ALL: [(&'static str, MetricKind); 16] = [
        ("row_count", MetricKind::RowCount),
        ("null_count", MetricKind::NullCount),
        ("null_fraction", MetricKind::NullFraction),
        ("non_null_fraction", MetricKind::NonNullFraction),
        ("distinct_count", MetricKind::DistinctCount),
        ("distinct_fraction", MetricKind::DistinctFraction),
        ("unique_fraction", MetricKind::UniqueFraction),
        ("min", MetricKind::Min),
        ("max", MetricKind::Max),
        ("mean", MetricKind::Mean),
        ("sum", MetricKind::Sum),
        ("stddev", MetricKind::Stddev),
        ("stddev_pop", MetricKind::StddevPop),
        ("min_length", MetricKind::MinLength),
        ("max_length", MetricKind::MaxLength),
        ("quantile", MetricKind::Quantile),
    ];

    /// Whether the metric is measured in the column's own units (a value of it, or a sum,
    /// mean or spread of its values) rather than a count, fraction or length. Over a `pii`
    /// column such a metric is shown masked.
    pub fn in_column_units(self) -> bool {
        matches!(
            self,
            MetricKind::Min
                | MetricKind::Max
                | MetricKind::Mean
                | MetricKind::Sum
                | MetricKind::Stddev
                | MetricKind::StddevPop
                | MetricKind::Quantile
        )
    }

    /// The suite spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }
}

/// An expectation kind with its parameters (docs/suite-format.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "expect", rename_all = "snake_case")]
pub enum Kind {
    /// `not_null`: the value is not null.
    NotNull {
        /// The column.
        column: String,
    },
    /// `in_set` (or `not_in_set` when negated): the value is (not) one of `values`.
    InSet {
        /// The column.
        column: String,
        /// The set.
        values: Vec<Literal>,
        /// Compare strings ignoring case.
        case_insensitive: bool,
        /// The `not_` spelling.
        negated: bool,
    },
    /// `between`: `min <= value <= max` (either may be absent; strict when asked).
    Between {
        /// The column.
        column: String,
        /// Lower bound.
        min: Option<Literal>,
        /// Upper bound.
        max: Option<Literal>,
        /// Exclude the lower bound.
        strict_min: bool,
        /// Exclude the upper bound.
        strict_max: bool,
    },
    /// `matches_regex` (or `not_matches_regex`): the whole value (`full`) or a part (`search`) matches.
    MatchesRegex {
        /// The column.
        column: String,
        /// The pattern.
        regex: String,
        /// `full` or `search`.
        mode: RegexMode,
        /// The `not_` spelling.
        negated: bool,
    },
    /// `length_between`: characters (bytes for binary) within `min..=max`.
    LengthBetween {
        /// The column.
        column: String,
        /// Lower bound.
        min: Option<u64>,
        /// Upper bound.
        max: Option<u64>,
    },
    /// `matches_format`: the whole string parses with the chrono format, strictly.
    MatchesFormat {
        /// The column.
        column: String,
        /// A chrono strftime format.
        format: String,
    },
    /// `unique`: the value occurs once in the batch.
    Unique {
        /// The column.
        column: String,
        /// Nulls are not values (default); else nulls are one value.
        nulls_distinct: bool,
    },
    /// `compound_unique`: the tuple occurs once in the batch; rows with a null pass.
    CompoundUnique {
        /// The columns of the tuple.
        columns: Vec<String>,
    },
    /// `compare`: `left op right`, right a column or a literal.
    Compare {
        /// The left column.
        left: String,
        /// The operator.
        op: CmpOp,
        /// A column or a literal.
        right: Operand,
    },
    /// `sql`: a SQL boolean over the row is TRUE.
    Sql {
        /// The SQL boolean.
        expr: String,
    },
    /// `not_in_future`: the value is at most `as_of + tolerance`.
    NotInFuture {
        /// The column.
        column: String,
        /// Seconds.
        tolerance: i64,
    },
    /// `metric`: a metric of the batch lies within `min..=max`.
    Metric {
        /// Which metric.
        metric: MetricKind,
        /// The column.
        column: Option<String>,
        /// The quantile, 0..1 (`quantile` only).
        q: Option<f64>,
        /// Lower bound.
        min: Option<Literal>,
        /// Upper bound.
        max: Option<Literal>,
        /// Exclude the lower bound.
        strict_min: bool,
        /// Exclude the upper bound.
        strict_max: bool,
        /// Judged against its own history too (docs/monitoring.md).
        #[serde(skip_serializing_if = "Option::is_none")]
        history: Option<HistoryCheck>,
    },
    /// `freshness`: `as_of - max(column) <= max_age`.
    Freshness {
        /// The column.
        column: String,
        /// Seconds.
        max_age: i64,
    },
}

impl Kind {
    /// The `expect:` spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::NotNull { .. } => "not_null",
            Kind::InSet { negated: false, .. } => "in_set",
            Kind::InSet { negated: true, .. } => "not_in_set",
            Kind::Between { .. } => "between",
            Kind::MatchesRegex { negated: false, .. } => "matches_regex",
            Kind::MatchesRegex { negated: true, .. } => "not_matches_regex",
            Kind::LengthBetween { .. } => "length_between",
            Kind::MatchesFormat { .. } => "matches_format",
            Kind::Unique { .. } => "unique",
            Kind::CompoundUnique { .. } => "compound_unique",
            Kind::Compare { .. } => "compare",
            Kind::Sql { .. } => "sql",
            Kind::NotInFuture { .. } => "not_in_future",
            Kind::Metric { .. } => "metric",
            Kind::Freshness { .. } => "freshness",
        }
    }

    /// Aggregate kinds give one verdict per batch; the others decide per row.
    pub fn is_aggregate(&self) -> bool {
        matches!(self, Kind::Metric { .. } | Kind::Freshness { .. })
    }

    /// The columns the kind reads by name (not those inside `sql` expressions).
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Kind::NotNull { column }
            | Kind::InSet { column, .. }
            | Kind::Between { column, .. }
            | Kind::MatchesRegex { column, .. }
            | Kind::LengthBetween { column, .. }
            | Kind::MatchesFormat { column, .. }
            | Kind::Unique { column, .. }
            | Kind::NotInFuture { column, .. }
            | Kind::Freshness { column, .. } => vec![column.as_str()],
            Kind::CompoundUnique { columns } => columns.iter().map(String::as_str).collect(),
            Kind::Compare { left, right, .. } => match right {
                Operand::Column(r) => vec![left.as_str(), r.as_str()],
                Operand::Value(_) => vec![left.as_str()],
            },
            Kind::Sql { .. } => vec![],
            Kind::Metric { column, .. } => column.iter().map(String::as_str).collect(),
        }
    }

    /// The null policy a kind has when the suite says nothing.
    pub fn default_nulls(&self) -> NullPolicy {
        match self {
            Kind::Sql { .. } => NullPolicy::Fail,
            _ => NullPolicy::Ignore,
        }
    }

    /// The message written into `_dq_violations` for a row that fails this kind.
    pub fn violation_message(&self) -> String {
        match self {
            Kind::NotNull { column } => format!("`{column}` is null"),
            Kind::InSet {
                column,
                values,
                negated,
                ..
            } => {
                let list: Vec<String> = values.iter().map(ToString::to_string).collect();
                let shown = if list.len() > 8 {
                    format!("{}, ... ({} values)", list[..8].join(", "), list.len())
                } else {
                    list.join(", ")
                };
                if *negated {
                    format!("`{column}` is one of the excluded values [{shown}]")
                } else {
                    format!("`{column}` is not one of [{shown}]")
                }
            }
            Kind::Between {
                column,
                min,
                max,
                strict_min,
                strict_max,
            } => {
                let lo = min
                    .as_ref()
                    .map(|m| format!("{} {m}", if *strict_min { ">" } else { ">=" }));
                let hi = max
                    .as_ref()
                    .map(|m| format!("{} {m}", if *strict_max { "<" } else { "<=" }));
                let cond: Vec<String> = lo.into_iter().chain(hi).collect();
                format!("`{column}` is not {}", cond.join(" and "))
            }
            Kind::MatchesRegex {
                column,
                regex,
                negated,
                ..
            } => {
                if *negated {
                    format!("`{column}` matches /{regex}/")
                } else {
                    format!("`{column}` does not match /{regex}/")
                }
            }
            Kind::LengthBetween { column, min, max } => format!(
                "length of `{column}` is outside [{}, {}]",
                min.map_or("-".into(), |m| m.to_string()),
                max.map_or("-".into(), |m| m.to_string())
            ),
            Kind::MatchesFormat { column, format } => {
                format!("`{column}` does not match format {format}")
            }
            Kind::Unique { column, .. } => format!("`{column}` is not unique in the batch"),
            Kind::CompoundUnique { columns } => {
                format!("({}) is not unique in the batch", columns.join(", "))
            }
            Kind::Compare { left, op, right } => match right {
                Operand::Column(r) => {
                    format!("`{left}` {} `{r}` is not true", op.as_str())
                }
                Operand::Value(v) => format!("`{left}` {} {v} is not true", op.as_str()),
            },
            Kind::Sql { expr } => format!("`{expr}` is not true"),
            Kind::NotInFuture { column, .. } => format!("`{column}` is in the future"),
            Kind::Metric { .. } | Kind::Freshness { .. } => "batch-level check failed".into(),
        }
    }
}
