//! The string kinds: `matches_regex` / `not_matches_regex`, `length_between`, `matches_format`.
//!
//! Each compiles its pattern once at bind time and runs over the bytes of every value
//! ([`crate::eval::access`]), once per dictionary value for dictionary-encoded columns. A null
//! value gives a null result (the null policy decides).

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;
use chrono::format::{Item, Parsed, StrftimeItems, parse};
use regex::bytes::Regex;

use super::fixed_format::FixedFormat;
use crate::suite::RegexMode;
use crate::suite::regex::compile_regex;
use crate::values::access::char_count;
use crate::values::access::map_bytes;

/// A compiled suite regex: the lazy DFA driven byte by byte (no per-call search setup, which
/// dominates on short values), with the full regex engine behind it for values the DFA gives up
/// on. Both accept exactly the same language.
#[derive(Debug)]
pub(crate) struct SuiteRegex {
    re: Regex,
    seq: Option<super::seq::SeqMatcher>,
    dfa: Option<regex_automata::hybrid::dfa::DFA>,
    full: bool,
}

impl SuiteRegex {
    pub(crate) fn new(pattern: &str, mode: RegexMode) -> Result<Self, String> {
        let re = compile_regex(pattern, mode)?;
        // Anchored at the start for `full`; the end is checked by requiring a match at EOI.
        let dfa = regex_automata::hybrid::dfa::DFA::new(&format!("(?:{pattern})")).ok();
        let full = mode == RegexMode::Full;
        Ok(SuiteRegex {
            re,
            seq: if full {
                super::seq::SeqMatcher::new(pattern)
            } else {
                None
            },
            dfa,
            full,
        })
    }

    /// Whether `v` matches (the whole of it in `full` mode).
    fn is_match(&self, v: &[u8], cache: &mut Option<regex_automata::hybrid::dfa::Cache>) -> bool {
        let (Some(dfa), Some(cache)) = (&self.dfa, cache.as_mut()) else {
            return self.re.is_match(v);
        };
        match dfa_match(dfa, cache, v, self.full) {
            Some(m) => m,
            None => self.re.is_match(v),
        }
    }
}

/// Runs the lazy DFA over `v`. `None` when it gives up (cache thrash, quit byte).
fn dfa_match(
    dfa: &regex_automata::hybrid::dfa::DFA,
    cache: &mut regex_automata::hybrid::dfa::Cache,
    v: &[u8],
    full: bool,
) -> Option<bool> {
    use regex_automata::Anchored;
    use regex_automata::util::start::Config;
    let anchored = if full { Anchored::Yes } else { Anchored::No };
    let mut sid = dfa
        .start_state(cache, &Config::new().anchored(anchored))
        .ok()?;
    for &b in v {
        sid = dfa.next_state(cache, sid, b).ok()?;
        if sid.is_tagged() {
            if sid.is_dead() {
                return Some(false);
            }
            if sid.is_quit() {
                return None;
            }
            // Match states are delayed by one byte: this one says the input so far matched.
            if !full && sid.is_match() {
                return Some(true);
            }
        }
    }
    sid = dfa.next_eoi_state(cache, sid).ok()?;
    Some(sid.is_match())
}

/// `true` where the value matches (full or search, as compiled).
pub(crate) fn regex_matches(re: &SuiteRegex, array: &dyn Array) -> Option<BooleanArray> {
    if let Some(seq) = &re.seq {
        if let Some(r) = seq.match_array(array) {
            return Some(r);
        }
        return map_bytes(array, |v| seq.is_match(v));
    }
    let mut cache = re.dfa.as_ref().map(|d| d.create_cache());
    map_bytes(array, |v| re.is_match(v, &mut cache))
}

