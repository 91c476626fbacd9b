//! One chunk: conform it to the contract and run every row-level kernel and aggregate update on
//! it. Chunks are independent, so a batch's chunks are evaluated in parallel and their partial
//! results merged in order ([`super::batch`]). Uniqueness, which needs the whole batch, is left
//! to the batch.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::bind::{Bound, Op};
use super::kernels::KernelError;
use super::nulls::{RowOutcome, outcome, true_mask};
use super::{CompiledSuite, Rule, RuleSource};
use crate::error::{Error, Result};
use crate::io::facts::{ChunkFacts, ColumnFacts};
use crate::metrics::MetricState;
use crate::report::cells::{cell, mask};
use crate::suite::MetricKind;

/// Samples kept per expectation and batch.
pub const MAX_SAMPLES: usize = 20;

/// A chunk's rows and what the rules found in them.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub batch: RecordBatch,
    pub raw: Option<StringArray>,
    /// Per rule, the failing rows (`None`: none failed, or not evaluated yet).
    pub fails: Vec<Option<BooleanBuffer>>,
    /// Per rule with a `where`, the rows in scope (kept for uniqueness).
    pub scopes: Vec<Option<BooleanBuffer>>,
    pub first_row: u64,
    pub bound: Option<Arc<Bound>>,
}

/// A rule's partial result over some rows: counts, samples, metric state.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    pub evaluated: u64,
    /// Of `evaluated`, rows settled by statistics rather than scanned.
    pub proven: u64,
    pub failed: u64,
    pub samples: Vec<Value>,
    pub keys: Vec<Value>,
    pub state: Option<MetricState>,
    /// For `schema.<column>.type`: whether any cell of the column was converted.
    pub active: bool,
}

impl Partial {
    /// Adds a later partial (rows after this one's).
    pub(crate) fn absorb(&mut self, other: Partial) {
        self.evaluated += other.evaluated;
        self.proven += other.proven;
        self.failed += other.failed;
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
        self.keys.extend(other.keys.into_iter().take(room));
        self.active |= other.active;
        match (&mut self.state, other.state) {
            (Some(a), Some(b)) => a.absorb(b),
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
    }
}

/// A chunk after evaluation.
pub(crate) struct ChunkOut {
    pub chunk: Chunk,
    pub partials: Vec<Partial>,
    pub violations: Vec<String>,
}

/// Conforms and evaluates one chunk (everything but uniqueness).
pub(crate) fn evaluate(
    compiled: &CompiledSuite,
    as_of: DateTime<Utc>,
    input: &RecordBatch,
    text: bool,
    first_row: u64,
    facts: Option<&ChunkFacts>,
) -> Result<ChunkOut> {
    let (batch, bad_cells, violations, raw) = match compiled.conformer() {
        Some(c) => {
            let out = c.conform(input, text)?;
            (out.batch, out.bad_cells, out.violations, out.raw)
        }
        None => (input.clone(), Vec::new(), Vec::new(), None),
    };
    let rules = compiled.rules();
    let n = rules.len();
    let mut chunk = Chunk {
        batch,
        raw,
        fails: vec![None; n],
        scopes: vec![None; n],
        first_row,
        bound: None,
    };
    let mut partials: Vec<Partial> = (0..n).map(|_| Partial::default()).collect();
    if !violations.is_empty() {
        // No expectation runs on a chunk that breaks the contract.
        return Ok(ChunkOut {
            chunk,
            partials,
            violations,
        });
    }
    let bound = compiled.bind(&chunk.batch.schema())?;
    let rows = chunk.batch.num_rows();
    for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
        let scope = match &br.filter {
            Some(f) => Some(true_mask(
                &f.evaluate(&chunk.batch)
                    .map_err(|e| Error::eval(&rule.id, Box::new(e), br.pii))?,
            )),
            None => None,
        };
        let col = |i: usize| chunk.batch.column(i).as_ref();
        let partial = &mut partials[ri];
        let in_scope = || scope.as_ref().map_or(rows, |s| s.count_set_bits()) as u64;
        let result = match &br.op {
            Op::Type(c) => bad_cells.iter().find(|b| b.column == *c).map(|b| {
                partial.active = true;
                RowOutcome {
                    fail: b.rows.clone(),
                    evaluated: b.parsed,
                }
            }),
            Op::NotNull(c)
                if proves(facts, &chunk.batch, *c, |f| f.no_nulls)
                    && !bad_cells.iter().any(|b| b.column == *c) =>
            {
                partial.proven += in_scope();
                Some(RowOutcome {
                    fail: BooleanBuffer::new_unset(rows),
                    evaluated: in_scope(),
                })
            }
            Op::NotNull(c) => {
                let nulls = col(*c).logical_nulls();
                let mut fail = nulls.map_or_else(|| BooleanBuffer::new_unset(rows), |n| !n.inner());
                // A cell that was present but did not parse is a type violation, not a null.
                if let Some(b) = bad_cells.iter().find(|b| b.column == *c) {
                    fail = &fail & &!&b.rows;
                }
                Some(match &scope {
                    None => RowOutcome {
                        fail,
                        evaluated: rows as u64,
                    },
                    Some(s) => RowOutcome {
                        evaluated: s.count_set_bits() as u64,
                        fail: &fail & s,
                    },
                })
            }
            Op::Row(k) if facts.is_some_and(|f| k.proven(f, &chunk.batch)) => {
                // Every value passes: only the null policy is left to apply.
                let nulls = k.columns().first().and_then(|c| col(*c).logical_nulls());
                let r = BooleanArray::new(BooleanBuffer::new_set(rows), nulls);
                let o = outcome(&r, rule.nulls, scope.as_ref());
                partial.proven += o.evaluated;
                Some(o)
            }
            Op::Row(k) => {
                let r = k.evaluate(&chunk.batch, as_of).map_err(|e| match e {
                    KernelError::Unsupported(dt) => Error::Bind {
                        expectation: rule.id.clone(),
                        reason: format!(
                            "`{}` cannot evaluate a column of type {}",
                            rule.expect,
                            crate::types::type_name(&dt)
                        ),
                    },
                    KernelError::Engine(e) => Error::eval(&rule.id, e, br.pii),
                })?;
                Some(outcome(&r, rule.nulls, scope.as_ref()))
            }
            Op::Absent => Some(RowOutcome {
                fail: BooleanBuffer::new_set(rows),
                evaluated: in_scope(),
            }),
            Op::Unique { .. } | Op::Compound { .. } => {
                // Settled over the whole batch; remember the scope.
                chunk.scopes[ri] = scope.clone();
                None
            }
            Op::Metric { col: c, metric, .. } => {
                let array = c.map(|i| chunk.batch.column(i).as_ref());
                let mut s = MetricState::new(*metric, array.map(|a| a.data_type()));
                s.update(array, scope.as_ref(), rows);
                partial.state = Some(s);
                partial.evaluated += in_scope();
                None
            }
            Op::Freshness { col: c, .. } => {
                let array = col(*c);
                let mut s = MetricState::new(MetricKind::Max, Some(array.data_type()));
                s.update(Some(array), scope.as_ref(), rows);
                partial.state = Some(s);
                partial.evaluated += in_scope();
                None
            }
        };
        if let Some(o) = result {
            record(partial, o, &mut chunk, ri, &br.sample_cols, compiled, rule);
        }
    }
    chunk.bound = Some(bound);
    Ok(ChunkOut {
        chunk,
        partials,
        violations,
    })
}

