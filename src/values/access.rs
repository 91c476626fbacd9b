//! Applying a per-value predicate to every Arrow layout a column arrives in, vectorized.
//!
//! Each function dispatches on the array's type once, then runs a monomorphized loop that packs
//! results 64 at a time (`BooleanBuffer::collect_bool`, or [`pack_bits`] over a slice). The
//! predicate runs on every slot, null or not (a null slot holds some valid value); validity is
//! attached afterwards from the array's logical nulls, as arrow's comparison kernels do. Dictionary arrays run the predicate once per
//! dictionary value and map the result through the keys.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, GenericByteArray, PrimitiveArray,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, ByteArrayType, DataType, Int8Type, Int16Type,
    Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

/// Runs `pred` over the bytes of every value of a string or binary array (any layout, or a
/// dictionary of one). Returns `None` when the array is not string or binary.
pub(crate) fn map_bytes(
    array: &dyn Array,
    mut pred: impl FnMut(&[u8]) -> bool,
) -> Option<BooleanArray> {
    let values = bytes_values(array, &mut pred)?;
    Some(BooleanArray::new(values, array.logical_nulls()))
}

/// The values part of [`map_bytes`], without validity.
pub(crate) fn bytes_values(
    array: &dyn Array,
    pred: &mut impl FnMut(&[u8]) -> bool,
) -> Option<BooleanBuffer> {
    Some(match array.data_type() {
        DataType::Utf8 => byte_values(array.as_string::<i32>(), pred),
        DataType::LargeUtf8 => byte_values(array.as_string::<i64>(), pred),
        DataType::Binary => byte_values(array.as_binary::<i32>(), pred),
        DataType::LargeBinary => byte_values(array.as_binary::<i64>(), pred),
        DataType::Utf8View => {
            let a = array.as_string_view();
            BooleanBuffer::collect_bool(a.len(), |i| {
                // SAFETY: i < len.
                pred(unsafe { a.value_unchecked(i) }.as_bytes())
            })
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            BooleanBuffer::collect_bool(a.len(), |i| {
                // SAFETY: i < len.
                pred(unsafe { a.value_unchecked(i) })
            })
        }
        DataType::Dictionary(k, _) => {
            let dict_values = dictionary_values(array)?;
            let on_values = bytes_values(dict_values.as_ref(), pred)?;
            map_keys(array, k, &on_values)
        }
        _ => return None,
    })
}

fn byte_values<T: ByteArrayType>(
    a: &GenericByteArray<T>,
    pred: &mut impl FnMut(&[u8]) -> bool,
) -> BooleanBuffer {
    let offsets = a.value_offsets();
    let data = a.value_data();
    BooleanBuffer::collect_bool(a.len(), |i| {
        let start = offsets[i].as_usize();
        let end = offsets[i + 1].as_usize();
        // SAFETY: the offsets of a valid array are monotone and within its data buffer.
        pred(unsafe { data.get_unchecked(start..end) })
    })
}

