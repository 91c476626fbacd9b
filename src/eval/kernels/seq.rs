//! A byte-level fast path for the regexes data contracts are made of: a fixed sequence of ASCII
//! character classes, optionally ending in a bounded repetition (`[0-9]{10}`, `M[0-9]{9}`,
//! `[A-Z][0-9]{2}`, `[0-9]{6,8}`), and alternatives of those (an optional group such as
//! `(\.[0-9A-Z]{1,4})?` expands into two). Matching a value is a length check and one table
//! lookup per byte: no automaton state, no search setup.
//!
//! Only full-match mode and only these shapes compile; anything else (`*`, a variable
//! repetition before the end, non-ASCII classes, search mode) is left to the lazy DFA.

use arrow::array::{Array, BooleanArray};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::words::{H, Words, lanes_in_range};

/// 256-bit byte set (built in this form, then turned into a lookup table).
type ByteSet = [u64; 4];

fn table(set: &ByteSet) -> [bool; 256] {
    let mut t = [false; 256];
    for (b, slot) in t.iter_mut().enumerate() {
        *slot = (set[b >> 6] >> (b & 63)) & 1 == 1;
    }
    t
}

#[derive(Debug, Clone, Default)]
struct Seq {
    fixed: Vec<ByteSet>,
    /// A last element repeated `min..=max` times.
    tail: Option<(ByteSet, usize, usize)>,
}

/// Alternatives of class sequences, compiled by value length: for each length a value can
/// have, the table sequences of that length (one table per byte position, one byte per possible
/// input byte). A value is checked against its length's sequences only: one load per byte.
#[derive(Debug)]
pub(crate) struct SeqMatcher {
    by_len: Vec<Vec<Box<[[bool; 256]]>>>,
    /// Per length: when its only sequence is one ASCII byte range at every position
    /// (`[0-9]{10}`), the range, checked 8 bytes at a time.
    uniform: Vec<Option<(u8, u8)>>,
    /// The same alternatives as per-byte ranges in two 64-bit words, for values of at most
    /// [`WORD_LEN`] bytes when every class is a few ASCII ranges.
    words: Option<Words>,
}

/// Whether every byte of `v` (at least 8 bytes, ASCII range `lo..=hi`) lies in the range, 8 bytes
/// per step (SWAR, see [`lanes_in_range`]).
#[inline]
fn all_in_range(v: &[u8], lo: u8, hi: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let (l, h) = (ONES * lo as u64, (ONES * hi as u64) | H);
    let word_ok = |w: u64| w & H == 0 && lanes_in_range(w, l, h) == H;
    let n = v.len();
    let mut i = 0;
    let mut ok = true;
    while i + 8 <= n {
        ok &= word_ok(u64::from_le_bytes(v[i..i + 8].try_into().expect("8 bytes")));
        i += 8;
    }
    if i < n {
        // The last, overlapping word.
        ok &= word_ok(u64::from_le_bytes(v[n - 8..].try_into().expect("8 bytes")));
    }
    ok
}

fn single_range(t: &[bool; 256]) -> Option<(u8, u8)> {
    let lo = t.iter().position(|x| *x)?;
    let hi = t.iter().rposition(|x| *x)?;
    (hi < 0x80 && t[lo..=hi].iter().all(|x| *x)).then_some((lo as u8, hi as u8))
}

/// Values longer than this are left to the DFA (tables grow with every possible length).
const MAX_LEN: usize = 64;

/// More alternatives than this are left to the DFA.
const MAX_ALTERNATIVES: usize = 8;

