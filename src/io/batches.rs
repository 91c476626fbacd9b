//! Files cut into batches (the unit of verdict and commit): one per file, or every
//! `batch_rows` rows, never spanning two files; and a batch read again from its file.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::facts::FileFacts;
use super::parquet_read::{decoded_size, parquet_file_metadata, read_parquet_whole};
use super::{
    BytesRead, Chunks, DEFAULT_CHUNK_ROWS, Format, InputFile, Strings, open, open_counted,
};
use crate::error::Result;
use crate::suite::Contract;

/// Reads the `rows` rows of a batch again, from row `spec.first_row` of its file.
pub fn reread(spec: &BatchSpec, rows: u64, contract: Option<&Contract>) -> Result<Chunks> {
    let chunks = open(&spec.input, contract, DEFAULT_CHUNK_ROWS, spec.strings)?;
    let (mut skip, mut take) = (spec.first_row, rows);
    Ok(Box::new(chunks.filter_map(move |c| {
        let c = match c {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let n = c.num_rows() as u64;
        if skip >= n {
            skip -= n;
            return None;
        }
        let start = skip;
        skip = 0;
        let len = (n - start).min(take);
        take -= len;
        (len > 0).then(|| Ok(c.slice(start as usize, len as usize)))
    })))
}

/// Where a batch comes from.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// Sequence number within the run, from 1.
    pub seq: u64,
    /// The file.
    pub input: InputFile,
    /// First row within the file.
    pub first_row: u64,
    /// What the file's statistics prove about its rows (Parquet inputs with statistics).
    pub facts: Option<Arc<FileFacts>>,
    /// How its Parquet string columns are read (again by [`reread`]).
    pub strings: Strings,
    /// Columns its chunks hold as stand-ins, not decoded or decoded for their nulls alone (see
    /// [`Batches::with_plan`]).
    pub columns: ColumnPlan,
}

/// The columns of a Parquet file that a pass over the whole file decodes in part or not at all;
/// every other column is decoded in full.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnPlan {
    /// Not decoded: chunks hold an all-null stand-in of the column's type, its field nullable.
    pub unread: Vec<String>,
    /// Only the nulls decoded, from the definition levels: chunks hold zero values (zeros,
    /// empty strings) of the column's type under its real nulls.
    pub nulls_only: Vec<String>,
}

/// Picks the columns of a file (read as the schema given, with the file's statistics) that a
/// pass over the whole file decodes in part or not at all.
pub type PlanColumns<'a> = Box<dyn Fn(&SchemaRef, Option<&FileFacts>) -> ColumnPlan + Sync + 'a>;

/// The batches of a list of files: one per file, or every `batch_rows` rows (a batch never
/// spans two files). Files are opened one at a time and read in chunks.
pub struct Batches<'a> {
    files: &'a [InputFile],
    contract: Option<&'a Contract>,
    batch_rows: Option<usize>,
    chunk_rows: usize,
    next_file: usize,
    current: Option<(InputFile, std::iter::Peekable<Chunks>, u64)>,
    facts: Option<Arc<FileFacts>>,
    carry: Option<RecordBatch>,
    seq: u64,
    parallel_limit: usize,
    strings: Strings,
    plan: Option<PlanColumns<'a>>,
    read: Option<Arc<BytesRead>>,
}

impl<'a> Batches<'a> {
    /// Batches of `files`; `None` for `batch_rows` makes each file one batch.
    pub fn new(
        files: &'a [InputFile],
        contract: Option<&'a Contract>,
        batch_rows: Option<usize>,
    ) -> Self {
        Batches {
            files,
            contract,
            batch_rows,
            chunk_rows: batch_rows.map_or(DEFAULT_CHUNK_ROWS, |n| n.min(DEFAULT_CHUNK_ROWS)),
            next_file: 0,
            current: None,
            facts: None,
            carry: None,
            seq: 0,
            parallel_limit: 1 << 30,
            strings: Strings::AsWritten,
            plan: None,
            read: None,
        }
    }

    /// Counts the bytes read from text and IPC inputs into `read` (for progress; Parquet
    /// inputs report rows instead, which their metadata states up front).
    pub fn with_bytes_read(mut self, read: Arc<BytesRead>) -> Self {
        self.read = Some(read);
        self
    }