/// `pred` of every element of `values`, packed 64 to a word. Over whole 64-element chunks of a
/// slice the loop has no bounds checks left, so simple predicates compile to vector compares
/// (`collect_bool`'s indexing closure keeps them scalar).
pub(crate) fn pack_bits<T: Copy>(values: &[T], mut pred: impl FnMut(T) -> bool) -> BooleanBuffer {
    let mut words: Vec<u64> = Vec::with_capacity(values.len().div_ceil(64));
    let mut chunks = values.chunks_exact(64);
    for chunk in &mut chunks {
        let mut packed = 0u64;
        for (bit, v) in chunk.iter().enumerate() {
            packed |= (pred(*v) as u64) << bit;
        }
        words.push(packed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut packed = 0u64;
        for (bit, v) in rest.iter().enumerate() {
            packed |= (pred(*v) as u64) << bit;
        }
        words.push(packed);
    }
    BooleanBuffer::new(arrow::buffer::Buffer::from_vec(words), 0, values.len())
}

/// The dictionary's values array.
pub(crate) fn dictionary_values(array: &dyn Array) -> Option<ArrayRef> {
    array.as_any_dictionary_opt().map(|d| d.values().clone())
}

/// Maps a per-dictionary-value result through the keys: `out[i] = on_values[keys[i]]`.
pub(crate) fn map_keys(
    array: &dyn Array,
    key_type: &DataType,
    on_values: &BooleanBuffer,
) -> BooleanBuffer {
    fn go<K: ArrowDictionaryKeyType>(a: &dyn Array, on_values: &BooleanBuffer) -> BooleanBuffer {
        let d: &DictionaryArray<K> = a.as_dictionary();
        let keys = d.keys().values();
        // A null slot's key may be anything; its result is masked by validity anyway.
        if on_values.len() <= 64 {
            // Small dictionaries (codes, states): the results as one word, a shift per key.
            let word = on_values
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, r)| w | (u64::from(r) << i));
            return pack_bits(keys, |k| {
                let k = k.as_usize();
                k < 64 && (word >> (k & 63)) & 1 == 1
            });
        }
        let n = on_values.len();
        pack_bits(keys, |k| {
            let k = k.as_usize();
            k < n && on_values.value(k)
        })
    }
    match key_type {
        DataType::Int8 => go::<Int8Type>(array, on_values),
        DataType::Int16 => go::<Int16Type>(array, on_values),
        DataType::Int32 => go::<Int32Type>(array, on_values),
        DataType::Int64 => go::<Int64Type>(array, on_values),
        DataType::UInt8 => go::<UInt8Type>(array, on_values),
        DataType::UInt16 => go::<UInt16Type>(array, on_values),
        DataType::UInt32 => go::<UInt32Type>(array, on_values),
        _ => go::<UInt64Type>(array, on_values),
    }
}

/// Runs `pred` over every native value of a primitive array; validity from the array.
pub(crate) fn map_primitive<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    pred: impl Fn(T::Native) -> bool,
) -> BooleanArray {
    let values = pack_bits(a.values(), pred);
    BooleanArray::new(values, a.nulls().cloned())
}

use arrow::datatypes::ArrowNativeType as _;

/// Calls `f` with the bytes of every non-null value, with its row index. For samples and
/// hashing, where the caller needs the value itself.
pub(crate) fn for_each_bytes<'a>(array: &'a dyn Array, mut f: impl FnMut(usize, &'a [u8])) -> bool {
    let nulls = array.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i).as_bytes()));
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i).as_bytes()));
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i).as_bytes()));
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i)));
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i)));
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            (0..a.len())
                .filter(|&i| valid(i))
                .for_each(|i| f(i, a.value(i)));
        }
        DataType::Dictionary(_, _) => {
            // The dictionary's values once, then each row by its key.
            let d = array.as_any_dictionary();
            let Some(values) = value_slices(d.values().as_ref()) else {
                return false;
            };
            for (i, k) in d.normalized_keys().iter().enumerate() {
                if valid(i)
                    && let Some(b) = values[*k]
                {
                    f(i, b);
                }
            }
        }
        _ => return false,
    }
    true
}

/// Every value's bytes (`None` for a null), or `None` when the array is not string or binary.
fn value_slices(array: &dyn Array) -> Option<Vec<Option<&[u8]>>> {
    let mut out = vec![None; array.len()];
    for_each_bytes(array, |i, b| out[i] = Some(b)).then_some(out)
}

/// Random access to the bytes of a string or binary array's values, dictionaries included (for
/// the few rows a caller looks up by index; scans use [`for_each_bytes`]).
pub(crate) struct ByteAt<'a> {
    array: &'a dyn Array,
    dictionary: Option<(Vec<usize>, &'a dyn Array)>,
}

impl<'a> ByteAt<'a> {
    pub(crate) fn new(array: &'a dyn Array) -> Self {
        let dictionary = matches!(array.data_type(), DataType::Dictionary(_, _)).then(|| {
            let d = array.as_any_dictionary();
            (d.normalized_keys(), d.values().as_ref())
        });
        ByteAt { array, dictionary }
    }

    /// A dictionary array's row keys and values.
    pub(crate) fn dictionary(&self) -> Option<(&[usize], &'a dyn Array)> {
        self.dictionary.as_ref().map(|(k, v)| (k.as_slice(), *v))
    }

    /// The bytes of row `i`; empty for a null.
    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        match &self.dictionary {
            Some((keys, values)) => value_bytes(*values, keys[i]),
            None => value_bytes(self.array, i),
        }
        .unwrap_or_default()
    }
}

