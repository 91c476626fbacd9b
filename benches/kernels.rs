//! Per-kernel-family throughput, in rows/s, with the parameters in the names.
//!
//! Each bench evaluates one expectation over one in-memory batch through the public evaluator
//! (`BatchRun`), so it measures what a gate run pays: kernel, null policy, mask and counts.
//! Data comes from seeded generators; binding and compiling happen outside the timed loop.
//!
//! `cargo bench --profile bench-local --bench kernels`

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal64Array, Decimal128Array, DictionaryArray, Float64Array,
    Int64Array, RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray,
};
use arrow::datatypes::Int32Type;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dq_gate::internal::BatchRun;
use dq_gate::internal::generate::Rng;
use dq_gate::{CompiledSuite, Suite};

const ROWS: usize = 1 << 20;

// The allocator `dq-check` runs with, set up as `dq-check validate` sets it (see `run`). Under the
// system allocator, a kernel whose state outgrows its mmap threshold (distinct counts over a
// million values) hands its pages back after each iteration and faults them in again in the
// next, which this bench would measure instead of the kernel.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn compiled(expectation: &str) -> CompiledSuite {
    let text = format!("dq_suite: 1\nname: b\nversion: 1\nexpectations:\n  - {expectation}\n");
    CompiledSuite::new(Suite::from_yaml(&text, "bench.yaml").unwrap()).unwrap()
}

fn run(c: &mut Criterion, group: &str, name: &str, expectation: &str, batch: &RecordBatch) {
    let suite = compiled(expectation);
    let as_of = chrono::Utc::now();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(batch.num_rows() as u64));
    g.sample_size(20);
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut r = BatchRun::new(&suite, as_of, 1, "bench", 0);
            r.push(black_box(batch), false).unwrap();
            black_box(r.finish().unwrap().report.rows_quarantined)
        })
    });
    g.finish();
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

/// Strings drawn from `pool`, a share `null` null and a share `fail` replaced by "BAD-VALUE".
fn strings(pool: &[String], null: f64, fail: f64, seed: u64) -> Vec<Option<String>> {
    let mut r = Rng(seed);
    (0..ROWS)
        .map(|_| {
            let x = r.f();
            if x < null {
                None
            } else if x < null + fail {
                Some("BAD-VALUE".to_string())
            } else {
                Some(pool[(r.next() % pool.len() as u64) as usize].clone())
            }
        })
        .collect()
}

fn layouts(v: &[Option<String>]) -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("utf8", Arc::new(StringArray::from(v.to_vec())) as ArrayRef),
        (
            "dict",
            Arc::new(
                v.iter()
                    .map(|s| s.as_deref())
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ),
        (
            "view",
            Arc::new(StringViewArray::from(
                v.iter().map(|s| s.as_deref()).collect::<Vec<_>>(),
            )),
        ),
    ]
}

fn not_null(c: &mut Criterion) {
    for null in [0.0, 0.1] {
        let mut r = Rng(1);
        let v: Vec<Option<i64>> = (0..ROWS)
            .map(|i| (r.f() >= null).then_some(i as i64))
            .collect();
        let b = batch(vec![("x", Arc::new(Int64Array::from(v)))]);
        run(
            c,
            "not_null",
            &format!("i64 ({ROWS} rows, {null} null)"),
            "{id: k, expect: not_null, column: x}",
            &b,
        );
    }
}

