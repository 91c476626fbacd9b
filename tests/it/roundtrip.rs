//! Every type a contract can name reaches the target and the quarantine as it came in, read back
//! by delta-rs, and every file the gate commits carries the statistics Delta readers use.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, TimestampNanosecondArray, UInt8Array, UInt16Array,
    UInt32Array, UInt64Array,
};
use arrow::datatypes::Int32Type;

use super::util::{dq, printed, read, write_parquet};

const SUITE: &str = "dq_suite: 1
name: types
version: 1
schema:
  columns:
    - {name: id, type: int64, nullable: false, tags: [key]}
    - {name: b, type: bool}
    - {name: i8, type: int8}
    - {name: i16, type: int16}
    - {name: i32, type: int32}
    - {name: u8, type: uint8}
    - {name: u16, type: uint16}
    - {name: u32, type: uint32}
    - {name: u64, type: uint64}
    - {name: f32, type: float32}
    - {name: f64, type: float64}
    - {name: dec, type: 'decimal(12,3)'}
    - {name: s, type: string}
    - {name: code, type: string}
    - {name: bin, type: binary}
    - {name: d, type: date32}
    - {name: ts, type: 'timestamp(us, UTC)'}
    - {name: tns, type: 'timestamp(ns)'}
expectations:
  - {id: id_even, expect: sql, expr: 'id % 2 = 0'}
";

fn input() -> RecordBatch {
    let n = 6usize;
    let ids: Vec<i64> = (0..n as i64).collect();
    let code: DictionaryArray<Int32Type> =
        ["AA", "BB", "AA", "CC", "BB", "AA"].into_iter().collect();
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.clone()))),
        (
            "b",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
                Some(true),
            ])),
        ),
        (
            "i8",
            Arc::new(Int8Array::from(vec![i8::MIN, -1, 0, 1, i8::MAX, 7])),
        ),
        (
            "i16",
            Arc::new(Int16Array::from(vec![i16::MIN, -1, 0, 1, i16::MAX, 7])),
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![i32::MIN, -1, 0, 1, i32::MAX, 7])),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from(vec![0, 1, 2, 3, u8::MAX, 7])),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from(vec![0, 1, 2, 3, u16::MAX, 7])),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from(vec![0, 1, 2, 3, u32::MAX, 7])),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![0, 1, 2, 3, u64::MAX, 7])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![
                Some(1.5),
                Some(-0.0),
                None,
                Some(f32::MAX),
                Some(3.25),
                Some(1e-30),
            ])),
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(-2.5),
                None,
                Some(f64::MAX),
                Some(3.25),
                Some(1e-300),
            ])),
        ),
        (
            "dec",
            Arc::new(
                Decimal128Array::from(vec![
                    Some(12_345),
                    Some(-1),
                    None,
                    Some(999_999_999_999),
                    Some(0),
                    Some(7),
                ])
                .with_precision_and_scale(12, 3)
                .unwrap(),
            ),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("é"),
                None,
                Some(""),
                Some("longer text"),
                Some("z"),
            ])),
        ),
        ("code", Arc::new(code)),
        (
            "bin",
            Arc::new(BinaryArray::from_opt_vec(vec![
                Some(b"\x00\x01"),
                None,
                Some(b""),
                Some(b"x"),
                Some(b"yz"),
                Some(b"\xff"),
            ])),
        ),
        (
            "d",
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(-1),
                None,
                Some(19_000),
                Some(2_932_896),
                Some(7),
            ])),
        ),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(0),
                    Some(-1),
                    None,
                    Some(1_700_000_000_123_456),
                    Some(1),
                    Some(7),
                ])
                .with_timezone("UTC"),
            ),
        ),
        (
            "tns",
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(0),
                Some(1_000),
                None,
                Some(1_700_000_000_123_456_000),
                Some(1_000),
                Some(7_000),
            ])),
        ),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}

/// The values of every column of `batches` (cast to text), ordered by `id`.
fn rows(batches: &[RecordBatch], columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut out: Vec<Vec<Option<String>>> = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let a = b
                            .column_by_name(c)
                            .unwrap_or_else(|| panic!("no column {c}"));
                        let f = arrow::util::display::ArrayFormatter::try_new(
                            a.as_ref(),
                            &Default::default(),
                        )
                        .unwrap();
                        arrow::array::Array::is_valid(a.as_ref(), i).then(|| f.value(i).to_string())
                    })
                    .collect(),
            );
        }
    }
    out.sort();
    out
}

