//! Semantics of every kind through the public evaluator, as the suite format states them.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray,
};
use arrow::datatypes::Int32Type;
use dq_gate::CompiledSuite;
use dq_gate::internal::Fate;
use dq_gate::report::{BatchOutcome, ExpectationResult};
use serde_json::json;

use super::util::{eval_chunks, quarantined, suite};

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn exp<'a>(r: &'a dq_gate::internal::BatchResult, id: &str) -> &'a ExpectationResult {
    r.report.expectations.iter().find(|e| e.id == id).unwrap()
}

#[test]
fn nulls_ignore_pass_fail_and_mostly() {
    let s = suite(
        r#"expectations:
  - {id: ign, expect: in_set, column: c, values: [A], on_fail: warn}
  - {id: pas, expect: in_set, column: c, values: [A], nulls: pass, on_fail: warn}
  - {id: fal, expect: in_set, column: c, values: [A], nulls: fail, on_fail: warn}
  - {id: most, expect: in_set, column: c, values: [A], mostly: 0.5, on_fail: warn}
  - {id: most_hi, expect: in_set, column: c, values: [A], mostly: 0.7, on_fail: warn}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![(
        "c",
        Arc::new(StringArray::from(vec![
            Some("A"),
            Some("B"),
            None,
            Some("A"),
        ])) as ArrayRef,
    )]);
    let r = eval_chunks(&c, &[b]);
    let e = exp(&r, "ign");
    assert_eq!((e.evaluated, e.failed, e.success), (3, 1, false));
    assert_eq!(e.failed_fraction, Some(1.0 / 3.0));
    assert_eq!(e.failed_fraction_total, Some(0.25));
    assert_eq!(e.samples, vec![json!("B")]);
    assert_eq!(e.sample_keys, vec![json!({"_row": 1})]);
    let e = exp(&r, "pas");
    assert_eq!((e.evaluated, e.failed), (4, 1));
    let e = exp(&r, "fal");
    assert_eq!((e.evaluated, e.failed), (4, 2));
    assert!(exp(&r, "most").success); // 2/3 >= 0.5
    assert!(!exp(&r, "most_hi").success); // 2/3 < 0.7
    // warn routes nothing
    assert_eq!(r.report.rows_quarantined, 0);
    assert_eq!(r.report.outcome, BatchOutcome::Passed);
}

#[test]
fn routing_never_lets_a_null_through() {
    let s = suite(
        r#"expectations:
  - {id: positive, expect: sql, expr: 'x > 0'}
  - {id: known, expect: in_set, column: c, values: [A], nulls: fail}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![
        (
            "x",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-1), Some(2)])) as ArrayRef,
        ),
        (
            "c",
            Arc::new(StringArray::from(vec![
                Some("A"),
                Some("A"),
                Some("A"),
                None,
            ])) as ArrayRef,
        ),
    ]);
    let r = eval_chunks(&c, &[b]);
    // sql defaults to nulls: fail, as Delta CHECK constraints do.
    assert_eq!(exp(&r, "positive").failed, 2);
    assert_eq!(quarantined(&r), vec![false, true, true, true]);
    assert_eq!(r.report.rows_passed + r.report.rows_quarantined, 4);
}

#[test]
fn where_limits_what_is_evaluated() {
    let s = suite(
        r#"expectations:
  - {id: paid_positive, expect: between, column: amt, min: 0, strict_min: true, where: "status = 'PAID'"}
  - {id: paid_mean, expect: metric, metric: mean, column: amt, min: 10, where: "status = 'PAID'"}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![
        (
            "amt",
            Arc::new(Float64Array::from(vec![20.0, 0.0, -5.0, 30.0])) as ArrayRef,
        ),
        (
            "status",
            Arc::new(StringArray::from(vec![
                Some("PAID"),
                Some("VOID"),
                None,
                Some("PAID"),
            ])) as ArrayRef,
        ),
    ]);
    let r = eval_chunks(&c, &[b]);
    let e = exp(&r, "paid_positive");
    assert_eq!((e.evaluated, e.failed), (2, 0));
    let m = exp(&r, "paid_mean");
    assert_eq!(m.observed, Some(json!(25.0)));
    assert_eq!(m.evaluated, 2);
    assert_eq!(r.report.rows_quarantined, 0);
}

