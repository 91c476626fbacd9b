//! Looking inside a quarantine: its rows grouped by run, batch, suite version, expectation and
//! status, and the rows themselves with their violations, `pii` values masked as in reports.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, RecordBatch};
use serde::Serialize;
use serde_json::{Map, Value};

use super::open_quarantine;
use super::read::{Selection, is_data_column, read_files, selected, strings};
use crate::error::Result;
use crate::gate::route::read_violations;
use crate::gate::tables::{self, PII_CONFIG};
use crate::report::cells::{cell, mask};

/// Run, batch, suite version, expectation, status.
type GroupKey = (String, i64, i64, String, String);

/// A quarantine table opened for reading.
pub struct Quarantine {
    uri: String,
    table: deltalake::DeltaTable,
    /// The `pii` columns, when known (recorded by the gate, or from a suite).
    pii: Option<Vec<String>>,
}

/// Quarantined rows of one run, batch, suite version, expectation and status.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    /// The run that quarantined them.
    pub run_id: String,
    /// Its batch.
    pub batch: i64,
    /// The suite version that judged them.
    pub suite_version: i64,
    /// An expectation they broke (a row that broke several counts under each).
    pub expectation: String,
    /// `open`, `released` or `discarded`.
    pub status: String,
    /// How many.
    pub rows: u64,
    /// When the first and the last of them were quarantined (RFC 3339).
    pub first_quarantined_at: String,
    /// See `first_quarantined_at`.
    pub last_quarantined_at: String,
}

/// Quarantined rows as shown: each a JSON object of its columns.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// Rows the selection picked.
    pub total: u64,
    /// The rows shown (at most the limit).
    pub rows: Vec<Map<String, Value>>,
    /// Columns whose values are shown by their shape only.
    pub masked: Vec<String>,
    /// Whether `pii` values are shown as they are (for the quarantine's own readers only).
    pub unmasked: bool,
}

