//! What the target table, the one partners read, receives of columns tagged `pii`: the value,
//! a keyed token, its shape, or nothing (`share` in the contract; docs/suite-format.md). The
//! quarantine table always keeps the original value, so a row can be released later.
//!
//! The policy is recorded in the target table's configuration (`dq.share.<column>`), with the
//! key's id for tokens, so a later run with another policy or another key is refused before
//! anything is written: tokens of two keys never mix in one column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::pii::{KEY_ENV, KEY_FILE_ENV, TokenKey, shape_into};
use crate::report::SharedColumn;
use crate::report::cells::for_each_cell_text;
use crate::suite::{Contract, Share};
use crate::types::is_string_like;

/// The prefix of the target table's configuration keys that record each policy.
const CONFIG_PREFIX: &str = "dq.share.";

/// The sharing policies of a contract, with the key for tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sharing {
    columns: Vec<(String, Share)>,
    key: Option<TokenKey>,
}

impl Sharing {
    /// The policies of `contract`. A token column needs a key: `key`, else the environment
    /// (`DQ_GATE_TOKEN_KEY`, `DQ_GATE_TOKEN_KEY_FILE`); without one this is an error, before
    /// anything is written.
    pub(crate) fn new(contract: Option<&Contract>, key: Option<TokenKey>) -> Result<Self> {
        let columns: Vec<(String, Share)> = contract
            .map(|c| c.shared_pii().map(|c| (c.name.clone(), c.share)).collect())
            .unwrap_or_default();
        let tokens: Vec<&str> = columns
            .iter()
            .filter(|(_, s)| *s == Share::Token)
            .map(|(n, _)| n.as_str())
            .collect();
        if tokens.is_empty() {
            return Ok(Sharing { columns, key: None });
        }
        let key = match key {
            Some(k) => k,
            None => TokenKey::from_env().map_err(Error::Usage)?.ok_or_else(|| {
                Error::Usage(format!(
                    "the suite shares {} as tokens, which needs a key: set {KEY_ENV}, or \
                     {KEY_FILE_ENV} to a file holding it, or give --token-key-file",
                    tokens.join(", ")
                ))
            })?,
        };
        Ok(Sharing {
            columns,
            key: Some(key),
        })
    }

    /// Whether the target receives every column as it is.
    pub(crate) fn changes_nothing(&self) -> bool {
        self.columns.is_empty()
    }

    /// The id of the key in use, when a column is tokenized.
    pub(crate) fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(TokenKey::id)
    }

    fn policy(&self, column: &str) -> Share {
        self.columns
            .iter()
            .find(|(n, _)| n == column)
            .map_or(Share::AsIs, |(_, s)| *s)
    }

    /// Each shared column, its policy and key id, for the report and the run log.
    pub(crate) fn describe(&self) -> Vec<SharedColumn> {
        self.columns
            .iter()
            .map(|(column, share)| SharedColumn {
                column: column.clone(),
                share: share.as_str().to_string(),
                key_id: (*share == Share::Token)
                    .then(|| self.key_id().map(str::to_string))
                    .flatten(),
            })
            .collect()
    }

    /// The target's columns for data of schema `data`: tokens and shapes are strings, dropped
    /// columns are left out.
    pub(crate) fn target_schema(&self, data: &Schema) -> Schema {
        Schema::new(
            data.fields()
                .iter()
                .filter_map(|f| match self.policy(f.name()) {
                    Share::AsIs => Some(f.as_ref().clone()),
                    Share::Token | Share::Mask => {
                        Some(Field::new(f.name(), DataType::Utf8, f.is_nullable()))
                    }
                    Share::Drop => None,
                })
                .collect::<Vec<_>>(),
        )
    }

    /// The target table's configuration entries that record the policies.
    pub(crate) fn config(&self) -> Vec<(String, String)> {
        self.columns
            .iter()
            .map(|(c, s)| (format!("{CONFIG_PREFIX}{c}"), self.recorded(*s)))
            .collect()
    }

    fn recorded(&self, share: Share) -> String {
        match (share, self.key_id()) {
            (Share::Token, Some(id)) => format!("token:{id}"),
            (s, _) => s.as_str().to_string(),
        }
    }

    /// Refuses a target whose recorded policies differ from this run's: a column once shared
    /// as values, tokens of another key or shapes would otherwise mix in one column.
    pub(crate) fn check_table(&self, uri: &str, config: &HashMap<String, String>) -> Result<()> {
        let mut recorded: Vec<(&str, &str)> = config
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(CONFIG_PREFIX)?, v.as_str())))
            .collect();
        recorded.sort();
        let mut wanted: Vec<(String, String)> = self
            .columns
            .iter()
            .map(|(c, s)| (c.clone(), self.recorded(*s)))
            .collect();
        wanted.sort();
        let wanted_ref: Vec<(&str, &str)> = wanted
            .iter()
            .map(|(c, s)| (c.as_str(), s.as_str()))
            .collect();
        if recorded == wanted_ref {
            return Ok(());
        }
        let show = |v: &[(&str, &str)]| {
            if v.is_empty() {
                "every column as is".to_string()
            } else {
                v.iter()
                    .map(|(c, s)| format!("{c}: {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        Err(Error::TableSchema {
            table: uri.to_string(),
            reason: format!(
                "it shares pii columns as {}, and this run would share {}; a new policy or a \
                 new key (rotation) needs a new target table (docs/suite-format.md, PII)",
                show(&recorded),
                show(&wanted_ref)
            ),
        })
    }

    /// The rows as the target receives them: token and mask columns replaced by strings
    /// (dropped columns are left for the target's schema to leave out).
    pub(crate) fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.changes_nothing() {
            return Ok(batch.clone());
        }
        let schema = batch.schema();
        let mut fields = Vec::with_capacity(batch.num_columns());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (f, a) in schema.fields().iter().zip(batch.columns()) {
            let replaced = match self.policy(f.name()) {
                Share::Token => {
                    let key = self.key.as_ref().expect("a token column has a key");
                    Some(map_text(a.as_ref(), &|t, out| {
                        key.token_into(t.as_bytes(), out)
                    })?)
                }
                Share::Mask => Some(map_text(a.as_ref(), &shape_into)?),
                Share::AsIs | Share::Drop => None,
            };
            match replaced {
                Some(r) => {
                    fields.push(Field::new(f.name(), DataType::Utf8, f.is_nullable()));
                    columns.push(r);
                }
                None => {
                    fields.push(f.as_ref().clone());
                    columns.push(a.clone());
                }
            }
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// What a shared column's values become: `f(text, out)` appends the text's replacement.
type Replace<'a> = &'a dyn Fn(&str, &mut String);

/// A string column of `f` over each value's text (as the report shows it); nulls stay null.
/// Strings are read as they lie and a dictionary's values replaced once each; values of other
/// types take their report cell's text, from one formatter for the column.
fn map_text(array: &dyn Array, f: Replace) -> Result<ArrayRef> {
    let mut out = Replaced::new(array.len(), f);
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().for_each(|t| out.put(t)),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(|t| out.put(t)),
        DataType::Utf8View => array.as_string_view().iter().for_each(|t| out.put(t)),
        DataType::Dictionary(_, v) if is_string_like(v) => {
            let d = array.as_any_dictionary();
            let values = map_text(d.values().as_ref(), f)?;
            return Ok(arrow::compute::take(values.as_ref(), d.keys(), None)?);
        }
        _ => for_each_cell_text(array, |t| out.put(t)),
    }
    Ok(out.finish())
}

/// A string column being built of values' replacements.
struct Replaced<'a> {
    out: StringBuilder,
    buf: String,
    f: Replace<'a>,
}

