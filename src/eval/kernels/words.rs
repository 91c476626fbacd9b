//! Class sequences on short values, a 64-bit word at a time: a value of up to [`WORD_LEN`]
//! bytes is loaded as two little-endian words and every byte is checked against the ranges of
//! its position's class at once (SWAR), read straight from a string array's offsets or views.

use arrow::array::{Array, AsArray, GenericStringArray, OffsetSizeTrait};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::DataType;

/// Values up to this long are matched as two 64-bit words.
const WORD_LEN: usize = 16;
/// Classes of up to this many ASCII ranges (`[0-9A-TV-Z]` is three) fit the word matcher.
const WORD_RANGES: usize = 3;
/// Bit 7 of every byte.
pub(super) const H: u64 = 0x8080_8080_8080_8080;

/// One alternative as per-lane ranges: lane `p` of word `p / 8` holds the ranges of the class
/// at byte position `p`; unused ranges are empty, lanes past the value's end accept anything.
#[derive(Debug, Clone, Copy)]
struct WordAlt {
    lo: [[u64; WORD_RANGES]; 2],
    /// Upper bounds with bit 7 of every lane set.
    hi: [[u64; WORD_RANGES]; 2],
}

/// Per value length up to [`WORD_LEN`], its alternatives as [`WordAlt`]s.
#[derive(Debug)]
pub(super) struct Words {
    by_len: Vec<Vec<WordAlt>>,
    /// The most ranges any class has: the checks past it are empty and skipped.
    ranges: usize,
}

/// Bit 7 of each byte lane of `w` set when the lane's byte lies in `lo..=hi` of that lane
/// (`hi` given with bit 7 of every lane set); meaningful for ASCII bytes only. With bytes below
/// 0x80, `(b | 0x80) - lo` keeps bit 7 exactly when `b >= lo` and `(hi | 0x80) - b` exactly when
/// `b <= hi`; no borrow crosses a lane.
#[inline(always)]
pub(super) fn lanes_in_range(w: u64, lo: u64, hi: u64) -> u64 {
    ((w | H) - lo) & hi.wrapping_sub(w) & H
}

/// Whether every byte of `w` is ASCII and lies in one of its lane's ranges.
#[inline(always)]
fn word_ok<const R: usize>(w: u64, lo: &[u64; WORD_RANGES], hi: &[u64; WORD_RANGES]) -> bool {
    let mut any = 0;
    for r in 0..R {
        any |= lanes_in_range(w, lo[r], hi[r]);
    }
    w & H == 0 && any == H
}

/// The ASCII ranges of a byte table, if it has at most [`WORD_RANGES`] of them.
fn ascii_ranges(t: &[bool; 256]) -> Option<Vec<(u8, u8)>> {
    if t[0x80..].iter().any(|x| *x) {
        return None;
    }
    let mut out = Vec::new();
    let mut b = 0usize;
    while b < 0x80 {
        if t[b] {
            let start = b;
            while b < 0x80 && t[b] {
                b += 1;
            }
            out.push((start as u8, (b - 1) as u8));
        } else {
            b += 1;
        }
    }
    (out.len() <= WORD_RANGES).then_some(out)
}

impl Words {
    /// The word form of per-length table sequences (one table per byte position), if every
    /// length is at most [`WORD_LEN`] and every class a few ASCII ranges.
    pub(super) fn new(by_len: &[Vec<Box<[[bool; 256]]>>]) -> Option<Self> {
        if by_len.len() > WORD_LEN + 1 {
            return None;
        }
        let mut out = Vec::with_capacity(by_len.len());
        let mut most = 1;
        for alts in by_len {
            let mut word_alts = Vec::with_capacity(alts.len());
            for tables in alts {
                // An empty range (no byte is both >= 0x7f and <= 0), and "anything" for lanes
                // past the value's end (their bytes are zeroed).
                let mut alt = WordAlt {
                    lo: [[0x7f7f_7f7f_7f7f_7f7f; WORD_RANGES]; 2],
                    hi: [[H; WORD_RANGES]; 2],
                };
                for word in 0..2 {
                    alt.hi[word][0] = u64::MAX;
                    alt.lo[word][0] = 0;
                }
                for (p, t) in tables.iter().enumerate() {
                    let ranges = ascii_ranges(t)?;
                    most = most.max(ranges.len());
                    let (word, shift) = (p / 8, (p % 8) * 8);
                    for r in 0..WORD_RANGES {
                        let (lo, hi) = ranges.get(r).copied().unwrap_or((0x7f, 0));
                        alt.lo[word][r] =
                            (alt.lo[word][r] & !(0xff << shift)) | (lo as u64) << shift;
                        alt.hi[word][r] =
                            (alt.hi[word][r] & !(0xff << shift)) | ((hi | 0x80) as u64) << shift;
                    }
                }
                word_alts.push(alt);
            }
            out.push(word_alts);
        }
        Some(Words {
            by_len: out,
            ranges: most,
        })
    }

