//! Binding rules to a concrete schema: columns resolved to indices, literals typed, regexes,
//! sets, formats and SQL compiled, the kernel picked per Arrow type. Nothing here runs per row.

use arrow::datatypes::{DataType, SchemaRef};

use super::kernels::expr::BoolExpr;
use super::kernels::future::NotInFuture;
use super::kernels::range::{Interval, RangeFilter};
use super::kernels::set::SetFilter;
use super::kernels::strings::{FormatCheck, Length, SuiteRegex};
use super::kernels::{OnColumn, RowKernel};
use super::{Rule, RuleSource};
use crate::error::SuiteProblem;
use crate::metrics::check_metric_type;
use crate::suite::{Expectation, HistoryCheck, Kind, MetricKind, Operand, Suite};
use crate::types::{is_string_like, type_name};
use crate::values::domain::{Domain, domain_of};

/// A kernel bound to columns by index.
///
/// Row-level kinds are [`RowKernel`]s, evaluated through one arm. `not_null` and the contract's
/// `type` rule are their own arms because they read what conforming found (cells that did not
/// parse) and the file's null counts; uniqueness needs the whole batch; aggregates update
/// metric states. Those stay in the evaluator's central match, which runs once per rule and
/// chunk, not per row.
#[derive(Debug)]
pub(crate) enum Op {
    NotNull(usize),
    Type(usize),
    Row(Box<dyn RowKernel>),
    /// A column the data lacks entirely: null, so failing, in every row.
    Absent,
    Unique {
        col: usize,
        nulls_distinct: bool,
    },
    Compound {
        cols: Vec<usize>,
        types: Vec<DataType>,
    },
    Metric {
        col: Option<usize>,
        metric: MetricKind,
        q: Option<f64>,
        interval: Interval,
        history: Option<HistoryCheck>,
    },
    Freshness {
        col: usize,
        max_age: i64,
    },
}

impl Op {
    /// The columns the kernel reads.
    pub(crate) fn columns(&self) -> Vec<usize> {
        match self {
            Op::NotNull(c)
            | Op::Type(c)
            | Op::Unique { col: c, .. }
            | Op::Freshness { col: c, .. }
            | Op::Metric { col: Some(c), .. } => vec![*c],
            Op::Metric { col: None, .. } | Op::Absent => Vec::new(),
            Op::Compound { cols, .. } => cols.clone(),
            Op::Row(k) => k.columns(),
        }
    }
}

/// A rule bound to a schema.
#[derive(Debug)]
pub(crate) struct BoundRule {
    pub filter: Option<BoolExpr>,
    pub op: Op,
    /// Columns whose values illustrate a failing row.
    pub sample_cols: Vec<usize>,
    /// Whether the rule reads a column tagged `pii` (in its kind, its `where` or its SQL): its
    /// observed values, bounds and engine errors are then masked like samples.
    pub pii: bool,
}

/// Every rule of a suite bound to one schema.
#[derive(Debug)]
pub(crate) struct Bound {
    pub schema: SchemaRef,
    pub rules: Vec<BoundRule>,
}

type BindError = (&'static str, String);

impl Bound {
    /// Binds all rules; the error names the rule and the reason.
    pub(crate) fn new(
        suite: &Suite,
        rules: &[Rule],
        schema: &SchemaRef,
    ) -> Result<Self, (String, String)> {
        let mut bound = Vec::with_capacity(rules.len());
        for r in rules {
            bound.push(match &r.source {
                RuleSource::TableCheck(sql) => {
                    let e = BoolExpr::sql(sql, schema).map_err(|m| (r.id.clone(), m))?;
                    let sample_cols = e.column_indices();
                    BoundRule {
                        filter: None,
                        op: Op::Row(Box::new(e)),
                        sample_cols,
                        pii: false,
                    }
                }
                // A column the data lacks is null in every row the table would receive.
                RuleSource::TableNotNull(name) => match schema.index_of(name) {
                    Ok(c) => BoundRule {
                        filter: None,
                        op: Op::NotNull(c),
                        sample_cols: vec![c],
                        pii: false,
                    },
                    Err(_) => BoundRule {
                        filter: None,
                        op: Op::Absent,
                        sample_cols: Vec::new(),
                        pii: false,
                    },
                },
                RuleSource::NotNull(c) => BoundRule {
                    filter: None,
                    op: Op::NotNull(*c),
                    sample_cols: vec![*c],
                    pii: false,
                },
                RuleSource::Type(c) => BoundRule {
                    filter: None,
                    op: Op::Type(*c),
                    sample_cols: vec![*c],
                    pii: false,
                },
                RuleSource::Expectation(i) => bind_expectation(&suite.expectations[*i], schema)
                    .map_err(|(_, m)| (r.id.clone(), m))?,
            });
        }
        if let Some(contract) = &suite.schema {
            for b in &mut bound {
                let filter = b.filter.iter().flat_map(BoolExpr::column_indices);
                b.pii =
                    b.op.columns()
                        .into_iter()
                        .chain(filter)
                        .chain(b.sample_cols.iter().copied())
                        .filter_map(|c| contract.column(schema.field(c).name()))
                        .any(|c| c.is_pii());
            }
        }
        Ok(Bound {
            schema: schema.clone(),
            rules: bound,
        })
    }
}

fn column(
    schema: &SchemaRef,
    name: &str,
    key: &'static str,
) -> Result<(usize, DataType), BindError> {
    schema
        .index_of(name)
        .map(|i| (i, schema.field(i).data_type().clone()))
        .map_err(|_| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            (
                key,
                format!("unknown column `{name}`; the data has {}", names.join(", ")),
            )
        })
}