fn sets(c: &mut Criterion) {
    for size in [8usize, 51, 1000] {
        let pool: Vec<String> = (0..size).map(|i| format!("C{i:03}")).collect();
        let v = strings(&pool, 0.01, 0.01, 2);
        let members = pool
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        for (layout, a) in layouts(&v) {
            let b = batch(vec![("s", a)]);
            run(
                c,
                "in_set",
                &format!("string {layout} ({ROWS} rows, 0.01 null, 0.01 fail) set={size}"),
                &format!("{{id: k, expect: in_set, column: s, values: [{members}]}}"),
                &b,
            );
        }
    }
    let mut r = Rng(3);
    let v: Vec<i64> = (0..ROWS).map(|_| (r.next() % 2000) as i64).collect();
    let b = batch(vec![("x", Arc::new(Int64Array::from(v)))]);
    let members = (0..1000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    run(
        c,
        "in_set",
        &format!("i64 ({ROWS} rows, 0 null, 0.5 fail) set=1000"),
        &format!("{{id: k, expect: in_set, column: x, values: [{members}]}}"),
        &b,
    );
}

fn ranges(c: &mut Criterion) {
    let mut r = Rng(4);
    let f: Vec<Option<f64>> = (0..ROWS)
        .map(|_| (r.f() > 0.01).then(|| r.f() * 1000.0 - 1.0))
        .collect();
    let d: Vec<i32> = (0..ROWS)
        .map(|_| 18_000 + (r.next() % 2500) as i32)
        .collect();
    let i: Vec<i64> = (0..ROWS).map(|_| (r.next() % 1000) as i64).collect();
    let b = batch(vec![
        ("f", Arc::new(Float64Array::from(f)) as ArrayRef),
        ("d", Arc::new(Date32Array::from(d))),
        ("i", Arc::new(Int64Array::from(i))),
    ]);
    run(
        c,
        "between",
        &format!("f64 ({ROWS} rows, 0.01 null, 0.001 fail) min only"),
        "{id: k, expect: between, column: f, min: 0, nulls: fail}",
        &b,
    );
    run(
        c,
        "between",
        &format!("date32 ({ROWS} rows, 0 null, 0.12 fail)"),
        "{id: k, expect: between, column: d, min: '2020-01-01', max: '2025-12-31'}",
        &b,
    );
    run(
        c,
        "between",
        &format!("i64 ({ROWS} rows, 0 null, 0.1 fail) strict"),
        "{id: k, expect: between, column: i, min: 0, max: 900, strict_min: true}",
        &b,
    );
}

fn regexes(c: &mut Criterion) {
    let mut r = Rng(5);
    let npi: Vec<Option<String>> = (0..ROWS)
        .map(|_| {
            Some(if r.f() < 0.001 {
                format!("{:09}", r.next() % 1_000_000_000)
            } else {
                format!("{:010}", r.next() % 10_000_000_000)
            })
        })
        .collect();
    let b = batch(vec![("s", Arc::new(StringArray::from(npi)) as ArrayRef)]);
    run(
        c,
        "matches_regex",
        &format!("utf8 ({ROWS} rows, 0 null, 0.001 fail) [0-9]{{10}} distinct"),
        "{id: k, expect: matches_regex, column: s, regex: '[0-9]{10}'}",
        &b,
    );
    let pool: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "{}{}{}.{}",
                (b'A' + (i % 20) as u8) as char,
                i % 10,
                (i / 10) % 10,
                i % 7
            )
        })
        .collect();
    let v = strings(&pool, 0.0, 0.001, 6);
    for (layout, a) in layouts(&v) {
        let b = batch(vec![("s", a)]);
        run(
            c,
            "matches_regex",
            &format!("{layout} ({ROWS} rows, 0 null, 0.001 fail) icd10 3000 distinct"),
            r"{id: k, expect: matches_regex, column: s, regex: '[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?'}",
            &b,
        );
    }
}

fn lengths(c: &mut Criterion) {
    let pool: Vec<String> = (0..5000).map(|i| "x".repeat(1 + i % 30)).collect();
    let v = strings(&pool, 0.01, 0.0, 7);
    for (layout, a) in layouts(&v) {
        let b = batch(vec![("s", a)]);
        run(
            c,
            "length_between",
            &format!("{layout} ({ROWS} rows, 0.01 null) 1..=25"),
            "{id: k, expect: length_between, column: s, min: 1, max: 25}",
            &b,
        );
    }
}

