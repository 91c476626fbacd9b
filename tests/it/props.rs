//! Laws, by proptest: every row-level kind equals a naive per-row reference; results do not
//! depend on how a batch is chunked or how its strings are laid out; metric states merge.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::Int32Type;
use dq_gate::CompiledSuite;
use dq_gate::internal::{MetricState, Observed};
use dq_gate::suite::MetricKind;
use proptest::prelude::*;

use super::util::{eval_chunks, quarantined, suite};

fn ints() -> impl Strategy<Value = Vec<Option<i64>>> {
    prop::collection::vec(prop::option::weighted(0.8, -5i64..6), 0..140)
}

fn strs() -> impl Strategy<Value = Vec<Option<String>>> {
    prop::collection::vec(prop::option::weighted(0.8, "[abcé]{0,3}"), 0..140)
}

fn policy() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("ignore"), Just("pass"), Just("fail")]
}

/// Applies a null policy to a per-row reference: (evaluated, failing rows).
fn reference<T>(vals: &[Option<T>], policy: &str, pass: impl Fn(&T) -> bool) -> (u64, Vec<bool>) {
    let mut evaluated = 0;
    let fails = vals
        .iter()
        .map(|v| match v {
            Some(v) => {
                evaluated += 1;
                !pass(v)
            }
            None => match policy {
                "ignore" => false,
                "pass" => {
                    evaluated += 1;
                    false
                }
                _ => {
                    evaluated += 1;
                    true
                }
            },
        })
        .collect();
    (evaluated, fails)
}

fn run_one(expectation: &str, col: ArrayRef) -> (u64, u64, Vec<bool>) {
    let s = suite(&format!("expectations:\n  - {expectation}\n"));
    let c = CompiledSuite::new(s).unwrap();
    let b = RecordBatch::try_from_iter(vec![("c", col)]).unwrap();
    let r = eval_chunks(&c, &[b]);
    let e = &r.report.expectations[0];
    (e.evaluated, e.failed, quarantined(&r))
}