    /// For a Parquet file read whole as one batch (decoded in parallel): the columns `plan`
    /// names are not decoded, or decoded for their nulls alone, and their chunks hold stand-ins
    /// (see [`ColumnPlan`]); [`BatchSpec::columns`] names the columns that were. For passes
    /// that check no more of those columns (`validate`, with
    /// [`crate::CompiledSuite::column_plan`]).
    pub fn with_plan(mut self, plan: PlanColumns<'a>) -> Self {
        self.plan = Some(plan);
        self
    }

    /// How Parquet string columns are read. Default: [`Strings::AsWritten`].
    pub fn with_strings(mut self, strings: Strings) -> Self {
        self.strings = strings;
        self
    }

    /// Parquet files whose decoded size is at most this many bytes (made one batch, which the
    /// gate holds) are decoded a row group at a time with its columns in parallel; larger ones
    /// are streamed by one reader. Default: 1 GiB.
    pub fn with_parallel_read_limit(mut self, bytes: usize) -> Self {
        self.parallel_limit = bytes;
        self
    }

    /// The next batch and its chunks, or `None` at the end. A whole-file batch streams its
    /// chunks (decoded in parallel, a row group at a time, when the file is small); a `batch_rows` batch
    /// holds its rows.
    pub fn next_batch(&mut self) -> Result<Option<(BatchSpec, Chunks)>> {
        loop {
            if self.current.is_none() {
                let Some(file) = self.files.get(self.next_file) else {
                    return Ok(None);
                };
                self.next_file += 1;
                let meta = match file.format {
                    Format::Parquet => Some(parquet_file_metadata(file, self.strings)?),
                    _ => None,
                };
                self.facts = meta
                    .as_ref()
                    .and_then(|m| FileFacts::from_metadata(m.metadata(), m.schema()));
                if let Some(meta) = meta
                    && self.batch_rows.is_none()
                    && decoded_size(&meta) <= self.parallel_limit
                {
                    // The whole file is one batch: decode its columns on every core.
                    let plan = self
                        .plan
                        .as_ref()
                        .map(|plan| plan(meta.schema(), self.facts.as_deref()))
                        .unwrap_or_default();
                    let (chunks, plan) =
                        read_parquet_whole(&file.path, meta, self.chunk_rows, plan);
                    return Ok(Some((self.spec(file.clone(), 0, plan), chunks)));
                }
                let chunks = open_counted(
                    file,
                    self.contract,
                    self.chunk_rows,
                    self.strings,
                    self.read.clone(),
                )?
                .peekable();
                self.current = Some((file.clone(), chunks, 0));
                if self.batch_rows.is_none() {
                    // The whole file is one batch, even when it is empty.
                    let (file, chunks, _) = self.current.take().expect("just set");
                    return Ok(Some((
                        self.spec(file, 0, ColumnPlan::default()),
                        Box::new(chunks),
                    )));
                }
            }
            let n = self.batch_rows.expect("per-file batches returned above");
            let (file, chunks, first_row) = self.current.as_mut().expect("set above");
            let mut out: Vec<RecordBatch> = Vec::new();
            let mut taken = 0usize;
            while taken < n {
                let next = match self.carry.take() {
                    Some(b) => b,
                    None => match chunks.next() {
                        Some(b) => b?,
                        None => break,
                    },
                };
                let want = n - taken;
                if next.num_rows() > want {
                    self.carry = Some(next.slice(want, next.num_rows() - want));
                    out.push(next.slice(0, want));
                    taken = n;
                } else {
                    taken += next.num_rows();
                    out.push(next);
                }
            }
            // A file without rows is still one (empty) batch; a file's last rows end its
            // batches.
            if taken == 0 && (*first_row > 0 || out.is_empty()) {
                self.current = None;
                continue;
            }
            let (input, first) = (file.clone(), *first_row);
            *first_row += taken as u64;
            if self.carry.is_none() && chunks.peek().is_none() {
                self.current = None;
            }
            let spec = self.spec(input, first, ColumnPlan::default());
            return Ok(Some((spec, Box::new(out.into_iter().map(Ok)))));
        }
    }

    /// The next batch's spec: rows of `input` from `first_row`.
    fn spec(&mut self, input: InputFile, first_row: u64, columns: ColumnPlan) -> BatchSpec {
        self.seq += 1;
        BatchSpec {
            seq: self.seq,
            input,
            first_row,
            facts: self.facts.clone(),
            strings: self.strings,
            columns,
        }
    }
}
