//! Input files as streams of record batches, in bounded memory.
//!
//! Parquet, CSV (with a header row), NDJSON and Arrow IPC (file or stream format), chosen by
//! extension; a directory means the files in it (sorted by name, hidden files skipped). Every
//! reader yields chunks of at most `chunk_rows` rows, so memory does not grow with the file.
//!
//! With a schema contract, CSV and NDJSON columns are read as text and parsed by
//! [`crate::conform`], so a cell that does not parse is a row-level violation rather than a
//! failed read. Without one, their types are inferred from the first 1,000 records and a cell
//! that contradicts the inference stops the read with an error naming the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::suite::Contract;
use facts::FileFacts;

pub mod facts;
mod levels;
mod parquet_read;

pub use parquet_read::Strings;
use parquet_read::{decoded_size, parquet_file_metadata, parquet_metadata, read_parquet_whole};

/// Rows per chunk read from a file (a batch may be many chunks).
pub const DEFAULT_CHUNK_ROWS: usize = 65_536;

/// Records read to infer CSV and NDJSON types when there is no contract.
const INFER_RECORDS: usize = 1_000;

/// An input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`, `.pq`
    Parquet,
    /// `.csv`
    Csv,
    /// `.ndjson`, `.jsonl`, `.json` (one object per line)
    Ndjson,
    /// `.arrow`, `.ipc`, `.feather`, `.arrows`
    Ipc,
}

impl Format {
    /// The format an extension names.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "parquet" | "pq" => Format::Parquet,
            "csv" => Format::Csv,
            "ndjson" | "jsonl" | "json" => Format::Ndjson,
            "arrow" | "ipc" | "feather" | "arrows" => Format::Ipc,
            _ => return None,
        })
    }

    /// Text formats are parsed into the contract's types by [`crate::conform`].
    pub fn is_text(self) -> bool {
        matches!(self, Format::Csv | Format::Ndjson)
    }
}

/// One input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The path as given (or found in a directory).
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
}

/// Expands the inputs: files as given, directories to their data files (sorted by name).
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for p in inputs {
        let meta = std::fs::metadata(p).map_err(|e| Error::input(p, e))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::input(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && !f
                            .file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
                        && Format::from_path(f).is_some()
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::InputFormat {
                    path: p.clone(),
                    detail: "the directory holds no .parquet, .csv, .ndjson/.jsonl or .arrow files"
                        .into(),
                });
            }
            out.extend(found.into_iter().map(|path| {
                let format = Format::from_path(&path).expect("filtered");
                InputFile { path, format }
            }));
        } else {
            let format = Format::from_path(p).ok_or_else(|| Error::InputFormat {
                path: p.clone(),
                detail: "unknown extension; expected .parquet, .csv, .ndjson, .jsonl, .json or \
                         .arrow"
                    .into(),
            })?;
            out.push(InputFile {
                path: p.clone(),
                format,
            });
        }
    }
    Ok(out)
}

/// Bytes read from input files so far, shared with whoever shows progress.
#[derive(Debug, Default)]
pub struct BytesRead(std::sync::atomic::AtomicU64);