fn unique(c: &mut Criterion) {
    let mut r = Rng(8);
    let n = ROWS as u64;
    let dense: Vec<i64> = (0..n)
        .map(|i| 10_000_000_000 + ((i * 2_654_435_761) % n) as i64)
        .collect();
    let sparse: Vec<i64> = (0..n).map(|_| r.next() as i64).collect();
    let strs: Vec<String> = (0..n)
        .map(|i| format!("T{:012}", (i * 2_654_435_761) % n))
        .collect();
    run(
        c,
        "unique",
        &format!("i64 dense ({ROWS} rows, 0 dup)"),
        "{id: k, expect: unique, column: x}",
        &batch(vec![("x", Arc::new(Int64Array::from(dense)))]),
    );
    run(
        c,
        "unique",
        &format!("i64 sparse ({ROWS} rows, 0 dup)"),
        "{id: k, expect: unique, column: x}",
        &batch(vec![("x", Arc::new(Int64Array::from(sparse)))]),
    );
    run(
        c,
        "unique",
        &format!("string ({ROWS} rows, 0 dup)"),
        "{id: k, expect: unique, column: x}",
        &batch(vec![("x", Arc::new(StringArray::from(strs)))]),
    );
    // A payment-style key: a 32-character hex id and a UTC timestamp, 0.1% of tuples repeated.
    let ids: Vec<String> = (0..n)
        .map(|i| format!("{:016x}{:016x}", i * 2_654_435_761, i ^ 0x5bd1_e995))
        .collect();
    let ts: Vec<i64> = (0..n)
        .map(|i| 1_700_000_000_000_000 + (i as i64 % 86_400) * 1_000_000)
        .collect();
    let (mut ids, mut ts) = (ids, ts);
    for i in (0..ROWS).step_by(1000) {
        ids[i + 1] = ids[i].clone();
        ts[i + 1] = ts[i];
    }
    run(
        c,
        "compound_unique",
        &format!("string(32) + timestamp(us, UTC) ({ROWS} rows, 0.002 fail)"),
        "{id: k, expect: compound_unique, columns: [id, at]}",
        &batch(vec![
            ("id", Arc::new(StringArray::from(ids)) as ArrayRef),
            (
                "at",
                Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
            ),
        ]),
    );
}

fn compare_and_sql(c: &mut Criterion) {
    let mut r = Rng(9);
    let a: Vec<i32> = (0..ROWS)
        .map(|_| 18_000 + (r.next() % 2000) as i32)
        .collect();
    let p: Vec<i32> = a
        .iter()
        .map(|d| d + (r.next() % 91) as i32 - if r.f() < 0.001 { 100 } else { 0 })
        .collect();
    let billed: Vec<f64> = (0..ROWS).map(|_| r.f() * 500.0).collect();
    let paid: Vec<f64> = billed.iter().map(|b| b * 0.8).collect();
    let b = batch(vec![
        ("served", Arc::new(Date32Array::from(a)) as ArrayRef),
        ("paid", Arc::new(Date32Array::from(p))),
        ("billed_amount", Arc::new(Float64Array::from(billed))),
        ("paid_amount", Arc::new(Float64Array::from(paid))),
    ]);
    run(
        c,
        "compare",
        &format!("date32 columns ({ROWS} rows, 0.001 fail) >="),
        "{id: k, expect: compare, left: paid, op: '>=', right: served}",
        &b,
    );
    run(
        c,
        "sql",
        &format!("f64 ({ROWS} rows) two comparisons"),
        "{id: k, expect: sql, expr: 'billed_amount >= 0 AND paid_amount <= billed_amount'}",
        &b,
    );
}

fn metrics(c: &mut Criterion) {
    let mut r = Rng(10);
    let f: Vec<Option<f64>> = (0..ROWS)
        .map(|_| (r.f() > 0.02).then(|| r.f() * 400.0))
        .collect();
    let b = batch(vec![("x", Arc::new(Float64Array::from(f)) as ArrayRef)]);
    for m in [
        "null_fraction",
        "mean",
        "stddev",
        "min",
        "distinct_count",
        "quantile",
    ] {
        let q = if m == "quantile" { ", q: 0.99" } else { "" };
        run(
            c,
            "metric",
            &format!("{m} f64 ({ROWS} rows, 0.02 null)"),
            &format!(
                "{{id: k, expect: metric, metric: {m}, column: x, min: -1{q}, on_fail: warn}}"
            ),
            &b,
        );
    }
}