impl Quarantine {
    /// Opens the quarantine table at `uri`.
    pub async fn open(uri: &str, storage: &HashMap<String, String>) -> Result<Self> {
        let table = open_quarantine(uri, storage).await?;
        let pii = tables::configuration(&table).get(PII_CONFIG).map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        });
        Ok(Quarantine {
            uri: uri.to_string(),
            table,
            pii,
        })
    }

    /// Takes the `pii` columns from a suite (for a table the gate recorded none in).
    pub fn with_pii_of(mut self, suite: &crate::Suite) -> Self {
        if let Some(c) = &suite.schema {
            self.pii = Some(
                c.columns
                    .iter()
                    .filter(|c| c.is_pii())
                    .map(|c| c.name.clone())
                    .collect(),
            );
        }
        self
    }

    async fn picked(&self, selection: &Selection) -> Result<Option<RecordBatch>> {
        let files = read_files(&self.uri, &self.table).await?;
        let masks = files
            .iter()
            .map(|f| selection.select(&f.rows))
            .collect::<Result<Vec<_>>>()?;
        selected(&files, &masks)
    }

    /// Of the rows the runs `run_ids` quarantined: how many, how many were released, discarded
    /// and are still open, and when the oldest still open was quarantined.
    pub async fn fates(&self, run_ids: &[String]) -> Result<(u64, u64, u64, u64, Option<String>)> {
        if run_ids.is_empty() {
            return Ok((0, 0, 0, 0, None));
        }
        let selection = Selection {
            run_ids: run_ids.to_vec(),
            ..Selection::default()
        };
        let Some(rows) = self.picked(&selection).await? else {
            return Ok((0, 0, 0, 0, None));
        };
        let status = strings(&rows, "_dq_status");
        let at = strings(&rows, "_dq_quarantined_at");
        let (mut released, mut discarded, mut open) = (0, 0, 0);
        let mut oldest: Option<String> = None;
        for i in 0..rows.num_rows() {
            let st = status
                .as_ref()
                .filter(|s| s.is_valid(i))
                .map_or("open", |s| s.value(i));
            match st {
                "released" => released += 1,
                "discarded" => discarded += 1,
                _ => {
                    open += 1;
                    if let Some(t) = at.as_ref().filter(|a| a.is_valid(i)) {
                        let t = t.value(i).to_string();
                        if oldest.as_ref().is_none_or(|o| &t < o) {
                            oldest = Some(t);
                        }
                    }
                }
            }
        }
        Ok((rows.num_rows() as u64, released, discarded, open, oldest))
    }

    /// Rows still open, and when the oldest of them was quarantined (RFC 3339).
    pub async fn open_rows(&self) -> Result<(u64, Option<String>)> {
        let selection = Selection {
            open_only: true,
            ..Selection::default()
        };
        let Some(rows) = self.picked(&selection).await? else {
            return Ok((0, None));
        };
        let oldest = strings(&rows, "_dq_quarantined_at").and_then(|a| {
            (0..a.len())
                .filter(|&i| a.is_valid(i))
                .map(|i| a.value(i).to_string())
                .min()
        });
        Ok((rows.num_rows() as u64, oldest))
    }

    /// The selected rows, grouped.
    pub async fn groups(&self, selection: &Selection) -> Result<Vec<Group>> {
        let Some(rows) = self.picked(selection).await? else {
            return Ok(Vec::new());
        };
        let runs = strings(&rows, "_dq_run_id");
        let status = strings(&rows, "_dq_status");
        let at = strings(&rows, "_dq_quarantined_at");
        let int = |name: &str, i: usize| -> i64 {
            rows.column_by_name(name)
                .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).ok())
                .map(|c| {
                    let c = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&c)
                        .clone();
                    if c.is_valid(i) { c.value(i) } else { 0 }
                })
                .unwrap_or(0)
        };
        let violations = rows.column_by_name("_dq_violations");
        let mut groups: BTreeMap<GroupKey, (u64, String, String)> = BTreeMap::new();
        let text = |a: &Option<arrow::array::StringArray>, i: usize| -> String {
            a.as_ref()
                .filter(|a| a.is_valid(i))
                .map_or(String::new(), |a| a.value(i).to_string())
        };
        for i in 0..rows.num_rows() {
            let mut ids: Vec<String> = violations
                .map(|v| {
                    read_violations(v.as_ref(), i)
                        .into_iter()
                        .map(|v| v.expectation)
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids.dedup();
            let st = match text(&status, i) {
                s if s.is_empty() => "open".to_string(),
                s => s,
            };
            let when = text(&at, i);
            for id in ids {
                let key = (
                    text(&runs, i),
                    int("_dq_batch", i),
                    int("_dq_suite_version", i),
                    id,
                    st.clone(),
                );
                let e = groups.entry(key).or_insert((0, when.clone(), when.clone()));
                e.0 += 1;
                if when < e.1 {
                    e.1 = when.clone();
                }
                if when > e.2 {
                    e.2 = when.clone();
                }
            }
        }
        Ok(groups
            .into_iter()
            .map(
                |((run_id, batch, suite_version, expectation, status), (rows, first, last))| {
                    Group {
                        run_id,
                        batch,
                        suite_version,
                        expectation,
                        status,
                        rows,
                        first_quarantined_at: first,
                        last_quarantined_at: last,
                    }
                },
            )
            .collect())
    }

    /// The selected rows (at most `limit`), `pii` values masked unless `unmask`. When the
    /// `pii` columns are not known, every data column is masked.
    pub async fn rows(&self, selection: &Selection, limit: usize, unmask: bool) -> Result<Shown> {
        let Some(rows) = self.picked(selection).await? else {
            return Ok(Shown {
                total: 0,
                rows: Vec::new(),
                masked: Vec::new(),
                unmasked: unmask,
            });
        };
        let schema = rows.schema();
        let data: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| is_data_column(n))
            .collect();
        let masked: Vec<String> = if unmask {
            Vec::new()
        } else {
            match &self.pii {
                Some(p) => data.iter().filter(|c| p.contains(c)).cloned().collect(),
                None => data,
            }
        };
        let mut out = Vec::new();
        for i in 0..rows.num_rows().min(limit) {
            let mut obj = Map::new();
            for (c, f) in schema.fields().iter().enumerate() {
                let name = f.name();
                let v = match name.as_str() {
                    "_dq_violations" => Value::Array(
                        read_violations(rows.column(c).as_ref(), i)
                            .into_iter()
                            .map(|v| {
                                serde_json::json!({
                                    "expectation": v.expectation,
                                    "column": v.column,
                                    "on_fail": v.on_fail,
                                    "message": v.message,
                                })
                            })
                            .collect(),
                    ),
                    "_dq_raw" => match cell(rows.column(c).as_ref(), i) {
                        Value::String(s) => {
                            let mut raw: Map<String, Value> =
                                serde_json::from_str(&s).unwrap_or_default();
                            for (k, v) in raw.iter_mut() {
                                if masked.contains(k) || (self.pii.is_none() && !unmask) {
                                    *v = mask(v);
                                }
                            }
                            Value::Object(raw)
                        }
                        other => other,
                    },
                    _ => {
                        let v = cell(rows.column(c).as_ref(), i);
                        if masked.contains(name) { mask(&v) } else { v }
                    }
                };
                obj.insert(name.clone(), v);
            }
            out.push(obj);
        }
        Ok(Shown {
            total: rows.num_rows() as u64,
            rows: out,
            masked,
            unmasked: unmask,
        })
    }
}
