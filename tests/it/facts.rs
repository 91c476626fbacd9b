//! Checks settled by Parquet statistics: the same results as scanning, and reported as proven.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch};
use dq_gate::CompiledSuite;
use dq_gate::internal::{BatchOptions, BatchResult, BatchRun, FileBatches};
use dq_gate::internal::{Batches, ColumnPlan, discover};
use proptest::prelude::*;
use serde_json::Value;

use super::util::{as_of, quarantined, suite, write_parquet, write_parquet_with};

/// Evaluates every batch of a Parquet file, with or without its statistics.
fn evaluate<'c>(
    path: &std::path::Path,
    compiled: &'c CompiledSuite,
    batch_rows: Option<usize>,
    facts: bool,
) -> Vec<BatchResult<'c>> {
    evaluate_as(false, path, compiled, batch_rows, facts)
}

/// [`evaluate`], read as `validate` reads ([`FileBatches::for_report`]: decimals narrow,
/// strings as views) when `validate`, else as `run` reads ([`FileBatches::new`]).
fn evaluate_as<'c>(
    validate: bool,
    path: &std::path::Path,
    compiled: &'c CompiledSuite,
    batch_rows: Option<usize>,
    facts: bool,
) -> Vec<BatchResult<'c>> {
    let files = discover(&[path.to_path_buf()]).unwrap();
    let opts = BatchOptions {
        as_of: as_of(),
        batch_rows,
        batch_memory: usize::MAX,
    };
    let mut batches = if validate {
        FileBatches::for_report(&files, compiled, opts)
    } else {
        FileBatches::new(&files, compiled, opts)
    };
    if !facts {
        batches = batches.without_facts();
    }
    let mut out = Vec::new();
    while let Some(r) = batches.next(compiled).unwrap() {
        out.push(r);
    }
    out
}

/// A report entry without its `proven` count.
fn scanned_view(r: &BatchResult) -> Vec<Value> {
    r.report
        .expectations
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap();
            v.as_object_mut().unwrap().remove("proven");
            v
        })
        .collect()
}