/// Metrics over the other types a payments table has: 32-character hex ids, UTC timestamps and
/// decimals.
fn metrics_by_type(c: &mut Criterion) {
    let mut r = Rng(11);
    let n = ROWS as u64;
    let ids: Vec<String> = (0..n)
        .map(|i| format!("{:016x}{:016x}", i * 2_654_435_761, r.next()))
        .collect();
    let ts: Vec<i64> = (0..ROWS)
        .map(|_| 1_700_000_000_000_000 + (r.next() % 31_536_000_000_000) as i64)
        .collect();
    let amounts: Vec<i128> = (0..ROWS).map(|_| (r.next() % 5_000_000) as i128).collect();
    let codes = ["EUR", "USD", "GBP", "CHF", "SEK"];
    let currency: Vec<&str> = (0..ROWS).map(|_| codes[(r.next() % 5) as usize]).collect();
    let b = batch(vec![
        ("id", Arc::new(StringArray::from(ids)) as ArrayRef),
        (
            "currency",
            Arc::new(StringArray::from(currency)) as ArrayRef,
        ),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        ),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(amounts)
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
        ),
    ]);
    let cases = [
        (
            "id",
            "string(32)",
            &["distinct_count", "unique_fraction", "min", "max_length"][..],
        ),
        ("currency", "string(3), 5 values", &["distinct_count"][..]),
        (
            "at",
            "timestamp(us, UTC)",
            &["distinct_count", "min", "max"][..],
        ),
        (
            "amount",
            "decimal(12,2)",
            &["distinct_count", "mean", "sum", "quantile"][..],
        ),
    ];
    for (col, ty, ms) in cases {
        for m in ms {
            let q = if *m == "quantile" { ", q: 0.99" } else { "" };
            let bound = match (*m, col) {
                ("min" | "max", "id") => ", min: '0'",
                ("min" | "max", "at") => ", min: '2020-01-01T00:00:00Z'",
                ("unique_fraction", _) => ", min: 0",
                _ => ", min: 1",
            };
            run(
                c,
                "metric",
                &format!("{m} {ty} ({ROWS} rows)"),
                &format!(
                    "{{id: k, expect: metric, metric: {m}, column: {col}{bound}{q}, on_fail: warn}}"
                ),
                &b,
            );
        }
    }
}