fn need_strings(kind: &str, dt: &DataType, binary_ok: bool) -> Result<(), BindError> {
    let ok = is_string_like(dt) || (binary_ok && matches!(domain_of(dt), Some(Domain::Bytes)));
    if ok {
        Ok(())
    } else {
        Err((
            "column",
            format!(
                "`{kind}` needs a string column; this one is {}",
                type_name(dt)
            ),
        ))
    }
}

/// The problems of binding a suite's expectations (those `which` picks, by index) to its
/// contract's schema, each at the line and column of the key it concerns.
pub(crate) fn contract_problems(suite: &Suite, which: impl Fn(usize) -> bool) -> Vec<SuiteProblem> {
    let Some(contract) = &suite.schema else {
        return Vec::new();
    };
    let schema = contract.arrow_schema();
    suite
        .expectations
        .iter()
        .enumerate()
        .filter(|(i, _)| which(*i))
        .filter_map(|(i, e)| {
            let (key, message) = bind_expectation(e, &schema).err()?;
            let path = if key.is_empty() {
                format!("expectations[{i}]")
            } else {
                format!("expectations[{i}].{key}")
            };
            Some(SuiteProblem {
                pos: e.pos_of(key),
                path,
                message,
            })
        })
        .collect()
}

/// Binds one expectation. The error carries the key it concerns (for line:column).
pub(crate) fn bind_expectation(
    e: &Expectation,
    schema: &SchemaRef,
) -> Result<BoundRule, BindError> {
    let filter = e
        .filter
        .as_deref()
        .map(|w| BoolExpr::sql(w, schema).map_err(|m| ("where", m)))
        .transpose()?;
    let (op, sample_cols) = match &e.kind {
        Kind::NotNull { column: c } => {
            let (i, _) = column(schema, c, "column")?;
            (Op::NotNull(i), vec![i])
        }
        Kind::InSet {
            column: c,
            values,
            case_insensitive,
            negated,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            let set =
                SetFilter::build(values, &dt, *case_insensitive).map_err(|m| ("values", m))?;
            (Op::Row(OnColumn::negated(i, set, *negated)), vec![i])
        }
        Kind::Between {
            column: c,
            min,
            max,
            strict_min,
            strict_max,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            let key = if min.is_some() { "min" } else { "max" };
            let iv = Interval::bind(min.as_ref(), max.as_ref(), *strict_min, *strict_max, &dt)
                .map_err(|m| (key, m))?;
            let range = RangeFilter::build(iv, &dt).map_err(|m| ("column", m))?;
            (Op::Row(OnColumn::kernel(i, range)), vec![i])
        }
        Kind::MatchesRegex {
            column: c,
            regex,
            mode,
            negated,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            need_strings(e.kind.name(), &dt, false)?;
            let re = SuiteRegex::new(regex, *mode).map_err(|m| ("regex", m))?;
            (Op::Row(OnColumn::negated(i, re, *negated)), vec![i])
        }
        Kind::LengthBetween {
            column: c,
            min,
            max,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            need_strings("length_between", &dt, true)?;
            let (min, max) = (min.unwrap_or(0), max.unwrap_or(u64::MAX));
            (Op::Row(OnColumn::kernel(i, Length { min, max })), vec![i])
        }
        Kind::MatchesFormat { column: c, format } => {
            let (i, dt) = column(schema, c, "column")?;
            need_strings("matches_format", &dt, false)?;
            let check = FormatCheck::new(format).map_err(|m| ("format", m))?;
            (Op::Row(OnColumn::kernel(i, check)), vec![i])
        }
        Kind::Unique {
            column: c,
            nulls_distinct,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            if domain_of(&dt).is_none() {
                return Err((
                    "column",
                    format!("`unique` cannot check columns of type {}", type_name(&dt)),
                ));
            }
            (
                Op::Unique {
                    col: i,
                    nulls_distinct: *nulls_distinct,
                },
                vec![i],
            )
        }
        Kind::CompoundUnique { columns } => {
            let mut cols = Vec::new();
            let mut types = Vec::new();
            for c in columns {
                let (i, dt) = column(schema, c, "columns")?;
                cols.push(i);
                types.push(dt);
            }
            (
                Op::Compound {
                    cols: cols.clone(),
                    types,
                },
                cols,
            )
        }
        Kind::Compare { left, op, right } => {
            let (li, _) = column(schema, left, "left")?;
            let (right_ref, mut cols) = match right {
                Operand::Column(r) => {
                    let (ri, _) = column(schema, r, "right")?;
                    (Ok(r.as_str()), vec![li, ri])
                }
                Operand::Value(v) => (Err(v), vec![li]),
            };
            let key = if right_ref.is_ok() { "right" } else { "value" };
            let expr = BoolExpr::compare(left, *op, right_ref, schema).map_err(|m| (key, m))?;
            cols.dedup();
            (Op::Row(Box::new(expr)), cols)
        }
        Kind::Sql { expr } => {
            let expr = BoolExpr::sql(expr, schema).map_err(|m| ("expr", m))?;
            let cols = expr
                .columns
                .iter()
                .filter_map(|c| schema.index_of(c).ok())
                .collect();
            (Op::Row(Box::new(expr)), cols)
        }
        Kind::NotInFuture {
            column: c,
            tolerance,
        } => {
            let (i, dt) = column(schema, c, "column")?;
            need_temporal("not_in_future", &dt)?;
            let tolerance = *tolerance;
            (
                Op::Row(OnColumn::kernel(i, NotInFuture { tolerance })),
                vec![i],
            )
        }
        Kind::Freshness { column: c, max_age } => {
            let (i, dt) = column(schema, c, "column")?;
            need_temporal("freshness", &dt)?;
            (
                Op::Freshness {
                    col: i,
                    max_age: *max_age,
                },
                vec![],
            )
        }
        Kind::Metric {
            metric,
            column: c,
            q,
            min,
            max,
            strict_min,
            strict_max,
            history,
        } => {
            let col = c
                .as_deref()
                .map(|c| column(schema, c, "column"))
                .transpose()?;
            check_metric_type(*metric, col.as_ref().map(|(_, dt)| dt))
                .map_err(|m| ("metric", m))?;
            if history.is_some()
                && let (MetricKind::Min | MetricKind::Max, Some((_, dt))) = (metric, &col)
            {
                let dt = match dt {
                    DataType::Dictionary(_, v) => v.as_ref(),
                    d => d,
                };
                if !(dt.is_integer() || dt.is_floating()) {
                    return Err((
                        "history",
                        format!(
                            "`history` judges numbers; `{}` of a {} column is not one \
                             (a count, fraction, mean or length is)",
                            metric.as_str(),
                            type_name(dt)
                        ),
                    ));
                }
            }
            // min and max are values of the column; every other metric is a number.
            let bound_type = match (metric, &col) {
                (MetricKind::Min | MetricKind::Max, Some((_, dt))) => match dt {
                    DataType::Dictionary(_, v) => v.as_ref().clone(),
                    d => d.clone(),
                },
                _ => DataType::Float64,
            };
            let key = if min.is_some() { "min" } else { "max" };
            let interval = Interval::bind(
                min.as_ref(),
                max.as_ref(),
                *strict_min,
                *strict_max,
                &bound_type,
            )
            .map_err(|m| (key, m))?;
            (
                Op::Metric {
                    col: col.map(|(i, _)| i),
                    metric: *metric,
                    q: *q,
                    interval,
                    history: history.clone(),
                },
                vec![],
            )
        }
    };
    Ok(BoundRule {
        filter,
        op,
        sample_cols,
        pii: false,
    })
}

fn need_temporal(kind: &str, dt: &DataType) -> Result<(), BindError> {
    if matches!(dt, DataType::Date32 | DataType::Timestamp(_, _)) {
        Ok(())
    } else {
        Err((
            "column",
            format!(
                "`{kind}` needs a date or timestamp column; this one is {}",
                type_name(dt)
            ),
        ))
    }
}
