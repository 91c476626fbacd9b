//! How the target's and the quarantine's Parquet files are encoded: the codec, and per column
//! whether a dictionary pays.
//!
//! The Parquet writer dictionary-encodes every column by default: it hashes each value into a
//! dictionary until the dictionary outgrows its page limit, then falls back to plain encoding for
//! the rest of the row group. For a column of near-unique values (ids, emails) that is all cost
//! (every value hashed, a megabyte of dictionary written, then plain anyway); for a column with
//! few values per row group (codes, dates, amounts) the dictionary is what keeps the file small.
//!
//! The choice is made once per writer from the first batch: the distinct values of the first
//! `n / 2` and the first `n` sampled rows give the growth rate `r = d(n) / d(n/2)`. For values
//! drawn from `D` equally likely ones, `d(n) = D (1 − e^(−n/D))`, so `r = 1 + e^(−n/(2D))` and
//! `D = (n/2) / −ln(r − 1)`. The dictionary of a full row group is then expected to hold
//! `D (1 − e^(−R/D))` values; when those values' bytes exceed the dictionary page limit the
//! writer would fall back anyway, and the column is written plain from the start. Skewed data
//! (a few common values, a long tail) looks bounded in a small sample, so a prediction near the
//! limit is checked on more rows (`dictionary_pays`).
//!
//! A column that arrives dictionary-encoded (the reader keeps an input file's dictionary pages as
//! Arrow dictionaries) is judged the same way: the writer interns every row's value whatever the
//! Arrow layout, so a long tail of codes costs as much as near-unique plain strings.

use std::fmt;
use std::str::FromStr;

use arrow::array::{Array, RecordBatch};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{
    DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT, DEFAULT_MAX_ROW_GROUP_ROW_COUNT, WriterProperties,
};
use parquet::schema::types::ColumnPath;

use crate::metrics::distinct::UniqueCounter;
use crate::par::par_map;
use crate::values::access::for_each_bytes;
use crate::values::domain::{Domain, domain_of};

/// The compression of the Parquet files the gate writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Snappy: fast, every Parquet reader has it.
    Snappy,
    /// Zstandard at a level from 1 (fastest) to 22 (smallest).
    Zstd(i32),
    /// No compression.
    Uncompressed,
}

/// The default codec (the measured trade in `docs/performance.md`).
pub const DEFAULT_CODEC: Codec = Codec::Zstd(1);

impl FromStr for Codec {
    type Err = String;

    /// `snappy`, `zstd` (level 1), `zstd:LEVEL` or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("compression `{s}`: expected snappy, zstd, zstd:LEVEL (1 to 22) or none");
        match s {
            "snappy" => Ok(Codec::Snappy),
            "none" | "uncompressed" => Ok(Codec::Uncompressed),
            "zstd" => Ok(Codec::Zstd(1)),
            _ => {
                let level: i32 = s
                    .strip_prefix("zstd:")
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                Codec::Zstd(level).checked().map_err(|_| bad())
            }
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Snappy => f.write_str("snappy"),
            Codec::Zstd(l) => write!(f, "zstd:{l}"),
            Codec::Uncompressed => f.write_str("none"),
        }
    }
}

impl Codec {
    /// The codec, or why it cannot be used (a zstd level outside 1 to 22).
    pub(crate) fn checked(self) -> Result<Self, String> {
        match self {
            Codec::Zstd(l) if ZstdLevel::try_new(l).is_err() => {
                Err(format!("compression zstd:{l}: the level must be 1 to 22"))
            }
            c => Ok(c),
        }
    }

    fn parquet(self) -> Compression {
        match self {
            Codec::Snappy => Compression::SNAPPY,
            // Levels are checked when a gate is built (`checked`).
            Codec::Zstd(l) => Compression::ZSTD(ZstdLevel::try_new(l).unwrap_or_default()),
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        }
    }
}

/// How a sink's files are written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileOptions {
    /// The size at which files roll, in bytes.
    pub target_size: u64,
    pub codec: Codec,
    /// Tries of a commit that conflicts with another writer's, backing off between them.
    pub commit_attempts: u32,
    /// The first wait after a conflict, in ms, halved: waits double from twice this up to 64
    /// times it, plus jitter.
    pub commit_backoff_ms: u64,
    /// Stage commits instead of making them: one committer commits many runs at once
    /// (docs/scale-out.md#staged-commits).
    pub staged: bool,
}

/// Default tries of a conflicting commit (with delta-rs's own retries inside each).
pub const DEFAULT_COMMIT_ATTEMPTS: u32 = 12;