impl SeqMatcher {
    /// Compiles `pattern` (full-match semantics) if it has a supported shape.
    pub(crate) fn new(pattern: &str) -> Option<Self> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        // Text anchors at the very edges add nothing to a full match; anywhere else they are
        // left to the DFA.
        let alts = match hir.kind() {
            HirKind::Concat(items) => {
                let mut items: &[Hir] = items;
                if let Some(HirKind::Look(Look::Start)) = items.first().map(Hir::kind) {
                    items = &items[1..];
                }
                if let Some(HirKind::Look(Look::End)) = items.last().map(Hir::kind) {
                    items = &items[..items.len() - 1];
                }
                items
                    .iter()
                    .try_fold(vec![Seq::default()], |acc, h| expand(h, acc))?
            }
            _ => expand(&hir, vec![Seq::default()])?,
        };
        if alts.is_empty() || alts.len() > MAX_ALTERNATIVES {
            return None;
        }
        let mut by_len: Vec<Vec<Box<[[bool; 256]]>>> = Vec::new();
        for s in &alts {
            let n = s.fixed.len();
            let (lo, hi) = s.tail.as_ref().map_or((n, n), |(_, a, b)| (n + a, n + b));
            if hi > MAX_LEN {
                return None;
            }
            if by_len.len() <= hi {
                by_len.resize_with(hi + 1, Vec::new);
            }
            for (len, slot) in (lo..=hi).zip(&mut by_len[lo..=hi]) {
                let tables: Box<[[bool; 256]]> = s
                    .fixed
                    .iter()
                    .map(table)
                    .chain((n..len).map(|_| table(&s.tail.as_ref().expect("len > n has a tail").0)))
                    .collect();
                slot.push(tables);
            }
        }
        let uniform = by_len
            .iter()
            .enumerate()
            .map(|(len, alts)| match alts.as_slice() {
                [tables] if len >= 8 => {
                    let r = single_range(&tables[0])?;
                    tables.iter().all(|t| t == &tables[0]).then_some(r)
                }
                _ => None,
            })
            .collect();
        let words = Words::new(&by_len);
        Some(SeqMatcher {
            by_len,
            uniform,
            words,
        })
    }

    /// Matches every value of a `string`, `large_string` or `string_view` array when the word
    /// matcher applies (values read straight from the offsets or the views); `None` otherwise.
    pub(crate) fn match_array(&self, array: &dyn Array) -> Option<BooleanArray> {
        let values = self.words.as_ref()?.match_array(array)?;
        Some(BooleanArray::new(values, array.logical_nulls()))
    }

    #[inline]
    pub(crate) fn is_match(&self, v: &[u8]) -> bool {
        if let Some(m) = self.words.as_ref().and_then(|w| w.is_match(v)) {
            return m;
        }
        if let Some(Some((lo, hi))) = self.uniform.get(v.len()) {
            return all_in_range(v, *lo, *hi);
        }
        self.by_len.get(v.len()).is_some_and(|alts| {
            alts.iter().any(|tables| {
                // No early exit: a branch-free fold over a few bytes beats predicting one.
                tables
                    .iter()
                    .zip(v)
                    .fold(true, |ok, (t, b)| ok & t[*b as usize])
            })
        })
    }
}

fn ascii_set(hir: &Hir) -> Option<ByteSet> {
    let mut set = [0u64; 4];
    let mut add = |lo: u32, hi: u32| -> Option<()> {
        if hi > 0x7f {
            return None;
        }
        for b in lo..=hi {
            set[(b >> 6) as usize] |= 1 << (b & 63);
        }
        Some(())
    };
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                add(r.start() as u32, r.end() as u32)?;
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                add(r.start() as u32, r.end() as u32)?;
            }
        }
        HirKind::Literal(l) if l.0.len() == 1 => add(l.0[0] as u32, l.0[0] as u32)?,
        _ => return None,
    }
    Some(set)
}

