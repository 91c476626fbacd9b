//! One batch (the unit of verdict and commit), evaluated chunk by chunk.
//!
//! ```text
//!  chunk ─▶ conform ─▶ row kernels ─▶ failing-row masks, counts, samples   (push, per chunk)
//!                    └▶ aggregates ─▶ metric states (merged)
//!                    └▶ unique    ─▶ value frequencies (whole batch)
//!  finish: uniqueness settled per chunk ─▶ verdicts ─▶ fate ─▶ quarantine mask per chunk
//! ```
//!
//! The quarantine mask of a chunk is the OR of the failing-row masks of the rules whose
//! `on_fail` is `quarantine_rows` (the implicit contract rules included). Each failing-row mask
//! is null-free by construction ([`super::nulls`]), so a row is kept only when every routing rule
//! is TRUE for it: a NULL never slips through.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::DataType;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::bind::{Bound, Op};
use super::kernels::future::not_in_future;
use super::kernels::strings::{length_between, regex_matches};
use super::kernels::unique::{CompoundCounter, UniqueCounter};
use super::literal::{Typed, from_unit};
use super::nulls::{RowOutcome, outcome, true_mask};
use super::{CompiledSuite, Rule, RuleSource};
use crate::error::{Error, Result};
use crate::metrics::{MetricState, Observed};
use crate::report::values::{cell, float_json, mask, typed_json};
use crate::report::{BatchOutcome, BatchReport, ExpectationResult};
use crate::suite::{MetricKind, NullPolicy, OnFail};

/// Samples kept per expectation and batch.
pub const MAX_SAMPLES: usize = 20;

/// What the gate does with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Passing rows to the target, failing rows to quarantine.
    Split,
    /// Every row to quarantine (schema violation, or a batch-level failure).
    QuarantineAll,
    /// A `fail` expectation did not succeed: nothing is committed and the run stops.
    Fail,
}

/// A chunk after evaluation, ready to be split.
#[derive(Debug)]
pub struct RoutedChunk {
    /// The chunk's rows: the contract's columns (or the input's, without a contract).
    pub batch: RecordBatch,
    /// Per row, JSON of original values that could not be kept in the typed columns.
    pub raw: Option<StringArray>,
    /// Rows going to quarantine (null-free).
    pub quarantine: BooleanBuffer,
    /// Per rule index, the rows that failed it (only rules with failures).
    pub fails: Vec<(usize, BooleanBuffer)>,
}

/// A batch after evaluation.
#[derive(Debug)]
pub struct BatchResult {
    /// The batch's report entry.
    pub report: BatchReport,
    /// What to do with it.
    pub fate: Fate,
    /// Its chunks with their quarantine masks.
    pub chunks: Vec<RoutedChunk>,
    /// Rule indices that failed for the whole batch (aggregates, `quarantine_batch`).
    pub batch_failures: Vec<usize>,
    /// Schema violations of the batch.
    pub schema_violations: Vec<String>,
}

struct Chunk {
    batch: RecordBatch,
    raw: Option<StringArray>,
    fails: Vec<Option<BooleanBuffer>>,
    scopes: Vec<Option<BooleanBuffer>>,
    first_row: u64,
}

#[derive(Default)]
struct Stats {
    evaluated: u64,
    failed: u64,
    samples: Vec<Value>,
    keys: Vec<Value>,
    state: Option<MetricState>,
    unique: Option<UniqueCounter>,
    compound: Option<CompoundCounter>,
    active: bool,
}

/// Evaluates one batch. Call [`BatchRun::push`] for each chunk, then [`BatchRun::finish`].
pub struct BatchRun<'a> {
    compiled: &'a CompiledSuite,
    as_of: DateTime<Utc>,
    seq: u64,
    input: String,
    first_row: u64,
    bound: Option<Arc<Bound>>,
    stats: Vec<Stats>,
    chunks: Vec<Chunk>,
    rows: u64,
    violations: Vec<String>,
}

