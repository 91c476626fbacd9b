//! Releasing quarantined rows: judged again under a suite (typically a new version that fixes a
//! rule or widens the contract), the passing ones appended to the target, the rest left open
//! with their new violations beside the old ones. Exactly once per release id.
//!
//! ```text
//!  quarantine @ V0 (pinned at the first attempt) ─▶ open rows the selection picks
//!    ─▶ rebuilt as input (from _dq_raw where a value could not be kept) ─▶ one batch, evaluated
//!    ─▶ run log: start (V0, selection, clock)                     txn(release, 0)
//!    ─▶ quarantine: released rows marked, the rest re-annotated   txn(release, 1)
//!    ─▶ target: the released rows, shared as the contract says    txn(release, 1)
//!    ─▶ run log: the verdicts                                     txn(release, 1)
//! ```
//!
//! The quarantine is marked first, so no other release can pick the same rows while this one
//! appends them; a release cut short between the two steps finishes on a re-run with the same
//! id, which reads the same rows from version V0 and skips every step a table already holds.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::read::{QuarantineFile, Selection, read_files, selected};
use super::rebuild::as_input;
use super::{Actor, open_quarantine_at};
use crate::error::{Error, Result};
use crate::eval::CompiledSuite;
use crate::eval::batch::BatchRun;
use crate::eval::mask::{Fate, RoutedChunk};
use crate::gate::route::{Violation, read_violations, to_schema, violation_list, violations_of};
use crate::gate::run::{DataTables, open_data_tables, read_start};
use crate::gate::runlog::RunLog;
use crate::gate::sink::TableSink;
use crate::gate::{Gate, failpoint, tables};
use crate::report::{BatchReport, Report, ReportBuilder};

/// Configures a [`Release`]. Every setter states its default.
pub struct ReleaseBuilder {
    compiled: Arc<CompiledSuite>,
    gate: crate::gate::GateBuilder,
    release_id: Option<String>,
    selection: Selection,
    dry_run: bool,
    actor: Option<String>,
    as_of: Option<DateTime<Utc>>,
}

impl ReleaseBuilder {
    /// The target table. Default: the suite's `tables.target`, else `lake/<suite name>`.
    pub fn with_target(mut self, uri: impl Into<String>) -> Self {
        self.gate = self.gate.with_target(uri);
        self
    }

    /// The quarantine table. Default: the suite's `tables.quarantine`, else
    /// `lake/<suite name>_quarantine`.
    pub fn with_quarantine(mut self, uri: impl Into<String>) -> Self {
        self.gate = self.gate.with_quarantine(uri);
        self
    }

    /// The run log. Default: the suite's `tables.runs`, else `<target>_dq_runs`.
    pub fn with_runs(mut self, uri: impl Into<String>) -> Self {
        self.gate = self.gate.with_runs(uri);
        self
    }

    /// The release id, `[A-Za-z0-9._:-]+`: re-running an id after a crash finishes that release
    /// without moving a row twice. Default: a new UUID.
    pub fn with_release_id(mut self, id: impl Into<String>) -> Self {
        self.release_id = Some(id.into());
        self
    }