fn check(got: (u64, u64, Vec<bool>), want: (u64, Vec<bool>)) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.0, want.0, "evaluated");
    prop_assert_eq!(
        got.1,
        want.1.iter().filter(|f| **f).count() as u64,
        "failed"
    );
    prop_assert_eq!(got.2, want.1, "routed rows");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn in_set_ints(vals in ints(), set in prop::collection::vec(-5i64..6, 1..12), pol in policy(), neg in any::<bool>()) {
        let kind = if neg { "not_in_set" } else { "in_set" };
        let list: Vec<String> = set.iter().map(|v| v.to_string()).collect();
        let got = run_one(
            &format!("{{id: x, expect: {kind}, column: c, values: [{}], nulls: {pol}}}", list.join(", ")),
            Arc::new(Int64Array::from(vals.clone())),
        );
        check(got, reference(&vals, pol, |v| set.contains(v) != neg))?;
    }

    #[test]
    fn in_set_strings_any_layout(vals in prop::collection::vec(prop::option::weighted(0.8, "[abcé]{0,5}"), 0..140), set in prop::collection::vec("[abcé]{0,4}", 1..14), pol in policy(), layout in 0u8..3) {
        let list: Vec<String> = set.iter().map(|v| format!("'{v}'")).collect();
        let col: ArrayRef = match layout {
            0 => Arc::new(vals.iter().map(|v| v.as_deref()).collect::<DictionaryArray<Int32Type>>()),
            1 => Arc::new(arrow::array::StringViewArray::from(vals.iter().map(|v| v.as_deref()).collect::<Vec<_>>())),
            _ => Arc::new(StringArray::from(vals.clone())),
        };
        let got = run_one(&format!("{{id: x, expect: in_set, column: c, values: [{}], nulls: {pol}}}", list.join(", ")), col);
        check(got, reference(&vals, pol, |v| set.contains(v)))?;
    }

    #[test]
    fn between_ints(vals in ints(), lo in -6i64..6, hi in -6i64..6, smin in any::<bool>(), smax in any::<bool>(), pol in policy()) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let got = run_one(
            &format!("{{id: x, expect: between, column: c, min: {lo}, max: {hi}, strict_min: {smin}, strict_max: {smax}, nulls: {pol}}}"),
            Arc::new(Int64Array::from(vals.clone())),
        );
        check(got, reference(&vals, pol, |v| (if smin { *v > lo } else { *v >= lo }) && (if smax { *v < hi } else { *v <= hi })))?;
    }

    /// Narrow integers (bounds beyond the type's range on either side) and dates, each compared
    /// in its own type.
    #[test]
    fn between_narrow_ints_and_dates(vals in prop::collection::vec(prop::option::weighted(0.8, any::<i8>()), 0..140), lo in prop::option::of(-300i64..300), hi in prop::option::of(-300i64..300), smin in any::<bool>(), smax in any::<bool>(), pol in policy(), date in any::<bool>()) {
        prop_assume!(lo.is_some() || hi.is_some());
        prop_assume!(lo.zip(hi).is_none_or(|(l, h)| l <= h));
        let day = |d: i64| (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(d)).to_string();
        let bound = |name: &str, b: Option<i64>| match b {
            Some(b) if date => format!(", {name}: '{}'", day(b)),
            Some(b) => format!(", {name}: {b}"),
            None => String::new(),
        };
        let col: ArrayRef = if date {
            Arc::new(arrow::array::Date32Array::from(vals.iter().map(|v| v.map(i32::from)).collect::<Vec<_>>()))
        } else {
            Arc::new(arrow::array::Int8Array::from(vals.clone()))
        };
        let got = run_one(
            &format!("{{id: x, expect: between, column: c{}{}, strict_min: {smin}, strict_max: {smax}, nulls: {pol}}}", bound("min", lo), bound("max", hi)),
            col,
        );
        let pass = |v: &i8| {
            let v = i64::from(*v);
            lo.is_none_or(|lo| if smin { v > lo } else { v >= lo }) && hi.is_none_or(|hi| if smax { v < hi } else { v <= hi })
        };
        check(got, reference(&vals, pol, pass))?;
    }

    /// Floats, NaN and infinities among them: NaN sorts above every number.
    #[test]
    fn between_floats(vals in prop::collection::vec(prop::option::weighted(0.8, prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), (-4i32..5).prop_map(|v| f64::from(v) / 2.0)]), 0..140), lo in prop::option::of(-4i32..5), hi in prop::option::of(-4i32..5), smin in any::<bool>(), smax in any::<bool>(), pol in policy()) {
        prop_assume!(lo.is_some() || hi.is_some());
        prop_assume!(lo.zip(hi).is_none_or(|(l, h)| l <= h));
        let bound = |name: &str, b: Option<i32>| b.map_or(String::new(), |b| format!(", {name}: {}", f64::from(b) / 2.0));
        let got = run_one(
            &format!("{{id: x, expect: between, column: c{}{}, strict_min: {smin}, strict_max: {smax}, nulls: {pol}}}", bound("min", lo), bound("max", hi)),
            Arc::new(Float64Array::from(vals.clone())),
        );
        let pass = |v: &f64| {
            let lo_ok = lo.map(|l| f64::from(l) / 2.0).is_none_or(|l| v.is_nan() || if smin { *v > l } else { *v >= l });
            let hi_ok = hi.map(|h| f64::from(h) / 2.0).is_none_or(|h| !v.is_nan() && if smax { *v < h } else { *v <= h });
            lo_ok && hi_ok
        };
        check(got, reference(&vals, pol, pass))?;
    }

    #[test]
    fn regex_full_match(vals in strs(), pol in policy(), neg in any::<bool>()) {
        let kind = if neg { "not_matches_regex" } else { "matches_regex" };
        let got = run_one(
            &format!("{{id: x, expect: {kind}, column: c, regex: '[a-c]{{2}}', nulls: {pol}}}"),
            Arc::new(StringArray::from(vals.clone())),
        );
        let m = |v: &String| v.chars().count() == 2 && v.chars().all(|c| ('a'..='c').contains(&c));
        check(got, reference(&vals, pol, |v| m(v) != neg))?;
    }

    /// Views: values inline (up to 12 bytes) and in data buffers, all-ASCII or not.
    #[test]
    fn length_of_views(vals in prop::collection::vec(prop::option::weighted(0.8, "[abé]{0,16}"), 0..140), ascii in any::<bool>(), lo in 0u64..16, hi in 0u64..16, pol in policy()) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let vals: Vec<Option<String>> = if ascii {
            vals.iter().map(|v| v.as_ref().map(|s| s.replace('é', "a"))).collect()
        } else {
            vals
        };
        let refs: Vec<Option<&str>> = vals.iter().map(|s| s.as_deref()).collect();
        let got = run_one(
            &format!("{{id: x, expect: length_between, column: c, min: {lo}, max: {hi}, nulls: {pol}}}"),
            Arc::new(arrow::array::StringViewArray::from(refs)),
        );
        check(got, reference(&vals, pol, |v| (lo..=hi).contains(&(v.chars().count() as u64))))?;
    }

    #[test]
    fn length_in_characters(vals in strs(), lo in 0u64..4, hi in 0u64..4, pol in policy()) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let got = run_one(
            &format!("{{id: x, expect: length_between, column: c, min: {lo}, max: {hi}, nulls: {pol}}}"),
            Arc::new(StringArray::from(vals.clone())),
        );
        check(got, reference(&vals, pol, |v| (lo..=hi).contains(&(v.chars().count() as u64))))?;
    }

    #[test]
    fn not_null_and_unique(vals in ints(), pol in policy()) {
        let got = run_one("{id: x, expect: not_null, column: c}", Arc::new(Int64Array::from(vals.clone())));
        let want: Vec<bool> = vals.iter().map(Option::is_none).collect();
        check(got, (vals.len() as u64, want))?;
        let got = run_one(&format!("{{id: x, expect: unique, column: c, nulls: {pol}}}"), Arc::new(Int64Array::from(vals.clone())));
        let count = |v: &i64| vals.iter().filter(|x| **x == Some(*v)).count();
        check(got, reference(&vals, pol, |v| count(v) == 1))?;
    }

    #[test]
    fn compare_columns(a in ints(), b_seed in prop::collection::vec(prop::option::weighted(0.8, -5i64..6), 140), pol in policy()) {
        let b: Vec<Option<i64>> = b_seed[..a.len()].to_vec();
        let s = suite(&format!("expectations:\n  - {{id: x, expect: compare, left: a, op: '<', right: b, nulls: {pol}}}\n"));
        let c = CompiledSuite::new(s).unwrap();
        let batch = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(Int64Array::from(a.clone())) as ArrayRef),
            ("b", Arc::new(Int64Array::from(b.clone())) as ArrayRef),
        ]).unwrap();
        let r = eval_chunks(&c, &[batch]);
        let e = &r.report.expectations[0];
        let pairs: Vec<Option<(i64, i64)>> = a.iter().zip(&b).map(|(x, y)| x.zip(*y)).collect();
        check((e.evaluated, e.failed, quarantined(&r)), reference(&pairs, pol, |(x, y)| x < y))?;
    }

    #[test]
    fn chunking_does_not_change_the_report(
        ids in prop::collection::vec(prop::option::weighted(0.9, 0i64..60), 1..200),
        amounts in prop::collection::vec(prop::option::weighted(0.9, -10.0f64..100.0), 200),
        codes in prop::collection::vec(prop::option::weighted(0.9, "[ab]{1,2}"), 200),
        cuts in prop::collection::vec(0usize..200, 0..4),
    ) {
        let n = ids.len();
        let s = suite(r#"expectations:
  - {id: u, expect: unique, column: id}
  - {id: pos, expect: between, column: amt, min: 0, nulls: fail}
  - {id: code, expect: in_set, column: code, values: [a, ab], where: 'id > 5'}
  - {id: mean, expect: metric, metric: mean, column: amt, min: -1000, on_fail: warn}
  - {id: sd, expect: metric, metric: stddev, column: amt, max: 1000, on_fail: warn}
  - {id: q, expect: metric, metric: quantile, q: 0.9, column: amt, max: 1000, on_fail: warn}
  - {id: dist, expect: metric, metric: unique_fraction, column: id, max: 1, on_fail: warn}
  - {id: nul, expect: metric, metric: null_count, column: code, max: 1000, on_fail: warn}
"#);
        let c = CompiledSuite::new(s).unwrap();
        let whole = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
            ("amt", Arc::new(Float64Array::from(amounts[..n].to_vec())) as ArrayRef),
            ("code", Arc::new(codes[..n].iter().map(|v| v.as_deref()).collect::<DictionaryArray<Int32Type>>()) as ArrayRef),
        ]).unwrap();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (n + 1)).collect();
        points.push(0);
        points.push(n);
        points.sort();
        let chunks: Vec<RecordBatch> = points.windows(2).map(|w| whole.slice(w[0], w[1] - w[0])).collect();
        let a = eval_chunks(&c, &[whole]);
        let b = eval_chunks(&c, &chunks);
        prop_assert_eq!(quarantined(&a), quarantined(&b));
        for (x, y) in a.report.expectations.iter().zip(&b.report.expectations) {
            prop_assert_eq!((x.evaluated, x.failed, x.success), (y.evaluated, y.failed, y.success), "{}", x.id);
            prop_assert_eq!(&x.samples, &y.samples, "{}", x.id);
            match (&x.observed, &y.observed) {
                (Some(serde_json::Value::Number(p)), Some(serde_json::Value::Number(q))) => {
                    let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
                    prop_assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0), "{}: {} vs {}", x.id, p, q);
                }
                (p, q) => prop_assert_eq!(p, q, "{}", x.id),
            }
        }
    }

    #[test]
    fn metric_states_merge(
        a in prop::collection::vec(prop::option::weighted(0.8, -1e3f64..1e3), 0..60),
        b in prop::collection::vec(prop::option::weighted(0.8, -1e3f64..1e3), 0..60),
        ia in prop::collection::vec(prop::option::weighted(0.8, -50i64..50), 0..60),
        ib in prop::collection::vec(prop::option::weighted(0.8, -50i64..50), 0..60),
    ) {
        let metrics = [
            MetricKind::RowCount, MetricKind::NullCount, MetricKind::NullFraction, MetricKind::NonNullFraction,
            MetricKind::DistinctCount, MetricKind::DistinctFraction, MetricKind::UniqueFraction, MetricKind::Min,
            MetricKind::Max, MetricKind::Mean, MetricKind::Sum, MetricKind::Stddev, MetricKind::StddevPop,
            MetricKind::Quantile,
        ];
        let floats = |v: &[Option<f64>]| -> ArrayRef { Arc::new(Float64Array::from(v.to_vec())) };
        let intsa = |v: &[Option<i64>]| -> ArrayRef { Arc::new(Int64Array::from(v.to_vec())) };
        for (x, y, xy) in [
            (floats(&a), floats(&b), floats(&[a.clone(), b.clone()].concat())),
            (intsa(&ia), intsa(&ib), intsa(&[ia.clone(), ib.clone()].concat())),
        ] {
            for m in metrics {
                let col = (m != MetricKind::RowCount).then_some(());
                let state = |arr: &ArrayRef| {
                    let mut s = MetricState::new(m, col.map(|_| arr.data_type()));
                    s.update(col.map(|_| arr.as_ref()), None, arr.len());
                    s
                };
                let mut merged = state(&x);
                merged.merge(&state(&y));
                let mut rev = state(&y);
                rev.merge(&state(&x));
                let mut with_empty = state(&xy);
                with_empty.merge(&state(&x.slice(0, 0)));
                // What the evaluator does: the other state taken, not copied.
                let mut absorbed = state(&x);
                absorbed.absorb(state(&y));
                let whole = state(&xy).finish(m, Some(0.3));
                for got in [merged.finish(m, Some(0.3)), rev.finish(m, Some(0.3)), with_empty.finish(m, Some(0.3)), absorbed.finish(m, Some(0.3))] {
                    match (&got, &whole) {
                        (Observed::Number(p), Observed::Number(q)) => {
                            prop_assert!((p - q).abs() <= 1e-9 * q.abs().max(1.0), "{:?}: {} vs {}", m, p, q)
                        }
                        _ => prop_assert_eq!(&got, &whole, "{:?}", m),
                    }
                }
            }
        }
    }
}