#[test]
fn every_string_layout_gives_the_same_report() {
    let s = suite(
        r#"expectations:
  - {id: set, expect: in_set, column: s, values: [ab, cd]}
  - {id: re, expect: matches_regex, column: s, regex: '[a-z]{2}'}
  - {id: len, expect: length_between, column: s, min: 2, max: 2}
  - {id: uniq, expect: unique, column: s}
  - {id: fmt, expect: not_in_set, column: s, values: [zz], case_insensitive: true}
  - {id: maxlen, expect: metric, metric: max_length, column: s, max: 2, on_fail: warn}
  - {id: distinct, expect: metric, metric: distinct_count, column: s, max: 2, on_fail: warn}
"#,
    );
    let vals = vec![
        Some("ab"),
        None,
        Some("ZZ"),
        Some("abc"),
        Some("cd"),
        Some("ab"),
    ];
    let layouts: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vals.clone())),
        Arc::new(LargeStringArray::from(vals.clone())),
        Arc::new(StringViewArray::from(vals.clone())),
        Arc::new(vals.iter().copied().collect::<DictionaryArray<Int32Type>>()),
    ];
    let c = CompiledSuite::new(s).unwrap();
    let mut reports = Vec::new();
    for a in layouts {
        let r = eval_chunks(&c, &[batch(vec![("s", a)])]);
        let summary: Vec<_> = r
            .report
            .expectations
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    e.evaluated,
                    e.failed,
                    e.success,
                    e.samples.clone(),
                    e.observed.clone(),
                )
            })
            .collect();
        reports.push((summary, quarantined(&r)));
    }
    for r in &reports[1..] {
        assert_eq!(r, &reports[0]);
    }
    let (summary, q) = &reports[0];
    assert_eq!((summary[0].1, summary[0].2), (5, 2)); // set: ZZ, abc fail
    assert_eq!(summary[3].2, 2); // uniq: both "ab" fail
    assert_eq!(summary[5].5, Some(json!(3)));
    assert_eq!(summary[6].5, Some(json!(4)));
    assert_eq!(q, &vec![true, false, true, true, false, true]);
}

#[test]
fn unique_every_copy_fails_across_chunks() {
    let s = suite("expectations:\n  - {id: u, expect: unique, column: id}\n");
    let c = CompiledSuite::new(s).unwrap();
    let a = batch(vec![(
        "id",
        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
    )]);
    let b = batch(vec![(
        "id",
        Arc::new(Int64Array::from(vec![4, 1, 5])) as ArrayRef,
    )]);
    let r = eval_chunks(&c, &[a, b]);
    assert_eq!(exp(&r, "u").failed, 2);
    assert_eq!(
        quarantined(&r),
        vec![true, false, false, false, true, false]
    );
}

