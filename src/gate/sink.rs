//! One table being written: streamed Parquet files, then an idempotent commit.
//!
//! ```text
//!  write(batch) ──▶ RecordBatchWriter (files rolled at the target size, streamed to storage)
//!  commit(seq)  ──▶ flush → Add actions ──▶ CommitBuilder + txn(app_id, seq) + metadata
//!                       conflict? reload, re-read txn: already there → done, else retry
//! ```
//!
//! Encoding is the costly part of a run, so a sink writes through one writer per core (a lane):
//! a large batch is cut into one contiguous slice per lane and the lanes encode at once, each
//! into its own files (small batches all go to the first lane, so they share files); a commit
//! adds every lane's files in one Delta commit. Each lane rolls its files at the target size,
//! and the gate commits when the fullest lane reaches it.
//!
//! Each lane is a task that owns its writer and encodes the slices queued for it, so a write
//! returns once its slices are queued: the caller prepares the next chunk (routes it, builds its
//! quarantine rows, reads it again for a spilled batch) while the lanes encode, and a lane that
//! finishes its slice first goes on to its next without waiting for the others. Anything that
//! needs the writers themselves (a small batch for lane 0, the buffered size, a commit) first
//! closes the queues and waits for the lanes (`settle`); a lane's error surfaces there or at the
//! next write.
//!
//! Exactly once rests on Delta application transactions: every commit carries
//! `txn(app_id = "dq-gate:<run id>", version = last batch in it)`. Before writing a batch the gate
//! asks [`TableSink::has`]; a batch at or below the table's txn version is already in it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use deltalake::DeltaTableError;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::gate::encoding::{FileOptions, writer_properties};
use crate::gate::route::target_rows;
use crate::gate::share::Sharing;

/// Fewest rows per lane worth cutting a batch across lanes for.
const MIN_LANE_ROWS: usize = 4096;

/// Lanes a sink encodes on: one per core, at most four.
fn lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The rows `keep` selects, shared as `sharing` says, in the table's exact fields (`batch`
/// as it is without `keep`).
fn select(
    batch: RecordBatch,
    keep: Option<&BooleanBuffer>,
    sharing: Option<&Sharing>,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    match keep {
        Some(keep) => target_rows(&batch, keep, sharing, schema),
        None => Ok(batch),
    }
}

/// Slices a lane may hold queued while it encodes: enough that a lane done with its slice of
/// one chunk starts on the next without waiting for the other lanes, few enough that a spilled
/// batch's chunks, read again as they are routed, are not all held at once.
const LANE_QUEUE: usize = 2;

/// A slice of a batch for one lane: the rows `keep` selects (all without it).
struct Slice {
    part: RecordBatch,
    keep: Option<BooleanBuffer>,
}

/// A lane encoding: its queue, and the task that owns its writer until the queue closes.
struct Lane {
    queue: tokio::sync::mpsc::Sender<Slice>,
    task: tokio::task::JoinHandle<(RecordBatchWriter, Result<()>)>,
}

impl Lane {
    /// Starts a lane on `w`: it encodes the slices it is handed in order, and stops taking them
    /// at its first error (which it returns with its writer when the queue closes).
    fn start(
        mut w: RecordBatchWriter,
        schema: SchemaRef,
        sharing: Option<Arc<Sharing>>,
        uri: String,
    ) -> Lane {
        let (queue, mut slices) = tokio::sync::mpsc::channel::<Slice>(LANE_QUEUE);
        let task = tokio::spawn(async move {
            while let Some(Slice { part, keep }) = slices.recv().await {
                let r = match select(part, keep.as_ref(), sharing.as_deref(), &schema) {
                    Ok(part) if part.num_rows() == 0 => Ok(()),
                    Ok(part) => w
                        .write(part)
                        .await
                        .map_err(|e| Error::table(&uri, "write data files", e)),
                    Err(e) => Err(e),
                };
                if r.is_err() {
                    return (w, r);
                }
            }
            (w, Ok(()))
        });
        Lane { queue, task }
    }
}

pub(crate) struct TableSink {
    pub uri: String,
    table: DeltaTable,
    schema: SchemaRef,
    app_id: String,
    /// The table's txn version for this run when last read.
    committed: Option<i64>,
    /// One writer per lane, opened as batches need them (empty until the first).
    lanes: Vec<RecordBatchWriter>,
    /// The lanes while they encode, in lane order: each owns its writer and takes slices from
    /// its queue; their writers come back to `lanes` when settled.
    encoding: Vec<Lane>,
    /// The lanes a large batch is cut across.
    width: usize,
    /// The files' properties, chosen from the first batch written.
    props: Option<WriterProperties>,
    /// What the rows of [`TableSink::write_selected`] receive of their `pii` columns (the
    /// target's sharing; none elsewhere).
    sharing: Option<Arc<Sharing>>,
    files: FileOptions,
    pending_rows: u64,
    /// In staged mode, what the commits so far would have added.
    staged: Option<StagedTable>,
}

