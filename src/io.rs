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
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};

use crate::error::{Error, Result};
use crate::facts::FileFacts;
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

/// How a Parquet file's string columns are read. A column whose every data page is
/// dictionary-encoded is read as an Arrow dictionary either way (the kernels then evaluate each
/// distinct value once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strings {
    /// The other string columns as written (`Utf8`, `LargeUtf8`): what the gate writes on.
    #[default]
    AsWritten,
    /// The other string columns as string views, which point into the decoded pages instead of
    /// copying each value: a cheaper read for a pass that only evaluates (`validate`).
    Views,
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
                arrow::json::reader::infer_json_schema(buf.by_ref(), Some(INFER_RECORDS))
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

/// Reads a Parquet file's metadata and picks the Arrow types to read it as: string columns whose
/// every data page is dictionary-encoded are read as dictionaries (the kernels then evaluate each
/// distinct value once), the other string columns as `strings` says, the rest as written.
fn parquet_metadata(f: &File, path: &Path, strings: Strings) -> Result<ArrowReaderMetadata> {
    use parquet::basic::Encoding;
    let bad = |e: parquet::errors::ParquetError| Error::InputFormat {
        path: path.to_path_buf(),
        detail: format!("not a readable Parquet file: {e}"),
    };
    let meta = ArrowReaderMetadata::load(f, ArrowReaderOptions::new()).map_err(bad)?;
    let schema = meta.schema().clone();
    let pq = meta.metadata();
    let leaves = pq.file_metadata().schema_descr();
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let f = field.as_ref().clone();
            if !matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return f;
            }
            let all_dictionary = top_level_leaf(leaves, f.name()).is_some_and(|leaf| {
                pq.num_row_groups() > 0
                    && pq.row_groups().iter().all(|rg| {
                        let c = rg.column(leaf);
                        c.dictionary_page_offset().is_some()
                            && c.page_encoding_stats_mask().is_some_and(|m| {
                                m.is_only(Encoding::RLE_DICTIONARY)
                                    || m.is_only(Encoding::PLAIN_DICTIONARY)
                            })
                    })
            });
            let ty = if all_dictionary {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            } else if strings == Strings::Views {
                DataType::Utf8View
            } else {
                return f;
            };
            changed |= f.data_type() != &ty;
            f.with_data_type(ty)
        })
        .collect();
    if !changed {
        return Ok(meta);
    }
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(pq.clone(), ArrowReaderOptions::new().with_schema(hinted))
        .map_err(bad)
}

/// A Parquet file's metadata as it is read (see [`parquet_metadata`]).
fn parquet_file_metadata(file: &InputFile, strings: Strings) -> Result<ArrowReaderMetadata> {
    let f = File::open(&file.path).map_err(|e| Error::input(&file.path, e))?;
    parquet_metadata(&f, &file.path, strings)
}

/// The Parquet leaf column of a top-level, non-nested field.
pub(crate) fn top_level_leaf(
    leaves: &parquet::schema::types::SchemaDescriptor,
    name: &str,
) -> Option<usize> {
    (0..leaves.num_columns()).find(|i| leaves.column(*i).path().string() == name)
}

/// The decoded size of a Parquet file's data, from its metadata.
fn decoded_size(meta: &ArrowReaderMetadata) -> usize {
    meta.metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.total_byte_size().max(0) as usize)
        .sum()
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

/// Reads a whole Parquet file in rounds of chunks, with a reader per column of the current row
/// group: each round decodes [`CHUNKS_PER_ROUND`] chunks of every column, each column its own
/// task on every core, the costliest first. A reader that does not keep chunks thus reuses the
/// memory of one round instead of touching a row group's worth of fresh pages.
///
/// Columns in `unread` (schema indices; at least one column is left) are not decoded: each chunk
/// holds an all-null stand-in of the column's type instead, its field made nullable (see
/// [`Batches::with_unread`]).
fn read_parquet_whole(
    path: &Path,
    meta: ArrowReaderMetadata,
    chunk_rows: usize,
    unread: Vec<usize>,
) -> Chunks {
    let stand_ins = unread
        .iter()
        .map(|c| {
            let dt = meta.schema().field(*c).data_type();
            (*c, arrow::array::new_null_array(dt, chunk_rows))
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(
        meta.schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = f.as_ref().clone();
                if unread.contains(&i) {
                    f.with_nullable(true)
                } else {
                    f
                }
            })
            .collect::<Vec<_>>(),
        meta.schema().metadata().clone(),
    ));
    Box::new(ParallelChunks {
        path: path.to_path_buf(),
        meta,
        schema,
        chunk_rows,
        stand_ins,
        next_group: 0,
        readers: Vec::new(),
        ready: std::collections::VecDeque::new(),
        failed: false,
    })
}

