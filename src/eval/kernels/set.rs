//! `in_set` / `not_in_set`: membership in a constant set, the strategy picked once per column type.
//!
//! Strings compare as bytes; small sets (up to [`LINEAR_MAX`] members) are scanned linearly with
//! a length check first, larger ones use a hash set. `case_insensitive` compares lower-cased
//! values (ASCII in place, Unicode through `str::to_lowercase`). Integers, decimals, dates and
//! timestamps compare as `i128` in the column's representation; floats by value (`-0.0 == 0.0`,
//! NaN equals NaN). A null value gives a null result (the null policy decides).

use arrow::array::{Array, BooleanArray};
use hashbrown::HashSet;

use crate::eval::literal::bind_literal;
use crate::suite::Literal;
use crate::types::type_name;
use crate::values::access::bytes_values;
use crate::values::domain::{Domain, Typed, domain_of, float_key};
use crate::values::numeric::{map_float, map_int_like};

/// Sets up to this size are scanned linearly; above it they are hashed.
pub(crate) const LINEAR_MAX: usize = 8;

#[derive(Debug)]
pub(crate) enum SetFilter {
    /// Every member is at most 8 bytes: a value is its length and one `u64`, looked up in a
    /// collision-free table (one multiply, one slot compared), no memcmp.
    Short(PerfectSet),
    Bytes {
        linear: Vec<Box<[u8]>>,
        hashed: HashSet<Box<[u8]>>,
        lower: bool,
    },
    /// Integers that fit 64 bits, in the same collision-free table.
    ShortInt(PerfectSet),
    Int(HashSet<i128>),
    Float(HashSet<u64>),
    Bool {
        has_true: bool,
        has_false: bool,
    },
}

/// A set of (length, packed bytes) pairs in a table with no collisions: a multiplicative hash
/// whose multiplier was searched for at build time so that every member has its own slot.
#[derive(Debug)]
pub(crate) struct PerfectSet {
    lens: Box<[u8]>,
    keys: Box<[u64]>,
    mult: u64,
    shift: u32,
}

impl PerfectSet {
    #[inline]
    fn slot(mult: u64, shift: u32, l: u8, key: u64) -> usize {
        ((key ^ ((l as u64) << 59)).wrapping_mul(mult) >> shift) as usize
    }

    /// `None` when no multiplier separates the members within 2^16 slots.
    fn new(members: &[(u8, u64)]) -> Option<Self> {
        let min_bits = (members.len().max(1) * 2)
            .next_power_of_two()
            .trailing_zeros()
            .max(3);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for bits in min_bits..=16 {
            let size = 1usize << bits;
            for _ in 0..500 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let mult = seed | 1;
                let shift = 64 - bits;
                let mut lens = vec![u8::MAX; size];
                let mut keys = vec![0u64; size];
                let ok = members.iter().all(|(l, k)| {
                    let s = Self::slot(mult, shift, *l, *k);
                    let free = lens[s] == u8::MAX;
                    lens[s] = *l;
                    keys[s] = *k;
                    free
                });
                if ok {
                    return Some(PerfectSet {
                        lens: lens.into_boxed_slice(),
                        keys: keys.into_boxed_slice(),
                        mult,
                        shift,
                    });
                }
            }
        }
        None
    }

    #[inline]
    fn contains(&self, l: u8, key: u64) -> bool {
        let s = Self::slot(self.mult, self.shift, l, key);
        (self.lens[s] == l) & (self.keys[s] == key)
    }
}

/// The bytes of a value of at most 8 bytes, packed little-endian into a `u64`.
#[inline]
fn pack(v: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..v.len()].copy_from_slice(v);
    u64::from_le_bytes(buf)
}

/// Packed-set membership straight from a string array's offsets: one unaligned 8-byte load per
/// value (masked to its length), no copy. `None` for other layouts.
fn short_offsets<O: arrow::array::OffsetSizeTrait>(
    array: &dyn Array,
    member: &impl Fn(usize, u64) -> bool,
) -> Option<arrow::buffer::BooleanBuffer> {
    use arrow::array::AsArray;
    let a = array.as_string_opt::<O>()?;
    let offsets = a.value_offsets();
    let data = a.value_data();
    Some(arrow::buffer::BooleanBuffer::collect_bool(a.len(), |i| {
        let s = offsets[i].as_usize();
        let l = offsets[i + 1].as_usize() - s;
        if l > 8 {
            return false;
        }
        let word = match data.get(s..s + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
            None => pack(&data[s..s + l]),
        };
        let key = if l == 8 {
            word
        } else {
            word & ((1u64 << (8 * l)) - 1)
        };
        member(l, key)
    }))
}