/// What a staged sink would have committed (docs/scale-out.md#staged-commits): its files, the
/// last batch among them, and the rows they hold.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StagedTable {
    pub uri: String,
    /// The transaction version to commit them under: the last batch staged.
    pub seq: i64,
    pub rows: u64,
    pub adds: Vec<deltalake::kernel::Add>,
}

pub(crate) fn is_conflict(e: &DeltaTableError) -> bool {
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
        files: FileOptions,
    ) -> Result<Self> {
        let app_id = format!("dq-gate:{run_id}");
        let mut sink = TableSink {
            uri: uri.to_string(),
            table,
            schema,
            app_id,
            committed: None,
            lanes: Vec::new(),
            encoding: Vec::new(),
            width: lanes(),
            props: None,
            sharing: None,
            files,
            pending_rows: 0,
            staged: None,
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

    /// Bytes written since the last commit to the fullest lane (approximate, encoded), once the
    /// lanes have encoded what they were given.
    pub(crate) async fn buffered_bytes(&mut self) -> Result<usize> {
        self.settle().await?;
        Ok(self
            .lanes
            .iter()
            .map(RecordBatchWriter::buffer_len)
            .max()
            .unwrap_or(0))
    }

    /// Closes the lanes' queues, waits for them to encode what they hold and takes their writers
    /// back. Every lane is waited for; the first error is returned (the sink is then unusable: a
    /// lane lost to a failed task is gone, and the run stops).
    async fn settle(&mut self) -> Result<()> {
        let mut first_error = None;
        for Lane { queue, task } in std::mem::take(&mut self.encoding) {
            drop(queue);
            match task.await {
                Ok((w, r)) => {
                    self.lanes.push(w);
                    if let Err(e) = r {
                        first_error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(Error::table(&self.uri, "write data files", e));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Shares the `pii` columns of the rows [`TableSink::write_selected`] writes as `sharing`
    /// says, in the lanes, for the rows kept only.
    pub(crate) fn share_with(&mut self, sharing: &Sharing) {
        self.sharing = (!sharing.changes_nothing()).then(|| Arc::new(sharing.clone()));
    }

    /// Streams a batch (already in the table's schema) into the current files.
    pub(crate) async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.write_rows(batch, None).await
    }

    /// Streams the rows of `batch` that `keep` selects into the current files, shared (see
    /// [`TableSink::share_with`]) and cast into the table's schema (`batch` may hold other
    /// layouts, e.g. dictionaries, and other columns). Each lane selects, shares and casts its
    /// own slice's rows, so that work is done on every core and for kept rows only.
    pub(crate) async fn write_selected(
        &mut self,
        batch: RecordBatch,
        keep: BooleanBuffer,
    ) -> Result<()> {
        self.write_rows(batch, Some(keep)).await
    }

    async fn write_rows(&mut self, batch: RecordBatch, keep: Option<BooleanBuffer>) -> Result<()> {
        let kept = keep
            .as_ref()
            .map_or(batch.num_rows(), BooleanBuffer::count_set_bits);
        if kept == 0 {
            return Ok(());
        }
        self.pending_rows += kept as u64;
        // A large batch is cut across every lane; smaller ones share lane 0's files.
        let split = self.width > 1 && kept >= self.width * MIN_LANE_ROWS;
        if split && !self.encoding.is_empty() {
            return self.hand_to_lanes(batch, keep).await;
        }
        self.settle().await?;
        let open = if split { self.width } else { 1 };
        if self.lanes.len() < open {
            let props = self
                .props
                .get_or_insert_with(|| writer_properties(&batch, self.files.codec, self.width));
            while self.lanes.len() < open {
                let w = RecordBatchWriter::for_table(&self.table)
                    .map_err(|e| Error::table(&self.uri, "start writing", e))?
                    .with_target_file_size(self.files.target_size)
                    .with_writer_properties(props.clone());
                self.lanes.push(w);
            }
        }
        if !split {
            let rows = select(batch, keep.as_ref(), self.sharing.as_deref(), &self.schema)?;
            return self.lanes[0]
                .write(rows)
                .await
                .map_err(|e| Error::table(&self.uri, "write data files", e));
        }
        self.encoding = std::mem::take(&mut self.lanes)
            .into_iter()
            .map(|w| {
                Lane::start(
                    w,
                    self.schema.clone(),
                    self.sharing.clone(),
                    self.uri.clone(),
                )
            })
            .collect();
        self.hand_to_lanes(batch, keep).await
    }

    /// Queues one contiguous slice of `batch` on each running lane, waiting while a lane's queue
    /// is full. A lane that stopped at an error has closed its queue: the sink settles and
    /// returns that error.
    async fn hand_to_lanes(
        &mut self,
        batch: RecordBatch,
        keep: Option<BooleanBuffer>,
    ) -> Result<()> {
        let n = self.encoding.len();
        let rows = batch.num_rows();
        for i in 0..n {
            let (from, to) = (rows * i / n, rows * (i + 1) / n);
            let slice = Slice {
                part: batch.slice(from, to - from),
                keep: keep.as_ref().map(|k| k.slice(from, to - from)),
            };
            if let Err(closed) = self.encoding[i].queue.send(slice).await {
                // Only a lane that stopped closes its queue, and `settle` returns why.
                self.settle().await?;
                return Err(Error::table(&self.uri, "write data files", closed));
            }
        }
        Ok(())
    }

    /// Commits what was written, marking batches up to `seq` as committed. Returns the new
    /// table version, or `None` when nothing was written (or an earlier attempt of this run had
    /// committed these batches already).
    pub(crate) async fn commit(
        &mut self,
        seq: i64,
        mut metadata: HashMap<String, serde_json::Value>,
    ) -> Result<Option<i64>> {
        // It adds files and reads none: readers (Spark among them) then know that concurrent
        // appends cannot conflict with it.
        metadata.insert("isBlindAppend".into(), serde_json::json!(true));
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
        self.settle().await?;
        let mut adds = Vec::new();
        let tasks: Vec<_> = std::mem::take(&mut self.lanes)
            .into_iter()
            .map(|mut w| tokio::spawn(async move { w.flush().await }))
            .collect();
        for task in tasks {
            let lane = task
                .await
                .map_err(|e| Error::table(&self.uri, "finish data files", e))?
                .map_err(|e| Error::table(&self.uri, "finish data files", e))?;
            adds.extend(lane);
        }
        self.pending_rows = 0;
        if adds.is_empty() && removes.is_empty() {
            return Ok(None);
        }
        if self.files.staged && removes.is_empty() {
            let rows = metadata
                .get("dq.rows")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let staged = self.staged.get_or_insert_with(|| StagedTable {
                uri: self.uri.clone(),
                seq,
                rows: 0,
                adds: Vec::new(),
            });
            staged.seq = staged.seq.max(seq);
            staged.rows += rows;
            staged.adds.extend(adds);
            return Ok(None);
        }
        let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
        actions.extend(removes);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let snapshot = self
                .table
                .snapshot()
                .map_err(|e| Error::table(&self.uri, format!("commit batch {seq}"), e))?;
            // How contended the table is: commits landing between this read and the write
            // (version − read − 1) were each checked for a conflict; `dq.attempt` counts the
            // tries after a conflict that could not be resolved.
            let mut metadata = metadata.clone();
            metadata.insert("dq.read_version".into(), snapshot.version().into());
            metadata.insert("dq.attempt".into(), attempt.into());
            let props = CommitProperties::default()
                .with_metadata(metadata)
                .with_application_transaction(Transaction::new(&self.app_id, seq));
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
                Err(e) if is_conflict(&e) && attempt < self.files.commit_attempts => {
                    // Back off (with jitter) so concurrent writers spread out, then look again:
                    // another attempt of this run may have committed these batches meanwhile.
                    let base = self.files.commit_backoff_ms;
                    let jitter = (std::process::id() as u64 * 7919 + attempt as u64 * 104_729)
                        % (base * 5 / 2).max(1);
                    tokio::time::sleep(Duration::from_millis((base << attempt.min(6)) + jitter))
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

    /// What this sink staged instead of committing, if anything.
    pub(crate) fn take_staged(&mut self) -> Option<StagedTable> {
        self.staged.take()
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::buffer::BooleanBuffer;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::gate::encoding::{Codec, DEFAULT_COMMIT_ATTEMPTS, DEFAULT_COMMIT_BACKOFF_MS};
    use crate::gate::tables::open_or_create;

    /// A lane that fails while encoding (rows the table's schema refuses) fails the write or the
    /// commit after it, whichever waits for the lane first; nothing is committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lane_that_fails_fails_the_commit_and_nothing_lands() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap().to_string();
        let table_schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let table = open_or_create(&uri, &HashMap::new(), &table_schema, "t", &[])
            .await
            .unwrap();
        let created = table.version();
        let files = FileOptions {
            target_size: 1 << 30,
            codec: Codec::Snappy,
            commit_attempts: DEFAULT_COMMIT_ATTEMPTS,
            commit_backoff_ms: DEFAULT_COMMIT_BACKOFF_MS,
            staged: false,
        };
        let mut sink = TableSink::new(&uri, table, table_schema.clone(), "r", files)
            .await
            .unwrap();
        // Enough rows for every lane; nulls in a column the table declares NOT NULL.
        let rows = 4 * MIN_LANE_ROWS * sink.width;
        let loose = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let x: Int64Array = (0..rows as i64)
            .map(|i| (i % 2 == 0).then_some(i))
            .collect();
        let batch = RecordBatch::try_new(loose, vec![Arc::new(x)]).unwrap();
        let written = sink
            .write_selected(batch, BooleanBuffer::new_set(rows))
            .await;
        let committed = match written {
            Ok(()) => sink.commit(1, HashMap::new()).await,
            Err(e) => Err(e),
        };
        let err = committed.expect_err("a failed lane must fail the write or its commit");
        let chain: Vec<_> = crate::error::chain(&err).map(|e| e.to_string()).collect();
        assert!(chain.iter().any(|e| e.contains("null")), "{chain:?}");
        sink.refresh().await.unwrap();
        assert_eq!(sink.version(), created.map(|v| v as i64));
        assert_eq!(sink.committed(), None);
    }
}
