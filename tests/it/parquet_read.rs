//! Reading Parquet inputs: several row groups decoded in parallel come back whole and in order.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema};
use dq_gate::internal::{Batches, discover};

use super::util::{write_parquet, write_parquet_with};

/// The chunks of a Parquet file read as one batch (the file must be one batch).
fn read_whole(path: &std::path::Path) -> Vec<RecordBatch> {
    let files = discover(&[path.to_path_buf()]).unwrap();
    let mut batches = Batches::new(&files, None, None);
    let (_, chunks) = batches.next_batch().unwrap().unwrap();
    let chunks: Vec<RecordBatch> = chunks.collect::<Result<_, _>>().unwrap();
    assert!(batches.next_batch().unwrap().is_none());
    chunks
}

#[test]
fn several_row_groups_read_back_whole_and_in_order() {
    let n = 1_000;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..n).map(|i| (i % 7 != 3).then_some(i * 31 % 1009)),
    ));
    let codes: ArrayRef =
        Arc::new(StringArray::from_iter((0..n).map(|i| {
            (i % 11 != 0).then(|| ["A", "BB", "CCC"][i as usize % 3])
        })));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("value-{i}")),
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![ids, codes, text]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.parquet");
    // Uneven row groups: 300, 300, 300, 100.
    write_parquet(&path, &batch, 300);

    let chunks = read_whole(&path);
    assert!(chunks.len() >= 4, "one chunk per row group at least");
    // The short-string column is all dictionary pages: read as a dictionary.
    assert!(matches!(
        chunks[0].schema().field(1).data_type(),
        DataType::Dictionary(_, _)
    ));
    let whole = concat_batches(&chunks[0].schema(), &chunks).unwrap();
    assert_eq!(whole.num_rows(), n as usize);
    assert_eq!(whole.column(0).as_ref(), batch.column(0).as_ref());
    for c in [1, 2] {
        let plain = arrow::compute::cast(whole.column(c), &DataType::Utf8).unwrap();
        assert_eq!(plain.as_ref(), batch.column(c).as_ref());
    }
    assert_eq!(whole.column(0).null_count(), batch.column(0).null_count());
}

/// `validate`'s mode (chunks evaluated as they arrive, then slimmed) reports exactly what
/// holding the whole batch reports: uniqueness across chunks, samples and their keys included.
#[test]
fn report_only_reports_what_holding_the_batch_reports() {
    use dq_gate::CompiledSuite;
    use dq_gate::internal::BatchRun;

    let n = 2_000i64;
    let ids: ArrayRef =
        Arc::new(Int64Array::from_iter((0..n).map(|i| {
            (i % 97 != 5).then_some(if i % 301 == 0 { 7 } else { i })
        })));
    let codes: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| Some(["A", "B", "C", "XX"][(i % 13 % 4) as usize])),
    ));
    let refs: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("r{}", i % 1_500)),
    ));
    let batch =
        RecordBatch::try_from_iter(vec![("id", ids), ("code", codes), ("ref", refs)]).unwrap();
    let compiled = CompiledSuite::new(super::util::suite(
        "schema:
  mode: strict
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: code, type: string}
    - {name: ref, type: string}
expectations:
  - {id: id_present, expect: not_null, column: id}
  - {id: id_unique, expect: unique, column: id}
  - {id: ref_unique, expect: unique, column: ref, on_fail: warn}
  - {id: pair_unique, expect: compound_unique, columns: [code, ref]}
  - {id: code_known, expect: in_set, column: code, values: [A, B, C]}
",
    ))
    .unwrap();
    let run = |report_only: bool| {
        let mut r = BatchRun::new(&compiled, super::util::as_of(), 1, "t", 0);
        if report_only {
            r = r.report_only();
        }
        // 40 chunks of 50 rows: several rounds of chunks evaluated as they arrive.
        for start in (0..n as usize).step_by(50) {
            r.push(&batch.slice(start, 50), false).unwrap();
        }
        let out = r.finish().unwrap();
        let quarantined: usize = out
            .chunks
            .iter()
            .map(|c| c.quarantine.count_set_bits())
            .sum();
        (serde_json::to_value(&out.report).unwrap(), quarantined)
    };
    let (held, held_q) = run(false);
    let (streamed, streamed_q) = run(true);
    assert_eq!(streamed, held);
    assert_eq!(streamed_q, held_q);
    assert!(held_q > 0);
    let failed: Vec<u64> = held["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["failed"].as_u64().unwrap())
        .collect();
    assert!(
        failed.iter().all(|f| *f > 0),
        "every rule finds something: {failed:?}"
    );
}