/// The same from a view array: a value of at most 8 bytes is inline in its view, zero padded,
/// so the view's bits 32..96 are already its packed key.
fn short_views(
    array: &dyn Array,
    member: &impl Fn(usize, u64) -> bool,
) -> Option<arrow::buffer::BooleanBuffer> {
    use arrow::array::AsArray;
    use arrow::datatypes::DataType;
    let views = match array.data_type() {
        DataType::Utf8View => array.as_string_view().views(),
        DataType::BinaryView => array.as_binary_view().views(),
        _ => return None,
    };
    Some(crate::values::access::pack_bits(views, |v| {
        let l = v as u32 as usize;
        l <= 8 && member(l, (v >> 32) as u64)
    }))
}

impl SetFilter {
    pub(crate) fn build(
        values: &[Literal],
        dt: &arrow::datatypes::DataType,
        case_insensitive: bool,
    ) -> Result<Self, String> {
        let domain = domain_of(dt)
            .ok_or_else(|| format!("`in_set` cannot check columns of type {}", type_name(dt)))?;
        if case_insensitive && domain != Domain::Bytes {
            return Err(format!(
                "`case_insensitive` applies to string columns; this one is {}",
                type_name(dt)
            ));
        }
        let typed = values
            .iter()
            .map(|v| bind_literal(v, dt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match domain {
            Domain::Bytes => {
                let mut members: Vec<Box<[u8]>> = typed
                    .into_iter()
                    .map(|t| match t {
                        Typed::Bytes(b) if case_insensitive => lower(&b).into_boxed_slice(),
                        Typed::Bytes(b) => b.into_boxed_slice(),
                        _ => unreachable!("bytes domain binds bytes"),
                    })
                    .collect();
                members.sort();
                members.dedup();
                if !case_insensitive
                    && members.iter().all(|m| m.len() <= 8)
                    && let Some(p) = PerfectSet::new(
                        &members
                            .iter()
                            .map(|m| (m.len() as u8, pack(m)))
                            .collect::<Vec<_>>(),
                    )
                {
                    return Ok(SetFilter::Short(p));
                }
                let (linear, hashed) = if members.len() <= LINEAR_MAX {
                    (members, HashSet::new())
                } else {
                    (Vec::new(), members.into_iter().collect())
                };
                SetFilter::Bytes {
                    linear,
                    hashed,
                    lower: case_insensitive,
                }
            }
            Domain::Int => {
                let members: Vec<i128> = typed
                    .into_iter()
                    .map(|t| match t {
                        Typed::Int(i) => i,
                        _ => unreachable!(),
                    })
                    .collect();
                let words: Option<Vec<(u8, u64)>> = members
                    .iter()
                    .map(|m| i64::try_from(*m).ok().map(|m| (8, m as u64)))
                    .collect();
                match words.and_then(|w| PerfectSet::new(&w)) {
                    Some(p) => SetFilter::ShortInt(p),
                    None => SetFilter::Int(members.into_iter().collect()),
                }
            }
            Domain::Float => SetFilter::Float(
                typed
                    .into_iter()
                    .map(|t| match t {
                        Typed::Float(f) => float_key(f),
                        _ => unreachable!(),
                    })
                    .collect(),
            ),
            Domain::Bool => {
                let has = |b: bool| typed.contains(&Typed::Bool(b));
                SetFilter::Bool {
                    has_true: has(true),
                    has_false: has(false),
                }
            }
        })
    }

    /// `true` where the value is a member; null where the value is null.
    pub(crate) fn contains(&self, array: &dyn Array) -> Option<BooleanArray> {
        match self {
            SetFilter::Short(p) => {
                let member = |l: usize, key: u64| p.contains(l as u8, key);
                let values = match short_offsets::<i32>(array, &member)
                    .or_else(|| short_offsets::<i64>(array, &member))
                    .or_else(|| short_views(array, &member))
                {
                    Some(v) => v,
                    None => bytes_values(array, &mut |v: &[u8]| {
                        v.len() <= 8 && member(v.len(), pack(v))
                    })?,
                };
                Some(BooleanArray::new(values, array.logical_nulls()))
            }
            SetFilter::Bytes {
                linear,
                hashed,
                lower: false,
            } => {
                let values = if hashed.is_empty() {
                    bytes_values(array, &mut |v: &[u8]| {
                        linear.iter().any(|m| m.len() == v.len() && **m == *v)
                    })?
                } else {
                    bytes_values(array, &mut |v: &[u8]| hashed.contains(v))?
                };
                Some(BooleanArray::new(values, array.logical_nulls()))
            }
            SetFilter::Bytes {
                linear,
                hashed,
                lower: true,
            } => {
                let mut buf = Vec::new();
                let values = bytes_values(array, &mut |v: &[u8]| {
                    let v = lower_into(v, &mut buf);
                    if hashed.is_empty() {
                        linear.iter().any(|m| **m == *v)
                    } else {
                        hashed.contains(v)
                    }
                })?;
                Some(BooleanArray::new(values, array.logical_nulls()))
            }
            SetFilter::Int(set) => map_int_like(array, |v| set.contains(&v)),
            SetFilter::ShortInt(p) => map_int_like(array, |v| {
                i64::try_from(v).is_ok_and(|v| p.contains(8, v as u64))
            }),
            SetFilter::Float(set) => map_float(array, |v| set.contains(&float_key(v))),
            SetFilter::Bool {
                has_true,
                has_false,
            } => {
                let b = array.as_any().downcast_ref::<BooleanArray>()?;
                let values = match (has_true, has_false) {
                    (true, true) => arrow::buffer::BooleanBuffer::new_set(b.len()),
                    (false, false) => arrow::buffer::BooleanBuffer::new_unset(b.len()),
                    (true, false) => b.values().clone(),
                    (false, true) => !b.values(),
                };
                Some(BooleanArray::new(values, b.nulls().cloned()))
            }
        }
    }
}

fn lower(b: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    lower_into(b, &mut buf).to_vec()
}

/// Lower-cases `v` into `buf` (ASCII fast path) and returns the lower-cased bytes.
fn lower_into<'a>(v: &[u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    buf.clear();
    if v.is_ascii() {
        buf.extend(v.iter().map(u8::to_ascii_lowercase));
    } else {
        buf.extend_from_slice(String::from_utf8_lossy(v).to_lowercase().as_bytes());
    }
    buf
}

