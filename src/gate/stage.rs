//! Staged commits (docs/scale-out.md#staged-commits): many workers write their files and one
//! committer commits them, so K workers make three commits in all instead of K × three
//! contending ones.
//!
//! ```text
//!  worker (run --stage)   files ──▶ tables' storage;  manifest ──▶ <run log>/_dq_staged/<run>.json
//!  committer (commit-staged)   per table, quarantine → target → run log:
//!      one commit = every manifest's adds not yet in the table + txn(dq-gate:<run>, seq) each
//!      then the manifests are removed
//! ```
//!
//! Exactly once rests on the same application transactions as a direct commit: a run whose
//! transaction version in a table already covers its staged batches is left out of that
//! table's commit, so a committer killed at any point and run again, two committers at once,
//! or a worker re-run after its run was committed, add nothing twice.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::sink::StagedTable;
use super::tables::open_existing;
use crate::error::{Error, Result};

/// Where a run log keeps the staged runs' manifests (Delta readers and VACUUM skip `_` folders).
const STAGED_DIR: &str = "_dq_staged";

/// A staged run: what each of its tables' commits would have added.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub dq_staged: u32,
    pub run_id: String,
    pub suite: String,
    pub staged_at: DateTime<Utc>,
    /// In commit order: quarantine, target, run log.
    pub tables: Vec<StagedTable>,
}

/// A run id as a file name: other characters than `[A-Za-z0-9._-]` hex-escaped.
fn file_name(run_id: &str) -> String {
    let mut out = String::new();
    for b in run_id.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    format!("{out}.json")
}

/// Writes `manifest` beside the run log at `runs` (one object: a reader sees all or nothing).
pub(crate) async fn write_manifest(
    runs: &deltalake::DeltaTable,
    uri: &str,
    manifest: &Manifest,
) -> Result<()> {
    let path = Path::from(format!("{STAGED_DIR}/{}", file_name(&manifest.run_id)));
    let bytes = serde_json::to_vec(manifest).map_err(|e| Error::table(uri, "stage the run", e))?;
    runs.object_store()
        .put(&path, bytes.into())
        .await
        .map_err(|e| Error::table(uri, "stage the run", e))?;
    Ok(())
}

/// What [`commit_staged`] did.
#[derive(Debug, Clone, Serialize)]
pub struct StagedCommit {
    /// The staged runs found.
    pub runs: Vec<String>,
    /// Each table committed, with its new version and the runs its commit added.
    pub commits: Vec<TableCommit>,
}

/// One table's commit of staged runs.
#[derive(Debug, Clone, Serialize)]
pub struct TableCommit {
    /// The table.
    pub uri: String,
    /// Its version after the commit (`None`: every staged run was in it already).
    pub version: Option<i64>,
    /// The runs the commit added.
    pub runs: Vec<String>,
    /// The rows it added.
    pub rows: u64,
}

/// Commits every run staged beside the run log at `runs_uri`: per table (quarantine, target,
/// run log) one commit of the files of the runs it does not hold yet, each under its run's
/// transaction; then removes the manifests. `attempts` tries a commit that conflicts.
pub async fn commit_staged(
    runs_uri: &str,
    storage: &HashMap<String, String>,
    attempts: u32,
) -> Result<StagedCommit> {
    let Some(runs_table) = open_existing(runs_uri, storage).await? else {
        return Err(Error::Usage(format!(
            "{runs_uri}: no run log is there (has any run been staged into it?)"
        )));
    };
    let store = runs_table.object_store();
    let listed: Vec<_> = store
        .list(Some(&Path::from(STAGED_DIR)))
        .try_collect()
        .await
        .map_err(|e| Error::table(runs_uri, "list the staged runs", e))?;
    let mut manifests = Vec::new();
    for meta in listed {
        if !meta.location.as_ref().ends_with(".json") {
            continue;
        }
        let read =
            |e: object_store::Error| Error::table(runs_uri, format!("read {}", meta.location), e);
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(read)?
            .bytes()
            .await
            .map_err(read)?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::TableSchema {
            table: runs_uri.to_string(),
            reason: format!("{} is not a staged run: {e}", meta.location),
        })?;
        manifests.push((meta.location, m));
    }
    manifests.sort_by_key(|a| a.1.staged_at);
    let mut out = StagedCommit {
        runs: manifests.iter().map(|(_, m)| m.run_id.clone()).collect(),
        commits: Vec::new(),
    };
    // The tables in commit order: every quarantine, then every target, then the run logs.
    let mut order: Vec<String> = Vec::new();
    for position in 0..3 {
        for (_, m) in &manifests {
            if let Some(t) = m.tables.get(position)
                && !order.contains(&t.uri)
            {
                order.push(t.uri.clone());
            }
        }
    }
    for uri in order {
        let staged: Vec<(&str, &StagedTable)> = manifests
            .iter()
            .flat_map(|(_, m)| {
                m.tables
                    .iter()
                    .filter(|t| t.uri == uri)
                    .map(|t| (m.run_id.as_str(), t))
            })
            .collect();
        out.commits
            .push(commit_table(&uri, &staged, storage, attempts).await?);
    }
    for (path, _) in &manifests {
        store
            .delete(path)
            .await
            .map_err(|e| Error::table(runs_uri, format!("remove {path}"), e))?;
    }
    Ok(out)
}

