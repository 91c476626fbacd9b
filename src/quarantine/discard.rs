//! Discarding quarantined rows: a mark with who, when and why, never a delete. The rows stay in
//! the table (and every earlier version keeps them open), and readers select open rows with
//! `WHERE _dq_status = 'open'`.

use std::collections::HashMap;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::read::{Selection, read_files};
use super::release::{affected, column_micros, column_strings};
use super::{Actor, open_quarantine};
use crate::error::{Error, Result};
use crate::gate::DEFAULT_CODEC;
use crate::gate::encoding::FileOptions;
use crate::gate::route::to_schema;
use crate::gate::sink::TableSink;
use crate::gate::{failpoint, tables};

/// Configures a [`Discard`].
pub struct DiscardBuilder {
    quarantine: String,
    reason: Option<String>,
    id: Option<String>,
    selection: Selection,
    actor: Option<String>,
    dry_run: bool,
    storage: HashMap<String, String>,
}

impl DiscardBuilder {
    /// Why (required, recorded on every row).
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The discard's id: re-running an id after a crash finishes it once. Default: a new UUID.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Which open rows. Default: every open row.
    pub fn with_selection(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Who discards. Default: `$DQ_GATE_ACTOR`, else the user.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Count what would be discarded, writing nothing. Default: off.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Object-store options. Default: none.
    pub fn with_storage_options(mut self, options: HashMap<String, String>) -> Self {
        self.storage = options;
        self
    }

    /// Checks the reason and resolves the id.
    pub fn build(self) -> Result<Discard> {
        let reason = self
            .reason
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| Error::Usage("a discard needs a reason (--reason TEXT)".into()))?;
        Ok(Discard {
            quarantine: self.quarantine,
            reason,
            id: self.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            selection: Selection {
                open_only: true,
                ..self.selection
            },
            actor: Actor::resolve(self.actor),
            dry_run: self.dry_run,
            storage: self.storage,
        })
    }
}

/// Marks selected open rows of a quarantine as discarded. Built with [`Discard::builder`].
pub struct Discard {
    quarantine: String,
    reason: String,
    id: String,
    selection: Selection,
    actor: String,
    dry_run: bool,
    storage: HashMap<String, String>,
}

/// What a discard did.
#[derive(Debug, Clone, Serialize)]
pub struct DiscardReport {
    /// The discard's id.
    pub discard_id: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// Rows marked discarded (or, for a dry run, that would be).
    pub discarded: u64,
    /// Nothing was written.
    pub dry_run: bool,
    /// The quarantine's version after the discard.
    pub quarantine_version: Option<i64>,
}

impl Discard {
    /// Starts configuring a discard of rows of the quarantine table at `uri`.
    pub fn builder(quarantine: impl Into<String>) -> DiscardBuilder {
        DiscardBuilder {
            quarantine: quarantine.into(),
            reason: None,
            id: None,
            selection: Selection::default(),
            actor: None,
            dry_run: false,
            storage: HashMap::new(),
        }
    }

    /// Marks the rows.
    pub async fn run(self) -> Result<DiscardReport> {
        let uri = &self.quarantine;
        let table = open_quarantine(uri, &self.storage).await?;
        let table = tables::upgrade_quarantine(uri, table).await?;
        let schema = tables::table_schema(&table, uri)?;
        let mut sink = TableSink::new(
            uri,
            table,
            schema.clone(),
            &format!("discard:{}", self.id),
            FileOptions {
                target_size: u64::MAX,
                codec: DEFAULT_CODEC,
                commit_attempts: crate::gate::DEFAULT_COMMIT_ATTEMPTS,
                commit_backoff_ms: crate::gate::encoding::DEFAULT_COMMIT_BACKOFF_MS,
                staged: false,
            },
        )
        .await?;
        let files = read_files(uri, sink.table()).await?;
        let masks = files
            .iter()
            .map(|f| self.selection.select(&f.rows))
            .collect::<Result<Vec<_>>>()?;
        let n: usize = masks.iter().map(|m| m.count_set_bits()).sum();
        let mut report = DiscardReport {
            discard_id: self.id.clone(),
            actor: self.actor.clone(),
            reason: self.reason.clone(),
            discarded: n as u64,
            dry_run: self.dry_run,
            quarantine_version: sink.version(),
        };
        if self.dry_run || sink.has(1) || n == 0 {
            return Ok(report);
        }
        let now = Utc::now().timestamp_micros();
        let note = format!("discard {}: {}", self.id, self.reason);
        for (f, m) in files.iter().zip(&masks) {
            if m.count_set_bits() == 0 {
                continue;
            }
            let mut status = column_strings(&f.rows, "_dq_status");
            let mut at = column_micros(&f.rows, "_dq_status_at");
            let mut by = column_strings(&f.rows, "_dq_status_by");
            let mut notes = column_strings(&f.rows, "_dq_status_note");
            for i in m.set_indices() {
                status[i] = Some("discarded".into());
                at[i] = Some(now);
                by[i] = Some(self.actor.clone());
                notes[i] = Some(note.clone());
            }
            let rows = super::release::with_status(&f.rows, status, at, by, notes, None)?;
            sink.write(to_schema(&rows, &schema)?).await?;
        }
        let meta = HashMap::from([
            ("dq.discard_id".to_string(), json!(self.id)),
            ("dq.actor".to_string(), json!(self.actor)),
            ("dq.reason".to_string(), json!(self.reason)),
            ("dq.rows".to_string(), json!(n)),
            ("dq.event".to_string(), json!("discard")),
        ]);
        sink.commit_replacing(1, affected(&files, &masks), &note, meta)
            .await?;
        failpoint::hit("discard_committed", &[1]);
        report.quarantine_version = sink.version();
        Ok(report)
    }
}
