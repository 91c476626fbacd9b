//! Reading a quarantine table file by file, and selecting rows in it.
//!
//! Quarantine tables are small next to their targets, so every data file of the version read
//! is loaded whole: that keeps, for each selected row, the file it lives in, which is what a
//! status change rewrites.

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::concat_batches;
use deltalake::DeltaTable;
use deltalake::kernel::Remove;
use futures::TryStreamExt;
use object_store::ObjectStoreExt as _;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::eval::kernels::expr::BoolExpr;
use crate::eval::nulls::true_mask;
use crate::gate::route::to_schema;
use crate::gate::tables;

/// Which quarantined rows an operation concerns. Every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Rows of these runs (`_dq_run_id`); empty: every run.
    pub run_ids: Vec<String>,
    /// Rows that broke this expectation (an id in `_dq_violations`).
    pub expectation: Option<String>,
    /// A SQL condition over the rows' columns (the data and the `_dq_*` columns); rows where it
    /// is TRUE.
    pub filter: Option<String>,
    /// Only rows still open (`_dq_status` is `open`, or null in a table from before statuses).
    pub open_only: bool,
}

/// One data file of a quarantine version, read whole.
pub(crate) struct QuarantineFile {
    pub remove: Remove,
    pub rows: RecordBatch,
}

/// Every data file of `table`'s loaded version, each in the table's schema (a file written
/// before a column was added reads it as null).
pub(crate) async fn read_files(uri: &str, table: &DeltaTable) -> Result<Vec<QuarantineFile>> {
    let schema = tables::table_schema(table, uri)?;
    let err = |e: &dyn std::fmt::Display| Error::Table {
        table: uri.to_string(),
        action: "read the quarantine".into(),
        source: e.to_string().into(),
    };
    let views: Vec<_> = table
        .get_active_add_actions_by_partitions(&[])
        .try_collect()
        .await
        .map_err(|e| err(&e))?;
    let store = table.object_store();
    let mut out = Vec::with_capacity(views.len());
    for v in views {
        let bytes = store
            .get(&v.object_store_path())
            .await
            .map_err(|e| err(&e))?
            .bytes()
            .await
            .map_err(|e| err(&e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| err(&e))?
            .build()
            .map_err(|e| err(&e))?;
        let parts = reader
            .map(|b| to_schema(&b?, &schema))
            .collect::<Result<Vec<_>>>()?;
        out.push(QuarantineFile {
            remove: v.remove_action(true),
            rows: concat_batches(&schema, &parts)?,
        });
    }
    Ok(out)
}

impl Selection {
    /// The rows of `rows` (one quarantine file) this selection picks.
    pub(crate) fn select(&self, rows: &RecordBatch) -> Result<BooleanBuffer> {
        let n = rows.num_rows();
        let mut keep = BooleanBuffer::new_set(n);
        if self.open_only
            && let Some(status) = strings(rows, "_dq_status")
        {
            keep = &keep
                & &BooleanBuffer::collect_bool(n, |i| {
                    status.is_null(i) || status.value(i) == "open"
                });
        }
        if !self.run_ids.is_empty() {
            let runs = strings(rows, "_dq_run_id").ok_or_else(|| not_quarantine("_dq_run_id"))?;
            keep = &keep
                & &BooleanBuffer::collect_bool(n, |i| {
                    runs.is_valid(i) && self.run_ids.iter().any(|r| r == runs.value(i))
                });
        }
        if let Some(id) = &self.expectation {
            keep = &keep & &broke(rows, id)?;
        }
        if let Some(sql) = &self.filter {
            let e = BoolExpr::sql(sql, &rows.schema()).map_err(|reason| {
                Error::Usage(format!(
                    "--where `{sql}` cannot be applied to the quarantine: {reason}"
                ))
            })?;
            let r: BooleanArray = e
                .evaluate(rows)
                .map_err(|e| Error::Usage(format!("--where `{sql}`: {e}")))?;
            keep = &keep & &true_mask(&r);
        }
        Ok(keep)
    }
}

/// Rows whose `_dq_violations` name expectation `id`.
fn broke(rows: &RecordBatch, id: &str) -> Result<BooleanBuffer> {
    let list = rows
        .column_by_name("_dq_violations")
        .ok_or_else(|| not_quarantine("_dq_violations"))?
        .as_list::<i32>();
    let entries = list.values().as_struct();
    let ids = arrow::compute::cast(
        entries
            .column_by_name("expectation")
            .ok_or_else(|| not_quarantine("_dq_violations.expectation"))?,
        &arrow::datatypes::DataType::Utf8,
    )?;
    let ids = ids.as_string::<i32>();
    let offsets = list.value_offsets();
    Ok(BooleanBuffer::collect_bool(rows.num_rows(), |i| {
        list.is_valid(i)
            && (offsets[i] as usize..offsets[i + 1] as usize)
                .any(|j| ids.is_valid(j) && ids.value(j) == id)
    }))
}

/// A string column by name, as `StringArray`.
pub(crate) fn strings(rows: &RecordBatch, name: &str) -> Option<StringArray> {
    let c = rows.column_by_name(name)?;
    let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok()?;
    Some(c.as_string::<i32>().clone())
}

fn not_quarantine(column: &str) -> Error {
    Error::Usage(format!(
        "the table has no `{column}` column: it is not a dq-gate quarantine table"
    ))
}

/// The quarantine's data columns: every column that is not one of dq-gate's own `_dq_*`.
pub(crate) fn is_data_column(name: &str) -> bool {
    !name.starts_with("_dq_")
}

/// The rows of a file that `mask` selects.
pub(crate) fn take(rows: &RecordBatch, mask: &BooleanBuffer) -> Result<RecordBatch> {
    Ok(arrow::compute::filter_record_batch(
        rows,
        &BooleanArray::new(mask.clone(), None),
    )?)
}

/// All the selected rows of the files, in file order.
pub(crate) fn selected(
    files: &[QuarantineFile],
    masks: &[BooleanBuffer],
) -> Result<Option<RecordBatch>> {
    let parts = files
        .iter()
        .zip(masks)
        .map(|(f, m)| take(&f.rows, m))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = files.first() else {
        return Ok(None);
    };
    Ok(Some(concat_batches(&first.rows.schema(), &parts)?))
}