    /// Which open rows to judge again. Default: every open row.
    pub fn with_selection(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Judge and report what would move, writing nothing. Default: off.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Who releases (recorded on the rows, in the run log and commit info). Default:
    /// `$DQ_GATE_ACTOR`, else the user (`$USER`).
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The clock for `not_in_future` and `freshness`. Default: now; on a re-run, the first
    /// attempt's.
    pub fn with_as_of(mut self, as_of: DateTime<Utc>) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// The key of `pii` columns shared as tokens (see [`crate::GateBuilder::with_token_key`]).
    pub fn with_token_key(mut self, key: &[u8]) -> Result<Self> {
        self.gate = self.gate.with_token_key(key)?;
        Ok(self)
    }

    /// [`ReleaseBuilder::with_token_key`] from a file.
    pub fn with_token_key_file(mut self, path: &std::path::Path) -> Result<Self> {
        self.gate = self.gate.with_token_key_file(path)?;
        Ok(self)
    }

    /// Object-store options (see [`crate::GateBuilder::with_storage_options`]).
    pub fn with_storage_options(mut self, options: HashMap<String, String>) -> Self {
        self.gate = self.gate.with_storage_options(options);
        self
    }

    /// Resolves the tables and the release id.
    pub fn build(self) -> Result<Release> {
        let id = self
            .release_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let gate = self.gate.with_run_id(format!("release:{id}")).build()?;
        Ok(Release {
            compiled: self.compiled,
            gate,
            id,
            selection: Selection {
                open_only: true,
                ..self.selection
            },
            dry_run: self.dry_run,
            actor: Actor::resolve(self.actor),
            as_of: self.as_of,
        })
    }
}

/// Releases quarantined rows under a suite. Built with [`Release::builder`].
pub struct Release {
    compiled: Arc<CompiledSuite>,
    gate: Gate,
    id: String,
    selection: Selection,
    dry_run: bool,
    actor: String,
    as_of: Option<DateTime<Utc>>,
}

/// What a release did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    /// The release id.
    pub release_id: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// Who released.
    pub actor: String,
    /// The quarantine version the rows were read from.
    pub source_quarantine_version: i64,
    /// Open rows the selection picked.
    pub selected: u64,
    /// Of those, rows appended to the target.
    pub released: u64,
    /// Of those, rows still failing: left open, with the new violations.
    pub still_quarantined: u64,
    /// An earlier attempt had finished this release: nothing was written now.
    pub already_done: bool,
    /// The selected rows judged as one batch under the suite.
    pub report: Report,
}

impl Release {
    /// Starts configuring a release under a compiled suite.
    pub fn builder(compiled: Arc<CompiledSuite>) -> ReleaseBuilder {
        ReleaseBuilder {
            gate: Gate::builder(compiled.clone()),
            compiled,
            release_id: None,
            selection: Selection::default(),
            dry_run: false,
            actor: None,
            as_of: None,
        }
    }

    /// The release id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Selects, judges and moves the rows.
    pub async fn run(self) -> Result<ReleaseReport> {
        let suite = self.compiled.suite();
        let (_, q_uri, runs_uri) = self.gate.locations();
        let (q_uri, runs_uri) = (q_uri.to_string(), runs_uri.to_string());
        let storage = self.gate.storage().clone();
        let contract = suite.schema.as_ref().ok_or_else(|| {
            Error::Usage(
                "a release needs a suite with a schema contract: it says the target's columns"
                    .into(),
            )
        })?;
        // The tables, as the gate opens them (an incompatible target is refused here).
        let mut data = open_data_tables(&self.gate, &contract.arrow_schema()).await?;
        let compiled = self.compiled.with_table_rules(&data.rules)?;
        let runs_schema = tables::runs_schema();
        let runs_table = tables::open_run_log(&runs_uri, &storage).await?;
        let mut runs = TableSink::new(
            &runs_uri,
            runs_table,
            runs_schema.clone(),
            self.gate.run_id(),
            self.gate.files(),
        )
        .await?;

        // The first attempt pins the quarantine version and the clock; a re-run takes them.
        let marker_selection = json!({
            "run_ids": self.selection.run_ids,
            "expectation": self.selection.expectation,
            "where": self.selection.filter,
        });
        let (source_version, as_of, first_attempt) = match runs.committed() {
            Some(_) => {
                let (as_of, earlier) = read_start(&runs, self.gate.run_id()).await?;
                if earlier.get("selection") != Some(&marker_selection)
                    || earlier.get("suite_fingerprint") != Some(&json!(suite.fingerprint()))
                {
                    return Err(Error::Rerun {
                        run_id: self.id.clone(),
                        reason: format!(
                            "a re-run of a release must use the same suite and selection as its \
                             first attempt ({earlier})"
                        ),
                    });
                }
                let v = earlier
                    .get("source_quarantine_version")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| Error::Rerun {
                        run_id: self.id.clone(),
                        reason: "its first attempt recorded no quarantine version".into(),
                    })?;
                (v, as_of, false)
            }
            None => {
                let v = data.quarantine.version().unwrap_or(0);
                (v, self.as_of.unwrap_or_else(Utc::now), true)
            }
        };
        // History checks judge the released rows against the feed's history, as a run would.
        let history = crate::gate::history::read_history(
            runs.table(),
            &runs_uri,
            suite,
            self.gate.run_id(),
            as_of,
        )
        .await?;
        let compiled = compiled.with_history(history);
        let at_source = open_quarantine_at(&q_uri, &storage, source_version).await?;
        let files = read_files(&q_uri, &at_source).await?;
        let masks = files
            .iter()
            .map(|f| self.selection.select(&f.rows))
            .collect::<Result<Vec<_>>>()?;
        let picked = selected(&files, &masks)?;
        let n = picked.as_ref().map_or(0, RecordBatch::num_rows);