#[test]
fn string_metrics_merge_too() {
    let a: ArrayRef = Arc::new(StringArray::from(vec![Some("bb"), None, Some("a")]));
    let b: ArrayRef = Arc::new(StringArray::from(vec![Some("ccc"), Some("a")]));
    let ab: ArrayRef = Arc::new(StringArray::from(vec![
        Some("bb"),
        None,
        Some("a"),
        Some("ccc"),
        Some("a"),
    ]));
    for m in [
        MetricKind::MinLength,
        MetricKind::MaxLength,
        MetricKind::Min,
        MetricKind::Max,
        MetricKind::DistinctCount,
        MetricKind::UniqueFraction,
    ] {
        let state = |arr: &ArrayRef| {
            let mut s = MetricState::new(m, Some(arr.data_type()));
            s.update(Some(arr.as_ref()), None, arr.len());
            s
        };
        let mut merged = state(&a);
        merged.merge(&state(&b));
        assert_eq!(merged.finish(m, None), state(&ab).finish(m, None), "{m:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Integers spread too wide for the flat counter take the hash path; strings always do.
    #[test]
    fn unique_hash_paths(vals in prop::collection::vec(prop::option::weighted(0.8, -4i64..4), 0..150), pol in policy()) {
        let wide: Vec<Option<i64>> = vals.iter().map(|v| v.map(|v| v * 1_000_000_007_000)).collect();
        let got = run_one(&format!("{{id: x, expect: unique, column: c, nulls: {pol}}}"), Arc::new(Int64Array::from(wide.clone())));
        let count = |v: &i64| wide.iter().filter(|x| **x == Some(*v)).count();
        check(got, reference(&wide, pol, |v| count(v) == 1))?;
        let strs: Vec<Option<String>> = vals.iter().map(|v| v.map(|v| format!("s{v}"))).collect();
        let got = run_one(&format!("{{id: x, expect: unique, column: c, nulls: {pol}}}"), Arc::new(StringArray::from(strs.clone())));
        let count = |v: &String| strs.iter().filter(|x| x.as_ref() == Some(v)).count();
        check(got, reference(&strs, pol, |v| count(v) == 1))?;
    }
}