/// Writes `suite` and `batch` (row groups of `group_rows`) into `d` and gates them into `t` and
/// `q`, expecting some rows quarantined.
fn gate_some_rows_out(d: &std::path::Path, suite: &str, batch: &RecordBatch, group_rows: usize) {
    std::fs::write(d.join("s.yaml"), suite).unwrap();
    write_parquet(&d.join("in.parquet"), batch, group_rows);
    let o = dq(
        &[
            "run",
            "--suite",
            "s.yaml",
            "in.parquet",
            "--target",
            "t",
            "--quarantine",
            "q",
            "--quiet",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
}

#[tokio::test]
async fn every_contract_type_round_trips_into_target_and_quarantine_with_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let batch = input();
    gate_some_rows_out(d, SUITE, &batch, 1024);

    let names: Vec<&str> = SUITE
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- {name: "))
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(names.len(), 18);
    let expected = |even: bool| -> Vec<Vec<Option<String>>> {
        let keep: Vec<u32> = (0..6).filter(|i| (i % 2 == 0) == even).collect();
        let taken =
            arrow::compute::take_record_batch(&batch, &arrow::array::UInt32Array::from(keep))
                .unwrap();
        rows(&[taken], &names)
    };
    let t = read(&d.join("t"), "").await;
    let q = read(&d.join("q"), "").await;
    // Unsigned integers are stored one size wider (uint64 as decimal(20,0)); the text of every
    // value is the same.
    let normalize = |mut r: Vec<Vec<Option<String>>>| {
        for row in &mut r {
            for v in row.iter_mut() {
                if let Some(s) = v.as_mut()
                    && let Some(stripped) = s.strip_suffix(".000000000")
                {
                    *s = stripped.to_string();
                }
            }
        }
        r
    };
    assert_eq!(normalize(rows(&t, &names)), normalize(expected(true)));
    assert_eq!(normalize(rows(&q, &names)), normalize(expected(false)));

    // Every committed data file states its row count and, per column, min, max and nulls.
    for table in ["t", "q"] {
        let log =
            std::fs::read_to_string(d.join(table).join("_delta_log/00000000000000000001.json"))
                .unwrap();
        let adds: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter_map(|v| v.get("add").cloned())
            .collect();
        assert!(!adds.is_empty(), "{table}: {log}");
        for a in adds {
            let stats: serde_json::Value =
                serde_json::from_str(a["stats"].as_str().expect("stats")).unwrap();
            assert_eq!(stats["numRecords"], 3, "{table}: {stats}");
            for c in ["id", "i8", "f64", "dec", "s", "d", "ts"] {
                assert!(!stats["minValues"][c].is_null(), "{table}.{c}: {stats}");
                assert!(!stats["maxValues"][c].is_null(), "{table}.{c}: {stats}");
                assert!(!stats["nullCount"][c].is_null(), "{table}.{c}: {stats}");
            }
        }
    }
}

/// A large batch is encoded on every lane (one file each), compressed with the default codec,
/// with a dictionary where values repeat and none for unique ids and emails.
#[tokio::test]
async fn large_batches_are_written_on_every_lane_with_dictionaries_where_they_pay() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let suite = "dq_suite: 1
name: lanes
version: 1
schema:
  columns:
    - {name: id, type: int64, nullable: false}
    - {name: code, type: string}
    - {name: email, type: string}
expectations:
  - {id: id_not_7, expect: sql, expr: 'id % 1000 <> 7'}
";
    let n = 40_000i64;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        (
            "code",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["A1", "B2", "C3"][i as usize % 3]),
            )),
        ),
        (
            "email",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("member{i}@example.org")),
            )),
        ),
    ])
    .unwrap();
    gate_some_rows_out(d, suite, &batch, 1 << 20);

    let lanes = std::thread::available_parallelism().unwrap().get().min(4);
    let files: Vec<_> = std::fs::read_dir(d.join("t"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    assert_eq!(files.len(), lanes);
    let mut rows = 0;
    for f in &files {
        let reader = SerializedFileReader::new(std::fs::File::open(f).unwrap()).unwrap();
        let meta = reader.metadata();
        rows += meta.file_metadata().num_rows();
        for rg in meta.row_groups() {
            let col = |name: &str| {
                rg.columns()
                    .iter()
                    .find(|c| c.column_path().string() == name)
                    .unwrap()
            };
            for c in ["id", "code", "email"] {
                assert!(matches!(col(c).compression(), Compression::ZSTD(_)), "{c}");
            }
            assert!(col("code").dictionary_page_offset().is_some());
            assert!(col("id").dictionary_page_offset().is_none());
            assert!(col("email").dictionary_page_offset().is_none());
        }
    }
    assert_eq!(rows, n - 40);
    assert_eq!(
        read(&d.join("t"), "")
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        39_960
    );
}