/// Whether the facts of column `c` (as it is in `batch`) pass `test`.
fn proves(
    facts: Option<&ChunkFacts>,
    batch: &RecordBatch,
    c: usize,
    test: impl Fn(&ColumnFacts) -> bool,
) -> bool {
    let field = batch.schema_ref().field(c);
    facts
        .and_then(|f| f.column(field.name(), field.data_type()))
        .is_some_and(test)
}

/// Adds a chunk's outcome for a rule: counts, samples, and the failing rows for routing.
pub(crate) fn record(
    partial: &mut Partial,
    o: RowOutcome,
    chunk: &mut Chunk,
    ri: usize,
    sample_cols: &[usize],
    compiled: &CompiledSuite,
    rule: &Rule,
) {
    let failed = o.fail.count_set_bits() as u64;
    partial.evaluated += o.evaluated;
    partial.failed += failed;
    if failed == 0 {
        return;
    }
    let room = MAX_SAMPLES.saturating_sub(partial.samples.len());
    for i in o.fail.set_indices().take(room) {
        partial
            .samples
            .push(sample(chunk, i, sample_cols, compiled, rule));
        partial.keys.push(keys(chunk, i, compiled));
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
    if let RuleSource::Type(_) = rule.source {
        // The typed value is null; the sample is the original text.
        let name = &rule.columns[0];
        let original = chunk
            .raw
            .as_ref()
            .filter(|r| r.is_valid(i))
            .and_then(|r| serde_json::from_str::<Value>(r.value(i)).ok())
            .and_then(|v| v.get(name).cloned())
            .unwrap_or(Value::Null);
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

/// Indices in `schema` of the contract's `key` columns.
pub(crate) fn key_columns(
    compiled: &CompiledSuite,
    schema: &arrow::datatypes::Schema,
) -> Vec<usize> {
    compiled
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
        .unwrap_or_default()
}

fn keys(chunk: &Chunk, i: usize, compiled: &CompiledSuite) -> Value {
    let schema = chunk.batch.schema();
    let key_cols = key_columns(compiled, &schema);
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

/// An evaluated chunk without the columns nothing reads any more: only those of `unique` and
/// `compound_unique` rules (and their sample columns) and the contract's key columns stay, the
/// others become null columns of type `Null` (no memory), so column indices keep their meaning.
pub(crate) fn slim(compiled: &CompiledSuite, mut out: ChunkOut) -> ChunkOut {
    let Some(bound) = out.chunk.bound.clone() else {
        return out;
    };
    let batch = &out.chunk.batch;
    let schema = batch.schema();
    let mut keep = vec![false; batch.num_columns()];
    for br in &bound.rules {
        if matches!(br.op, Op::Unique { .. } | Op::Compound { .. }) {
            for c in br.op.columns().iter().chain(&br.sample_cols) {
                keep[*c] = true;
            }
        }
    }
    for i in key_columns(compiled, &schema) {
        keep[i] = true;
    }
    let rows = batch.num_rows();
    let (fields, columns): (Vec<_>, Vec<_>) = keep
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if *k {
                (schema.field(i).clone(), batch.column(i).clone())
            } else {
                let f = arrow::datatypes::Field::new(
                    schema.field(i).name(),
                    arrow::datatypes::DataType::Null,
                    true,
                );
                (
                    f,
                    arrow::array::new_null_array(&arrow::datatypes::DataType::Null, rows),
                )
            }
        })
        .unzip();
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    if let Ok(b) = RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::new(fields)),
        columns,
        &options,
    ) {
        out.chunk.batch = b;
    }
    out
}

/// The columns `cols` of a chunk, in that order.
pub(crate) fn columns(batch: &RecordBatch, cols: &[usize]) -> Vec<arrow::array::ArrayRef> {
    cols.iter().map(|i| batch.column(*i).clone()).collect()
}
