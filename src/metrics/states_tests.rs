//! Tests of the metric states (states.rs).

use super::*;

use arrow::array::{Float64Array, Int64Array, StringArray};

fn run(metric: MetricKind, a: &dyn Array) -> Observed {
    let mut s = Inner::new(metric, Some(a.data_type()));
    s.update(Some(a), None, a.len());
    s.finish(metric, Some(0.5))
}

#[test]
fn empty_and_all_null_give_null_not_nan() {
    let empty = Float64Array::from(Vec::<f64>::new());
    let nulls = Float64Array::from(vec![None, None]);
    for m in [
        MetricKind::Mean,
        MetricKind::Min,
        MetricKind::Stddev,
        MetricKind::Quantile,
    ] {
        assert_eq!(run(m, &empty), Observed::Null, "{m:?}");
        assert_eq!(run(m, &nulls), Observed::Null, "{m:?}");
    }
    assert_eq!(run(MetricKind::NullFraction, &empty), Observed::Null);
    assert_eq!(run(MetricKind::NullFraction, &nulls), Observed::Number(1.0));
    assert_eq!(run(MetricKind::NullCount, &nulls), Observed::Count(2));
}

#[test]
fn float_moments_read_in_place_equal_those_gathered() {
    // 1e16 and 1 cancel only in a compensated sum; 11 values leave a remainder after lanes.
    let xs = [1e16, 1.0, -1e16, 3.5, 2.0, 0.25, 7.0, 1e-3, 5.0, 9.0, 11.0];
    let whole = Float64Array::from(xs.to_vec());
    let with_nulls: Float64Array = xs
        .iter()
        .flat_map(|x| [Some(*x), None])
        .collect::<Vec<_>>()
        .into();
    let exact_mean = (1.0 + 3.5 + 2.0 + 0.25 + 7.0 + 1e-3 + 5.0 + 9.0 + 11.0) / 11.0;
    for m in [MetricKind::Mean, MetricKind::Stddev, MetricKind::Sum] {
        assert_eq!(run(m, &whole), run(m, &with_nulls), "{m:?}");
    }
    assert_eq!(run(MetricKind::Mean, &whole), Observed::Number(exact_mean));
    // Exact in any order: every lane and the remainder count.
    let small = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    assert_eq!(squared_deviations(&small, 4.0), 28.0);
    assert_eq!(compensated_sum(&small), (28.0, 0.0));
}

#[test]
fn values() {
    let a = Int64Array::from(vec![Some(1), Some(2), None, Some(3), Some(3)]);
    assert_eq!(run(MetricKind::Sum, &a), Observed::Value(Typed::Int(9)));
    assert_eq!(run(MetricKind::Mean, &a), Observed::Number(2.25));
    assert_eq!(run(MetricKind::DistinctCount, &a), Observed::Count(3));
    assert_eq!(
        run(MetricKind::UniqueFraction, &a),
        Observed::Number(2.0 / 5.0)
    );
    assert_eq!(
        run(MetricKind::DistinctFraction, &a),
        Observed::Number(3.0 / 5.0)
    );
    assert_eq!(run(MetricKind::Quantile, &a), Observed::Number(2.5));
    assert_eq!(run(MetricKind::Max, &a), Observed::Value(Typed::Int(3)));
    let f = Float64Array::from(vec![1.0, f64::NAN, -3.0]);
    match run(MetricKind::Max, &f) {
        Observed::Value(Typed::Float(x)) => assert!(x.is_nan()),
        o => panic!("{o:?}"),
    }
    assert_eq!(
        run(MetricKind::Min, &f),
        Observed::Value(Typed::Float(-3.0))
    );
    let s = StringArray::from(vec![Some("bb"), Some("a"), None, Some("äää")]);
    assert_eq!(run(MetricKind::MaxLength, &s), Observed::Count(3));
    assert_eq!(
        run(MetricKind::Min, &s),
        Observed::Value(Typed::Bytes(b"a".to_vec()))
    );
    let sd = Float64Array::from(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!(run(MetricKind::StddevPop, &sd), Observed::Number(2.0));
}

/// Decimals past 64 bits convert as exactly as those within (the fast conversion is not taken
/// for a chunk that holds one), and their sum stays exact.
#[test]
fn wide_decimals_convert_like_narrow_ones() {
    use arrow::array::Decimal128Array;
    let wide = 3 * (i64::MAX as i128);
    let a = Decimal128Array::from(vec![Some(wide), Some(-250), None, Some(750)])
        .with_precision_and_scale(38, 2)
        .unwrap();
    let want_mean = (wide as f64 / 100.0 + -2.5 + 7.5) / 3.0;
    assert_eq!(run(MetricKind::Mean, &a), Observed::Number(want_mean));
    assert_eq!(run(MetricKind::Quantile, &a), Observed::Number(7.5));
    let mut s = Inner::new(MetricKind::Quantile, Some(a.data_type()));
    s.update(Some(&a), None, a.len());
    assert_eq!(
        s.finish(MetricKind::Quantile, Some(1.0)),
        Observed::Number(wide as f64 / 100.0)
    );
    assert_eq!(
        run(MetricKind::Sum, &a),
        Observed::Number((wide + 500) as f64 / 100.0)
    );
}