/// See [`read_parquet_whole`].
struct ParallelChunks {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    /// The chunks' schema.
    schema: SchemaRef,
    chunk_rows: usize,
    /// Per column not decoded, its index and an all-null array of `chunk_rows` rows.
    stand_ins: Vec<(usize, ArrayRef)>,
    next_group: usize,
    /// The current row group's column readers, costliest first, with their column index.
    readers: Vec<(usize, Mutex<ParquetRecordBatchReader>)>,
    /// Chunks decoded and not yet taken.
    ready: std::collections::VecDeque<RecordBatch>,
    failed: bool,
}

/// Chunks decoded per round: each column task decodes this many chunks' worth of rows, which
/// keeps the tasks large next to the cost of starting them.
const CHUNKS_PER_ROUND: usize = 4;

impl ParallelChunks {
    /// One reader per column of row group `g`, ordered by compressed size, largest first.
    fn open_group(&self, g: usize) -> Result<Vec<(usize, Mutex<ParquetRecordBatchReader>)>> {
        let path = &self.path;
        let descr = self.meta.metadata().file_metadata().schema_descr_ptr();
        let group = self.meta.metadata().row_group(g);
        let mut columns: Vec<(usize, i64)> = (0..self.meta.schema().fields().len())
            .filter(|c| !self.stand_ins.iter().any(|(u, _)| u == c))
            .map(|c| {
                let size = top_level_leaf(&descr, self.meta.schema().field(c).name())
                    .map_or(0, |leaf| group.column(leaf).compressed_size());
                (c, size)
            })
            .collect();
        columns.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        columns
            .into_iter()
            .map(|(c, _)| {
                // Its own handle: clones of one share the file position, which threads would
                // race on.
                let f = File::open(path).map_err(|e| Error::input(path, e))?;
                let reader =
                    ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.meta.clone())
                        .with_row_groups(vec![g])
                        .with_projection(ProjectionMask::roots(&descr, [c]))
                        .with_batch_size(self.chunk_rows)
                        .build()
                        .map_err(|e| format_error(path, e.into()))?;
                Ok((c, Mutex::new(reader)))
            })
            .collect()
    }

    /// Decodes the next round of chunks of the current row group into `ready`; `false` when the
    /// row group is done.
    fn decode_round(&mut self) -> Result<bool> {
        let path = &self.path;
        let parts = crate::eval::par_map(&self.readers, |(_, r)| {
            let mut r = r.lock().expect("not poisoned");
            r.by_ref()
                .take(CHUNKS_PER_ROUND)
                .map(|b| b.map(|b| b.column(0).clone()))
                .collect::<std::result::Result<Vec<ArrayRef>, ArrowError>>()
        });
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); self.meta.schema().fields().len()];
        for ((c, _), part) in self.readers.iter().zip(parts) {
            columns[*c] = part.map_err(|e| format_error(path, e))?;
        }
        let lengths: Vec<usize> = columns[self.readers[0].0].iter().map(|a| a.len()).collect();
        for (c, stand_in) in &self.stand_ins {
            columns[*c] = lengths.iter().map(|n| stand_in.slice(0, *n)).collect();
        }
        let chunks = lengths.len();
        if columns.iter().any(|c| c.len() != chunks) {
            return Err(Error::InputFormat {
                path: path.clone(),
                detail: "the columns of a row group hold different row counts".into(),
            });
        }
        for i in 0..chunks {
            let arrays = columns.iter().map(|c| c[i].clone()).collect();
            self.ready.push_back(
                RecordBatch::try_new(self.schema.clone(), arrays)
                    .map_err(|e| format_error(path, e))?,
            );
        }
        Ok(chunks > 0)
    }
}