/// Character count (bytes for binary) within `[min, max]`.
pub(crate) fn length_between(array: &dyn Array, min: u64, max: u64) -> Option<BooleanArray> {
    let binary = matches!(
        array.data_type(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    ) || matches!(array.data_type(), DataType::Dictionary(_, v) if matches!(**v, DataType::Binary | DataType::LargeBinary | DataType::BinaryView));
    if binary {
        return map_bytes(array, |v| (min..=max).contains(&(v.len() as u64)));
    }
    // ASCII fast path: one pass over the value bytes, then lengths come from the offsets alone.
    if let Some(r) = ascii_lengths::<i32>(array, min, max)
        .or_else(|| ascii_lengths::<i64>(array, min, max))
        .or_else(|| ascii_view_lengths(array, min, max))
    {
        return Some(r);
    }
    map_bytes(array, |v| (min..=max).contains(&char_count(v)))
}

fn ascii_lengths<O: arrow::array::OffsetSizeTrait>(
    array: &dyn Array,
    min: u64,
    max: u64,
) -> Option<BooleanArray> {
    use arrow::array::AsArray;
    let a = array.as_string_opt::<O>()?;
    let offsets = a.value_offsets();
    let (start, end) = (offsets[0].as_usize(), offsets[a.len()].as_usize());
    if !a.value_data()[start..end].is_ascii() {
        return None;
    }
    let values = arrow::buffer::BooleanBuffer::collect_bool(a.len(), |i| {
        (min..=max).contains(&((offsets[i + 1] - offsets[i]).as_usize() as u64))
    });
    Some(BooleanArray::new(values, a.nulls().cloned()))
}

/// The same for `string_view`: when every data buffer and every inline value is ASCII, a
/// value's length is the length field of its view.
fn ascii_view_lengths(array: &dyn Array, min: u64, max: u64) -> Option<BooleanArray> {
    use arrow::array::AsArray;
    if array.data_type() != &DataType::Utf8View {
        return None;
    }
    let a = array.as_string_view();
    let views = a.views();
    // Inline values (at most 12 bytes) sit in the view's upper 96 bits, zero padded.
    const INLINE_HIGH_BITS: u128 = !0xFFFF_FFFF & u128::from_ne_bytes([0x80; 16]);
    let ascii = a.data_buffers().iter().all(|b| b.is_ascii())
        && views
            .iter()
            .all(|v| (*v as u32) > 12 || v & INLINE_HIGH_BITS == 0);
    if !ascii {
        return None;
    }
    let values =
        crate::values::access::pack_bits(views, |v| (min..=max).contains(&((v as u32) as u64)));
    Some(BooleanArray::new(values, a.nulls().cloned()))
}

/// A compiled strftime format and what a value parsed with it can be turned into.
#[derive(Debug)]
pub(crate) struct FormatCheck {
    items: Vec<Item<'static>>,
    /// The byte-by-byte check of a fixed-width numeric format, tried before the round trip.
    fixed: Option<FixedFormat>,
}

impl FormatCheck {
    pub(crate) fn new(format: &str) -> Result<Self, String> {
        let items: Vec<Item<'static>> = StrftimeItems::new(format)
            .map(|i| to_owned_item(i))
            .collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(format!("`{format}` is not a valid chrono strftime format"));
        }
        let fixed = FixedFormat::new(&items);
        Ok(FormatCheck { items, fixed })
    }

    /// Strict: the whole value parses, the fields it sets form a valid date and/or time, and
    /// formatting that value again gives back the same text (so `2024-1-5` fails `%Y-%m-%d`,
    /// and leading or trailing spaces fail).
    pub(crate) fn matches(&self, v: &[u8], buf: &mut String) -> bool {
        let Ok(s) = std::str::from_utf8(v) else {
            return false;
        };
        let mut p = Parsed::new();
        if parse(&mut p, s, self.items.iter()).is_err() {
            return false;
        }
        use chrono::format::ParseErrorKind::NotEnough;
        let date = p.to_naive_date();
        let time = p.to_naive_time();
        let date_ok = date
            .as_ref()
            .map_or_else(|e| e.kind() == NotEnough, |_| true);
        let time_ok = time
            .as_ref()
            .map_or_else(|e| e.kind() == NotEnough, |_| true);
        if !date_ok || !time_ok {
            return false;
        }
        buf.clear();
        use std::fmt::Write;
        let items = self.items.iter();
        let written = match (date, time, p.to_fixed_offset()) {
            (Ok(d), Ok(t), Ok(off)) => match d.and_time(t).and_local_timezone(off) {
                chrono::LocalResult::Single(dt) => write!(buf, "{}", dt.format_with_items(items)),
                _ => return false,
            },
            (Ok(d), Ok(t), Err(_)) => write!(buf, "{}", d.and_time(t).format_with_items(items)),
            (Ok(d), Err(_), _) => write!(buf, "{}", d.format_with_items(items)),
            (Err(_), Ok(t), _) => write!(buf, "{}", t.format_with_items(items)),
            // Partial formats (`%Y-%m`): the parse succeeding is all that can be checked.
            (Err(_), Err(_), _) => return s.trim() == s,
        };
        written.is_ok() && buf.as_str() == s
    }

    /// Each value of a chunk checked once: formatted values repeat (a day, a month), and a
    /// parse and format cost far more than a lookup. The first `FORMAT_MEMO` distinct values
    /// are remembered; later ones are checked every time. A fixed-width numeric format accepts
    /// its valid values byte by byte, without the round trip.
    pub(crate) fn evaluate(&self, array: &dyn Array) -> Option<BooleanArray> {
        let mut buf = String::new();
        let mut memo: hashbrown::HashMap<Box<[u8]>, bool> = hashbrown::HashMap::new();
        map_bytes(array, |v| {
            // While the memo fills, repeats are found there first (a lookup costs less than the
            // byte check); once it is full the values are mostly distinct, and the byte check
            // comes first.
            let full = memo.len() >= FORMAT_MEMO;
            let fixed = self.fixed.as_ref();
            let memo_first = !full || fixed.is_none();
            if memo_first && let Some(ok) = memo.get(v) {
                return *ok;
            }
            if fixed.is_some_and(|f| f.accepts(v)) {
                if !full {
                    memo.insert(v.into(), true);
                }
                return true;
            }
            if !memo_first && let Some(ok) = memo.get(v) {
                return *ok;
            }
            let ok = self.matches(v, &mut buf);
            if !full {
                memo.insert(v.into(), ok);
            }
            ok
        })
    }
}

