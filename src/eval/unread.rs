//! Columns a pass over a whole Parquet file need not decode.
//!
//! A column that only null-count metrics read (`null_count`, `null_fraction`,
//! `non_null_fraction`, without `where`) is settled by the file's statistics, which state every
//! row group's null count exactly; a column no rule reads is not needed at all. Such a column is
//! read as an all-null stand-in of its type, and [`settle`] replaces what its metrics computed
//! from the stand-in with the counts from the statistics, reported as `proven`.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::bind::{Bound, BoundRule, Op};
use super::chunk::{Partial, key_columns};
use super::{CompiledSuite, RuleSource};
use crate::facts::FileFacts;
use crate::metrics::MetricState;
use crate::suite::MetricKind;

/// Whether a bound rule reads column `i` (its kernel, its `where`, or its samples).
fn reads(br: &BoundRule, i: usize) -> bool {
    br.op.columns().contains(&i)
        || br.sample_cols.contains(&i)
        || br
            .filter
            .as_ref()
            .is_some_and(|f| f.column_indices().contains(&i))
}

/// Whether a bound rule is a null-count metric without `where`.
fn counts_nulls_only(br: &BoundRule) -> bool {
    br.filter.is_none() && matches!(&br.op, Op::Metric { metric, .. } if counts_nulls(*metric))
}

fn counts_nulls(metric: MetricKind) -> bool {
    matches!(
        metric,
        MetricKind::NullCount | MetricKind::NullFraction | MetricKind::NonNullFraction
    )
}

impl CompiledSuite {
    /// The columns of a file read as `schema` that a pass over the whole file as one batch need
    /// not decode: columns no rule reads, and columns only null-count metrics without `where`
    /// read when `facts` state their null counts. Never a key column, nor a contract column
    /// whose values conform converts (their cells could fail to convert). Empty when the file
    /// breaks the contract or the suite does not bind to it (the pass then reports that).
    pub fn unread_columns(&self, schema: &SchemaRef, facts: Option<&FileFacts>) -> Vec<String> {
        let conformed = match self.conformer() {
            Some(c) => match c.conform(&RecordBatch::new_empty(schema.clone()), false) {
                Ok(out) if out.violations.is_empty() => out.batch.schema(),
                _ => return Vec::new(),
            },
            None => schema.clone(),
        };
        let Ok(bound) = self.bind(&conformed) else {
            return Vec::new();
        };
        let keys = key_columns(self, &conformed);
        let mut unread = Vec::new();
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
            let mut counted = false;
            let mut read = false;
            for (rule, br) in self.rules().iter().zip(&bound.rules) {
                // `schema.<column>.type` fails only cells that conform converted: none here.
                if matches!(rule.source, RuleSource::Type(_)) {
                    continue;
                }
                if !reads(br, i) {
                    continue;
                }
                if counts_nulls_only(br) {
                    counted = true;
                } else {
                    read = true;
                }
            }
            let settled = !counted || facts.is_some_and(|f| f.nulls_in_file(name).is_some());
            if !read && settled {
                unread.push(name.clone());
            }
        }
        unread
    }
}

/// Replaces the partials of the null-count metrics over `unread` columns, which were computed
/// from stand-ins, with the file's null counts: `rows` rows, all proven. `None` when another
/// kind of rule reads an unread column, or a count is needed that the facts do not state for
/// this batch (it must be the whole file).
pub(crate) fn settle(
    compiled: &CompiledSuite,
    bound: &Bound,
    partials: &mut [Partial],
    unread: &[String],
    facts: Option<&FileFacts>,
    first_row: u64,
    rows: u64,
) -> Option<()> {
    let unread: Vec<usize> = unread
        .iter()
        .map(|name| bound.schema.index_of(name).ok())
        .collect::<Option<_>>()?;
    for (ri, (rule, br)) in compiled.rules().iter().zip(&bound.rules).enumerate() {
        if matches!(rule.source, RuleSource::Type(_)) || !unread.iter().any(|i| reads(br, *i)) {
            continue;
        }
        // Only a null-count metric may read a column that was not decoded.
        let Op::Metric { col: Some(c), .. } = &br.op else {
            return None;
        };
        if !counts_nulls_only(br) {
            return None;
        }
        // The file's counts hold for this batch only when it is the whole file.
        let facts = facts.filter(|f| first_row == 0 && f.rows_in_file() == rows)?;
        let nulls = facts.nulls_in_file(bound.schema.field(*c).name())?;
        partials[ri] = Partial {
            evaluated: rows,
            proven: rows,
            state: Some(MetricState::of_nulls(nulls, rows)),
            ..Partial::default()
        };
    }
    Some(())
}