    /// Matches every value of a `string`, `large_string` or `string_view` array; `None` for
    /// other types.
    pub(super) fn match_array(&self, array: &dyn Array) -> Option<BooleanBuffer> {
        match self.ranges {
            1 => match_words::<1>(self, array),
            2 => match_words::<2>(self, array),
            _ => match_words::<WORD_RANGES>(self, array),
        }
    }

    /// Whether one value matches; `None` when it is longer than [`WORD_LEN`].
    pub(super) fn is_match(&self, v: &[u8]) -> Option<bool> {
        (v.len() <= WORD_LEN).then(|| {
            let (w0, w1) = words_of(v, 0, v.len());
            self.matches::<WORD_RANGES>(v.len(), w0, w1)
        })
    }

    /// Whether a value of `len` bytes, given as its two little-endian words zero-padded past
    /// its end, matches.
    #[inline(always)]
    fn matches<const R: usize>(&self, len: usize, w0: u64, w1: u64) -> bool {
        self.by_len.get(len).is_some_and(|alts| {
            alts.iter().any(|a| {
                word_ok::<R>(w0, &a.lo[0], &a.hi[0])
                    && (len <= 8 || word_ok::<R>(w1, &a.lo[1], &a.hi[1]))
            })
        })
    }
}

/// Bytes `start..start + len` of `data` (`len <= 8`) as a little-endian word, zero-padded.
#[inline(always)]
fn load(data: &[u8], start: usize, len: usize) -> u64 {
    let w = match data.get(start..start + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => {
            let mut b = [0u8; 8];
            b[..len].copy_from_slice(&data[start..start + len]);
            u64::from_le_bytes(b)
        }
    };
    keep(w, len)
}

/// The first `len` bytes of a little-endian word, the rest zeroed.
#[inline(always)]
fn keep(w: u64, len: usize) -> u64 {
    if len >= 8 {
        w
    } else {
        w & ((1u64 << (8 * len)) - 1)
    }
}

/// The two words of a value of at most [`WORD_LEN`] bytes.
#[inline(always)]
fn words_of(data: &[u8], start: usize, len: usize) -> (u64, u64) {
    if len <= 8 {
        (load(data, start, len), 0)
    } else {
        (load(data, start, 8), load(data, start + 8, len - 8))
    }
}

/// [`Words::match_array`] with the range checks unrolled to `R`.
fn match_words<const R: usize>(words: &Words, array: &dyn Array) -> Option<BooleanBuffer> {
    Some(match array.data_type() {
        DataType::Utf8 => word_offsets::<_, R>(words, array.as_string::<i32>()),
        DataType::LargeUtf8 => word_offsets::<_, R>(words, array.as_string::<i64>()),
        DataType::Utf8View => {
            let a = array.as_string_view();
            let buffers = a.data_buffers();
            let views = a.views();
            BooleanBuffer::collect_bool(a.len(), |i| {
                let v = views[i];
                let len = v as u32 as usize;
                if len > WORD_LEN {
                    return false;
                }
                if len <= 12 {
                    // Inline: the bytes follow the length.
                    let (w0, w1) = (
                        keep((v >> 32) as u64, len),
                        keep((v >> 96) as u64, len.saturating_sub(8)),
                    );
                    return words.matches::<R>(len, w0, w1);
                }
                // Length, prefix, buffer index, offset: 32 bits each.
                let data = &buffers[(v >> 64) as u32 as usize];
                let (w0, w1) = words_of(data, (v >> 96) as u32 as usize, len);
                words.matches::<R>(len, w0, w1)
            })
        }
        _ => return None,
    })
}

fn word_offsets<O: OffsetSizeTrait, const R: usize>(
    words: &Words,
    a: &GenericStringArray<O>,
) -> BooleanBuffer {
    let offsets = a.value_offsets();
    let data = a.value_data();
    BooleanBuffer::collect_bool(a.len(), |i| {
        let start = offsets[i].as_usize();
        let len = offsets[i + 1].as_usize() - start;
        if len > WORD_LEN {
            return false;
        }
        let (w0, w1) = words_of(data, start, len);
        words.matches::<R>(len, w0, w1)
    })
}
