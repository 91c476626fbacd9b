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

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use crate::error::{Error, Result};
use crate::suite::Contract;

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

/// A stream of chunks from one file.
pub type Chunks = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// Opens a file for reading in chunks of at most `chunk_rows` rows.
pub fn open(file: &InputFile, contract: Option<&Contract>, chunk_rows: usize) -> Result<Chunks> {
    let path = file.path.clone();
    let f = File::open(&path).map_err(|e| Error::input(&path, e))?;
    let wrap = {
        let path = path.clone();
        move |e: ArrowError| format_error(&path, e)
    };
    Ok(match file.format {
        Format::Parquet => {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .map_err(|e| Error::InputFormat {
                    path: path.clone(),
                    detail: format!("not a readable Parquet file: {e}"),
                })?
                .with_batch_size(chunk_rows)
                .build()
                .map_err(|e| Error::InputFormat {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            Box::new(reader.map(move |r| r.map_err(&wrap)))
        }
        Format::Csv => {
            let mut f = f;
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
            let reader = arrow::csv::ReaderBuilder::new(schema)
                .with_header(true)
                .with_null_regex(regex::Regex::new("^$").expect("valid"))
                .with_batch_size(chunk_rows)
                .build(BufReader::with_capacity(1 << 20, f))
                .map_err(&wrap)?;
            Box::new(reader.map(move |r| r.map_err(&wrap)))
        }
        Format::Ndjson => {
            let mut buf = BufReader::with_capacity(1 << 20, f);
            let (inferred, _) =
                arrow::json::reader::infer_json_schema(&mut buf.by_ref(), Some(INFER_RECORDS))
                    .map_err(|e| format_error(&path, e))?;
            let mut f = buf.into_inner();
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
            let reader = arrow::json::ReaderBuilder::new(schema)
                .with_batch_size(chunk_rows)
                .with_coerce_primitive(contract.is_some())
                .build(BufReader::with_capacity(1 << 20, f))
                .map_err(&wrap)?;
            // A contract column absent from every line reads as all-null: it is missing.
            let missing: Vec<String> = contract
                .map(|c| {
                    c.columns
                        .iter()
                        .filter(|col| inferred.field_with_name(&col.name).is_err())
                        .map(|col| col.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            Box::new(reader.map(move |r| {
                let b = r.map_err(&wrap)?;
                if missing.is_empty() {
                    return Ok(b);
                }
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|i| !missing.contains(b.schema().field(*i).name()))
                    .collect();
                Ok(b.project(&keep)?)
            }))
        }
        Format::Ipc => {
            let mut f = f;
            let mut magic = [0u8; 6];
            let is_file = f.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
            f.seek(SeekFrom::Start(0))
                .map_err(|e| Error::input(&path, e))?;
            let reader: Box<
                dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send,
            > = if is_file {
                Box::new(arrow::ipc::reader::FileReader::try_new(f, None).map_err(&wrap)?)
            } else {
                Box::new(
                    arrow::ipc::reader::StreamReader::try_new(BufReader::new(f), None)
                        .map_err(&wrap)?,
                )
            };
            Box::new(rechunk(reader.map(move |r| r.map_err(&wrap)), chunk_rows))
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

fn format_error(path: &Path, e: ArrowError) -> Error {
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

/// One batch's worth of chunks: a whole file, or `batch_rows` rows of it.
pub struct BatchSpec {
    /// Sequence number within the run, from 1.
    pub seq: u64,
    /// The file.
    pub input: InputFile,
    /// First row within the file.
    pub first_row: u64,
}

/// Groups the chunks of every file into batches: one per file, or every `batch_rows` rows
/// (a batch never spans two files). Calls `f` with each batch's chunks; `f` returns `false` to
/// stop.
pub fn for_each_batch(
    files: &[InputFile],
    contract: Option<&Contract>,
    batch_rows: Option<usize>,
    mut f: impl FnMut(BatchSpec, &mut dyn Iterator<Item = Result<RecordBatch>>) -> Result<bool>,
) -> Result<()> {
    let chunk_rows = batch_rows.map_or(DEFAULT_CHUNK_ROWS, |n| n.min(DEFAULT_CHUNK_ROWS));
    let mut seq = 0;
    for file in files {
        let mut chunks = open(file, contract, chunk_rows)?.peekable();
        let mut first_row = 0u64;
        match batch_rows {
            None => {
                seq += 1;
                let spec = BatchSpec {
                    seq,
                    input: file.clone(),
                    first_row,
                };
                if !f(spec, &mut chunks)? {
                    return Ok(());
                }
            }
            Some(n) => {
                // Cut the stream into batches of exactly n rows, slicing chunks at the edges.
                let mut pending: Option<RecordBatch> = None;
                loop {
                    let head = match pending.take() {
                        Some(b) => Some(Ok(b)),
                        None => chunks.next(),
                    };
                    let Some(head) = head else { break };
                    let head = head?;
                    seq += 1;
                    let spec = BatchSpec {
                        seq,
                        input: file.clone(),
                        first_row,
                    };
                    let mut taken = 0usize;
                    let mut carry: Option<RecordBatch> = None;
                    let mut first = Some(head);
                    let mut iter = std::iter::from_fn(|| {
                        if taken >= n {
                            return None;
                        }
                        let next: Result<RecordBatch> = match first.take() {
                            Some(b) => Ok(b),
                            None => match chunks.next()? {
                                Ok(b) => Ok(b),
                                Err(e) => return Some(Err(e)),
                            },
                        };
                        let b = next.ok()?;
                        let want = n - taken;
                        if b.num_rows() > want {
                            carry = Some(b.slice(want, b.num_rows() - want));
                            taken = n;
                            Some(Ok(b.slice(0, want)))
                        } else {
                            taken += b.num_rows();
                            Some(Ok(b))
                        }
                    });
                    let go_on = f(spec, &mut iter)?;
                    // Drain what the callback did not read so batch boundaries stay exact.
                    for r in iter.by_ref() {
                        r?;
                    }
                    drop(iter);
                    first_row += taken as u64;
                    if !go_on {
                        return Ok(());
                    }
                    pending = carry;
                    if pending.is_none() && chunks.peek().is_none() {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Path of a file as shown in reports.
pub(crate) fn display_path(p: &Path) -> String {
    p.display().to_string()
}