impl<'a> BatchRun<'a> {
    /// Starts batch `seq` (from 1) of `input`, whose first row is `first_row` of the file.
    pub fn new(
        compiled: &'a CompiledSuite,
        as_of: DateTime<Utc>,
        seq: u64,
        input: &str,
        first_row: u64,
    ) -> Self {
        let stats = compiled.rules().iter().map(|_| Stats::default()).collect();
        BatchRun {
            compiled,
            as_of,
            seq,
            input: input.to_string(),
            first_row,
            bound: None,
            stats,
            chunks: Vec::new(),
            rows: 0,
            violations: Vec::new(),
        }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Evaluates one chunk. `text` says its columns are text to parse (CSV, NDJSON).
    pub fn push(&mut self, chunk: &RecordBatch, text: bool) -> Result<()> {
        let (batch, bad_cells, violations, raw) = match self.compiled.conformer() {
            Some(c) => {
                let out = c.conform(chunk, text)?;
                (out.batch, out.bad_cells, out.violations, out.raw)
            }
            None => (chunk.clone(), Vec::new(), Vec::new(), None),
        };
        let n = self.compiled.rules().len();
        let mut state = Chunk {
            batch,
            raw,
            fails: vec![None; n],
            scopes: vec![None; n],
            first_row: self.first_row + self.rows,
        };
        self.rows += chunk.num_rows() as u64;
        if !violations.is_empty() || !self.violations.is_empty() {
            for v in violations {
                if !self.violations.contains(&v) {
                    self.violations.push(v);
                }
            }
            self.chunks.push(state);
            return Ok(());
        }
        let bound = match &self.bound {
            Some(b) if b.schema == state.batch.schema() => b.clone(),
            _ => {
                let b = self.compiled.bind(&state.batch.schema())?;
                self.bound = Some(b.clone());
                b
            }
        };
        let rows = state.batch.num_rows();
        for (ri, (rule, br)) in self.compiled.rules().iter().zip(&bound.rules).enumerate() {
            let scope = match &br.filter {
                Some(f) => Some(true_mask(
                    &f.evaluate(&state.batch)
                        .map_err(|e| Error::eval(&rule.id, e))?,
                )),
                None => None,
            };
            let col = |i: usize| state.batch.column(i).as_ref();
            let stats = &mut self.stats[ri];
            let row_result = match &br.op {
                Op::Type(c) => {
                    if let Some(b) = bad_cells.iter().find(|b| b.column == *c) {
                        stats.active = true;
                        Some(RowOutcome {
                            fail: b.rows.clone(),
                            evaluated: b.parsed,
                        })
                    } else {
                        None
                    }
                }
                Op::NotNull(c) => {
                    let nulls = col(*c).logical_nulls();
                    let mut fail =
                        nulls.map_or_else(|| BooleanBuffer::new_unset(rows), |n| !n.inner());
                    // A cell that was present but did not parse is a type violation, not a null.
                    if let Some(b) = bad_cells.iter().find(|b| b.column == *c) {
                        fail = &fail & &!&b.rows;
                    }
                    Some(scoped(
                        RowOutcome {
                            fail,
                            evaluated: rows as u64,
                        },
                        scope.as_ref(),
                    ))
                }
                Op::Set {
                    col: c,
                    set,
                    negated,
                } => {
                    let r = set
                        .contains(col(*c))
                        .ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&negate(r, *negated), rule.nulls, scope.as_ref()))
                }
                Op::Range { col: c, range } => {
                    let r = range
                        .evaluate(col(*c))
                        .ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&r, rule.nulls, scope.as_ref()))
                }
                Op::Regex {
                    col: c,
                    re,
                    negated,
                } => {
                    let r = regex_matches(re, col(*c)).ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&negate(r, *negated), rule.nulls, scope.as_ref()))
                }
                Op::Length { col: c, min, max } => {
                    let r = length_between(col(*c), *min, *max)
                        .ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&r, rule.nulls, scope.as_ref()))
                }
                Op::Format { col: c, check } => {
                    let r = check
                        .evaluate(col(*c))
                        .ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&r, rule.nulls, scope.as_ref()))
                }
                Op::Expr(e) => {
                    let r = e
                        .evaluate(&state.batch)
                        .map_err(|e| Error::eval(&rule.id, e))?;
                    Some(outcome(&r, rule.nulls, scope.as_ref()))
                }
                Op::NotInFuture { col: c, tolerance } => {
                    let r = not_in_future(col(*c), self.as_of, *tolerance)
                        .ok_or_else(|| unsupported(rule, col(*c)))?;
                    Some(outcome(&r, rule.nulls, scope.as_ref()))
                }
                Op::Unique { col: c, .. } => {
                    stats
                        .unique
                        .get_or_insert_with(UniqueCounter::default)
                        .count(col(*c), scope.as_ref());
                    state.scopes[ri] = scope.clone();
                    None
                }
                Op::Compound { cols, types } => {
                    if stats.compound.is_none() {
                        stats.compound = Some(CompoundCounter::new(types)?);
                    }
                    let arrays: Vec<ArrayRef> = cols
                        .iter()
                        .map(|i| state.batch.column(*i).clone())
                        .collect();
                    stats
                        .compound
                        .as_mut()
                        .expect("just set")
                        .count(&arrays, scope.as_ref())?;
                    state.scopes[ri] = scope.clone();
                    None
                }
                Op::Metric { col: c, metric, .. } => {
                    let array = c.map(|i| state.batch.column(i).as_ref());
                    stats
                        .state
                        .get_or_insert_with(|| {
                            MetricState::new(*metric, array.map(|a| a.data_type()))
                        })
                        .update(array, scope.as_ref(), rows);
                    stats.evaluated += scope.as_ref().map_or(rows, |s| s.count_set_bits()) as u64;
                    None
                }
                Op::Freshness { col: c, .. } => {
                    let array = col(*c);
                    stats
                        .state
                        .get_or_insert_with(|| {
                            MetricState::new(MetricKind::Max, Some(array.data_type()))
                        })
                        .update(Some(array), scope.as_ref(), rows);
                    stats.evaluated += scope.as_ref().map_or(rows, |s| s.count_set_bits()) as u64;
                    None
                }
            };
            if let Some(o) = row_result {
                record(
                    stats,
                    o,
                    &mut state,
                    ri,
                    br.sample_cols.as_slice(),
                    self.compiled,
                    rule,
                );
            }
        }
        self.chunks.push(state);
        Ok(())
    }

    /// Settles uniqueness, decides every verdict and the batch's fate, and routes each chunk.
    pub fn finish(mut self) -> Result<BatchResult> {
        let rules = self.compiled.rules();
        let violated = !self.violations.is_empty();
        if !violated && let Some(bound) = self.bound.clone() {
            for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
                for ci in 0..self.chunks.len() {
                    let chunk = &self.chunks[ci];
                    let scope = chunk.scopes[ri].clone();
                    let result = match &br.op {
                        Op::Unique {
                            col,
                            nulls_distinct,
                        } => match &self.stats[ri].unique {
                            Some(u) => {
                                u.evaluate(chunk.batch.column(*col).as_ref(), *nulls_distinct)
                            }
                            None => continue,
                        },
                        Op::Compound { cols, .. } => match &self.stats[ri].compound {
                            Some(c) => {
                                let arrays: Vec<ArrayRef> = cols
                                    .iter()
                                    .map(|i| chunk.batch.column(*i).clone())
                                    .collect();
                                c.evaluate(&arrays)?
                            }
                            None => continue,
                        },
                        _ => continue,
                    };
                    let policy = match &br.op {
                        Op::Compound { .. } => NullPolicy::Ignore,
                        _ => rule.nulls,
                    };
                    let o = outcome(&result, policy, scope.as_ref());
                    let chunk = &mut self.chunks[ci];
                    record(
                        &mut self.stats[ri],
                        o,
                        chunk,
                        ri,
                        &br.sample_cols,
                        self.compiled,
                        rule,
                    );
                }
            }
        }

        // Verdicts.
        let mut results = Vec::new();
        let mut batch_failures = Vec::new();
        let mut fate = Fate::Split;
        if violated {
            fate = Fate::QuarantineAll;
        } else if let Some(bound) = self.bound.clone() {
            for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
                if matches!(rule.source, RuleSource::Type(_)) && !self.stats[ri].active {
                    continue;
                }
                let (success, observed, message) = self.verdict(ri, rule, &br.op, &bound.schema);
                if !success {
                    match rule.on_fail {
                        OnFail::Fail => fate = Fate::Fail,
                        OnFail::QuarantineBatch => {
                            batch_failures.push(ri);
                            if fate != Fate::Fail {
                                fate = Fate::QuarantineAll;
                            }
                        }
                        OnFail::Warn | OnFail::QuarantineRows => {}
                    }
                    if rule.aggregate && rule.on_fail != OnFail::QuarantineBatch {
                        batch_failures.push(ri);
                    }
                }
                results.push(self.result(ri, rule, success, observed, message));
            }
        }

        // Routing.
        let routing: Vec<usize> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.on_fail == OnFail::QuarantineRows)
            .map(|(i, _)| i)
            .collect();
        let mut quarantined = 0u64;
        let chunks: Vec<RoutedChunk> = self
            .chunks
            .into_iter()
            .map(|c| {
                let len = c.batch.num_rows();
                let quarantine = match fate {
                    Fate::QuarantineAll => BooleanBuffer::new_set(len),
                    Fate::Fail => BooleanBuffer::new_unset(len),
                    Fate::Split => routing
                        .iter()
                        .filter_map(|i| c.fails[*i].as_ref())
                        .fold(BooleanBuffer::new_unset(len), |acc, f| &acc | f),
                };
                quarantined += quarantine.count_set_bits() as u64;
                RoutedChunk {
                    batch: c.batch,
                    raw: c.raw,
                    quarantine,
                    fails: c
                        .fails
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, f)| f.map(|f| (i, f)))
                        .collect(),
                }
            })
            .collect();
        let outcome = match fate {
            Fate::Fail => BatchOutcome::Failed,
            Fate::QuarantineAll => BatchOutcome::BatchQuarantined,
            Fate::Split if quarantined > 0 => BatchOutcome::RowsQuarantined,
            Fate::Split => BatchOutcome::Passed,
        };
        let rows_passed = if fate == Fate::Fail {
            0
        } else {
            self.rows - quarantined
        };
        Ok(BatchResult {
            report: BatchReport {
                batch: self.seq,
                input: self.input,
                first_row: self.first_row,
                rows: self.rows,
                rows_passed,
                rows_quarantined: quarantined,
                outcome,
                schema_violations: self.violations.clone(),
                expectations: results,
                committed: None,
            },
            fate,
            chunks,
            batch_failures,
            schema_violations: self.violations,
        })
    }

    fn verdict(
        &self,
        ri: usize,
        rule: &Rule,
        op: &Op,
        schema: &arrow::datatypes::SchemaRef,
    ) -> (bool, Option<Value>, Option<String>) {
        let s = &self.stats[ri];
        match op {
            Op::Metric {
                col,
                metric,
                q,
                interval,
            } => {
                let dt = col.map(|c| schema.field(c).data_type().clone());
                let dt = dt.map(|d| match d {
                    DataType::Dictionary(_, v) => *v,
                    d => d,
                });
                let observed = s
                    .state
                    .as_ref()
                    .map_or(Observed::Null, |st| st.finish(*metric, *q));
                let shown = match &observed {
                    Observed::Null => Value::Null,
                    Observed::Count(c) => Value::from(*c),
                    Observed::Number(f) => float_json(*f),
                    Observed::Value(v) => typed_json(v, dt.as_ref()),
                };
                match observed.as_typed() {
                    None => (
                        false,
                        Some(Value::Null),
                        Some(format!(
                            "{} over zero non-null values is null",
                            metric.as_str()
                        )),
                    ),
                    Some(v) => {
                        let ok = interval.contains(&v);
                        let msg = (!ok).then(|| {
                            format!(
                                "{} {} is outside {}",
                                metric.as_str(),
                                shown,
                                describe_interval(interval, dt.as_ref())
                            )
                        });
                        (ok, Some(shown), msg)
                    }
                }
            }
            Op::Freshness { col, max_age } => {
                let dt = schema.field(*col).data_type().clone();
                let newest = match s.state.as_ref().map(|st| st.finish(MetricKind::Max, None)) {
                    Some(Observed::Value(Typed::Int(v))) => Some(v),
                    _ => None,
                };
                let Some(v) = newest else {
                    return (
                        false,
                        Some(Value::Null),
                        Some("no non-null values: freshness cannot be shown".into()),
                    );
                };
                let instant = match &dt {
                    DataType::Date32 => chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                        .and_then(|e| e.checked_add_signed(TimeDelta::days(v as i64)))
                        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
                    DataType::Timestamp(unit, _) => from_unit(v as i64, *unit),
                    _ => None,
                };
                let Some(instant) = instant else {
                    return (
                        false,
                        Some(Value::Null),
                        Some("newest value is out of range".into()),
                    );
                };
                let age = (self.as_of - instant).num_seconds();
                let ok = age <= *max_age;
                let shown = typed_json(&Typed::Int(v), Some(&dt));
                let msg = (!ok).then(|| {
                    format!(
                        "newest value {shown} is {} old at {}; max_age is {}",
                        human_secs(age),
                        self.as_of.to_rfc3339(),
                        human_secs(*max_age)
                    )
                });
                (ok, Some(shown), msg)
            }
            _ => {
                let ok = s.evaluated == 0
                    || (s.evaluated - s.failed) as f64 / s.evaluated as f64 >= rule.mostly;
                (ok, None, None)
            }
        }
    }

    fn result(
        &mut self,
        ri: usize,
        rule: &Rule,
        success: bool,
        observed: Option<Value>,
        message: Option<String>,
    ) -> ExpectationResult {
        let s = &mut self.stats[ri];
        let (column, columns) = match rule.columns.len() {
            0 => (None, None),
            1 => (Some(rule.columns[0].clone()), None),
            _ => (None, Some(rule.columns.clone())),
        };
        ExpectationResult {
            id: rule.id.clone(),
            expect: rule.expect.to_string(),
            column,
            columns,
            on_fail: rule.on_fail.as_str().to_string(),
            success,
            evaluated: s.evaluated,
            failed: s.failed,
            failed_fraction: (s.evaluated > 0 && !rule.aggregate)
                .then(|| s.failed as f64 / s.evaluated as f64),
            failed_fraction_total: (self.rows > 0 && !rule.aggregate)
                .then(|| s.failed as f64 / self.rows as f64),
            observed,
            message,
            samples: std::mem::take(&mut s.samples),
            sample_keys: std::mem::take(&mut s.keys),
        }
    }
}

