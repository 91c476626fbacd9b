//! Splitting an evaluated chunk into the rows for the target and the rows for quarantine.
//!
//! The target table's own rules are applied first, with Delta's semantics: a `NOT NULL` column
//! holding a null, or a CHECK constraint that is FALSE or NULL, sends the row to quarantine
//! instead of failing the commit. The split uses one null-free mask and its complement, so
//! target + quarantine is always the chunk, row for row.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StructBuilder, TimestampMicrosecondArray, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};

use super::tables::violation_fields;
use crate::error::Result;
use crate::eval::Rule;
use crate::eval::batch::RoutedChunk;
use crate::eval::kernels::expr::BoolExpr;
use crate::eval::nulls::true_mask;

/// A table rule the gate checks before writing: a CHECK constraint or a NOT NULL column.
pub(crate) struct TableRule {
    pub id: String,
    pub column: Option<String>,
    pub message: String,
    check: TableCheck,
}

enum TableCheck {
    Expr(BoolExpr),
    NotNull(usize),
}

/// The target table's rules, bound to its schema.
pub(crate) struct TableRules {
    pub rules: Vec<TableRule>,
    /// The table schema with every column nullable, to hold rows before they are checked.
    loose: SchemaRef,
}

impl TableRules {
    /// `skip_not_null` lists columns whose nulls the suite's contract already quarantines.
    pub(crate) fn new(
        table: &SchemaRef,
        constraints: &[(String, String)],
        skip_not_null: &[String],
    ) -> Result<Self> {
        let loose = Arc::new(Schema::new(
            table
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<Field>>(),
        ));
        let mut rules = Vec::new();
        for (name, expr) in constraints {
            let compiled = BoolExpr::sql(expr, &loose).map_err(|reason| crate::Error::Bind {
                expectation: format!("delta.constraints.{name}"),
                reason,
            })?;
            rules.push(TableRule {
                id: format!("delta.constraints.{name}"),
                column: None,
                message: format!("CHECK constraint `{name}` ({expr}) is not true"),
                check: TableCheck::Expr(compiled),
            });
        }
        for (i, f) in table.fields().iter().enumerate() {
            if !f.is_nullable() && !skip_not_null.contains(f.name()) {
                rules.push(TableRule {
                    id: format!("delta.not_null.{}", f.name()),
                    column: Some(f.name().clone()),
                    message: format!("`{}` is null but the table column is NOT NULL", f.name()),
                    check: TableCheck::NotNull(i),
                });
            }
        }
        Ok(TableRules { rules, loose })
    }

    /// The chunk in the table's column order and storage types (every column nullable).
    pub(crate) fn to_table_rows(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        to_schema(batch, &self.loose)
    }

    /// Per rule, the rows (of `rows`, among `candidates`) that break it.
    pub(crate) fn failures(
        &self,
        rows: &RecordBatch,
        candidates: &BooleanBuffer,
    ) -> Result<Vec<BooleanBuffer>> {
        self.rules
            .iter()
            .map(|r| {
                let fail = match &r.check {
                    // Delta's rule: FALSE and NULL both violate.
                    TableCheck::Expr(e) => {
                        let v = e.evaluate(rows).map_err(|e| crate::Error::eval(&r.id, e))?;
                        !&true_mask(&v)
                    }
                    TableCheck::NotNull(i) => rows
                        .column(*i)
                        .logical_nulls()
                        .map_or_else(|| BooleanBuffer::new_unset(rows.num_rows()), |n| !n.inner()),
                };
                Ok(&fail & candidates)
            })
            .collect()
    }
}

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

/// What one quarantined row broke.
pub(crate) struct Violation<'a> {
    pub expectation: &'a str,
    pub column: Option<&'a str>,
    pub on_fail: &'a str,
    pub message: &'a str,
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
#[allow(clippy::too_many_arguments)]
pub(crate) fn quarantine_rows(
    chunk: &RoutedChunk,
    table_rows: &RecordBatch,
    selected: &BooleanBuffer,
    rules: &[Rule],
    batch_failures: &[usize],
    schema_violations: &[String],
    table_rules: &[(&TableRule, &BooleanBuffer)],
    schema: &SchemaRef,
    ctx: &QuarantineContext<'_>,
) -> Result<RecordBatch> {
    let mask = BooleanArray::new(selected.clone(), None);
    let rows = filter_record_batch(table_rows, &mask)?;
    let n = rows.num_rows();
    let indices: Vec<usize> = selected.set_indices().collect();

    let mut list =
        ListBuilder::new(StructBuilder::from_fields(violation_fields(), 4)).with_field(Arc::new(
            Field::new("element", DataType::Struct(violation_fields()), true),
        ));
    for &i in &indices {
        let mut row: Vec<Violation<'_>> = Vec::new();
        for v in schema_violations {
            row.push(Violation {
                expectation: "schema",
                column: None,
                on_fail: "quarantine_batch",
                message: v,
            });
        }
        for &ri in batch_failures {
            let r = &rules[ri];
            row.push(Violation {
                expectation: &r.id,
                column: r.columns.first().map(String::as_str),
                on_fail: r.on_fail.as_str(),
                message: "the batch failed this check",
            });
        }
        for (ri, fail) in &chunk.fails {
            if fail.value(i) {
                let r = &rules[*ri];
                row.push(Violation {
                    expectation: &r.id,
                    column: (r.columns.len() == 1).then(|| r.columns[0].as_str()),
                    on_fail: r.on_fail.as_str(),
                    message: &r.message,
                });
            }
        }
        for (t, fail) in table_rules {
            if fail.value(i) {
                row.push(Violation {
                    expectation: &t.id,
                    column: t.column.as_deref(),
                    on_fail: "quarantine_rows",
                    message: &t.message,
                });
            }
        }
        let entries = list.values();
        for v in &row {
            let field = |b: &mut StructBuilder, k: usize, s: Option<&str>| {
                b.field_builder::<StringBuilder>(k)
                    .expect("string field")
                    .append_option(s);
            };
            field(entries, 0, Some(v.expectation));
            field(entries, 1, v.column);
            field(entries, 2, Some(v.on_fail));
            field(entries, 3, Some(v.message));
            entries.append(true);
        }
        list.append(true);
    }
    let violations: ArrayRef = Arc::new(list.finish());
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

/// The target rows: the selected rows in the table's exact schema.
pub(crate) fn target_rows(
    table_rows: &RecordBatch,
    selected: &BooleanBuffer,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let rows = filter_record_batch(table_rows, &BooleanArray::new(selected.clone(), None))?;
    Ok(RecordBatch::try_new(
        schema.clone(),
        rows.columns().to_vec(),
    )?)
}
