//! One table being written: streamed Parquet files, then an idempotent commit.
//!
//! ```text
//!  write(batch) ──▶ RecordBatchWriter (files rolled at the target size, streamed to storage)
//!  commit(seq)  ──▶ flush → Add actions ──▶ CommitBuilder + txn(app_id, seq) + metadata
//!                       conflict? reload, re-read txn: already there → done, else retry
//! ```
//!
//! Exactly once rests on Delta application transactions: every commit carries
//! `txn(app_id = "dq-gate:<run id>", version = last batch in it)`. Before writing a batch the gate
//! asks [`TableSink::has`]; a batch at or below the table's txn version is already in it.

use std::collections::HashMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use deltalake::DeltaTableError;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use crate::error::{Error, Result};

/// Commit attempts on top of delta-rs's own retries, with backoff between them.
const COMMIT_ATTEMPTS: u32 = 12;

pub(crate) struct TableSink {
    pub uri: String,
    table: DeltaTable,
    schema: SchemaRef,
    app_id: String,
    /// The table's txn version for this run when last read.
    committed: Option<i64>,
    writer: Option<RecordBatchWriter>,
    target_file_size: u64,
    pending_rows: u64,
}

fn is_conflict(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::VersionAlreadyExists(_)
        } | DeltaTableError::VersionAlreadyExists(_)
    )
}

impl TableSink {
    pub(crate) async fn new(
        uri: &str,
        table: DeltaTable,
        schema: SchemaRef,
        run_id: &str,
        target_file_size: u64,
    ) -> Result<Self> {
        let app_id = format!("dq-gate:{run_id}");
        let mut sink = TableSink {
            uri: uri.to_string(),
            table,
            schema,
            app_id,
            committed: None,
            writer: None,
            target_file_size,
            pending_rows: 0,
        };
        sink.committed = sink.read_txn().await?;
        Ok(sink)
    }

    async fn read_txn(&self) -> Result<Option<i64>> {
        let snapshot = self
            .table
            .snapshot()
            .map_err(|e| Error::table(&self.uri, "read", e))?;
        snapshot
            .transaction_version(self.table.log_store().as_ref(), &self.app_id)
            .await
            .map_err(|e| Error::table(&self.uri, "read the run's transaction", e))
    }

    /// The table's schema as stored (what batches are cast to).
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The table's txn version for this run (the last batch committed), if any.
    pub(crate) fn committed(&self) -> Option<i64> {
        self.committed
    }

    /// Whether batch `seq` is already committed to this table.
    pub(crate) fn has(&self, seq: i64) -> bool {
        self.committed.is_some_and(|c| c >= seq)
    }

    /// The table's current version.
    pub(crate) fn version(&self) -> Option<i64> {
        self.table.version().map(|v| v as i64)
    }

    pub(crate) fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// Bytes written since the last commit (approximate, encoded).
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.writer
            .as_ref()
            .map_or(0, RecordBatchWriter::buffer_len)
    }

    /// Streams a batch (already in the table's schema) into the current files.
    pub(crate) async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let w = RecordBatchWriter::for_table(&self.table)
                .map_err(|e| Error::table(&self.uri, "start writing", e))?
                .with_target_file_size(self.target_file_size);
            self.writer = Some(w);
        }
        self.pending_rows += batch.num_rows() as u64;
        self.writer
            .as_mut()
            .expect("just set")
            .write(batch)
            .await
            .map_err(|e| Error::table(&self.uri, "write data files", e))
    }

    /// Commits what was written, marking batches up to `seq` as committed. Returns the new
    /// table version, or `None` when nothing was written (or an earlier attempt of this run had
    /// committed these batches already).
    pub(crate) async fn commit(
        &mut self,
        seq: i64,
        metadata: HashMap<String, serde_json::Value>,
    ) -> Result<Option<i64>> {
        let append = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: None,
            predicate: None,
        };
        self.commit_with(seq, Vec::new(), append, metadata).await
    }

    /// Commits what was written in place of the `removed` files (whose rows it rewrites), as
    /// one update marking `seq`; `note` joins the commit info (`dq.note`). A conflict that
    /// another writer removed one of those files first is an error: the rows changed
    /// meanwhile. Concurrent appends (a run) do not conflict with it.
    pub(crate) async fn commit_replacing(
        &mut self,
        seq: i64,
        removed: Vec<deltalake::kernel::Remove>,
        note: &str,
        mut metadata: HashMap<String, serde_json::Value>,
    ) -> Result<Option<i64>> {
        metadata.insert("dq.note".into(), serde_json::json!(note));
        let update = DeltaOperation::Update { predicate: None };
        let removes = removed.into_iter().map(Action::Remove).collect();
        self.commit_with(seq, removes, update, metadata).await
    }

    async fn commit_with(
        &mut self,
        seq: i64,
        removes: Vec<Action>,
        operation: DeltaOperation,
        metadata: HashMap<String, serde_json::Value>,
    ) -> Result<Option<i64>> {
        let adds = match self.writer.take() {
            Some(mut writer) => writer
                .flush()
                .await
                .map_err(|e| Error::table(&self.uri, "finish data files", e))?,
            None => Vec::new(),
        };
        self.pending_rows = 0;
        if adds.is_empty() && removes.is_empty() {
            return Ok(None);
        }
        let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
        actions.extend(removes);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let props = CommitProperties::default()
                .with_metadata(metadata.clone())
                .with_application_transaction(Transaction::new(&self.app_id, seq));
            let snapshot = self
                .table
                .snapshot()
                .map_err(|e| Error::table(&self.uri, format!("commit batch {seq}"), e))?;
            let result = CommitBuilder::from(props)
                .with_actions(actions.clone())
                .build(Some(snapshot), self.table.log_store(), operation.clone())
                .await;
            match result {
                Ok(done) => {
                    let version = done.version();
                    self.refresh().await?;
                    self.committed = Some(seq);
                    return Ok(Some(version as i64));
                }
                Err(e) if is_conflict(&e) && attempt < COMMIT_ATTEMPTS => {
                    // Back off (with jitter) so concurrent writers spread out, then look again:
                    // another attempt of this run may have committed these batches meanwhile.
                    let jitter = (std::process::id() as u64 * 7919 + attempt as u64 * 104_729) % 50;
                    tokio::time::sleep(Duration::from_millis((20u64 << attempt.min(6)) + jitter))
                        .await;
                    self.refresh().await?;
                    if self.has(seq) {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(Error::table(&self.uri, format!("commit batch {seq}"), e)),
            }
        }
    }

    /// Reloads the table and its txn version.
    pub(crate) async fn refresh(&mut self) -> Result<()> {
        self.table
            .update_state()
            .await
            .map_err(|e| Error::table(&self.uri, "reload", e))?;
        self.committed = self.read_txn().await?;
        Ok(())
    }
}