        let label = format!("{q_uri}@v{source_version}");
        let mut report = ReportBuilder::new(suite, &self.id, as_of, vec![label.clone()]);
        let mut result = None;
        if let Some(rows) = &picked
            && n > 0
        {
            let (input, text) = as_input(rows, true)?;
            let mut run = BatchRun::new(&compiled, as_of, 1, &label, 0);
            run.push(&input, text)?;
            let r = run.finish()?;
            report.add(r.report.clone());
            result = Some(r);
        }
        let report = report.finish();
        let (fate, routed, batch_failures, schema_violations, batch_report) = match result {
            Some(mut r) => {
                let routed: Vec<RoutedChunk> = r.routed()?.collect::<Result<_>>()?;
                (
                    r.fate,
                    routed,
                    r.batch_failures,
                    r.schema_violations,
                    Some(r.report),
                )
            }
            None => (Fate::Split, Vec::new(), Vec::new(), Vec::new(), None),
        };
        // Per selected row (in order): released, or its new violations.
        let mut released_rows: Vec<bool> = Vec::with_capacity(n);
        let mut new_violations: Vec<Vec<Violation>> = Vec::with_capacity(n);
        for c in &routed {
            for i in 0..c.batch.num_rows() {
                let passes = fate == Fate::Split && !c.quarantine.value(i);
                released_rows.push(passes);
                new_violations.push(if passes {
                    Vec::new()
                } else {
                    violations_of(c, i, compiled.rules(), &batch_failures, &schema_violations)
                });
            }
        }
        let released = released_rows.iter().filter(|r| **r).count() as u64;
        let mut out = ReleaseReport {
            release_id: self.id.clone(),
            dry_run: self.dry_run,
            actor: self.actor.clone(),
            source_quarantine_version: source_version,
            selected: n as u64,
            released,
            still_quarantined: n as u64 - released,
            already_done: !first_attempt && runs.has(1),
            report,
        };
        if self.dry_run || n == 0 {
            return Ok(out);
        }
        if fate == Fate::Fail {
            // A `fail` expectation stops a release as it stops a run: nothing moves.
            return Err(Error::Usage(format!(
                "release {}: a `fail` expectation did not succeed over the selected rows; \
                 nothing was released",
                self.id
            )));
        }