/// `validate` reads plain string columns as string views; every kind of check over strings
/// reports exactly what it reports over the strings as written (values inline in the view and
/// in data buffers, nulls, non-ASCII, `where` scopes, samples).
#[test]
fn string_views_report_what_strings_as_written_report() {
    use dq_gate::CompiledSuite;
    use dq_gate::internal::Strings;
    use parquet::file::properties::WriterProperties;

    let n = 3_000usize;
    let code = |i: usize| ["A1", "B2", "c3", "Ärger", "D4-long-enough-to-spill"][i % 5];
    let codes: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 17 != 4).then(|| code(i * 7 % 11))),
    ));
    let refs: ArrayRef = Arc::new(StringArray::from_iter((0..n).map(|i| {
        (i % 29 != 1).then(|| match i % 4 {
            0 => format!("REF-{:08}", i % 2_500),
            1 => format!("reference number {i} of the batch"),
            2 => format!("{}", i % 997),
            _ => format!("2024-0{}-1{}", 1 + i % 9, i % 10),
        })
    })));
    let other: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 13 != 0).then(|| code(i % 5).to_string())),
    ));
    let batch =
        RecordBatch::try_from_iter(vec![("code", codes), ("ref", refs), ("other", other)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strings.parquet");
    // Plain pages (no dictionary), three row groups: the columns are read as views.
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(1_000))
        .build();
    write_parquet_with(&path, &batch, props);

    let compiled = CompiledSuite::new(super::util::suite(
        r"schema:
  columns:
    - {name: code, type: string, tags: [key]}
    - {name: ref, type: string}
    - {name: other, type: string}
expectations:
  - {id: code_present, expect: not_null, column: code}
  - {id: code_known, expect: in_set, column: code, values: [A1, B2, Ärger]}
  - {id: code_not_banned, expect: not_in_set, column: code, values: [a1, C3], case_insensitive: true}
  - {id: code_range, expect: between, column: code, min: B, max: D4}
  - {id: ref_shape, expect: matches_regex, column: ref, regex: 'REF-[0-9]{8}', nulls: ignore}
  - {id: ref_digits, expect: matches_regex, column: ref, regex: '[0-9]{3}', mode: search}
  - {id: ref_no_space, expect: not_matches_regex, column: ref, regex: ' ', mode: search, nulls: pass}
  - {id: ref_length, expect: length_between, column: ref, min: 3, max: 20}
  - {id: ref_date, expect: matches_format, column: ref, format: '%Y-%m-%d', where: 'code IS NOT NULL'}
  - {id: ref_unique, expect: unique, column: ref, on_fail: warn}
  - {id: pair_unique, expect: compound_unique, columns: [code, ref]}
  - {id: same_code, expect: compare, left: code, op: '=', right: other}
  - {id: code_after, expect: compare, left: code, op: '>', value: B}
  - {id: sql_strings, expect: sql, expr: 'length(ref) > 4 OR code = other'}
  - {id: ref_nulls, expect: metric, metric: null_fraction, column: ref, max: 0.01}
  - {id: ref_distinct, expect: metric, metric: distinct_count, column: ref, min: 10}
  - {id: code_min, expect: metric, metric: min, column: code, min: A}
  - {id: code_max_len, expect: metric, metric: max_length, column: code, max: 10, where: 'other <> ''A1'''}
",
    )).unwrap();
    let run = |strings| report_read_as(&path, &compiled, strings);
    let (written, written_types) = run(Strings::AsWritten);
    let (views, view_types) = run(Strings::Views);
    assert!(written_types.iter().all(|t| t == &DataType::Utf8));
    assert!(view_types.iter().all(|t| t == &DataType::Utf8View));
    assert_eq!(views, written);
    // Every rule has something to say, so a kernel that mishandles views would show.
    let row_level: Vec<u64> = written["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["failed_fraction"].is_null())
        .map(|e| e["failed"].as_u64().unwrap())
        .collect();
    assert_eq!(row_level.len(), 14);
    assert!(row_level.iter().all(|f| *f > 0), "{row_level:?}");

    // `validate` reads views and gives the same verdicts.
    let report = super::util::validate(&compiled, std::slice::from_ref(&path), |b| b);
    assert_eq!(
        serde_json::to_value(&report).unwrap()["batches"][0]["expectations"],
        written["expectations"]
    );
}

/// Decimals stored as 32- or 64-bit integers, read by `validate` in their narrow Arrow types
/// (`Decimal32`, `Decimal64`, no widening copy), report what the same file read as written
/// (`Decimal128`) reports, for every kind and metric that takes a decimal.
#[test]
fn narrow_decimals_report_what_wide_decimals_report() {
    use arrow::array::Decimal128Array;
    use dq_gate::CompiledSuite;
    use dq_gate::internal::Strings;

    let n = 3_000usize;
    let dec = |p: u8, v: Vec<Option<i128>>| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, 2)
                .unwrap(),
        )
    };
    // Cents: spread over both signs, repeats, and values near the width's ends.
    let amount = dec(
        12,
        (0..n)
            .map(|i| match i % 23 {
                0 => None,
                1 => Some(-(i as i128) * 7),
                2 => Some(99_999_999_999),
                _ => Some((i as i128 * 7_919) % 250_000),
            })
            .collect(),
    );
    let refund = dec(
        12,
        (0..n)
            .map(|i| (i % 5 == 0).then_some((i as i128 * 31) % 40_000))
            .collect(),
    );
    let small = dec(
        8,
        (0..n)
            .map(|i| match i % 31 {
                0 => None,
                1 => Some(-99_999_999),
                _ => Some((i as i128 % 400) * 25),
            })
            .collect(),
    );
    let batch = RecordBatch::try_from_iter(vec![
        ("amount", amount),
        ("refund", refund),
        ("small", small),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decimals.parquet");
    write_parquet(&path, &batch, 1_000);

    let compiled = CompiledSuite::new(super::util::suite(
        r"schema:
  columns:
    - {name: amount, type: 'decimal(12,2)'}
    - {name: refund, type: 'decimal(12,2)'}
    - {name: small, type: 'decimal(8,2)'}
expectations:
  - {id: amount_present, expect: not_null, column: amount}
  - {id: amount_positive, expect: between, column: amount, min: 0, strict_min: true}
  - {id: small_range, expect: between, column: small, min: -10.5, max: 9000.25}
  - {id: refund_not_above, expect: compare, left: refund, op: '<=', right: amount}
  - {id: amount_over, expect: compare, left: amount, op: '>', value: 10.5}
  - {id: amount_below_huge, expect: compare, left: amount, op: '<', value: 100000000000000000}
  - {id: small_equal, expect: compare, left: small, op: '=', value: 2500}
  - {id: net_positive, expect: sql, expr: 'amount - refund > 100 OR refund IS NULL'}
  - {id: amount_unique, expect: unique, column: amount, on_fail: warn}
  - {id: pair_unique, expect: compound_unique, columns: [small, amount]}
  - {id: amount_sum, expect: metric, metric: sum, column: amount, max: 1}
  - {id: amount_mean, expect: metric, metric: mean, column: amount, max: 1}
  - {id: amount_sd, expect: metric, metric: stddev, column: amount, max: 1}
  - {id: amount_p90, expect: metric, metric: quantile, q: 0.9, column: amount, max: 1}
  - {id: small_min, expect: metric, metric: min, column: small, min: 0}
  - {id: small_max, expect: metric, metric: max, column: small, max: 1}
  - {id: small_distinct, expect: metric, metric: distinct_count, column: small, max: 10}
  - {id: small_sum, expect: metric, metric: sum, column: small, min: 0, where: 'amount > 0'}
  - {id: amount_above_zero, expect: sql, expr: 'amount > 0'}
  - {id: amount_over_zero, expect: compare, left: amount, op: '>', value: 0}
",
    ))
    .unwrap();
    let run = |strings| report_read_as(&path, &compiled, strings);
    let (wide, wide_types) = run(Strings::AsWritten);
    let (narrow, narrow_types) = run(Strings::Views);
    assert_eq!(
        wide_types,
        [
            DataType::Decimal128(12, 2),
            DataType::Decimal128(12, 2),
            DataType::Decimal128(8, 2)
        ]
    );
    assert_eq!(
        narrow_types,
        [
            DataType::Decimal64(12, 2),
            DataType::Decimal64(12, 2),
            DataType::Decimal32(8, 2)
        ]
    );
    assert_eq!(narrow, wide);
    // Every rule but the one bounded far away has something to say, so a kernel that
    // mishandles a narrow decimal would show. (The `where` and `sql` over `amount > 0` once
    // compared `Decimal64` cents as integers: 0.99 was not above 0.)
    for e in wide["expectations"].as_array().unwrap() {
        let far = e["id"] == "amount_below_huge";
        assert_eq!(e["success"], far, "{e}");
    }

    // `validate` reads them narrow and gives the same verdicts.
    let report = super::util::validate(&compiled, std::slice::from_ref(&path), |b| b);
    assert_eq!(
        serde_json::to_value(&report).unwrap()["batches"][0]["expectations"],
        wide["expectations"]
    );
}

/// The report of a one-batch Parquet file read with `strings`, evaluated report-only as
/// `validate` does, and the Arrow types its chunks arrived in.
fn report_read_as(
    path: &std::path::Path,
    compiled: &dq_gate::CompiledSuite,
    strings: dq_gate::internal::Strings,
) -> (serde_json::Value, Vec<DataType>) {
    let files = discover(std::slice::from_ref(&path.to_path_buf())).unwrap();
    let mut batches =
        Batches::new(&files, compiled.suite().schema.as_ref(), None).with_strings(strings);
    let (spec, chunks) = batches.next_batch().unwrap().unwrap();
    let mut r = dq_gate::internal::BatchRun::new(compiled, super::util::as_of(), 1, "t", 0)
        .with_facts(spec.facts.clone())
        .report_only();
    let mut types = Vec::new();
    for c in chunks {
        let c = c.unwrap();
        types = c
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        r.push(&c, false).unwrap();
    }
    let out = r.finish().unwrap();
    (serde_json::to_value(&out.report).unwrap(), types)
}

/// Row groups longer than one decoding round (several chunks of every column decoded at once)
/// come back whole, in order, with every column's chunks lined up; plain strings (decoded as
/// views and cast back) in the type they were written in, nulls and empty values kept.
#[test]
fn long_row_groups_read_back_in_order_across_decoding_rounds() {
    let n = 700_000i64;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..n).map(|i| (i % 1_001 != 7).then_some(i)),
    ));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("row {i} of the file")),
    ));
    let large: ArrayRef = Arc::new(arrow::array::LargeStringArray::from_iter((0..n).map(
        |i| match i % 5 {
            0 => None,
            1 => Some(String::new()),
            _ => Some(format!("a longer value than a view holds inline, {i}")),
        },
    )));
    let batch =
        RecordBatch::try_from_iter(vec![("id", ids), ("text", text), ("large", large)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.parquet");
    // Groups of 300,000, 300,000 and 100,000 rows: five, five and two chunks of 65,536 rows.
    write_parquet(&path, &batch, 300_000);

    let chunks = read_whole(&path);
    assert_eq!(chunks.len(), 12);
    assert!(chunks.iter().all(|c| c.num_rows() <= 65_536));
    let whole = concat_batches(&chunks[0].schema(), &chunks).unwrap();
    assert_eq!(whole.column(0).as_ref(), batch.column(0).as_ref());
    assert_eq!(whole.column(1).as_ref(), batch.column(1).as_ref());
    assert_eq!(whole.column(2).data_type(), &DataType::LargeUtf8);
    assert_eq!(whole.column(2).as_ref(), batch.column(2).as_ref());
}

/// The file at `path` with its footer written again without page encoding statistics, as
/// polars writes its files.
fn drop_page_encoding_stats(path: &std::path::Path) {
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let bytes = std::fs::read(path).unwrap();
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&std::fs::File::open(path).unwrap())
        .unwrap();
    let footer = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let groups = meta
        .row_groups()
        .iter()
        .map(|rg| {
            let columns = rg
                .columns()
                .iter()
                .map(|c| c.clone().into_builder().clear_page_encoding_stats().build())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            rg.clone()
                .into_builder()
                .set_column_metadata(columns)
                .build()
                .unwrap()
        })
        .collect();
    let meta = meta.into_builder().set_row_groups(groups).build();
    let mut out = bytes[..bytes.len() - 8 - footer as usize].to_vec();
    ParquetMetaDataWriter::new(&mut out, &meta)
        .finish()
        .unwrap();
    std::fs::write(path, out).unwrap();
}

