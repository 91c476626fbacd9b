//! Quarantined rows made input again, for a suite to judge them afresh.
//!
//! With a contract the rows are rebuilt as text and parsed into the new contract's types, as a
//! CSV would be: a value kept typed gives its text, a value that could not be kept (it did not
//! parse, or its column had the wrong type, or the column was one a strict contract refused)
//! gives its original text from `_dq_raw`. So a batch quarantined whole because it broke the old
//! contract reaches the target typed by the new one when it passes.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Map, Value};

use super::read::{is_data_column, strings};
use crate::error::Result;
use crate::report::cells::cell;

/// The rows as input: `(batch, text)`, where `text` says the columns are text to parse.
pub(crate) fn as_input(rows: &RecordBatch, contract: bool) -> Result<(RecordBatch, bool)> {
    let schema = rows.schema();
    let data: Vec<usize> = (0..rows.num_columns())
        .filter(|i| is_data_column(schema.field(*i).name()))
        .collect();
    if !contract {
        return Ok((rows.project(&data)?, false));
    }
    let raw: Vec<Option<Map<String, Value>>> = match strings(rows, "_dq_raw") {
        Some(r) => (0..rows.num_rows())
            .map(|i| {
                if r.is_valid(i) {
                    serde_json::from_str::<Map<String, Value>>(r.value(i)).ok()
                } else {
                    None
                }
            })
            .collect(),
        None => vec![None; rows.num_rows()],
    };
    let mut names: Vec<String> = data
        .iter()
        .map(|i| schema.field(*i).name().clone())
        .collect();
    for obj in raw.iter().flatten() {
        for k in obj.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(names.len());
    for name in &names {
        let typed = schema.index_of(name).ok().map(|i| rows.column(i));
        let mut b = StringBuilder::new();
        for (i, obj) in raw.iter().enumerate() {
            let original = obj.as_ref().and_then(|o| o.get(name));
            let v = match original {
                Some(v) => v.clone(),
                None => typed.map_or(Value::Null, |a| cell(a.as_ref(), i)),
            };
            match v {
                Value::Null => b.append_null(),
                Value::String(s) => b.append_value(s),
                other => b.append_value(other.to_string()),
            }
        }
        fields.push(Field::new(name, DataType::Utf8, true));
        columns.push(Arc::new(b.finish()));
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.num_rows()));
    Ok((
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)?,
        true,
    ))
}