/// Default base of the backoff between tries of a conflicting commit (waits of 40 ms doubling
/// to 1.3 s).
pub const DEFAULT_COMMIT_BACKOFF_MS: u64 = 20;

/// Rows of the first batch of a writer sampled to choose each column's encoding.
const SAMPLE_ROWS: usize = 8192;

/// Bytes of each dictionary entry beyond its value: the length prefix of a byte array.
const BYTES_ENTRY_OVERHEAD: f64 = 4.0;

/// Writer properties for one table's files, given the first batch written to them.
/// Row groups are `DEFAULT_MAX_ROW_GROUP_ROW_COUNT / lanes` rows, so that the lanes together
/// hold no more of the row groups they are encoding than one writer would.
pub(crate) fn writer_properties(
    first: &RecordBatch,
    codec: Codec,
    lanes: usize,
) -> WriterProperties {
    let row_group = DEFAULT_MAX_ROW_GROUP_ROW_COUNT / lanes.max(1);
    let mut b = WriterProperties::builder()
        .set_compression(codec.parquet())
        .set_max_row_group_row_count(Some(row_group));
    // Columns are judged on every core: one may count up to a row group's rows.
    let pays = par_map(first.columns(), |c| dictionary_pays(c.as_ref(), row_group));
    for (field, pays) in first.schema().fields().iter().zip(pays) {
        if !pays {
            b = b.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    b.build()
}

/// A first sample's prediction this far from the page limit (below or above) decides alone.
const DECISIVE: f64 = 8.0;

/// Whether the expected dictionary of a full row group of this column fits its page limit.
///
/// The first `SAMPLE_ROWS` rows predict it; a prediction within a factor `DECISIVE` of the limit
/// is checked on twice the rows, and again, up to one row group of the batch: a long tail of
/// values (most codes common, many seen once) grows like a bounded set in a small sample and
/// only shows itself in a larger one. Counting stops as soon as the values seen outgrow the
/// page, so a column costs at most a page's worth of distinct values counted.
fn dictionary_pays(column: &dyn Array, row_group: usize) -> bool {
    let Some(domain) = domain_of(column.data_type()) else {
        return true;
    };
    let rows = column.len().min(SAMPLE_ROWS);
    if rows < 2 {
        return true;
    }
    let width = entry_width(column.slice(0, rows).as_ref(), domain);
    let limit = DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT as f64;
    let available = column.len().min(row_group);
    let mut counter = UniqueCounter::default();
    let mut half = rows / 2;
    counter.count(column.slice(0, half).as_ref(), None);
    let mut d_half = counter.distinct() as f64;
    loop {
        counter.count(column.slice(half, half).as_ref(), None);
        let d_full = counter.distinct() as f64;
        if d_full == 0.0 {
            return true;
        }
        if d_full * width > limit {
            return false; // already past the page
        }
        let expected = expected_distinct(half as f64, d_half, d_full, row_group as f64) * width;
        // Only the first sample's prediction may decide alone.
        let decisive =
            half == rows / 2 && !(limit / DECISIVE..limit * DECISIVE).contains(&expected);
        if decisive || half * 4 > available {
            return expected <= limit;
        }
        half *= 2;
        d_half = d_full;
    }
}

/// Bytes a dictionary entry of this column takes, from a sample of it.
fn entry_width(sample: &dyn Array, domain: Domain) -> f64 {
    match domain {
        Domain::Bytes => {
            let (mut bytes, mut n) = (0usize, 0usize);
            for_each_bytes(sample, |_, v| {
                bytes += v.len();
                n += 1;
            });
            bytes as f64 / n.max(1) as f64 + BYTES_ENTRY_OVERHEAD
        }
        _ => sample.data_type().primitive_width().unwrap_or(8) as f64,
    }
}

/// Distinct values expected in `rows` rows, from `d_half` distinct in the first `half` rows
/// of a sample and `d_full` in all `2 · half` (the model in the module's documentation).
fn expected_distinct(half: f64, d_half: f64, d_full: f64, rows: f64) -> f64 {
    let r = if d_half > 0.0 { d_full / d_half } else { 2.0 };
    if r - 1.0 >= 1.0 - 1e-9 {
        return rows; // every sampled value new: no sign of a bound
    }
    if r - 1.0 <= 0.0 {
        return d_full; // no new value in the second half
    }
    let total = half / -(r - 1.0).ln();
    total * (1.0 - (-rows / total).exp())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn unique_ids_are_written_plain_and_codes_keep_their_dictionary() {
        let n = 20_000;
        let ids = Int64Array::from_iter_values(0..n);
        let codes =
            StringArray::from_iter_values((0..n).map(|i| ["A1", "B2", "C3"][i as usize % 3]));
        let emails =
            StringArray::from_iter_values((0..n).map(|i| format!("member{i}@example.org")));
        // Drawn at random from 40,000 amounts of 8 bytes: 320 kB of dictionary, under the limit.
        let draw = |i: i64| {
            // splitmix64
            let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % 40_000
        };
        let amounts = Float64Array::from_iter_values((0..n).map(|i| draw(i) as f64 / 100.0));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("code", DataType::Utf8, false),
            Field::new("email", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(ids),
                Arc::new(codes),
                Arc::new(emails),
                Arc::new(amounts),
            ],
        )
        .unwrap();
        let props = writer_properties(&batch, Codec::Snappy, 1);
        let enabled = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
        assert!(!enabled("id"));
        assert!(enabled("code"));
        assert!(!enabled("email"));
        assert!(enabled("amount"));
        assert_eq!(
            props.compression(&ColumnPath::from("id")),
            Compression::SNAPPY
        );
    }

    #[test]
    fn dictionary_input_is_judged_by_its_values() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int32Type;
        let n = 20_000;
        // A long tail: most rows a code of their own, as arrives from a file whose writer
        // kept its dictionary pages.
        let tail: DictionaryArray<Int32Type> = (0..n)
            .map(|i| format!("Z{:05}.{}", i * 7 % 19_997, i % 3))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect();
        let states: DictionaryArray<Int32Type> =
            (0..n).map(|i| ["CA", "NY", "TX", "WA"][i % 4]).collect();
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![
            Field::new("diagnosis", dict.clone(), false),
            Field::new("state", dict, false),
        ]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(tail), Arc::new(states)]).unwrap();
        let props = writer_properties(&batch, DEFAULT_CODEC, 2);
        let enabled = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
        assert!(!enabled("diagnosis"));
        assert!(enabled("state"));
    }

    #[test]
    fn a_long_tail_is_written_plain_though_its_first_rows_repeat() {
        // Half the rows one of 3,000 common codes, half a code seen about once: the first
        // 8,192 rows grow like about 16,000 values in all (200 kB of dictionary), yet a row
        // group holds over 100,000 (more than the 1 MiB page).
        let mut rng = crate::internal::generate::Rng(7);
        let codes = StringArray::from_iter_values((0..300_000).map(|i| {
            if i % 2 == 0 {
                format!("C{:04}", rng.next() % 3_000)
            } else {
                format!("T{:08}", rng.next() % 50_000_000)
            }
        }));
        let schema = Arc::new(Schema::new(vec![Field::new("code", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(codes)]).unwrap();
        let props = writer_properties(&batch, DEFAULT_CODEC, 2);
        assert!(!props.dictionary_enabled(&ColumnPath::from("code")));
        // The first rows alone would have kept the dictionary.
        let c = batch.column(0);
        let sample = |from: usize, len: usize| {
            let mut u = UniqueCounter::default();
            u.count(c.slice(from, len).as_ref(), None);
            u.distinct() as f64
        };
        let (d_half, d_full) = (sample(0, 4096), sample(0, 8192));
        let width = entry_width(c.slice(0, 8192).as_ref(), Domain::Bytes);
        let predicted = expected_distinct(4096.0, d_half, d_full, 524_288.0) * width;
        assert!(predicted < 1_048_576.0, "{predicted}");
    }

    #[test]
    fn codecs_parse_and_print() {
        for (text, codec) in [
            ("snappy", Codec::Snappy),
            ("zstd", Codec::Zstd(1)),
            ("zstd:9", Codec::Zstd(9)),
            ("none", Codec::Uncompressed),
        ] {
            assert_eq!(text.parse::<Codec>(), Ok(codec));
            assert_eq!(codec.to_string().parse::<Codec>(), Ok(codec));
        }
        assert!(Codec::Zstd(23).checked().is_err());
        assert_eq!(Codec::Zstd(22).checked(), Ok(Codec::Zstd(22)));
        for bad in ["zstd:0", "zstd:23", "zstd:x", "gzip", ""] {
            let e = bad.parse::<Codec>().unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn the_expected_distinct_count_follows_the_sample_growth() {
        // 3 values seen in both halves: bounded at 3.
        assert_eq!(expected_distinct(4096.0, 3.0, 3.0, 1e6), 3.0);
        // every value new: unbounded, one per row.
        assert_eq!(expected_distinct(4096.0, 4096.0, 8192.0, 1e6), 1e6);
        // growth 1.9: about 39,000 values in all.
        let e = expected_distinct(4096.0, 3456.0, 6566.0, 1e6);
        assert!((35_000.0..45_000.0).contains(&e), "{e}");
    }
}
