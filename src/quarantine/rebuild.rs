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
use crate::report::cells::for_each_cell_text;

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
        // The typed values' texts, as their cells show them (one formatter for the column).
        let texts = typed.map(|a| {
            let mut t = StringBuilder::with_capacity(a.len(), a.len() * 8);
            for_each_cell_text(a.as_ref(), |v| t.append_option(v));
            t.finish()
        });
        let mut b = StringBuilder::new();
        for (i, obj) in raw.iter().enumerate() {
            match obj.as_ref().and_then(|o| o.get(name)) {
                Some(Value::Null) => b.append_null(),
                Some(Value::String(s)) => b.append_value(s),
                Some(other) => b.append_value(other.to_string()),
                None => b.append_option(
                    texts
                        .as_ref()
                        .and_then(|t| t.is_valid(i).then(|| t.value(i))),
                ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::cells::cell;
    use arrow::array::{AsArray, Date32Array, Decimal128Array, Int64Array, StringArray};

    /// Rows rebuilt as text: an original from `_dq_raw` where a row has one for the column,
    /// else the typed value's text as its report cell shows it (numbers, dates, decimals,
    /// strings), nulls as nulls.
    #[test]
    fn rows_become_their_originals_or_their_cells_texts() {
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(19_000), Some(-1), Some(5)])),
            ),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(12_345), None, Some(-5)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("jö"), Some(""), None])),
            ),
            (
                "_dq_raw",
                Arc::new(StringArray::from(vec![
                    None,
                    Some(r#"{"amount": "12.5x", "extra": 7}"#),
                    Some(r#"{"day": null}"#),
                ])),
            ),
        ];
        let rows = RecordBatch::try_from_iter(columns).unwrap();
        let (input, text) = as_input(&rows, true).unwrap();
        assert!(text);
        let col = |name: &str| -> Vec<Option<String>> {
            input
                .column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        let cells = |name: &str| -> Vec<Option<String>> {
            let a = rows.column_by_name(name).unwrap();
            (0..a.len())
                .map(|i| match cell(a.as_ref(), i) {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect()
        };
        assert_eq!(col("id"), cells("id"));
        assert_eq!(col("name"), cells("name"));
        let mut amount = cells("amount");
        amount[1] = Some("12.5x".to_string());
        assert_eq!(col("amount"), amount);
        let mut day = cells("day");
        day[2] = None;
        assert_eq!(col("day"), day);
        assert_eq!(col("extra"), vec![None, Some("7".to_string()), None]);
        assert_eq!(col("day")[0].as_deref(), Some("2022-01-08"));
        assert!(input.column_by_name("_dq_raw").is_none());
    }
}
