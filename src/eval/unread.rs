//! Columns a pass over a whole Parquet file need not decode, or need only the nulls of.
//!
//! A column that only null-count metrics read (`null_count`, `null_fraction`,
//! `non_null_fraction`, without `where`) is settled by the file's statistics, which state every
//! row group's null count exactly; a column no rule reads is not needed at all. Such a column is
//! read as an all-null stand-in of its type, and [`settle`] replaces what its metrics computed
//! from the stand-in with the counts from the statistics, reported as `proven`.
//!
//! A column that rules read only for its nulls (`not_null`, null-count metrics with or without
//! `where`, none reading its values) needs its validity alone, which the reader takes from the
//! definition levels: its chunks hold zero values under the real nulls, so those rules see
//! exactly the rows they would see decoded.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::bind::{Bound, BoundRule, Op};
use super::chunk::{Partial, key_columns};
use super::{CompiledSuite, RuleSource};
use crate::io::ColumnPlan;
use crate::io::facts::FileFacts;
use crate::metrics::MetricState;
use crate::suite::MetricKind;

/// Whether a bound rule reads column `i` (its kernel, its `where`, or its samples).
fn reads(br: &BoundRule, i: usize) -> bool {
    br.op.columns().contains(&i) || br.sample_cols.contains(&i) || filter_reads(br, i)
}

fn filter_reads(br: &BoundRule, i: usize) -> bool {
    br.filter
        .as_ref()
        .is_some_and(|f| f.column_indices().contains(&i))
}

/// What a rule needs of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing: the rule does not read it, or is its `schema.<column>.type` rule, which fails
    /// only cells that conform converted (none in a column kept as read).
    Nothing,
    /// Its null count over the whole batch: a null-count metric of it without `where`, which
    /// the file's statistics can settle.
    NullCount,
    /// Its nulls row by row: `not_null` of it (whose failing rows, the samples it shows, are
    /// nulls), or a null-count metric of it with a `where` that does not read it.
    Nulls,
    /// Its values.
    Values,
}

fn need(rule: &super::Rule, br: &BoundRule, i: usize) -> Need {
    if matches!(rule.source, RuleSource::Type(_)) || !reads(br, i) {
        return Need::Nothing;
    }
    let own = match &br.op {
        Op::NotNull(c) => *c == i,
        Op::Metric {
            col: Some(c),
            metric,
            ..
        } => *c == i && counts_nulls(*metric),
        _ => false,
    };
    match (own, &br.op, &br.filter) {
        (true, Op::Metric { .. }, None) => Need::NullCount,
        (true, _, _) if !filter_reads(br, i) => Need::Nulls,
        _ => Need::Values,
    }
}

fn counts_nulls(metric: MetricKind) -> bool {
    matches!(
        metric,
        MetricKind::NullCount | MetricKind::NullFraction | MetricKind::NonNullFraction
    )
}

impl CompiledSuite {
    /// How much of each column of a file read as `schema` a pass over the whole file as one
    /// batch decodes. Not at all: columns no rule reads, and columns only null-count metrics
    /// without `where` read when `facts` state their null counts. Their nulls alone: columns
    /// the rules read only for their nulls (see the module's notes). Never a key column, nor a
    /// contract column whose values conform converts (their cells could fail to convert).
    /// Empty when the file breaks the contract or the suite does not bind to it (the pass then
    /// reports that).
    pub fn column_plan(&self, schema: &SchemaRef, facts: Option<&FileFacts>) -> ColumnPlan {
        let conformed = match self.conformer() {
            Some(c) => match c.conform(&RecordBatch::new_empty(schema.clone()), false) {
                Ok(out) if out.violations.is_empty() => out.batch.schema(),
                _ => return ColumnPlan::default(),
            },
            None => schema.clone(),
        };
        let Ok(bound) = self.bind(&conformed) else {
            return ColumnPlan::default();
        };
        let keys = key_columns(self, &conformed);
        let mut plan = ColumnPlan::default();
        for (i, field) in conformed.fields().iter().enumerate() {
            let name = field.name();
            let kept_as_read = match (self.suite().schema.as_ref(), schema.field_with_name(name)) {
                (Some(contract), Ok(read)) => contract
                    .column(name)
                    .is_some_and(|spec| spec.ty.matches(read.data_type())),
                (None, Ok(_)) => true,
                (_, Err(_)) => false,
            };
            if !kept_as_read || keys.contains(&i) {
                continue;
            }
            let needs: Vec<Need> = self
                .rules()
                .iter()
                .zip(&bound.rules)
                .map(|(rule, br)| need(rule, br, i))
                .collect();
            if needs.contains(&Need::Values) {
                continue;
            }
            let (counted, masked) = (
                needs.contains(&Need::NullCount),
                needs.contains(&Need::Nulls),
            );
            let settled = !counted || facts.is_some_and(|f| f.nulls_in_file(name).is_some());
            if !masked && settled {
                plan.unread.push(name.clone());
            } else {
                plan.nulls_only.push(name.clone());
            }
        }
        plan
    }
}

/// Replaces the partials of the null-count metrics over the plan's unread columns, which were
/// computed from stand-ins, with the file's null counts: `rows` rows, all proven. `None` when
/// another kind of rule reads an unread column, a rule reads the values of a column decoded for
/// its nulls alone, or a count is needed that the facts do not state for this batch (it must be
/// the whole file).
pub(crate) fn settle(
    compiled: &CompiledSuite,
    bound: &Bound,
    partials: &mut [Partial],
    plan: &ColumnPlan,
    facts: Option<&FileFacts>,
    first_row: u64,
    rows: u64,
) -> Option<()> {
    let indices = |names: &[String]| -> Option<Vec<usize>> {
        names
            .iter()
            .map(|name| bound.schema.index_of(name).ok())
            .collect()
    };
    let (unread, masked) = (indices(&plan.unread)?, indices(&plan.nulls_only)?);
    for (ri, (rule, br)) in compiled.rules().iter().zip(&bound.rules).enumerate() {
        if masked.iter().any(|i| need(rule, br, *i) == Need::Values) {
            return None;
        }
        // Only a null-count metric without `where` may read a column that was not decoded.
        let Some(c) = unread
            .iter()
            .copied()
            .find(|i| need(rule, br, *i) != Need::Nothing)
        else {
            continue;
        };
        if need(rule, br, c) != Need::NullCount {
            return None;
        }
        // The file's counts hold for this batch only when it is the whole file.
        let facts = facts.filter(|f| first_row == 0 && f.rows_in_file() == rows)?;
        let nulls = facts.nulls_in_file(bound.schema.field(c).name())?;
        partials[ri] = Partial {
            evaluated: rows,
            proven: rows,
            state: Some(MetricState::of_nulls(nulls, rows)),
            ..Partial::default()
        };
    }
    Some(())
}