/// The bytes all values of a string or binary array hold together, plain or views (0 for
/// dictionaries and other layouts, whose sizes are not at hand).
pub(crate) fn values_len(array: &dyn Array) -> usize {
    fn span<T: ByteArrayType>(a: &GenericByteArray<T>) -> usize {
        let o = a.value_offsets();
        (o[o.len() - 1].as_usize()).saturating_sub(o[0].as_usize())
    }
    match array.data_type() {
        DataType::Utf8 => span(array.as_string::<i32>()),
        DataType::LargeUtf8 => span(array.as_string::<i64>()),
        DataType::Binary => span(array.as_binary::<i32>()),
        DataType::LargeBinary => span(array.as_binary::<i64>()),
        // A view's low 32 bits are its value's length.
        DataType::Utf8View => view_lens(array.as_string_view().views()),
        DataType::BinaryView => view_lens(array.as_binary_view().views()),
        _ => 0,
    }
}

fn view_lens(views: &[u128]) -> usize {
    views.iter().map(|v| *v as u32 as usize).sum()
}

/// The bytes of value `i` of a (non-dictionary) string or binary array.
pub(crate) fn value_bytes(array: &dyn Array, i: usize) -> Option<&[u8]> {
    if i >= array.len() || array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).as_bytes(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).as_bytes(),
        DataType::Utf8View => array.as_string_view().value(i).as_bytes(),
        DataType::Binary => array.as_binary::<i32>().value(i),
        DataType::LargeBinary => array.as_binary::<i64>().value(i),
        DataType::BinaryView => array.as_binary_view().value(i),
        _ => return None,
    })
}

/// Characters in a UTF-8 value: the byte length for ASCII, else the count of non-continuation
/// bytes.
pub(crate) fn char_count(v: &[u8]) -> u64 {
    if v.is_ascii() {
        v.len() as u64
    } else {
        v.iter().filter(|b| (**b as i8) >= -0x40).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{LargeStringArray, StringArray, StringViewArray};
    use std::sync::Arc;

    fn non_empty(a: &dyn Array) -> Vec<Option<bool>> {
        map_bytes(a, |b| !b.is_empty()).unwrap().iter().collect()
    }

    #[test]
    fn every_string_layout_gives_the_same_answer() {
        let vals = vec![Some("a"), None, Some(""), Some("bcd"), None];
        let expected = vec![Some(true), None, Some(false), Some(true), None];
        assert_eq!(non_empty(&StringArray::from(vals.clone())), expected);
        assert_eq!(non_empty(&LargeStringArray::from(vals.clone())), expected);
        assert_eq!(non_empty(&StringViewArray::from(vals.clone())), expected);
        let dict: DictionaryArray<Int32Type> = vals.clone().into_iter().collect();
        assert_eq!(non_empty(&dict), expected);
        let dict8: DictionaryArray<UInt8Type> = vals.into_iter().collect();
        assert_eq!(non_empty(&dict8), expected);
    }

    #[test]
    fn sliced_arrays_respect_the_offset() {
        let a = StringArray::from(vec![Some(""), Some("x"), None, Some(""), Some("y")]);
        let s = a.slice(1, 3);
        assert_eq!(non_empty(&s), vec![Some(true), None, Some(false)]);
        let d: DictionaryArray<Int32Type> = vec![Some(""), Some("x"), None, Some(""), Some("y")]
            .into_iter()
            .collect();
        let s: ArrayRef = Arc::new(d.slice(2, 3));
        assert_eq!(non_empty(s.as_ref()), vec![None, Some(false), Some(true)]);
    }

    #[test]
    fn word_boundaries() {
        for n in [0usize, 1, 63, 64, 65, 129] {
            let vals: Vec<Option<String>> = (0..n)
                .map(|i| (i % 3 != 0).then(|| "x".repeat(i % 2)))
                .collect();
            let a = StringArray::from(vals.clone());
            let got = non_empty(&a);
            let want: Vec<Option<bool>> = vals
                .iter()
                .map(|v| v.as_ref().map(|s| !s.is_empty()))
                .collect();
            assert_eq!(got, want, "n={n}");
        }
    }
}
