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

mod batches;
pub mod facts;
mod levels;
mod parquet_read;

pub use batches::{Batches, ColumnPlan, reread};
pub use parquet_read::Strings;
use parquet_read::parquet_metadata;

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

/// The column names of a text input (a CSV header, the keys of the first NDJSON records), in
/// order; empty for other formats.
pub fn text_columns(file: &InputFile) -> Result<Vec<String>> {
    let path = &file.path;
    let mut f = File::open(path).map_err(|e| Error::input(path, e))?;
    let schema = match file.format {
        Format::Csv => {
            arrow::csv::reader::Format::default()
                .with_header(true)
                .infer_schema(&mut f, Some(0))
                .map_err(|e| format_error(path, e))?
                .0
        }
        Format::Ndjson => {
            arrow::json::reader::infer_json_schema(BufReader::new(f), Some(INFER_RECORDS))
                .map_err(|e| format_error(path, e))?
                .0
        }
        _ => return Ok(Vec::new()),
    };
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}

/// Expands the inputs: files as given, directories to their data files (sorted by name).
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for p in inputs {
        let meta = std::fs::metadata(p).map_err(|e| Error::input(p, e))?;
        if meta.is_dir() && p.join("_delta_log").is_dir() {
            // Its directory holds the files of every version: read it as a table instead.
            return Err(Error::InputFormat {
                path: p.clone(),
                detail: "this is a Delta table: read it as one (dq-check does; a library user \
                         resolves its files with `dq_gate::delta_input::delta_files`)"
                    .into(),
            });
        }
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