/// Appends `hir` to every sequence in `seqs`; `None` when the shape is not supported.
fn expand(hir: &Hir, seqs: Vec<Seq>) -> Option<Vec<Seq>> {
    let push_fixed = |mut seqs: Vec<Seq>, set: ByteSet, times: usize| -> Option<Vec<Seq>> {
        for s in &mut seqs {
            if s.tail.is_some() {
                return None;
            }
            s.fixed.extend(std::iter::repeat_n(set, times));
        }
        Some(seqs)
    };
    match hir.kind() {
        HirKind::Empty => Some(seqs),
        HirKind::Literal(l) => {
            let mut seqs = seqs;
            for b in l.0.iter() {
                if *b > 0x7f {
                    return None;
                }
                let mut set = [0u64; 4];
                set[(b >> 6) as usize] |= 1 << (b & 63);
                seqs = push_fixed(seqs, set, 1)?;
            }
            Some(seqs)
        }
        HirKind::Class(_) => push_fixed(seqs, ascii_set(hir)?, 1),
        HirKind::Capture(c) => expand(&c.sub, seqs),
        HirKind::Concat(items) => items.iter().try_fold(seqs, |acc, h| expand(h, acc)),
        HirKind::Repetition(r) => {
            let min = r.min as usize;
            match r.max {
                Some(max) if max as usize == min => {
                    let set = ascii_set(&r.sub)?;
                    push_fixed(seqs, set, min)
                }
                // An optional group: both with and without it.
                Some(1) if min == 0 && ascii_set(&r.sub).is_none() => {
                    let mut with = expand(&r.sub, seqs.clone())?;
                    let mut out = seqs;
                    out.append(&mut with);
                    (out.len() <= MAX_ALTERNATIVES).then_some(out)
                }
                Some(max) => {
                    let set = ascii_set(&r.sub)?;
                    let mut seqs = seqs;
                    for s in &mut seqs {
                        if s.tail.is_some() {
                            return None;
                        }
                        s.tail = Some((set, min, max as usize));
                    }
                    Some(seqs)
                }
                None => None,
            }
        }
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(expand(a, seqs.clone())?);
                if out.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(out)
        }
        HirKind::Look(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let npi = SeqMatcher::new("[0-9]{10}").unwrap();
        assert!(npi.uniform[10].is_some());
        for v in [
            "1234567890",
            "0000000000",
            "9999999999",
            "123456789/",
            "12345678:0",
            "/234567890",
            "12345é789",
            "1234567890",
        ] {
            let want = v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit());
            assert_eq!(npi.is_match(v.as_bytes()), want, "{v}");
        }
        assert!(npi.is_match(b"1234567890"));
        assert!(!npi.is_match(b"123456789"));
        assert!(!npi.is_match(b"1234567890\n"));
        let icd = SeqMatcher::new(r"[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?").unwrap();
        for (v, want) in [
            ("E11", true),
            ("E11.9", true),
            ("J45.9012", true),
            ("U07.1", false),
            ("E11.", false),
            ("E11.12345", false),
            ("e11.9", false),
        ] {
            assert_eq!(icd.is_match(v.as_bytes()), want, "{v}");
        }
        // Words: lengths up to 16, classes of up to three ASCII ranges.
        assert!(npi.words.is_some() && icd.words.is_some());
        assert!(SeqMatcher::new("[0-9]{17}").unwrap().words.is_none());
        assert!(SeqMatcher::new("[ACEGI]").unwrap().words.is_none());
        let anchored = SeqMatcher::new("^M[0-9]{2}$").unwrap();
        assert!(anchored.is_match(b"M12") && !anchored.is_match(b"M123"));
        let alt = SeqMatcher::new("HMO01|PPO0[12]").unwrap();
        assert!(alt.is_match(b"PPO02") && !alt.is_match(b"PPO03"));
        let ci = SeqMatcher::new("(?i)ab").unwrap();
        assert!(ci.is_match(b"aB"));
        // Not supported: unbounded, a variable part before the end, non-ASCII.
        assert!(SeqMatcher::new("[0-9]+").is_none());
        assert!(SeqMatcher::new("[0-9]{1,3}x").is_none());
        assert!(SeqMatcher::new("é").is_none());
        assert!(SeqMatcher::new(r"\w{2}").is_none());
        assert!(SeqMatcher::new("a$b").is_none());
    }

    /// The word matcher against the per-byte tables, on values made of the bytes at the edges of
    /// every class (and non-ASCII ones), through each array layout.
    #[test]
    fn words_agree_with_tables() {
        use arrow::array::{StringArray, StringViewArray};
        let alphabet: &[u8] = b"\0/09:@ATUVZ[`az{.-\x7f";
        let mut lcg = crate::testing::Lcg(7);
        let mut next = || (lcg.next() >> 33) as usize;
        for pattern in [
            r"[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?",
            "[0-9]{10}",
            "M[0-9]{9}",
            "HMO01|PPO0[12]|[a-z]{3,5}",
            "[0-9]{6,8}",
            "[0-9A-Za-z]{16}",
            "",
        ] {
            let m = SeqMatcher::new(pattern).unwrap();
            assert!(m.words.is_some(), "{pattern}");
            let mut values: Vec<String> = Vec::new();
            for _ in 0..4000 {
                let len = next() % 18;
                let mut v: String = (0..len)
                    .map(|_| alphabet[next() % alphabet.len()] as char)
                    .collect();
                if next() % 5 == 0 {
                    v.push('é');
                }
                values.push(v);
            }
            values.extend(
                ["E11.9", "J45", "1234567890", "M123456789", "PPO02", "abcd"].map(String::from),
            );
            let by_tables = |v: &str| {
                m.by_len.get(v.len()).is_some_and(|alts| {
                    alts.iter()
                        .any(|t| t.iter().zip(v.bytes()).all(|(t, b)| t[b as usize]))
                })
            };
            let want: Vec<bool> = values.iter().map(|v| by_tables(v)).collect();
            for (v, w) in values.iter().zip(&want) {
                assert_eq!(m.is_match(v.as_bytes()), *w, "{pattern} {v:?}");
            }
            let plain = StringArray::from(values.clone());
            let view = StringViewArray::from(values.clone());
            for a in [
                &plain as &dyn Array,
                &view,
                &plain.slice(3, 100),
                &view.slice(5, 70),
            ] {
                let got = m.match_array(a).unwrap();
                let offset = if a.len() == 100 {
                    3
                } else if a.len() == 70 {
                    5
                } else {
                    0
                };
                for i in 0..a.len() {
                    assert_eq!(
                        got.value(i),
                        want[offset + i],
                        "{pattern} {:?}",
                        values[offset + i]
                    );
                }
            }
        }
    }
}