/// Distinct values [`FormatCheck::evaluate`] remembers per chunk.
const FORMAT_MEMO: usize = 4096;

fn to_owned_item(i: Item<'_>) -> Item<'static> {
    match i {
        Item::Literal(s) => Item::OwnedLiteral(s.into()),
        Item::Space(s) => Item::OwnedSpace(s.into()),
        Item::OwnedLiteral(s) => Item::OwnedLiteral(s),
        Item::OwnedSpace(s) => Item::OwnedSpace(s),
        Item::Numeric(n, p) => Item::Numeric(n, p),
        Item::Fixed(f) => Item::Fixed(f),
        Item::Error => Item::Error,
    }
}

/// `matches_regex` / `not_matches_regex`.
impl super::ColumnCheck for SuiteRegex {
    fn check(
        &self,
        array: &dyn Array,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Option<BooleanArray> {
        regex_matches(self, array)
    }
}

/// `length_between`: inclusive bounds on the length.
#[derive(Debug)]
pub(crate) struct Length {
    pub min: u64,
    pub max: u64,
}

impl super::ColumnCheck for Length {
    fn check(
        &self,
        array: &dyn Array,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Option<BooleanArray> {
        length_between(array, self.min, self.max)
    }
}

/// `matches_format`.
impl super::ColumnCheck for FormatCheck {
    fn check(
        &self,
        array: &dyn Array,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Option<BooleanArray> {
        self.evaluate(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BinaryArray, DictionaryArray, LargeStringArray, StringArray, StringViewArray,
    };
    use arrow::datatypes::Int16Type;

    fn run(a: &dyn Array, f: impl Fn(&dyn Array) -> Option<BooleanArray>) -> Vec<Option<bool>> {
        f(a).unwrap().iter().collect()
    }

    #[test]
    fn full_mode_rejects_a_trailing_newline() {
        let re = SuiteRegex::new("[0-9]{10}", RegexMode::Full).unwrap();
        let a = StringArray::from(vec![
            Some("1234567890"),
            Some("1234567890\n"),
            None,
            Some("x1234567890"),
        ]);
        let want = vec![Some(true), Some(false), None, Some(false)];
        assert_eq!(run(&a, |a| regex_matches(&re, a)), want);
        let search = SuiteRegex::new("[0-9]{10}", RegexMode::Search).unwrap();
        assert_eq!(
            run(&a, |a| regex_matches(&search, a)),
            vec![Some(true), Some(true), None, Some(true)]
        );
        let views = StringViewArray::from(vec![
            Some("1234567890"),
            Some("1234567890\n"),
            None,
            Some("x1234567890"),
        ]);
        assert_eq!(run(&views, |a| regex_matches(&re, a)), want);
        let large = LargeStringArray::from(vec![
            Some("1234567890"),
            Some("1234567890\n"),
            None,
            Some("x1234567890"),
        ]);
        assert_eq!(run(&large, |a| regex_matches(&re, a)), want);
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let e = compile_regex("(?=abc)a", RegexMode::Full).unwrap_err();
        assert!(e.contains("look-around"), "{e}");
        let e = compile_regex(r"(a)\1", RegexMode::Full).unwrap_err();
        assert!(e.contains("backreference"), "{e}");
        let e = compile_regex("(", RegexMode::Full).unwrap_err();
        assert!(e.contains("does not compile"), "{e}");
    }

    #[test]
    fn length_counts_characters_bytes_for_binary() {
        let a = StringArray::from(vec![Some("abc"), Some("äbc"), Some("abcd"), None]);
        assert_eq!(
            run(&a, |a| length_between(a, 3, 3)),
            vec![Some(true), Some(true), Some(false), None]
        );
        let b = BinaryArray::from(vec![Some("äbc".as_bytes())]);
        assert_eq!(run(&b, |a| length_between(a, 3, 3)), vec![Some(false)]);
        let d: DictionaryArray<Int16Type> = vec![Some("ab"), None, Some("ab"), Some("abc")]
            .into_iter()
            .collect();
        assert_eq!(
            run(&d, |a| length_between(a, 0, 2)),
            vec![Some(true), None, Some(true), Some(false)]
        );
    }

    #[test]
    fn formats_are_strict() {
        let f = FormatCheck::new("%Y-%m-%d").unwrap();
        let a = StringArray::from(vec![
            "2024-01-05",
            "2024-1-5",
            "2024-02-30",
            " 2024-01-05",
            "2024-01-05 ",
            "20240105",
            "2024-02-29",
        ]);
        assert_eq!(
            run(&a, |a| f.evaluate(a)),
            vec![
                Some(true),
                Some(false),
                Some(false),
                Some(false),
                Some(false),
                Some(false),
                Some(true)
            ]
        );
        let f = FormatCheck::new("%Y-%m-%dT%H:%M:%S%z").unwrap();
        let a = StringArray::from(vec!["2024-01-05T10:00:00+0100", "2024-01-05T25:00:00+0100"]);
        assert_eq!(run(&a, |a| f.evaluate(a)), vec![Some(true), Some(false)]);
        let f = FormatCheck::new("%H:%M").unwrap();
        let a = StringArray::from(vec!["09:30", "9:30", "24:00"]);
        assert_eq!(
            run(&a, |a| f.evaluate(a)),
            vec![Some(true), Some(false), Some(false)]
        );
        assert!(FormatCheck::new("%Q").is_err());
    }
}

/// The lazy-DFA fast path accepts exactly what the regex engine accepts.
#[cfg(test)]
mod dfa_equals_regex {
    use super::*;
    use proptest::prelude::*;

    const PATTERNS: [&str; 8] = [
        "[0-9]{10}",
        r"[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?",
        "a|ab|abc",
        "(?i)ab+c",
        r"\w+@\w+\.com",
        "^x?$",
        "é.",
        "",
    ];

    proptest! {
        #[test]
        fn same_answers(values in prop::collection::vec("[0-9a-cA-C@.xé\\n]{0,12}", 1..60), p in 0usize..8, full in any::<bool>()) {
            let mode = if full { RegexMode::Full } else { RegexMode::Search };
            let fast = SuiteRegex::new(PATTERNS[p], mode).unwrap();
            prop_assert!(fast.dfa.is_some(), "no DFA for {}", PATTERNS[p]);
            let reference = compile_regex(PATTERNS[p], mode).unwrap();
            let a = arrow::array::StringArray::from(values.clone());
            let got: Vec<bool> = regex_matches(&fast, &a).unwrap().values().iter().collect();
            let want: Vec<bool> = values.iter().map(|v| reference.is_match(v.as_bytes())).collect();
            prop_assert_eq!(got, want, "pattern {} full={}", PATTERNS[p], full);
        }
    }
}