        let now = Utc::now();
        let note = format!(
            "release {}: {} v{} ({})",
            self.id,
            suite.name,
            suite.version,
            &suite.fingerprint()[..12]
        );
        let meta = |rows: u64| {
            HashMap::from([
                ("dq.release_id".to_string(), json!(self.id)),
                ("dq.actor".to_string(), json!(self.actor)),
                ("dq.source_quarantine".to_string(), json!(q_uri)),
                (
                    "dq.source_quarantine_version".to_string(),
                    json!(source_version),
                ),
                ("dq.suite".to_string(), json!(suite.name)),
                ("dq.suite_version".to_string(), json!(suite.version)),
                (
                    "dq.suite_fingerprint".to_string(),
                    json!(suite.fingerprint()),
                ),
                ("dq.rows".to_string(), json!(rows)),
                ("dq.rows_selected".to_string(), json!(n)),
                ("dq.rows_released".to_string(), json!(released)),
                (
                    "dq.rows_still_quarantined".to_string(),
                    json!(n as u64 - released),
                ),
            ])
        };
        let log = RunLog {
            schema: runs_schema.clone(),
            suite,
            run_id: self.gate.run_id(),
            as_of,
            started_at: now,
            kind: "release",
        };
        if first_attempt {
            let marker = json!({
                "release": self.id,
                "actor": self.actor,
                "source_quarantine": q_uri,
                "source_quarantine_version": source_version,
                "suite_fingerprint": suite.fingerprint(),
                "selection": marker_selection,
            });
            runs.write(log.start(&marker, &[])?).await?;
            let mut m = meta(0);
            m.insert("dq.event".into(), json!("release started"));
            runs.commit(0, m).await?;
        }
        failpoint::hit("release_started", &[1]);

        // 1. The quarantine: released rows marked, the others annotated.
        if !data.quarantine.has(1) {
            let change = Change {
                released: &released_rows,
                violations: &new_violations,
                note: &note,
                actor: &self.actor,
                at: now,
            };
            rewrite(&mut data, &files, &masks, &change).await?;
            data.quarantine
                .commit_replacing(1, affected(&files, &masks), &note, meta(n as u64))
                .await?;
        }
        failpoint::hit("release_quarantine_committed", &[1]);

        // 2. The target: the released rows, shared as the contract says.
        if !data.target.has(1) {
            for c in &routed {
                let keep = if fate == Fate::Split {
                    !&c.quarantine
                } else {
                    BooleanBuffer::new_unset(c.batch.num_rows())
                };
                if keep.count_set_bits() == 0 {
                    continue;
                }
                data.target.write_selected(c.batch.clone(), keep).await?;
            }
            data.target.commit(1, meta(released)).await?;
        }
        failpoint::hit("release_target_committed", &[1]);

        // 3. The run log: the verdicts, as for a run.
        if !runs.has(1) {
            if let Some(b) = &batch_report {
                runs.write(log.batches(&[b as &BatchReport])?).await?;
            }
            let mut m = meta(1);
            m.insert("dq.event".into(), json!("release"));
            runs.commit(1, m).await?;
        }
        out.report.tables = Some(tables_written(&self.gate, &data, &runs));
        Ok(out)
    }
}

/// The status change of a release, per selected row in order.
struct Change<'a> {
    released: &'a [bool],
    violations: &'a [Vec<Violation>],
    note: &'a str,
    actor: &'a str,
    at: DateTime<Utc>,
}

/// The removes of every file holding a selected row.
pub(super) fn affected(
    files: &[QuarantineFile],
    masks: &[BooleanBuffer],
) -> Vec<deltalake::kernel::Remove> {
    files
        .iter()
        .zip(masks)
        .filter(|(_, m)| m.count_set_bits() > 0)
        .map(|(f, _)| f.remove.clone())
        .collect()
}