impl<'a> Replaced<'a> {
    fn new(len: usize, f: Replace<'a>) -> Self {
        Replaced {
            out: StringBuilder::with_capacity(len, len * 32),
            buf: String::new(),
            f,
        }
    }

    /// Appends the replacement of `text`, or a null.
    fn put(&mut self, text: Option<&str>) {
        match text {
            None => self.out.append_null(),
            Some(t) => {
                self.buf.clear();
                (self.f)(t, &mut self.buf);
                self.out.append_value(&self.buf);
            }
        }
    }

    fn finish(mut self) -> ArrayRef {
        Arc::new(self.out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::cells::cell;
    use arrow::array::{DictionaryArray, Int64Array, LargeStringArray, StringArray};
    use arrow::datatypes::Int32Type;
    use serde_json::Value;

    /// Each value's text as the report shows it, replaced: what `map_text` must give. A null
    /// stays null, also a dictionary key pointing at a null value (which a cell shows as "").
    fn by_cells(array: &dyn Array, f: Replace) -> Vec<Option<String>> {
        let nulls = array.logical_nulls();
        (0..array.len())
            .map(|i| {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    return None;
                }
                let text = match cell(array, i) {
                    Value::Null => return None,
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let mut out = String::new();
                f(&text, &mut out);
                Some(out)
            })
            .collect()
    }

    /// Strings of every layout (a dictionary with null keys and a null value among its
    /// values), numbers, dates, decimals and timestamps become the same tokens and shapes as
    /// their report cells.
    #[test]
    fn every_layout_is_replaced_as_its_cells() {
        let texts = vec![Some("M100"), None, Some("jö-7 X"), Some("M100"), Some("")];
        let dict: DictionaryArray<Int32Type> = texts.iter().copied().collect();
        let values = StringArray::from(vec![Some("M100"), None, Some("b2")]);
        let keys = arrow::array::Int32Array::from(vec![Some(2), None, Some(1), Some(0), Some(2)]);
        let with_null_value = DictionaryArray::new(keys, Arc::new(values));
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(texts.clone())),
            Arc::new(LargeStringArray::from(texts.clone())),
            Arc::new(arrow::array::StringViewArray::from(texts.clone())),
            Arc::new(dict),
            Arc::new(with_null_value),
            Arc::new(Int64Array::from(vec![Some(-12), None, Some(7)])),
            Arc::new(arrow::array::Float64Array::from(vec![
                Some(1.5),
                None,
                Some(1e20),
                Some(f64::NAN),
            ])),
            Arc::new(arrow::array::BooleanArray::from(vec![Some(true), None])),
            Arc::new(arrow::array::Date32Array::from(vec![
                Some(19_000),
                None,
                Some(-1),
            ])),
            Arc::new(
                arrow::array::Decimal128Array::from(vec![Some(12_345), None, Some(-5)])
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
            Arc::new(
                arrow::array::TimestampMicrosecondArray::from(vec![
                    Some(1_700_000_000_123_456),
                    None,
                ])
                .with_timezone("UTC"),
            ),
        ];
        let key = TokenKey::new(&[7; 32]).unwrap();
        let token: Replace = &|t, out| key.token_into(t.as_bytes(), out);
        for a in &arrays {
            for f in [token, &shape_into] {
                let got = map_text(a.as_ref(), f).unwrap();
                let got: Vec<Option<String>> = got
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect();
                assert_eq!(got, by_cells(a.as_ref(), f), "{}", a.data_type());
            }
        }
    }
}