#[test]
fn compare_dates_and_literal_timestamps() {
    let s = suite(
        r#"expectations:
  - {id: order, expect: compare, left: paid, op: '>=', right: served}
  - {id: after, expect: compare, left: ts, op: '>', value: '2024-01-01T00:00:00Z'}
  - {id: future, expect: not_in_future, column: ts}
  - {id: fresh, expect: freshness, column: ts, max_age: 1d, on_fail: warn}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let day = |y: i32, m: u32, d: u32| {
        (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
            - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32
    };
    let ts = |s: &str| {
        s.parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp_micros()
    };
    let b = batch(vec![
        (
            "served",
            Arc::new(Date32Array::from(vec![
                Some(day(2025, 1, 2)),
                Some(day(2025, 1, 2)),
                None,
            ])) as ArrayRef,
        ),
        (
            "paid",
            Arc::new(Date32Array::from(vec![
                Some(day(2025, 1, 1)),
                Some(day(2025, 1, 2)),
                Some(day(2025, 1, 1)),
            ])) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(ts("2023-12-31T23:59:59Z")),
                    Some(ts("2026-01-14T00:00:00Z")),
                    Some(ts("2026-01-16T00:00:00Z")),
                ])
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
    ]);
    let r = eval_chunks(&c, &[b]);
    let e = exp(&r, "order");
    assert_eq!((e.evaluated, e.failed), (2, 1));
    assert_eq!(
        e.samples,
        vec![json!({"paid": "2025-01-01", "served": "2025-01-02"})]
    );
    assert_eq!(exp(&r, "after").failed, 1);
    let f = exp(&r, "future");
    assert_eq!(f.failed, 1);
    assert_eq!(f.samples, vec![json!("2026-01-16T00:00:00Z")]);
    // newest value is in the future of as_of: fresh
    assert!(exp(&r, "fresh").success);
}

#[test]
fn aggregates_quarantine_the_batch_and_fail_stops() {
    let s = suite(
        r#"expectations:
  - {id: enough, expect: metric, metric: row_count, min: 5}
  - {id: pos, expect: between, column: x, min: 0}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![(
        "x",
        Arc::new(Int32Array::from(vec![1, -1, 2])) as ArrayRef,
    )]);
    let r = eval_chunks(&c, std::slice::from_ref(&b));
    assert_eq!(r.fate, Fate::QuarantineAll);
    assert_eq!(r.report.outcome, BatchOutcome::BatchQuarantined);
    assert_eq!(quarantined(&r), vec![true, true, true]);
    let e = exp(&r, "enough");
    assert_eq!(e.observed, Some(json!(3)));
    assert!(
        e.message
            .as_deref()
            .unwrap()
            .contains("row_count 3 is outside [5, +inf)"),
        "{:?}",
        e.message
    );

    let s = suite(
        "expectations:\n  - {id: enough, expect: metric, metric: row_count, min: 5, on_fail: fail}\n",
    );
    let c = CompiledSuite::new(s).unwrap();
    let r = eval_chunks(&c, &[b]);
    assert_eq!(r.fate, Fate::Fail);
    assert_eq!(r.report.outcome, BatchOutcome::Failed);
    assert_eq!(r.report.rows_passed + r.report.rows_quarantined, 0);
}

#[test]
fn metric_over_no_values_fails_with_a_message() {
    let s = suite("expectations:\n  - {id: m, expect: metric, metric: mean, column: x, min: 0}\n");
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![(
        "x",
        Arc::new(Float64Array::from(vec![None, None])) as ArrayRef,
    )]);
    let r = eval_chunks(&c, &[b]);
    let e = exp(&r, "m");
    assert!(!e.success);
    assert_eq!(e.observed, Some(serde_json::Value::Null));
    assert!(
        e.message
            .as_deref()
            .unwrap()
            .contains("zero non-null values")
    );
}

#[test]
fn schema_violation_quarantines_the_whole_batch_and_keeps_raw_values() {
    let s = suite(
        r#"schema:
  columns:
    - {name: id, type: int64, nullable: false, tags: [key]}
    - {name: email, type: string, tags: [pii]}
expectations:
  - {id: e, expect: not_null, column: email}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["1", "x"])) as ArrayRef,
        ),
        (
            "email",
            Arc::new(StringArray::from(vec!["a@b.c", "d@e.f"])) as ArrayRef,
        ),
        ("extra", Arc::new(Int32Array::from(vec![7, 8])) as ArrayRef),
    ]);
    let r = eval_chunks(&c, &[b]);
    assert_eq!(r.fate, Fate::QuarantineAll);
    assert_eq!(
        r.report.schema_violations.len(),
        2,
        "{:?}",
        r.report.schema_violations
    );
    assert!(r.report.expectations.is_empty());
    let raw = r.chunks[0].raw.as_ref().unwrap();
    assert_eq!(raw.value(1), r#"{"id":"x","extra":"8"}"#);
}

