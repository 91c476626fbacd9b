//! Parquet inputs: the Arrow types a file is read as (dictionary pages kept as dictionaries,
//! plain strings as written or as views), and the whole-file reader that decodes the columns of
//! a row group in parallel, a round of chunks at a time (plain strings wanted as written are
//! decoded as views and cast back, see [`as_views`]).

use std::fs::File;
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
use parquet::basic::Type as PhysicalType;

use super::{Chunks, ColumnPlan, InputFile, format_error, levels};
use crate::error::{Error, Result};

/// How a Parquet file's string columns are read. A column whose every data page is
/// dictionary-encoded is read as an Arrow dictionary either way (the kernels then evaluate each
/// distinct value once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strings {
    /// The other string columns as written (`Utf8`, `LargeUtf8`): what the gate writes on.
    #[default]
    AsWritten,
    /// The other string columns as string views, which point into the decoded pages instead of
    /// copying each value, and decimals stored as 32- or 64-bit integers in the Arrow decimal
    /// of that width (`Decimal32`, `Decimal64`), whose values are the decoded integers as they
    /// lie instead of a copy widened to 128 bits: a cheaper read for a pass that only evaluates
    /// (`validate`).
    Views,
}

/// Reads a Parquet file's metadata and picks the Arrow types to read it as: string columns whose
/// every data page is dictionary-encoded are read as dictionaries (the kernels then evaluate each
/// distinct value once), the other string columns as `strings` says, the rest as written.
pub(super) fn parquet_metadata(
    f: &File,
    path: &Path,
    strings: Strings,
) -> Result<ArrowReaderMetadata> {
    let bad = |e: parquet::errors::ParquetError| Error::InputFormat {
        path: path.to_path_buf(),
        detail: format!("not a readable Parquet file: {e}"),
    };
    let meta = ArrowReaderMetadata::load(f, ArrowReaderOptions::new()).map_err(bad)?;
    with_strings(meta, strings).map_err(bad)
}

/// `meta` with its string columns read as [`parquet_metadata`] says: dictionary-only ones as
/// dictionaries, the other plain ones (`Utf8`, `LargeUtf8`, `Utf8View`) as `strings` says; with
/// [`Strings::Views`], decimals stored as `INT32` or `INT64` in their narrow Arrow types.
fn with_strings(
    meta: ArrowReaderMetadata,
    strings: Strings,
) -> std::result::Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let schema = meta.schema().clone();
    let pq = meta.metadata();
    let leaves = pq.file_metadata().schema_descr();
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let f = field.as_ref().clone();
            if let DataType::Decimal128(p, s) = *f.data_type() {
                if strings != Strings::Views {
                    return f;
                }
                let stored = top_level_leaf(leaves, f.name())
                    .map(|leaf| leaves.column(leaf).physical_type());
                let narrow = match stored {
                    Some(PhysicalType::INT32) => DataType::Decimal32(p, s),
                    Some(PhysicalType::INT64) => DataType::Decimal64(p, s),
                    _ => return f,
                };
                changed = true;
                return f.with_data_type(narrow);
            }
            if !matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return f;
            }
            let all_dictionary = top_level_leaf(leaves, f.name()).is_some_and(|leaf| {
                pq.num_row_groups() > 0
                    && pq
                        .row_groups()
                        .iter()
                        .all(|rg| dictionary_only(rg.column(leaf)))
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
}

/// Largest dictionary page (compressed bytes) taken to mean that a column chunk written
/// without page encoding statistics never fell back to plain pages: writers fall back when the
/// dictionary outgrows about 1 MiB.
const SMALL_DICTIONARY_PAGE: i64 = 64 * 1024;

/// Whether every data page of a column chunk is dictionary-encoded: as its page encoding
/// statistics say, or, for writers that leave them out (polars), when it has a dictionary page
/// small enough that no writer would have fallen back to plain pages. (Reading a chunk that did
/// fall back as a dictionary is still correct, only slower.)
fn dictionary_only(c: &parquet::file::metadata::ColumnChunkMetaData) -> bool {
    use parquet::basic::Encoding;
    let Some(dictionary) = c.dictionary_page_offset() else {
        return false;
    };
    match c.page_encoding_stats_mask() {
        Some(m) => m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY),
        None => {
            c.encodings()
                .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY))
                && (0..=SMALL_DICTIONARY_PAGE).contains(&(c.data_page_offset() - dictionary))
        }
    }
}