impl Iterator for ParallelChunks {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        while !self.failed {
            if let Some(chunk) = self.ready.pop_front() {
                return Some(Ok(chunk));
            }
            if self.readers.is_empty() {
                if self.next_group >= self.meta.metadata().num_row_groups() {
                    return None;
                }
                self.next_group += 1;
                match self.open_group(self.next_group - 1) {
                    Ok(readers) if readers.is_empty() => return None,
                    Ok(readers) => self.readers = readers,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            match self.decode_round() {
                Ok(true) => {}
                Ok(false) => self.readers.clear(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
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
    /// Columns its chunks hold as all-null stand-ins, not decoded (see
    /// [`Batches::with_unread`]).
    pub unread: Vec<String>,
}

/// Picks the columns of a file (read as the schema given, with the file's statistics) that a
/// pass over the whole file need not decode.
pub type UnreadPlan<'a> = &'a (dyn Fn(&SchemaRef, Option<&FileFacts>) -> Vec<String> + Sync);

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
    unread: Option<UnreadPlan<'a>>,
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
            unread: None,
        }
    }

    /// For a Parquet file read whole as one batch (decoded in parallel): the columns `plan`
    /// names are not decoded; its chunks hold all-null stand-ins of their types instead, and
    /// [`BatchSpec::unread`] names them. For passes whose checks of those columns the file's
    /// statistics settle (`validate`, with [`crate::CompiledSuite::unread_columns`]).
    pub fn with_unread(mut self, plan: UnreadPlan<'a>) -> Self {
        self.unread = Some(plan);
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
                    self.seq += 1;
                    let mut unread: Vec<String> = self
                        .unread
                        .map(|plan| plan(meta.schema(), self.facts.as_deref()))
                        .unwrap_or_default();
                    if let Some(first) = meta.schema().fields().first()
                        && unread.len() >= meta.schema().fields().len()
                    {
                        // Chunks take their length from a decoded column.
                        unread.retain(|n| n != first.name());
                    }
                    let indices: Vec<usize> = unread
                        .iter()
                        .filter_map(|n| meta.schema().index_of(n).ok())
                        .collect();
                    let chunks = read_parquet_whole(&file.path, meta, self.chunk_rows, indices);
                    let spec = BatchSpec {
                        seq: self.seq,
                        input: file.clone(),
                        first_row: 0,
                        facts: self.facts.clone(),
                        strings: self.strings,
                        unread,
                    };
                    return Ok(Some((spec, chunks)));
                }
                let chunks = open(file, self.contract, self.chunk_rows, self.strings)?.peekable();
                self.current = Some((file.clone(), chunks, 0));
                if self.batch_rows.is_none() {
                    // The whole file is one batch, even when it is empty.
                    let (file, chunks, _) = self.current.take().expect("just set");
                    self.seq += 1;
                    let spec = BatchSpec {
                        seq: self.seq,
                        input: file,
                        first_row: 0,
                        facts: self.facts.clone(),
                        strings: self.strings,
                        unread: Vec::new(),
                    };
                    return Ok(Some((spec, Box::new(chunks))));
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
            if taken == 0 {
                self.current = None;
                continue;
            }
            self.seq += 1;
            let spec = BatchSpec {
                seq: self.seq,
                input: file.clone(),
                first_row: *first_row,
                facts: self.facts.clone(),
                strings: self.strings,
                unread: Vec::new(),
            };
            *first_row += taken as u64;
            if self.carry.is_none() && chunks.peek().is_none() {
                self.current = None;
            }
            return Ok(Some((spec, Box::new(out.into_iter().map(Ok)))));
        }
    }
}

/// Path of a file as shown in reports.
pub(crate) fn display_path(p: &Path) -> String {
    p.display().to_string()
}