/// `in_set` / `not_in_set`.
impl super::ColumnCheck for SetFilter {
    fn check(
        &self,
        array: &dyn Array,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Option<BooleanArray> {
        self.contains(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray, UInt64Array,
    };
    use arrow::datatypes::{DataType, Int32Type};

    fn strs(v: &[&str]) -> Vec<Literal> {
        v.iter().map(|s| Literal::Str(s.to_string())).collect()
    }

    fn check(f: &SetFilter, a: &dyn Array) -> Vec<Option<bool>> {
        f.contains(a).unwrap().iter().collect()
    }

    #[test]
    fn strings_small_and_large_sets_agree() {
        let small = SetFilter::build(&strs(&["HMO01", "PPO01"]), &DataType::Utf8, false).unwrap();
        let many: Vec<String> = (0..50).map(|i| format!("X{i}")).collect();
        let mut big_vals: Vec<&str> = many.iter().map(String::as_str).collect();
        big_vals.extend(["HMO01", "PPO01"]);
        let big = SetFilter::build(&strs(&big_vals), &DataType::Utf8, false).unwrap();
        let a = StringArray::from(vec![
            Some("HMO01"),
            None,
            Some("hmo01"),
            Some(""),
            Some("PPO01"),
        ]);
        let want = vec![Some(true), None, Some(false), Some(false), Some(true)];
        assert_eq!(check(&small, &a), want);
        assert_eq!(check(&big, &a), want);
        let d: DictionaryArray<Int32Type> =
            vec![Some("HMO01"), None, Some("hmo01"), Some(""), Some("PPO01")]
                .into_iter()
                .collect();
        assert_eq!(check(&small, &d), want);
        assert_eq!(check(&small, &a.slice(2, 3)), want[2..].to_vec());
    }

    #[test]
    fn two_byte_codes() {
        let states: Vec<String> = (b'A'..=b'Z')
            .map(|c| format!("{}{}", c as char, (c + 1).min(b'Z') as char))
            .collect();
        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
        let f = SetFilter::build(&strs(&refs), &DataType::Utf8, false).unwrap();
        let a = StringArray::from(vec![
            Some("AB"),
            Some("BA"),
            Some("A"),
            Some("ABC"),
            None,
            Some("ZZ"),
            Some(""),
        ]);
        assert_eq!(
            check(&f, &a),
            vec![
                Some(true),
                Some(false),
                Some(false),
                Some(false),
                None,
                Some(true),
                Some(false)
            ]
        );
        let d: DictionaryArray<Int32Type> = vec![Some("AB"), Some("XX")].into_iter().collect();
        assert_eq!(check(&f, &d), vec![Some(true), Some(false)]);
    }

    #[test]
    fn long_members_small_and_large_sets() {
        let small: Vec<String> = vec!["provider-0001".into(), "provider-0002".into()];
        let large: Vec<String> = (0..40).map(|i| format!("provider-{i:04}")).collect();
        let a = StringArray::from(vec![
            Some("provider-0001"),
            Some("provider-0039"),
            None,
            Some("provider-00"),
        ]);
        for (members, want) in [
            (small, vec![Some(true), Some(false), None, Some(false)]),
            (large, vec![Some(true), Some(true), None, Some(false)]),
        ] {
            let refs: Vec<&str> = members.iter().map(String::as_str).collect();
            let f = SetFilter::build(&strs(&refs), &DataType::Utf8, false).unwrap();
            assert!(matches!(f, SetFilter::Bytes { .. }));
            assert_eq!(check(&f, &a), want);
        }
    }

    #[test]
    fn case_insensitive_lowers_both_sides() {
        let f = SetFilter::build(&strs(&["Straße", "ABC"]), &DataType::Utf8, true).unwrap();
        let a = StringArray::from(vec!["abc", "STRASSE", "straße", "ABD"]);
        assert_eq!(
            check(&f, &a),
            vec![Some(true), Some(false), Some(true), Some(false)]
        );
        assert!(SetFilter::build(&strs(&["1"]), &DataType::Int32, true).is_err());
    }

    #[test]
    fn sixty_four_bit_integers_in_the_perfect_table() {
        let lit = |v: i64| Literal::Int(v.into(), v.to_string());
        let f =
            SetFilter::build(&[lit(-1), lit(i64::MIN), lit(7)], &DataType::Int64, false).unwrap();
        assert!(matches!(f, SetFilter::ShortInt(_)));
        let a = Int64Array::from(vec![-1, i64::MIN, i64::MAX, 7, 0, 1 << 40]);
        assert_eq!(
            check(&f, &a),
            vec![
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                Some(false)
            ]
        );
        let u = UInt64Array::from(vec![u64::MAX, 7, u64::MAX - 6]);
        let f = SetFilter::build(&[lit(7)], &DataType::UInt64, false).unwrap();
        assert_eq!(check(&f, &u), vec![Some(false), Some(true), Some(false)]);
    }

    #[test]
    fn numbers() {
        let f = SetFilter::build(
            &[Literal::Int(1, "1".into()), Literal::Int(3, "3".into())],
            &DataType::Int32,
            false,
        )
        .unwrap();
        let a = Int32Array::from(vec![Some(1), Some(2), None, Some(3)]);
        assert_eq!(
            check(&f, &a),
            vec![Some(true), Some(false), None, Some(true)]
        );
        let f = SetFilter::build(
            &[Literal::Float(0.0, "0.0".into())],
            &DataType::Float64,
            false,
        )
        .unwrap();
        let a = Float64Array::from(vec![-0.0, 0.0, f64::NAN, 1.0]);
        assert_eq!(
            check(&f, &a),
            vec![Some(true), Some(true), Some(false), Some(false)]
        );
        assert!(
            SetFilter::build(&strs(&["x"]), &DataType::Int32, false)
                .unwrap_err()
                .contains("not an integer")
        );
    }
}