/// The kinds the families above leave out, over the types a payments table has: formats of
/// strings (few distinct dates, and distinct timestamps), the clock kinds, literal comparisons
/// of decimals and timestamps, ranges over them, and the length metrics.
fn other_kinds(c: &mut Criterion) {
    let mut r = Rng(12);
    let micros: Vec<i64> = (0..ROWS)
        .map(|_| 1_700_000_000_000_000 + (r.next() % 31_536_000_000_000) as i64)
        .collect();
    let text = |us: i64, f: &str| {
        chrono::DateTime::from_timestamp_micros(us)
            .unwrap()
            .format(f)
            .to_string()
    };
    let days: Vec<String> = micros.iter().map(|us| text(*us, "%Y-%m-%d")).collect();
    let stamps: Vec<String> = micros
        .iter()
        .map(|us| text(*us, "%Y-%m-%dT%H:%M:%S"))
        .collect();
    let amounts: Vec<i128> = (0..ROWS)
        .map(|_| (r.next() % 5_000_000) as i128 - 1_000)
        .collect();
    let ids: Vec<String> = (0..ROWS as u64)
        .map(|i| format!("{:016x}{:016x}", i * 2_654_435_761, r.next()))
        .collect();
    let b = batch(vec![
        ("day", Arc::new(StringArray::from(days)) as ArrayRef),
        ("stamp", Arc::new(StringArray::from(stamps)) as ArrayRef),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC")),
        ),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(amounts.clone())
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
        ),
        // The same amounts as `validate` reads them from Parquet's INT64 (`Decimal64`).
        (
            "amount64",
            Arc::new(
                Decimal64Array::from_iter_values(amounts.iter().map(|a| *a as i64))
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
        ),
        ("id", Arc::new(StringArray::from(ids)) as ArrayRef),
    ]);
    let cases = [
        (
            "matches_format",
            "utf8 dates, 365 distinct, %Y-%m-%d",
            "{id: k, expect: matches_format, column: day, format: '%Y-%m-%d'}",
        ),
        (
            "matches_format",
            "utf8 timestamps, all distinct, %Y-%m-%dT%H:%M:%S",
            "{id: k, expect: matches_format, column: stamp, format: '%Y-%m-%dT%H:%M:%S'}",
        ),
        (
            "not_in_future",
            "timestamp(us, UTC)",
            "{id: k, expect: not_in_future, column: at}",
        ),
        (
            "freshness",
            "timestamp(us, UTC)",
            "{id: k, expect: freshness, column: at, max_age: 3650d}",
        ),
        (
            "compare",
            "decimal(12,2) >= literal",
            "{id: k, expect: compare, left: amount, op: '>=', value: 0}",
        ),
        (
            "compare",
            "timestamp(us, UTC) < literal",
            "{id: k, expect: compare, left: at, op: '<', value: '2024-06-01T00:00:00Z'}",
        ),
        (
            "between",
            "decimal(12,2)",
            "{id: k, expect: between, column: amount, min: 0, max: 40000}",
        ),
        (
            "between",
            "timestamp(us, UTC)",
            "{id: k, expect: between, column: at, min: '2023-11-15T00:00:00Z', max: '2024-11-01T00:00:00Z'}",
        ),
        (
            "metric",
            "min_length string(32)",
            "{id: k, expect: metric, metric: min_length, column: id, min: 1, on_fail: warn}",
        ),
        (
            "metric",
            "distinct_fraction decimal(12,2)",
            "{id: k, expect: metric, metric: distinct_fraction, column: amount, min: 0, on_fail: warn}",
        ),
        (
            "metric",
            "stddev_pop decimal(12,2)",
            "{id: k, expect: metric, metric: stddev_pop, column: amount, min: 0, on_fail: warn}",
        ),
        (
            "compare",
            "decimal(12,2) as Decimal64 >= literal",
            "{id: k, expect: compare, left: amount64, op: '>=', value: 0}",
        ),
        (
            "between",
            "decimal(12,2) as Decimal64",
            "{id: k, expect: between, column: amount64, min: 0, max: 40000}",
        ),
        (
            "metric",
            "stddev_pop decimal(12,2) as Decimal64",
            "{id: k, expect: metric, metric: stddev_pop, column: amount64, min: 0, on_fail: warn}",
        ),
        (
            "metric",
            "quantile decimal(12,2) as Decimal64",
            "{id: k, expect: metric, metric: quantile, q: 0.99, column: amount64, min: 0, on_fail: warn}",
        ),
    ];
    for (group, name, expectation) in cases {
        run(c, group, &format!("{name} ({ROWS} rows)"), expectation, &b);
    }
}

/// What `dq-check validate` does first, here before any batch is made (a batch made before would
/// sit on huge pages): freed memory kept for reuse, no huge pages.
fn as_validate() -> Criterion {
    dq_gate::internal::process::keep_freed_memory();
    dq_gate::internal::process::no_huge_pages();
    Criterion::default()
}

criterion_group!(
    name = benches;
    config = as_validate();
    targets = other_kinds,
    metrics_by_type,
    not_null,
    sets,
    ranges,
    regexes,
    lengths,
    unique,
    compare_and_sql,
    metrics
);
criterion_main!(benches);