/// Writes every affected file again with the selected rows changed.
async fn rewrite(
    data: &mut DataTables,
    files: &[QuarantineFile],
    masks: &[BooleanBuffer],
    change: &Change<'_>,
) -> Result<()> {
    let mut k = 0;
    for (f, m) in files.iter().zip(masks) {
        if m.count_set_bits() == 0 {
            continue;
        }
        let n = f.rows.num_rows();
        let old = f
            .rows
            .column_by_name("_dq_violations")
            .ok_or_else(|| Error::Usage("the quarantine has no `_dq_violations`".into()))?;
        let mut status: Vec<Option<String>> = column_strings(&f.rows, "_dq_status");
        let mut at: Vec<Option<i64>> = column_micros(&f.rows, "_dq_status_at");
        let mut by: Vec<Option<String>> = column_strings(&f.rows, "_dq_status_by");
        let mut notes: Vec<Option<String>> = column_strings(&f.rows, "_dq_status_note");
        let mut violations: Vec<Vec<Violation>> =
            (0..n).map(|i| read_violations(old.as_ref(), i)).collect();
        for i in m.set_indices() {
            if change.released[k] {
                status[i] = Some("released".into());
            } else {
                status[i] = Some("open".into());
                for v in &change.violations[k] {
                    violations[i].push(Violation {
                        message: format!("{}: {}", change.note, v.message),
                        ..v.clone()
                    });
                }
            }
            at[i] = Some(change.at.timestamp_micros());
            by[i] = Some(change.actor.to_string());
            notes[i] = Some(change.note.to_string());
            k += 1;
        }
        let rows = with_status(&f.rows, status, at, by, notes, Some(violations))?;
        let rows = to_schema(&rows, data.quarantine.schema())?;
        data.quarantine.write(rows).await?;
    }
    Ok(())
}

/// A quarantine file's rows with new status columns (and violations, when given).
pub(super) fn with_status(
    rows: &RecordBatch,
    status: Vec<Option<String>>,
    at: Vec<Option<i64>>,
    by: Vec<Option<String>>,
    notes: Vec<Option<String>>,
    violations: Option<Vec<Vec<Violation>>>,
) -> Result<RecordBatch> {
    let mut replaced: Vec<(&str, ArrayRef)> = vec![
        ("_dq_status", Arc::new(StringArray::from(status))),
        (
            "_dq_status_at",
            Arc::new(TimestampMicrosecondArray::from(at).with_timezone("UTC")),
        ),
        ("_dq_status_by", Arc::new(StringArray::from(by))),
        ("_dq_status_note", Arc::new(StringArray::from(notes))),
    ];
    if let Some(v) = violations {
        replaced.push(("_dq_violations", violation_list(&v)));
    }
    let schema = rows.schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, field)| {
            replaced
                .iter()
                .find(|(name, _)| name == field.name())
                .map_or_else(|| rows.column(c).clone(), |(_, a)| a.clone())
        })
        .collect();
    Ok(RecordBatch::try_new(schema, columns)?)
}

pub(super) fn column_strings(rows: &RecordBatch, name: &str) -> Vec<Option<String>> {
    match super::read::strings(rows, name) {
        Some(a) => (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
            .collect(),
        None => vec![None; rows.num_rows()],
    }
}

pub(super) fn column_micros(rows: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
    let Some(c) = rows.column_by_name(name) else {
        return vec![None; rows.num_rows()];
    };
    let Ok(c) = arrow::compute::cast(c, &DataType::Timestamp(TimeUnit::Microsecond, None)) else {
        return vec![None; rows.num_rows()];
    };
    let c = c.as_primitive::<TimestampMicrosecondType>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

/// The tables a release wrote, with their versions.
fn tables_written(gate: &Gate, data: &DataTables, runs: &TableSink) -> crate::report::TablesReport {
    let (t, q, r) = gate.locations();
    let v = |s: &TableSink| s.version();
    crate::report::TablesReport {
        target: crate::report::TableRef {
            uri: t.to_string(),
            version: v(&data.target),
        },
        shared: gate.sharing().describe(),
        quarantine: crate::report::TableRef {
            uri: q.to_string(),
            version: v(&data.quarantine),
        },
        runs: crate::report::TableRef {
            uri: r.to_string(),
            version: v(runs),
        },
        staged: false,
    }
}