/// One commit of `staged` runs' files into the table at `uri`, leaving out the runs it holds.
async fn commit_table(
    uri: &str,
    staged: &[(&str, &StagedTable)],
    storage: &HashMap<String, String>,
    attempts: u32,
) -> Result<TableCommit> {
    let mut table = open_existing(uri, storage).await?.ok_or_else(|| {
        Error::Usage(format!(
            "{uri}: a staged run names a table that is not there"
        ))
    })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let snapshot = table.snapshot().map_err(|e| Error::table(uri, "read", e))?;
        let mut actions = Vec::new();
        let mut txns = Vec::new();
        let mut added = Vec::new();
        let mut by_run = serde_json::Map::new();
        let mut rows = 0;
        for (run, t) in staged {
            let app = format!("dq-gate:{run}");
            let held = snapshot
                .transaction_version(table.log_store().as_ref(), &app)
                .await
                .map_err(|e| Error::table(uri, "read the runs' transactions", e))?;
            if held.is_some_and(|v| v >= t.seq) || t.adds.is_empty() {
                continue;
            }
            actions.extend(t.adds.iter().cloned().map(Action::Add));
            txns.push(Transaction::new(&app, t.seq));
            added.push(run.to_string());
            by_run.insert(run.to_string(), t.rows.into());
            rows += t.rows;
        }
        if actions.is_empty() {
            return Ok(TableCommit {
                uri: uri.to_string(),
                version: None,
                runs: Vec::new(),
                rows: 0,
            });
        }
        let metadata = HashMap::from([
            ("isBlindAppend".to_string(), serde_json::json!(true)),
            ("dq.event".to_string(), serde_json::json!("staged commit")),
            ("dq.runs".to_string(), serde_json::Value::Object(by_run)),
            ("dq.rows".to_string(), serde_json::json!(rows)),
            ("dq.read_version".to_string(), snapshot.version().into()),
            ("dq.attempt".to_string(), attempt.into()),
        ]);
        let props = CommitProperties::default()
            .with_metadata(metadata)
            .with_application_transactions(txns);
        let append = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: None,
            predicate: None,
        };
        let result = CommitBuilder::from(props)
            .with_actions(actions)
            .build(Some(snapshot), table.log_store(), append)
            .await;
        match result {
            Ok(done) => {
                return Ok(TableCommit {
                    uri: uri.to_string(),
                    version: Some(done.version() as i64),
                    runs: added,
                    rows,
                });
            }
            Err(e) if super::sink::is_conflict(&e) && attempt < attempts => {
                // Another committer may have added some of these runs: look again.
                tokio::time::sleep(Duration::from_millis(20u64 << attempt.min(6))).await;
                table
                    .update_state()
                    .await
                    .map_err(|e| Error::table(uri, "reload", e))?;
            }
            Err(e) => return Err(Error::table(uri, "commit the staged runs", e)),
        }
    }
}