/// A Parquet file's metadata as it is read (see [`parquet_metadata`]).
pub(super) fn parquet_file_metadata(
    file: &InputFile,
    strings: Strings,
) -> Result<ArrowReaderMetadata> {
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
pub(super) fn decoded_size(meta: &ArrowReaderMetadata) -> usize {
    meta.metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.total_byte_size().max(0) as usize)
        .sum()
}

/// Reads a whole Parquet file in rounds of chunks, with a reader per column of the current row
/// group: each round decodes [`CHUNKS_PER_ROUND`] chunks of every column, each column its own
/// task on every core, the costliest first. A reader that does not keep chunks thus reuses the
/// memory of one round instead of touching a row group's worth of fresh pages.
///
/// Columns `plan` names as unread are not decoded, except that one column always is (chunks take
/// their length from it): each chunk holds an all-null stand-in of the column's type instead,
/// its field made nullable. Columns it names as nulls only are read from their definition levels
/// where the file allows it (see [`levels`]), as zero values under their nulls, and decoded in
/// full elsewhere. Returns the chunks and the plan as carried out (see
/// [`super::Batches::with_plan`]).
pub(super) fn read_parquet_whole(
    path: &Path,
    meta: ArrowReaderMetadata,
    chunk_rows: usize,
    plan: ColumnPlan,
) -> (Chunks, ColumnPlan) {
    let ColumnPlan {
        unread: mut unread_names,
        nulls_only,
    } = plan;
    if let Some(first) = meta.schema().fields().first()
        && unread_names.len() >= meta.schema().fields().len()
    {
        unread_names.retain(|n| n != first.name());
    }
    let unread: Vec<usize> = unread_names
        .iter()
        .filter_map(|n| meta.schema().index_of(n).ok())
        .collect();
    let descr = meta.metadata().file_metadata().schema_descr_ptr();
    let masked: Vec<Masked> = nulls_only
        .iter()
        .filter_map(|n| {
            let column = meta.schema().index_of(n).ok()?;
            let leaf = top_level_leaf(&descr, n)?;
            if unread.contains(&column) || !levels::supported(meta.metadata(), leaf) {
                return None;
            }
            let zeros = levels::zero_values(meta.schema().field(column).data_type(), chunk_rows)?;
            Some(Masked {
                column,
                leaf,
                zeros,
            })
        })
        .collect();
    let carried_out = ColumnPlan {
        nulls_only: masked
            .iter()
            .map(|m| meta.schema().field(m.column).name().clone())
            .collect(),
        unread: unread_names,
    };
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
    let chunks: Chunks = Box::new(ParallelChunks {
        path: path.to_path_buf(),
        views: as_views(&meta),
        meta,
        schema: schema.clone(),
        chunk_rows,
        stand_ins,
        masked,
        next_group: 0,
        readers: Vec::new(),
        ready: std::collections::VecDeque::new(),
        failed: false,
    });
    (super::at_least_one(chunks, schema), carried_out)
}

/// The file's metadata with its plain string columns (`Utf8`, `LargeUtf8`) read as views, when
/// it has any. The whole-file reader decodes them as views and casts each chunk back: the cast
/// sizes the values buffer once, where decoding into the plain layout grows it page by page, and
/// every reallocation copies the whole old buffer, the capacity reserved and never written
/// included (a first read of fresh pages, which costs a zero page and then a copy-on-write
/// fault with a TLB flush when they are written).
fn as_views(meta: &ArrowReaderMetadata) -> Option<ArrowReaderMetadata> {
    if !meta
        .schema()
        .fields()
        .iter()
        .any(|f| plain_string(f.data_type()))
    {
        return None;
    }
    with_strings(meta.clone(), Strings::Views).ok()
}

/// A string type in the plain layout, which [`as_views`] reads as views.
fn plain_string(ty: &DataType) -> bool {
    matches!(ty, DataType::Utf8 | DataType::LargeUtf8)
}

/// A column read for its nulls alone.
struct Masked {
    column: usize,
    leaf: usize,
    /// Valid zero values of `chunk_rows` rows.
    zeros: ArrayRef,
}