#[test]
fn pii_values_never_appear_in_samples() {
    let s = suite(
        r#"schema:
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: email, type: string, tags: [pii]}
    - {name: ssn, type: string, tags: [pii, key]}
expectations:
  - {id: e, expect: matches_regex, column: email, regex: '[a-z]+@example\.com'}
"#,
    );
    let c = CompiledSuite::new(s).unwrap();
    let b = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "email",
            Arc::new(StringArray::from(vec![
                "ann@example.com",
                "Bob.Smith@mail.org",
            ])) as ArrayRef,
        ),
        (
            "ssn",
            Arc::new(StringArray::from(vec!["123-45-6789", "987-65-4321"])) as ArrayRef,
        ),
    ]);
    let r = eval_chunks(&c, &[b]);
    let e = exp(&r, "e");
    assert_eq!(e.samples, vec![json!("masked:Aaa.Aaaaa@aaaa.aaa")]);
    assert_eq!(
        e.sample_keys,
        vec![json!({"id": 2, "ssn": "masked:999-99-9999"})]
    );
    let all = serde_json::to_string(&r.report).unwrap();
    assert!(!all.contains("Bob") && !all.contains("987-65"), "{all}");
}

/// A batch pushed whole (large enough to be cut into one slice per core) gives the report and
/// quarantine mask of the same rows pushed in small chunks: counts, samples, metrics over many
/// distinct values, uniqueness across the slices.
#[test]
fn a_large_pushed_batch_reports_as_its_rows_in_small_chunks() {
    let s = suite(
        r#"expectations:
  - {id: re, expect: matches_regex, column: s, regex: '^v[0-9]*0$'}
  - {id: uniq, expect: unique, column: s}
  - {id: distinct_s, expect: metric, metric: distinct_count, column: s, max: 10, on_fail: warn}
  - {id: distinct_n, expect: metric, metric: distinct_count, column: n, max: 10, on_fail: warn}
  - {id: singles, expect: metric, metric: unique_fraction, column: n, max: 0.5, on_fail: warn}
  - {id: mean, expect: metric, metric: mean, column: n, max: 1, on_fail: warn}
"#,
    );
    let rows = 300_000i64;
    let n: Vec<Option<i64>> = (0..rows)
        .map(|i| (i % 97 != 0).then_some((i * 7919) % 250_000))
        .collect();
    let s_vals: Vec<String> = (0..rows)
        .map(|i| format!("v{}", (i * 31) % 280_000))
        .collect();
    let whole = batch(vec![
        ("s", Arc::new(StringArray::from(s_vals)) as ArrayRef),
        ("n", Arc::new(Int64Array::from(n))),
    ]);
    let c = CompiledSuite::new(s).unwrap();
    let small: Vec<RecordBatch> = (0..rows as usize)
        .step_by(7_000)
        .map(|at| whole.slice(at, 7_000.min(rows as usize - at)))
        .collect();
    let summary = |r: &dq_gate::internal::BatchResult| -> Vec<_> {
        r.report
            .expectations
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    e.evaluated,
                    e.failed,
                    e.samples.clone(),
                    e.observed.clone(),
                )
            })
            .collect()
    };
    let (a, b) = (eval_chunks(&c, &[whole]), eval_chunks(&c, &small));
    let (sa, sb) = (summary(&a), summary(&b));
    // Everything but the mean is exact; the mean is summed in another order (rounding apart).
    assert_eq!(sa[..5], sb[..5]);
    let mean = |i: usize| {
        [&sa, &sb][i][5]
            .4
            .as_ref()
            .and_then(|v| v.as_f64())
            .unwrap()
    };
    assert!((mean(0) - mean(1)).abs() < 1e-9 * mean(1), "{sa:?}");
    assert_eq!(quarantined(&a), quarantined(&b));
    assert!(a.chunks.len() > 1, "the whole batch was cut into slices");
    assert_eq!(sa[2].4, Some(json!(280_000)));
    assert!(sa[1].2 > 0 && sa[0].2 > 0);
}