fn scoped(o: RowOutcome, scope: Option<&BooleanBuffer>) -> RowOutcome {
    match scope {
        None => o,
        Some(s) => RowOutcome {
            evaluated: s.count_set_bits() as u64,
            fail: &o.fail & s,
        },
    }
}

fn negate(r: arrow::array::BooleanArray, negated: bool) -> arrow::array::BooleanArray {
    if negated {
        arrow::array::BooleanArray::new(!r.values(), r.nulls().cloned())
    } else {
        r
    }
}

fn unsupported(rule: &Rule, array: &dyn Array) -> Error {
    Error::Bind {
        expectation: rule.id.clone(),
        reason: format!(
            "`{}` cannot evaluate a column of type {}",
            rule.expect,
            crate::types::type_name(array.data_type())
        ),
    }
}

fn human_secs(s: i64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

fn describe_interval(iv: &super::kernels::range::Interval, dt: Option<&DataType>) -> String {
    let show = |v: &Typed| match v {
        // Bounds of counts and fractions are typed as floats; show `5`, not `5.0`.
        Typed::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        v => typed_json(v, dt).to_string(),
    };
    let lo = iv
        .lo
        .as_ref()
        .map(|(v, s)| format!("{}{}", if *s { "(" } else { "[" }, show(v)));
    let hi = iv
        .hi
        .as_ref()
        .map(|(v, s)| format!("{}{}", show(v), if *s { ")" } else { "]" }));
    format!(
        "{}, {}",
        lo.unwrap_or_else(|| "(-inf".into()),
        hi.unwrap_or_else(|| "+inf)".into())
    )
}

/// Adds a chunk's outcome for a rule: counts, samples, and the failing rows for routing.
fn record(
    stats: &mut Stats,
    o: RowOutcome,
    chunk: &mut Chunk,
    ri: usize,
    sample_cols: &[usize],
    compiled: &CompiledSuite,
    rule: &Rule,
) {
    let failed = o.fail.count_set_bits() as u64;
    stats.evaluated += o.evaluated;
    stats.failed += failed;
    if failed == 0 {
        return;
    }
    let room = MAX_SAMPLES.saturating_sub(stats.samples.len());
    for i in o.fail.set_indices().take(room) {
        stats
            .samples
            .push(sample(chunk, i, sample_cols, compiled, rule));
        stats.keys.push(keys(chunk, i, compiled));
    }
    chunk.fails[ri] = Some(o.fail);
}

fn is_pii(compiled: &CompiledSuite, name: &str) -> bool {
    compiled
        .suite()
        .schema
        .as_ref()
        .and_then(|c| c.column(name))
        .is_some_and(|c| c.is_pii())
}

fn value_of(chunk: &Chunk, i: usize, col: usize, compiled: &CompiledSuite) -> Value {
    let schema = chunk.batch.schema();
    let name = schema.field(col).name();
    let v = cell(chunk.batch.column(col).as_ref(), i);
    if is_pii(compiled, name) { mask(&v) } else { v }
}

fn sample(chunk: &Chunk, i: usize, cols: &[usize], compiled: &CompiledSuite, rule: &Rule) -> Value {
    if let RuleSource::Type(c) = rule.source {
        // The typed value is null; the sample is the original text.
        let name = &rule.columns[0];
        let original = chunk
            .raw
            .as_ref()
            .filter(|r| r.is_valid(i))
            .and_then(|r| serde_json::from_str::<Value>(r.value(i)).ok())
            .and_then(|v| v.get(name).cloned())
            .unwrap_or(Value::Null);
        let _ = c;
        return if is_pii(compiled, name) {
            mask(&original)
        } else {
            original
        };
    }
    match cols {
        [c] => value_of(chunk, i, *c, compiled),
        cols => {
            let schema = chunk.batch.schema();
            Value::Object(
                cols.iter()
                    .map(|c| {
                        (
                            schema.field(*c).name().clone(),
                            value_of(chunk, i, *c, compiled),
                        )
                    })
                    .collect(),
            )
        }
    }
}

fn keys(chunk: &Chunk, i: usize, compiled: &CompiledSuite) -> Value {
    let schema = chunk.batch.schema();
    let key_cols: Vec<usize> = compiled
        .suite()
        .schema
        .as_ref()
        .map(|c| {
            c.columns
                .iter()
                .filter(|c| c.is_key())
                .filter_map(|c| schema.index_of(&c.name).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut obj: serde_json::Map<String, Value> = key_cols
        .iter()
        .map(|c| {
            (
                schema.field(*c).name().clone(),
                value_of(chunk, i, *c, compiled),
            )
        })
        .collect();
    // Without key columns, the row's position in its input file identifies it.
    if obj.is_empty() {
        obj.insert("_row".into(), Value::from(chunk.first_row + i as u64));
    }
    Value::Object(obj)
}
