//! Integer-like and float columns: a loop per Arrow type, chosen once, over the native values.

use arrow::array::{Array, AsArray, BooleanArray, PrimitiveArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use super::domain::float_key;
use crate::values::access::map_primitive;

/// Expands `$body` once per integer-like type, with `$t` naming its Arrow type (the native
/// value converts to `i128` with `as`); `$other` for any other type.
macro_rules! int_like {
    ($dt:expr, $t:ident => $body:expr, _ => $other:expr) => {
        match $dt {
            DataType::Int8 => int_like!(@ $t = Int8Type, $body),
            DataType::Int16 => int_like!(@ $t = Int16Type, $body),
            DataType::Int32 => int_like!(@ $t = Int32Type, $body),
            DataType::Int64 => int_like!(@ $t = Int64Type, $body),
            DataType::UInt8 => int_like!(@ $t = UInt8Type, $body),
            DataType::UInt16 => int_like!(@ $t = UInt16Type, $body),
            DataType::UInt32 => int_like!(@ $t = UInt32Type, $body),
            DataType::UInt64 => int_like!(@ $t = UInt64Type, $body),
            DataType::Decimal32(_, _) => int_like!(@ $t = Decimal32Type, $body),
            DataType::Decimal64(_, _) => int_like!(@ $t = Decimal64Type, $body),
            DataType::Decimal128(_, _) => int_like!(@ $t = Decimal128Type, $body),
            DataType::Date32 => int_like!(@ $t = Date32Type, $body),
            DataType::Timestamp(TimeUnit::Second, _) => {
                int_like!(@ $t = TimestampSecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                int_like!(@ $t = TimestampMillisecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                int_like!(@ $t = TimestampMicrosecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                int_like!(@ $t = TimestampNanosecondType, $body)
            }
            _ => $other,
        }
    };
    (@ $t:ident = $ty:ty, $body:expr) => {{
        type $t = $ty;
        #[allow(clippy::unnecessary_cast, reason = "`as i128` is a no-op for some of the types")]
        let r = $body;
        r
    }};
}

/// Runs `pred` over every value of an integer-like array as `i128`. `None` for other types.
pub(crate) fn map_int_like(array: &dyn Array, pred: impl Fn(i128) -> bool) -> Option<BooleanArray> {
    Some(int_like!(array.data_type(), T => {
        let a: &PrimitiveArray<T> = array.as_primitive();
        map_primitive(a, |v| pred(v as i128))
    }, _ => return None))
}

/// `lo <= v <= hi` over an integer-like array, compared in its native type (no widening: loops
/// the compiler turns into vector compares). `None` for other types.
pub(crate) fn map_int_range(array: &dyn Array, lo: i128, hi: i128) -> Option<BooleanArray> {
    Some(int_like!(array.data_type(), T => native_range::<T>(array, lo, hi), _ => return None))
}

/// `lo <= v <= hi` over a primitive array, with the bounds brought into its native type: a
/// bound beyond the type's range on its own side is no bound, on the far side no value passes.
fn native_range<T>(array: &dyn Array, lo: i128, hi: i128) -> BooleanArray
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i128> + PartialOrd,
{
    let a = array.as_primitive::<T>();
    let all = |pass: bool| {
        let values = if pass {
            arrow::buffer::BooleanBuffer::new_set(a.len())
        } else {
            arrow::buffer::BooleanBuffer::new_unset(a.len())
        };
        BooleanArray::new(values, a.nulls().cloned())
    };
    let lo = match T::Native::try_from(lo) {
        Ok(v) => Some(v),
        Err(_) if lo < 0 => None,
        Err(_) => return all(false),
    };
    let hi = match T::Native::try_from(hi) {
        Ok(v) => Some(v),
        Err(_) if hi > 0 => None,
        Err(_) => return all(false),
    };
    match (lo, hi) {
        (Some(lo), Some(hi)) => map_primitive(a, |v| lo <= v && v <= hi),
        (Some(lo), None) => map_primitive(a, |v| lo <= v),
        (None, Some(hi)) => map_primitive(a, |v| v <= hi),
        (None, None) => all(true),
    }
}

/// Calls `f(i, conv(value))` for every row `i` set in `rows` of a primitive array.
fn selected<T: ArrowPrimitiveType, R>(
    a: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    f: &mut impl FnMut(usize, R),
    conv: impl Fn(T::Native) -> R,
) {
    let v = a.as_primitive::<T>().values();
    if rows.count_set_bits() == v.len() {
        // Every row: a plain loop the compiler can unroll, no bit scanning.
        for (i, x) in v.iter().enumerate() {
            f(i, conv(*x));
        }
    } else {
        for i in rows.set_indices() {
            f(i, conv(v[i]));
        }
    }
}

/// Calls `f(i, value)` for every row `i` set in `rows`, with the integer-like value as `i128`.
/// Dispatches on the type once. Returns `false` for other types.
pub(crate) fn for_each_int(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    mut f: impl FnMut(usize, i128),
) -> bool {
    int_like!(array.data_type(), T => {
        selected::<T, _>(array, rows, &mut f, |v| v as i128)
    }, _ => return false);
    true
}

/// Appends the integer-like values of the rows set in `rows` to `out` as the nearest `f64`, each
/// divided by `divisor`, and gives their exact sum (saturating). A value that fits 64 bits (every
/// decimal up to precision 18) converts in one instruction; only when one does not are the
/// values converted again through the software conversion of 128-bit integers.
fn ints_as_f64(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    divisor: f64,
    out: &mut Vec<f64>,
) -> i128 {
    // Every row of a type of at most 64 bits: loops the compiler vectorizes, the sum exact in
    // 128 bits without saturating (n values below 2^64 each sum below 2^127 for n < 2^63).
    if rows.count_set_bits() == array.len() {
        let whole = int_like!(array.data_type(), T => {
            let values = array.as_primitive::<T>().values();
            (std::mem::size_of::<<T as ArrowPrimitiveType>::Native>() <= 8).then(|| {
                out.extend(values.iter().map(|v| *v as f64 / divisor));
                values.iter().fold(0i128, |s, v| s + *v as i128)
            })
        }, _ => None);
        if let Some(sum) = whole {
            return sum;
        }
    }
    let from = out.len();
    let mut sum: i128 = 0;
    let mut wide = false;
    for_each_int(array, rows, |_, v| {
        sum = sum.saturating_add(v);
        let narrow = v as i64;
        wide |= narrow as i128 != v;
        out.push(narrow as f64 / divisor);
    });
    if wide {
        out.truncate(from);
        for_each_int(array, rows, |_, v| out.push(v as f64 / divisor));
    }
    sum
}

/// Appends the numbers of the rows set in `rows` to `out` as `f64`, decimals at their scale
/// ([`ints_as_f64`]); for an integer-like column gives their exact unscaled sum, else `None`.
pub(crate) fn numbers_as_f64(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    out: &mut Vec<f64>,
) -> Option<i128> {
    use crate::values::domain::{Domain, domain_of};
    if domain_of(array.data_type()) != Some(Domain::Int) {
        for_each_float(array, rows, |_, x| out.push(x));
        return None;
    }
    let scale = crate::values::domain::decimal_scale(array.data_type()).map_or(0, i32::from);
    Some(ints_as_f64(array, rows, 10f64.powi(scale), out))
}

/// Calls `f(i, value)` for every row `i` set in `rows` of a float column, as `f64`. Dispatches
/// on the type once. Returns `false` for other types.
pub(crate) fn for_each_float(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    mut f: impl FnMut(usize, f64),
) -> bool {
    match array.data_type() {
        DataType::Float32 => selected::<Float32Type, _>(array, rows, &mut f, |v| v as f64),
        DataType::Float64 => selected::<Float64Type, _>(array, rows, &mut f, |v| v),
        _ => return false,
    }
    true
}

/// The value at `i` of an integer-like array as `i128` (validity not checked).
pub(crate) fn int_value(array: &dyn Array, i: usize) -> Option<i128> {
    Some(int_like!(array.data_type(), T => {
        array.as_primitive::<T>().value(i) as i128
    }, _ => return None))
}

/// Runs `pred` over every value of a float array as `f64`. `None` for other types.
pub(crate) fn map_float(array: &dyn Array, pred: impl Fn(f64) -> bool) -> Option<BooleanArray> {
    Some(match array.data_type() {
        DataType::Float32 => map_primitive(array.as_primitive::<Float32Type>(), |v| pred(v as f64)),
        DataType::Float64 => map_primitive(array.as_primitive::<Float64Type>(), pred),
        _ => return None,
    })
}

/// The value at `i` of a float array as `f64` (validity not checked).
pub(crate) fn float_value(array: &dyn Array, i: usize) -> Option<f64> {
    match array.data_type() {
        DataType::Float32 => Some(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(i)),
        _ => None,
    }
}

/// Calls `f(i, key)` for every row set in `rows` of a non-string column, the key identifying the
/// value (integers as themselves, floats by normalized bits, booleans as 0/1). Dispatches on the
/// type once; `false` for a type it has no key for.
pub(crate) fn for_each_int_key(
    array: &dyn Array,
    rows: &BooleanBuffer,
    mut f: impl FnMut(usize, i128),
) -> bool {
    use arrow::array::AsArray;
    use arrow::datatypes::DataType;
    match array.data_type() {
        DataType::Float32 | DataType::Float64 => {
            return for_each_float(array, rows, |i, v| f(i, float_key(v) as i128));
        }
        DataType::Boolean => {
            let b = array.as_boolean();
            rows.set_indices().for_each(|i| f(i, b.value(i) as i128));
        }
        _ => return for_each_int(array, rows, f),
    }
    true
}

/// Rows that hold a value and are in scope.
pub(crate) fn wanted(a: &dyn Array, scope: Option<&BooleanBuffer>) -> BooleanBuffer {
    let valid = a
        .logical_nulls()
        .map_or_else(|| BooleanBuffer::new_set(a.len()), |n| n.inner().clone());
    match scope {
        Some(s) => &valid & s,
        None => valid,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Decimal64Array, Decimal128Array, Int64Array, UInt64Array};
    use arrow::buffer::BooleanBuffer;

    use super::numbers_as_f64;

    /// The values as `f64` and their exact sum, by the loop over selected rows (one row left out
    /// and added back by hand), to check the whole-array path against.
    fn by_rows(a: &ArrayRef) -> (Vec<f64>, Option<i128>) {
        let n = a.len();
        let mut head = Vec::new();
        let mut rows = BooleanBuffer::new_set(n).into_inner().as_slice().to_vec();
        rows[0] &= !1; // leave row 0 out: the selected-rows loop
        let rows = BooleanBuffer::new(rows.into(), 0, n);
        let sum = numbers_as_f64(a.as_ref(), &rows, &mut head);
        let mut first = Vec::new();
        let one = BooleanBuffer::from_iter((0..n).map(|i| i == 0));
        let s0 = numbers_as_f64(a.as_ref(), &one, &mut first);
        first.extend(head);
        (first, sum.zip(s0).map(|(a, b)| a + b))
    }

    #[test]
    fn whole_arrays_convert_and_sum_as_the_row_loop_does() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![
                i64::MAX,
                i64::MAX,
                -3,
                i64::MIN,
                7,
                i64::MAX,
            ])),
            Arc::new(UInt64Array::from(vec![u64::MAX, 1 << 63, 5, u64::MAX - 1])),
            Arc::new(
                Decimal64Array::from(vec![12_345, -5, i64::MAX, 99])
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
            ),
            Arc::new(
                Decimal128Array::from(vec![i128::from(i64::MAX) * 4, -1, 250])
                    .with_precision_and_scale(38, 3)
                    .unwrap(),
            ),
        ];
        for a in &arrays {
            let mut whole = Vec::new();
            let all = BooleanBuffer::new_set(a.len());
            let sum = numbers_as_f64(a.as_ref(), &all, &mut whole);
            let (rows, rows_sum) = by_rows(a);
            assert_eq!(whole, rows, "{a:?}");
            assert_eq!(sum, rows_sum, "{a:?}");
        }
        // Exact past 64 bits: three times i64::MAX, minus 3, plus i64::MIN and 7.
        let mut out = Vec::new();
        let sum = numbers_as_f64(arrays[0].as_ref(), &BooleanBuffer::new_set(6), &mut out);
        assert_eq!(
            sum,
            Some(3 * i128::from(i64::MAX) - 3 + i128::from(i64::MIN) + 7)
        );
        assert_eq!(out[4], 7.0);
    }
}