/// The reader of one column of a row group.
enum ColumnReader {
    /// A column's values, cast to the type given when they are read as another (see
    /// [`as_views`]).
    Values(ParquetRecordBatchReader, Option<DataType>),
    Nulls(Box<levels::NullsReader>),
}

impl ColumnReader {
    /// Up to `n` more chunks of the column.
    fn chunks(&mut self, n: usize) -> std::result::Result<Vec<ArrayRef>, ArrowError> {
        match self {
            ColumnReader::Values(r, cast) => r
                .by_ref()
                .take(n)
                .map(|b| {
                    let a = b?.column(0).clone();
                    match cast {
                        Some(ty) => arrow::compute::cast(&a, ty),
                        None => Ok(a),
                    }
                })
                .collect(),
            ColumnReader::Nulls(r) => std::iter::from_fn(|| r.next_chunk())
                .take(n)
                .map(|a| a.map_err(ArrowError::ParquetError))
                .collect(),
        }
    }
}

/// See [`read_parquet_whole`].
struct ParallelChunks {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    /// The file read with its plain string columns as views (see [`as_views`]).
    views: Option<ArrowReaderMetadata>,
    /// The chunks' schema.
    schema: SchemaRef,
    chunk_rows: usize,
    /// Per column not decoded, its index and an all-null array of `chunk_rows` rows.
    stand_ins: Vec<(usize, ArrayRef)>,
    /// Columns read for their nulls alone.
    masked: Vec<Masked>,
    next_group: usize,
    /// The current row group's column readers, costliest first, with their column index.
    readers: Vec<(usize, Mutex<ColumnReader>)>,
    /// Chunks decoded and not yet taken.
    ready: std::collections::VecDeque<RecordBatch>,
    failed: bool,
}

/// Chunks decoded per round: each column task decodes this many chunks' worth of rows, which
/// keeps the tasks large next to the cost of starting them.
const CHUNKS_PER_ROUND: usize = 4;

impl ParallelChunks {
    /// One reader per column of row group `g`, ordered by the compressed size they decode,
    /// largest first (a column read for its nulls alone last).
    fn open_group(&self, g: usize) -> Result<Vec<(usize, Mutex<ColumnReader>)>> {
        let path = &self.path;
        let descr = self.meta.metadata().file_metadata().schema_descr_ptr();
        let group = self.meta.metadata().row_group(g);
        let mut columns: Vec<(usize, i64)> = (0..self.meta.schema().fields().len())
            .filter(|c| !self.stand_ins.iter().any(|(u, _)| u == c))
            .map(|c| {
                let size = top_level_leaf(&descr, self.meta.schema().field(c).name())
                    .filter(|_| !self.masked.iter().any(|m| m.column == c))
                    .map_or(0, |leaf| group.column(leaf).compressed_size());
                (c, size)
            })
            .collect();
        columns.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        columns
            .into_iter()
            .map(|(c, _)| {
                if let Some(m) = self.masked.iter().find(|m| m.column == c) {
                    let r = levels::NullsReader::new(
                        path,
                        self.meta.metadata(),
                        g,
                        m.leaf,
                        m.zeros.clone(),
                        self.chunk_rows,
                    );
                    return Ok((c, Mutex::new(ColumnReader::Nulls(Box::new(r)))));
                }
                // Its own handle: clones of one share the file position, which threads would
                // race on.
                let f = File::open(path).map_err(|e| Error::input(path, e))?;
                let ty = self.meta.schema().field(c).data_type();
                let (meta, cast) = match &self.views {
                    Some(views) if plain_string(ty) => (views.clone(), Some(ty.clone())),
                    _ => (self.meta.clone(), None),
                };
                let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta)
                    .with_row_groups(vec![g])
                    .with_projection(ProjectionMask::roots(&descr, [c]))
                    .with_batch_size(self.chunk_rows)
                    .build()
                    .map_err(|e| format_error(path, e.into()))?;
                Ok((c, Mutex::new(ColumnReader::Values(reader, cast))))
            })
            .collect()
    }

    /// Decodes the next round of chunks of the current row group into `ready`; `false` when the
    /// row group is done.
    fn decode_round(&mut self) -> Result<bool> {
        let path = &self.path;
        let parts = crate::par::par_map(&self.readers, |(_, r)| {
            r.lock().expect("not poisoned").chunks(CHUNKS_PER_ROUND)
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