fn batch(ints: &[Option<i64>], floats: &[Option<f64>]) -> RecordBatch {
    let days: Vec<Option<i32>> = ints.iter().map(|v| v.map(|d| 18_000 + d as i32)).collect();
    RecordBatch::try_from_iter(vec![
        ("i", Arc::new(Int64Array::from(ints.to_vec())) as ArrayRef),
        (
            "f",
            Arc::new(Float64Array::from(floats.to_vec())) as ArrayRef,
        ),
        ("d", Arc::new(Date32Array::from(days)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn clean_row_groups_are_proven_and_the_rest_scanned() {
    // Three row groups of 100 rows: clean; one null; one value out of range.
    let mut ints: Vec<Option<i64>> = (0..300).map(|i| Some(10 + i % 40)).collect();
    ints[150] = None;
    ints[250] = Some(500);
    // Floats: a NaN in the first group, a negative in the last.
    let mut floats: Vec<Option<f64>> = (0..300).map(|i| Some(i as f64 / 7.0)).collect();
    floats[5] = Some(f64::NAN);
    floats[299] = Some(-1.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet(&path, &batch(&ints, &floats), 100);
    let compiled = CompiledSuite::new(suite(
        "expectations:
  - {id: i_present, expect: not_null, column: i}
  - {id: i_range, expect: between, column: i, min: 0, max: 100}
  - {id: f_min, expect: between, column: f, min: 0}
  - {id: f_both, expect: between, column: f, min: 0, max: 1000}
  - {id: d_range, expect: between, column: d, min: '2019-01-01', max: '2019-12-31', nulls: ignore}
",
    ))
    .unwrap();
    let with = evaluate(&path, &compiled, None, true);
    let without = evaluate(&path, &compiled, None, false);
    assert_eq!(scanned_view(&with[0]), scanned_view(&without[0]));
    assert_eq!(quarantined(&with[0]), quarantined(&without[0]));
    let got: Vec<(&str, u64, u64, u64)> = with[0]
        .report
        .expectations
        .iter()
        .map(|e| (e.id.as_str(), e.evaluated, e.failed, e.proven))
        .collect();
    // 18000 days is 2019-04-14; values 18010..=18049 lie in 2019, 18500 does not.
    assert_eq!(
        got,
        vec![
            ("i_present", 300, 1, 200),
            // The null is not evaluated (the default `nulls: ignore`); its group is still
            // proven in range.
            ("i_range", 299, 1, 199),
            // NaN passes a lone min: the first two groups are proven.
            ("f_min", 300, 1, 200),
            // NaN fails any max, and float statistics leave NaN out: nothing proven.
            ("f_both", 300, 2, 0),
            ("d_range", 299, 1, 199),
        ]
    );
    // Without statistics nothing is proven, and the JSON report has no `proven` key.
    assert!(without[0].report.expectations.iter().all(|e| e.proven == 0));
    let json = serde_json::to_value(&without[0].report.expectations[0]).unwrap();
    assert!(json.get("proven").is_none());
}

/// Decimals stored as `INT64` and `INT32`, read narrow by `validate`, are proven in range by
/// their row groups' statistics as integers are, and report what a scan reports.
#[test]
fn narrow_decimals_are_proven_by_statistics() {
    use arrow::array::Decimal128Array;
    // Three row groups of 100 rows: clean; clean; one value below zero in each column.
    let dec = |p: u8, neg: usize| -> ArrayRef {
        Arc::new(
            Decimal128Array::from_iter_values((0..300).map(|i| {
                if i == neg {
                    -1
                } else {
                    5 + (i as i128 * 37) % 9_000
                }
            }))
            .with_precision_and_scale(p, 2)
            .unwrap(),
        )
    };
    let table =
        RecordBatch::try_from_iter(vec![("wide", dec(12, 250)), ("small", dec(8, 260))]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.parquet");
    write_parquet(&path, &table, 100);
    let compiled = CompiledSuite::new(suite(
        "schema:
  columns:
    - {name: wide, type: 'decimal(12,2)'}
    - {name: small, type: 'decimal(8,2)'}
expectations:
  - {id: wide_positive, expect: between, column: wide, min: 0.01}
  - {id: small_capped, expect: between, column: small, min: 0, max: 90.5}
",
    ))
    .unwrap();
    let with = evaluate_as(true, &path, &compiled, None, true);
    let without = evaluate_as(true, &path, &compiled, None, false);
    assert_eq!(scanned_view(&with[0]), scanned_view(&without[0]));
    let got: Vec<(&str, u64, u64)> = with[0]
        .report
        .expectations
        .iter()
        .map(|e| (e.id.as_str(), e.failed, e.proven))
        .collect();
    // `small` holds up to 89.95 (8,995 cents) and its third group a negative.
    assert_eq!(
        got,
        vec![("wide_positive", 1, 200), ("small_capped", 1, 200)]
    );
}

fn opt_f64() -> impl Strategy<Value = Option<f64>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            8 => (-2i32..8).prop_map(|v| v as f64 / 2.0),
            1 => Just(f64::NAN),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Statistics-proven results equal scanned ones, however the file is grouped and batched.
    #[test]
    fn proven_equals_scanned(
        rows in prop::collection::vec(
            (prop::option::weighted(0.9, -3i64..9), opt_f64()), 1..200),
        group_rows in 1usize..60,
        batch_rows in prop::option::of(1usize..90),
        lo in -3i64..3,
        hi in 3i64..9,
        strict in any::<(bool, bool)>(),
        policy in prop_oneof![Just("ignore"), Just("pass"), Just("fail")],
    ) {
        let (ints, floats): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, &batch(&ints, &floats), group_rows);
        let (smin, smax) = strict;
        let compiled = CompiledSuite::new(suite(&format!(
            "expectations:
  - {{id: a, expect: not_null, column: i}}
  - {{id: b, expect: between, column: i, min: {lo}, max: {hi}, strict_min: {smin}, strict_max: {smax}, nulls: {policy}}}
  - {{id: c, expect: between, column: f, min: {lo}, strict_min: {smin}, nulls: {policy}}}
  - {{id: d, expect: between, column: f, min: {lo}, max: {hi}, nulls: {policy}}}
  - {{id: e, expect: between, column: d, min: '2019-04-14', max: '{}', nulls: {policy}}}
  - {{id: g, expect: not_null, column: f, where: 'i > 0'}}
  - {{id: h, expect: between, column: i, min: {lo}, where: 'f > 1', nulls: {policy}}}
",
            chrono::NaiveDate::from_ymd_opt(2019, 4, 14).unwrap() + chrono::Days::new(hi as u64)
        ))).unwrap();
        let with = evaluate(&path, &compiled, batch_rows, true);
        let without = evaluate(&path, &compiled, batch_rows, false);
        prop_assert_eq!(with.len(), without.len());
        for (a, b) in with.iter().zip(&without) {
            prop_assert_eq!(scanned_view(a), scanned_view(b));
            prop_assert_eq!(quarantined(a), quarantined(b));
            for e in &a.report.expectations {
                prop_assert!(e.proven <= e.evaluated);
            }
        }
    }
}

const UNREAD_SUITE: &str = r"schema:
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: note, type: string}
    - {name: code, type: string}
    - {name: amount, type: int64}
    - {name: spare, type: string}
    - {name: ref, type: string}
    - {name: tag, type: string}
expectations:
  - {id: id_nulls, expect: metric, metric: null_count, column: id, max: 1000}
  - {id: note_nulls, expect: metric, metric: null_fraction, column: note, max: 0.3}
  - {id: note_present, expect: metric, metric: non_null_fraction, column: note, min: 0.9}
  - {id: code_nulls, expect: metric, metric: null_fraction, column: code, max: 0.3, where: 'amount > 2'}
  - {id: amount_nulls, expect: metric, metric: null_count, column: amount, max: 5}
  - {id: amount_sane, expect: sql, expr: 'amount >= 0 OR ref IS NULL'}
  - {id: spare_present, expect: not_null, column: spare, where: 'amount > 0'}
";

/// The columns of a Parquet file that `validate` would not decode, or decode for their nulls
/// alone, given its statistics.
fn plan_of(path: &std::path::Path, compiled: &CompiledSuite) -> ColumnPlan {
    let files = discover(&[path.to_path_buf()]).unwrap();
    let (spec, _) = Batches::new(&files, None, None)
        .next_batch()
        .unwrap()
        .unwrap();
    let schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .schema()
    .clone();
    compiled.column_plan(&schema, spec.facts.as_deref())
}

fn plan(unread: &[&str], nulls_only: &[&str]) -> ColumnPlan {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
    ColumnPlan {
        unread: names(unread),
        nulls_only: names(nulls_only),
    }
}

/// Reads a Parquet file whole as `validate` does and as the gate does, and returns both reports
/// of its one batch.
fn validate_both_ways(path: &std::path::Path, compiled: &CompiledSuite) -> (Value, Value) {
    let files = discover(&[path.to_path_buf()]).unwrap();
    let v = super::util::validate(compiled, &[path.to_path_buf()], |b| b);
    let mut batches = Batches::new(&files, compiled.suite().schema.as_ref(), None);
    let (spec, chunks) = batches.next_batch().unwrap().unwrap();
    assert_eq!(spec.columns, ColumnPlan::default());
    let mut run = BatchRun::new(compiled, as_of(), 1, "t", 0).with_facts(spec.facts.clone());
    for c in chunks {
        run.push(&c.unwrap(), false).unwrap();
    }
    let full = run.finish().unwrap();
    (
        serde_json::to_value(&v.batches[0].expectations).unwrap(),
        serde_json::to_value(&full.report.expectations).unwrap(),
    )
}

fn unread_table(rows: usize, seed: u64) -> RecordBatch {
    use arrow::array::StringArray;
    let h = |i: usize, k: u64| (i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ k) >> 58;
    let strs = |k: u64, share: u64| -> ArrayRef {
        Arc::new(StringArray::from_iter((0..rows).map(|i| {
            (h(i, k) >= share).then(|| format!("value number {i} of the column"))
        })))
    };
    let ints = |k: u64, share: u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            (0..rows).map(|i| (h(i, k) >= share).then_some(h(i, k + 7) as i64 - 3)),
        ))
    };
    // `tag` is a required column (no nulls allowed) that nothing reads.
    let tag: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|i| format!("t{i}")),
    ));
    let columns = vec![
        ("id", ints(1, 1)),
        ("note", strs(2, 9)),
        ("code", strs(3, 20)),
        ("amount", ints(4, 2)),
        ("spare", strs(5, 30)),
        ("ref", strs(6, 4)),
        ("tag", tag),
    ];
    let schema = arrow::datatypes::Schema::new(
        columns
            .iter()
            .map(|(n, a)| arrow::datatypes::Field::new(*n, a.data_type().clone(), *n != "tag"))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

/// `validate` does not decode a column that only null-count metrics without `where` read (nor
/// one nothing reads), takes those metrics from the file's null counts, and reports exactly
/// what decoding every column reports, the metrics counted as proven.
#[test]
fn columns_settled_by_null_counts_are_not_decoded_and_report_the_same() {
    let compiled = CompiledSuite::new(suite(UNREAD_SUITE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let rows = 5_000;
    write_parquet(&path, &unread_table(rows, 3), 1_300);

    // id is a key; code's metric has a `where`, and spare's `not_null` reads only its nulls;
    // amount and ref are read by SQL.
    assert_eq!(
        plan_of(&path, &compiled),
        plan(&["note", "tag"], &["code", "spare"])
    );

    let (validated, decoded) = validate_both_ways(&path, &compiled);
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        for e in v.as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("proven");
        }
        v
    };
    assert_eq!(strip(&validated), strip(&decoded));
    let proven = |v: &Value, id: &str| -> Option<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .and_then(|e| e.get("proven").and_then(Value::as_u64))
    };
    for id in ["note_nulls", "note_present"] {
        assert_eq!(proven(&validated, id), Some(rows as u64), "{id}");
        assert_eq!(proven(&decoded, id), None, "{id}");
    }
    for id in ["id_nulls", "code_nulls", "amount_nulls"] {
        assert_eq!(proven(&validated, id), None, "{id}");
    }
    // The metrics observed real nulls, not the stand-in's.
    let observed = |id: &str| {
        validated
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["observed"]
            .as_f64()
            .unwrap()
    };
    assert!(observed("note_nulls") > 0.05 && observed("note_nulls") < 0.3);
    assert!((observed("note_nulls") + observed("note_present") - 1.0).abs() < 1e-12);
}