/// Without page encoding statistics, a column chunk with a small dictionary page is read as a
/// dictionary (no writer falls back to plain pages under a megabyte of dictionary); one whose
/// dictionary page is large may have fallen back, and is read as written. Both read back the
/// values written.
#[test]
fn small_dictionaries_are_kept_without_page_encoding_statistics() {
    let n = 60_000;
    let codes: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 13 != 0).then(|| ["pos", "ecom", "moto"][i % 3])),
    ));
    // 40,000 distinct values of 12 bytes: a dictionary page of about 640 KB.
    let wide: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("ref-{:08}", i % 40_000)),
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("channel", DataType::Utf8, true),
        Field::new("reference", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![codes, wide]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-stats.parquet");
    write_parquet(&path, &batch, n);
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let has_stats = |c: &parquet::file::metadata::ColumnChunkMetaData| {
        c.page_encoding_stats().is_some() || c.page_encoding_stats_mask().is_some()
    };
    let written = reader.metadata().row_group(0).column(1).clone();
    assert!(written.dictionary_page_offset().is_some() && has_stats(&written));
    drop_page_encoding_stats(&path);
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    assert!(!has_stats(reader.metadata().row_group(0).column(0)));

    let chunks = read_whole(&path);
    let schema = chunks[0].schema();
    assert!(matches!(
        schema.field(0).data_type(),
        DataType::Dictionary(_, _)
    ));
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
    let whole = concat_batches(&schema, &chunks).unwrap();
    for c in [0, 1] {
        let plain = arrow::compute::cast(whole.column(c), &DataType::Utf8).unwrap();
        assert_eq!(plain.as_ref(), batch.column(c).as_ref());
    }
}