impl BytesRead {
    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn add(&self, n: usize) {
        self.0
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A file that counts the bytes read from it.
struct Counted {
    file: File,
    read: Option<Arc<BytesRead>>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(r) = &self.read {
            r.add(n);
        }
        Ok(n)
    }
}

impl Seek for Counted {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A stream of chunks from one file.
pub type Chunks = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// Opens a file for reading in chunks of at most `chunk_rows` rows, Parquet string columns laid
/// out as `strings` says.
pub fn open(
    file: &InputFile,
    contract: Option<&Contract>,
    chunk_rows: usize,
    strings: Strings,
) -> Result<Chunks> {
    open_counted(file, contract, chunk_rows, strings, None)
}

/// [`open`], counting the bytes read from text and IPC files into `read`.
fn open_counted(
    file: &InputFile,
    contract: Option<&Contract>,
    chunk_rows: usize,
    strings: Strings,
    read: Option<Arc<BytesRead>>,
) -> Result<Chunks> {
    let path = file.path.clone();
    let f = File::open(&path).map_err(|e| Error::input(&path, e))?;
    let wrap = {
        let path = path.clone();
        move |e: ArrowError| format_error(&path, e)
    };
    Ok(match file.format {
        Format::Parquet => {
            let meta = parquet_metadata(&f, &path, strings)?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta)
                .with_batch_size(chunk_rows)
                .build()
                .map_err(|e| Error::InputFormat {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            let schema = reader.schema();
            at_least_one(Box::new(reader.map(move |r| r.map_err(&wrap))), schema)
        }
        Format::Csv => {
            let mut f = Counted { file: f, read };
            let format = arrow::csv::reader::Format::default().with_header(true);
            let schema = if contract.is_some() {
                let (header, _) = format
                    .infer_schema(&mut f, Some(0))
                    .map_err(|e| format_error(&path, e))?;
                text_schema(&header)
            } else {
                let (s, _) = format
                    .infer_schema(&mut f, Some(INFER_RECORDS))
                    .map_err(|e| format_error(&path, e))?;
                Arc::new(s)
            };
            f.seek(SeekFrom::Start(0))
                .map_err(|e| Error::input(&path, e))?;
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .with_null_regex(regex::Regex::new("^$").expect("valid"))
                .with_batch_size(chunk_rows)
                .build(BufReader::with_capacity(1 << 20, f))
                .map_err(&wrap)?;
            at_least_one(Box::new(reader.map(move |r| r.map_err(&wrap))), schema)
        }
        Format::Ndjson => {
            // The schema is inferred from the first records, which are then read again.
            let mut buf = BufReader::with_capacity(1 << 20, f);
            let (inferred, _) =
                arrow::json::reader::infer_json_schema(buf.by_ref(), Some(INFER_RECORDS))
                    .map_err(|e| format_error(&path, e))?;
            let mut f = Counted {
                file: buf.into_inner(),
                read,
            };
            f.seek(SeekFrom::Start(0))
                .map_err(|e| Error::input(&path, e))?;
            let schema = match contract {
                Some(c) => {
                    // Every field the contract names plus any extra one seen, all as text.
                    let mut fields: Vec<Field> = c
                        .columns
                        .iter()
                        .map(|col| Field::new(&col.name, DataType::Utf8, true))
                        .collect();
                    for f in inferred.fields() {
                        if c.column(f.name()).is_none() {
                            fields.push(Field::new(f.name(), DataType::Utf8, true));
                        }
                    }
                    Arc::new(Schema::new(fields))
                }
                None => Arc::new(inferred.clone()),
            };
            let reader = arrow::json::ReaderBuilder::new(schema.clone())
                .with_batch_size(chunk_rows)
                .with_coerce_primitive(contract.is_some())
                .build(BufReader::with_capacity(1 << 20, f))
                .map_err(&wrap)?;
            // A contract column absent from every line reads as all-null: it is missing. A file
            // without records shows no column at all, so none is missing from it.
            let records = !inferred.fields().is_empty();
            let missing: Vec<String> = contract
                .filter(|_| records)
                .map(|c| {
                    c.columns
                        .iter()
                        .filter(|col| inferred.field_with_name(&col.name).is_err())
                        .map(|col| col.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let keep: Vec<usize> = (0..schema.fields().len())
                .filter(|i| !missing.contains(schema.field(*i).name()))
                .collect();
            let projected = Arc::new(schema.project(&keep)?);
            let chunks = reader.map(move |r| {
                let b = r.map_err(&wrap)?;
                if missing.is_empty() {
                    return Ok(b);
                }
                Ok(b.project(&keep)?)
            });
            at_least_one(Box::new(chunks), projected)
        }
        Format::Ipc => {
            let mut f = Counted { file: f, read };
            let mut magic = [0u8; 6];
            let is_file = f.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
            f.seek(SeekFrom::Start(0))
                .map_err(|e| Error::input(&path, e))?;
            let (reader, schema): (
                Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>,
                SchemaRef,
            ) = if is_file {
                let r = arrow::ipc::reader::FileReader::try_new(f, None).map_err(&wrap)?;
                let schema = r.schema();
                (Box::new(r), schema)
            } else {
                let r = arrow::ipc::reader::StreamReader::try_new(BufReader::new(f), None)
                    .map_err(&wrap)?;
                let schema = r.schema();
                (Box::new(r), schema)
            };
            let chunks = rechunk(reader.map(move |r| r.map_err(&wrap)), chunk_rows);
            at_least_one(Box::new(chunks), schema)
        }
    })
}

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

fn text_schema(header: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        header
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

pub(super) fn format_error(path: &Path, e: ArrowError) -> Error {
    let detail = match e {
        ArrowError::CsvError(m) | ArrowError::JsonError(m) | ArrowError::ParseError(m) => m,
        ArrowError::IoError(m, _) => m,
        other => other.to_string(),
    };
    Error::InputFormat {
        path: path.to_path_buf(),
        detail,
    }
}

/// Gives an empty chunk of `schema` when `chunks` gives none, so that a file without rows is
/// still a batch whose columns are known: every expectation is then judged over zero rows
/// (`row_count` is 0, a metric over no values is null and fails) instead of not at all.
pub(crate) fn at_least_one(chunks: Chunks, schema: SchemaRef) -> Chunks {
    Box::new(AtLeastOne {
        inner: chunks,
        schema: Some(schema),
    })
}

struct AtLeastOne {
    inner: Chunks,
    /// Taken by the first chunk, or by the empty one.
    schema: Option<SchemaRef>,
}

impl Iterator for AtLeastOne {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        match self.inner.next() {
            Some(c) => {
                self.schema = None;
                Some(c)
            }
            None => self.schema.take().map(|s| Ok(RecordBatch::new_empty(s))),
        }
    }
}

/// Splits chunks larger than `max` rows (IPC batches come as written).
fn rechunk(
    inner: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
    max: usize,
) -> impl Iterator<Item = Result<RecordBatch>> + Send {
    inner.flat_map(move |r| -> Vec<Result<RecordBatch>> {
        match r {
            Err(e) => vec![Err(e)],
            Ok(b) if b.num_rows() <= max => vec![Ok(b)],
            Ok(b) => (0..b.num_rows())
                .step_by(max)
                .map(|o| Ok(b.slice(o, max.min(b.num_rows() - o))))
                .collect(),
        }
    })
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

/// The rows a Parquet file's footer states (`None` when it cannot be read).
pub(crate) fn parquet_rows(path: &Path) -> Option<u64> {
    let f = File::open(path).ok()?;
    let meta = ParquetRecordBatchReaderBuilder::try_new(f).ok()?;
    u64::try_from(meta.metadata().file_metadata().num_rows()).ok()
}

/// Path of a file as shown in reports.
pub(crate) fn display_path(p: &Path) -> String {
    p.display().to_string()
}
