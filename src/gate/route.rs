//! Splitting a routed chunk into the rows for the target and the rows for quarantine.
//!
//! The target table's own rules (`NOT NULL` columns, CHECK constraints) were evaluated with
//! the suite's ([`crate::eval::TableRules`]), so the chunk's quarantine mask already holds
//! them. The split uses that one null-free mask and its complement, so target + quarantine is
//! always the chunk, row for row.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StructBuilder, TimestampMicrosecondArray, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, SchemaRef};
use chrono::{DateTime, Utc};

use super::share::Sharing;
use super::tables::violation_fields;
use crate::error::Result;
use crate::eval::Rule;
use crate::eval::mask::RoutedChunk;

/// Casts and reorders `batch` into `schema` by column name; columns it lacks are null.
pub(crate) fn to_schema(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => Ok(cast(c, f.data_type())?),
            None => Ok(new_null_array(f.data_type(), batch.num_rows())),
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// What one quarantined row broke: an entry of `_dq_violations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub expectation: String,
    pub column: Option<String>,
    pub on_fail: String,
    pub message: String,
}

/// What row `i` of a routed chunk broke: the batch's schema violations, the batch-level
/// failures, then each failing row rule.
pub(crate) fn violations_of(
    chunk: &RoutedChunk,
    i: usize,
    rules: &[Rule],
    batch_failures: &[usize],
    schema_violations: &[String],
) -> Vec<Violation> {
    let mut row = Vec::new();
    for v in schema_violations {
        row.push(Violation {
            expectation: "schema".into(),
            column: None,
            on_fail: "quarantine_batch".into(),
            message: v.clone(),
        });
    }
    for &ri in batch_failures {
        let r = &rules[ri];
        row.push(Violation {
            expectation: r.id.clone(),
            column: r.columns.first().cloned(),
            on_fail: r.on_fail.as_str().into(),
            message: "the batch failed this check".into(),
        });
    }
    for (ri, fail) in &chunk.fails {
        if fail.value(i) {
            let r = &rules[*ri];
            row.push(Violation {
                expectation: r.id.clone(),
                column: (r.columns.len() == 1).then(|| r.columns[0].clone()),
                on_fail: r.on_fail.as_str().into(),
                message: r.message.clone(),
            });
        }
    }
    row
}

/// The entries of `_dq_violations` at row `i`.
pub(crate) fn read_violations(list: &dyn Array, i: usize) -> Vec<Violation> {
    use arrow::array::AsArray;
    if list.is_null(i) {
        return Vec::new();
    }
    let list = list.as_list::<i32>();
    let entries = list.value(i);
    let entries = entries.as_struct();
    let field = |name: &str, j: usize| -> Option<String> {
        let c = entries.column_by_name(name)?;
        let c = cast(c, &DataType::Utf8).ok()?;
        let c = c.as_string::<i32>();
        c.is_valid(j).then(|| c.value(j).to_string())
    };
    (0..entries.len())
        .map(|j| Violation {
            expectation: field("expectation", j).unwrap_or_default(),
            column: field("column", j),
            on_fail: field("on_fail", j).unwrap_or_default(),
            message: field("message", j).unwrap_or_default(),
        })
        .collect()
}

/// `_dq_violations` for rows of violations.
pub(crate) fn violation_list(rows: &[Vec<Violation>]) -> ArrayRef {
    let mut list =
        ListBuilder::new(StructBuilder::from_fields(violation_fields(), 4)).with_field(Arc::new(
            Field::new("element", DataType::Struct(violation_fields()), true),
        ));
    for row in rows {
        let entries = list.values();
        for v in row {
            let field = |b: &mut StructBuilder, k: usize, s: Option<&str>| {
                b.field_builder::<StringBuilder>(k)
                    .expect("string field")
                    .append_option(s);
            };
            field(entries, 0, Some(&v.expectation));
            field(entries, 1, v.column.as_deref());
            field(entries, 2, Some(&v.on_fail));
            field(entries, 3, Some(&v.message));
            entries.append(true);
        }
        list.append(true);
    }
    Arc::new(list.finish())
}

/// Context for building `_dq_*` columns.
pub(crate) struct QuarantineContext<'a> {
    pub run_id: &'a str,
    pub seq: i64,
    pub suite: &'a str,
    pub suite_version: i64,
    pub now: DateTime<Utc>,
}

/// Builds the quarantine rows of a chunk: the selected rows in the quarantine schema, with
/// their violations and original values.
pub(crate) fn quarantine_rows(
    chunk: &RoutedChunk,
    table_rows: &RecordBatch,
    rules: &[Rule],
    batch_failures: &[usize],
    schema_violations: &[String],
    schema: &SchemaRef,
    ctx: &QuarantineContext<'_>,
) -> Result<RecordBatch> {
    let selected = &chunk.quarantine;
    let mask = BooleanArray::new(selected.clone(), None);
    let rows = filter_record_batch(table_rows, &mask)?;
    let n = rows.num_rows();
    let indices: Vec<usize> = selected.set_indices().collect();

    let rows_violations: Vec<Vec<Violation>> = indices
        .iter()
        .map(|&i| violations_of(chunk, i, rules, batch_failures, schema_violations))
        .collect();
    let violations = violation_list(&rows_violations);
    let raw: ArrayRef = match &chunk.raw {
        Some(r) => arrow::compute::filter(r, &mask)?,
        None => Arc::new(StringArray::from(vec![None::<&str>; n])),
    };
    let dq: Vec<(&str, ArrayRef)> = vec![
        (
            "_dq_run_id",
            Arc::new(StringArray::from(vec![ctx.run_id; n])),
        ),
        ("_dq_batch", Arc::new(Int64Array::from(vec![ctx.seq; n]))),
        ("_dq_suite", Arc::new(StringArray::from(vec![ctx.suite; n]))),
        (
            "_dq_suite_version",
            Arc::new(Int64Array::from(vec![ctx.suite_version; n])),
        ),
        ("_dq_violations", violations),
        ("_dq_raw", raw),
        (
            "_dq_quarantined_at",
            Arc::new(
                TimestampMicrosecondArray::from(vec![ctx.now.timestamp_micros(); n])
                    .with_timezone("UTC"),
            ),
        ),
        (
            "_dq_row",
            Arc::new(Int64Array::from_iter_values(
                indices.iter().map(|i| (chunk.first_row + *i as u64) as i64),
            )),
        ),
        ("_dq_status", Arc::new(StringArray::from(vec!["open"; n]))),
    ];
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let c = match dq.iter().find(|(name, _)| name == f.name()) {
                Some((_, c)) => c.clone(),
                None => match rows.column_by_name(f.name()) {
                    Some(c) => c.clone(),
                    None => new_null_array(f.data_type(), n),
                },
            };
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                Ok(cast(&c, f.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The target rows: the selected rows, shared as `sharing` says, then cast into the table's
/// exact schema.
///
/// Selecting first computes tokens and masks and casts only for the rows kept, and a column
/// that arrives dictionary-encoded is selected by its keys alone: its values are copied once,
/// by the cast, for the rows kept.
pub(crate) fn target_rows(
    rows: &RecordBatch,
    selected: &BooleanBuffer,
    sharing: Option<&Sharing>,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let rows = filter_record_batch(rows, &BooleanArray::new(selected.clone(), None))?;
    let rows = match sharing {
        Some(s) => s.apply(&rows)?,
        None => rows,
    };
    to_schema(&rows, schema)
}