/// Without null counts in the file's statistics, the counted columns are decoded for their
/// nulls.
#[test]
fn without_null_counts_the_counted_columns_are_decoded() {
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    let compiled = CompiledSuite::new(suite(UNREAD_SUITE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let table = unread_table(3_000, 5);
    let props = WriterProperties::builder()
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(1_000))
        .build();
    write_parquet_with(&path, &table, props);
    assert_eq!(
        plan_of(&path, &compiled),
        plan(&["tag"], &["note", "code", "spare"])
    );
    let (validated, decoded) = validate_both_ways(&path, &compiled);
    assert_eq!(validated, decoded);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any null pattern, row-group and page size, compression and page version: not decoding
    /// the settled columns, and decoding only the nulls of the columns read for nulls, changes
    /// nothing but the `proven` counts.
    #[test]
    fn unread_columns_report_what_decoded_columns_report(
        rows in 1usize..4_000, group in 1usize..1_500, seed in any::<u64>(),
        codec in 0usize..3, v2 in any::<bool>(), page_rows in 1usize..700,
    ) {
        use parquet::basic::{Compression, ZstdLevel};
        use parquet::file::properties::{WriterProperties, WriterVersion};
        let compiled = CompiledSuite::new(suite(UNREAD_SUITE)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let codecs = [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::ZSTD(ZstdLevel::default()),
        ];
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .set_compression(codecs[codec])
            .set_writer_version(if v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
            .set_write_batch_size(page_rows)
            .set_data_page_row_count_limit(page_rows)
            .build();
        write_parquet_with(&path, &unread_table(rows, seed), props);
        // Levels alone are read from uncompressed and Snappy pages; other codecs decode in full.
        let files = discover(std::slice::from_ref(&path)).unwrap();
        let plan_columns = |s: &arrow::datatypes::SchemaRef, f: Option<&dq_gate::internal::facts::FileFacts>| {
            compiled.column_plan(s, f)
        };
        let (spec, _) = Batches::new(&files, None, None)
            .with_plan(Box::new(plan_columns))
            .next_batch()
            .unwrap()
            .unwrap();
        let masked: &[&str] = if codec == 2 { &[] } else { &["code", "spare"] };
        prop_assert_eq!(spec.columns, plan(&["note", "tag"], masked));
        let (mut validated, decoded) = validate_both_ways(&path, &compiled);
        for e in validated.as_array_mut().unwrap() {
            if e["id"].as_str().unwrap().starts_with("note_") {
                let proven = e.as_object_mut().unwrap().remove("proven");
                prop_assert_eq!(proven, Some(Value::from(rows as u64)));
            }
        }
        prop_assert_eq!(validated, decoded);
    }
}
