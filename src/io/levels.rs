//! The nulls of a flat Parquet column, read from its definition levels without decoding its
//! values.
//!
//! A column that the checks read only for its nulls (`not_null`, null-count metrics) needs each
//! row's validity, and a data page states it in its definition levels, which come first in the
//! page: ahead of the values in a v1 page (inside the compressed block), apart from them in a v2
//! page. For an uncompressed or Snappy-compressed column chunk this reader decompresses only the
//! head of each v1 page that holds the levels, so the values are neither decompressed nor
//! decoded. Chunks then hold the column as a stand-in of its type: zero values (empty strings,
//! zeros) under the real validity.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayData, ArrayRef, BooleanBufferBuilder, make_array, new_null_array};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::DataType;
use parquet::basic::{Compression, Encoding};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::serialized_reader::SerializedPageReader;

/// Whether the nulls of leaf column `leaf` can be read from its levels alone in every row group:
/// a flat column (no repetition, at most one definition level), each chunk uncompressed or
/// Snappy-compressed, with levels in the RLE/bit-packed hybrid encoding.
#[expect(
    deprecated,
    reason = "`BIT_PACKED` is named to turn such (old) files away"
)]
pub(super) fn supported(meta: &ParquetMetaData, leaf: usize) -> bool {
    let descr = meta.file_metadata().schema_descr().column(leaf);
    descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && meta.row_groups().iter().all(|rg| {
            let c = rg.column(leaf);
            matches!(
                c.compression(),
                Compression::UNCOMPRESSED | Compression::SNAPPY
            ) && !c.encodings().any(|e| e == Encoding::BIT_PACKED)
        })
}

/// A stand-in of `rows` rows of type `dt` whose every value is valid: zeros, empty strings, a
/// dictionary of one such value. `None` for a type whose zeroed buffers are not valid values
/// (nested types).
pub(super) fn zero_values(dt: &DataType, rows: usize) -> Option<ArrayRef> {
    let data = match dt {
        DataType::Dictionary(keys, values) => {
            let keys = new_null_array(keys, rows).to_data();
            ArrayData::builder(dt.clone())
                .len(rows)
                .add_buffer(keys.buffers().first()?.clone())
                .add_child_data(zero_values(values, 1)?.to_data())
                .build()
        }
        _ => new_null_array(dt, rows)
            .to_data()
            .into_builder()
            .nulls(None)
            .build(),
    };
    Some(make_array(data.ok()?))
}

/// Reads a column chunk's nulls and hands them out as chunks of its stand-in.
pub(super) struct NullsReader {
    path: PathBuf,
    chunk: ColumnChunkMetaData,
    max_def: i16,
    rows: usize,
    /// Valid zero values of at least `chunk_rows` rows (see [`zero_values`]).
    zeros: ArrayRef,
    chunk_rows: usize,
    /// The chunk's validity, read on the first call.
    validity: Option<BooleanBuffer>,
    offset: usize,
}

impl NullsReader {
    /// The reader of leaf `leaf` of row group `group`; `zeros` comes from [`zero_values`].
    pub(super) fn new(
        path: &Path,
        meta: &ParquetMetaData,
        group: usize,
        leaf: usize,
        zeros: ArrayRef,
        chunk_rows: usize,
    ) -> Self {
        let rg = meta.row_group(group);
        NullsReader {
            path: path.to_path_buf(),
            chunk: rg.column(leaf).clone(),
            max_def: meta
                .file_metadata()
                .schema_descr()
                .column(leaf)
                .max_def_level(),
            rows: rg.num_rows().max(0) as usize,
            zeros,
            chunk_rows: chunk_rows.min(rg.num_rows().max(0) as usize).max(1),
            validity: None,
            offset: 0,
        }
    }

    /// The next chunk of the column's stand-in, `None` after the last.
    pub(super) fn next_chunk(&mut self) -> Option<Result<ArrayRef, String>> {
        if self.offset >= self.rows {
            return None;
        }
        if self.validity.is_none() {
            let file = match File::open(&self.path) {
                Ok(f) => f,
                Err(e) => return Some(Err(e.to_string())),
            };
            match validity(file, &self.chunk, self.rows, self.max_def) {
                Ok(v) => self.validity = Some(v),
                Err(e) => {
                    self.offset = self.rows;
                    return Some(Err(e));
                }
            }
        }
        let n = self.chunk_rows.min(self.rows - self.offset);
        let valid = self
            .validity
            .as_ref()
            .expect("read above")
            .slice(self.offset, n);
        self.offset += n;
        let nulls = NullBuffer::new(valid);
        let builder = self.zeros.slice(0, n).to_data().into_builder();
        let builder = builder.nulls((nulls.null_count() > 0).then_some(nulls));
        // SAFETY: `zeros` was built with validation and no nulls, so every one of its slots holds
        // a valid value; marking some of them null cannot make the data invalid, and the null
        // buffer has the slice's length.
        let data = unsafe { builder.build_unchecked() };
        #[cfg(debug_assertions)]
        data.validate_full().expect("a valid stand-in");
        Some(Ok(make_array(data)))
    }
}

/// The validity of a column chunk of `rows` rows, from its definition levels.
fn validity(
    file: File,
    chunk: &ColumnChunkMetaData,
    rows: usize,
    max_def: i16,
) -> Result<BooleanBuffer, String> {
    if max_def == 0 {
        // A required column: no levels, no nulls.
        return Ok(BooleanBuffer::new_set(rows));
    }
    let snappy = match chunk.compression() {
        Compression::SNAPPY => true,
        Compression::UNCOMPRESSED => false,
        other => return Err(format!("nulls of a {other} column chunk")),
    };
    // Read as if uncompressed: the page reader then hands over each page's bytes as stored.
    let stored = chunk
        .clone()
        .into_builder()
        .set_compression(Compression::UNCOMPRESSED)
        .build()
        .map_err(|e| e.to_string())?;
    let mut pages = SerializedPageReader::new(Arc::new(file), &stored, rows, None)
        .map_err(|e| e.to_string())?;
    let mut bits = BooleanBufferBuilder::new(rows);
    let mut head = Vec::new();
    while let Some(page) = pages.get_next_page().map_err(|e| e.to_string())? {
        match page {
            Page::DictionaryPage { .. } => {}
            // A page without values holds no levels to read either.
            Page::DataPage { num_values: 0, .. } | Page::DataPageV2 { num_values: 0, .. } => {}
            Page::DataPage {
                buf,
                num_values,
                def_level_encoding,
                ..
            } => {
                if def_level_encoding != Encoding::RLE {
                    return Err(format!("definition levels encoded as {def_level_encoding}"));
                }
                let levels = if snappy {
                    let mut block = SnappyHead::new(&buf)?;
                    head.clear();
                    block.fill(4, &mut head)?;
                    let len = levels_length(&head)?;
                    block.fill(4 + len, &mut head)?;
                    levels_of(&head, len)?
                } else {
                    levels_of(&buf, levels_length(&buf)?)?
                };
                hybrid_bits(levels, num_values as usize, &mut bits)?;
            }
            Page::DataPageV2 {
                buf,
                num_values,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                let (rep, def) = (rep_levels_byte_len as usize, def_levels_byte_len as usize);
                let levels = buf
                    .get(rep..rep + def)
                    .ok_or("definition levels past the end of the page")?;
                hybrid_bits(levels, num_values as usize, &mut bits)?;
            }
        }
        if bits.len() > rows {
            break;
        }
    }
    if bits.len() != rows {
        return Err(format!(
            "the column chunk's pages hold {} rows, its row group {rows}",
            bits.len()
        ));
    }
    Ok(bits.finish())
}

/// The length of a v1 page's definition levels, stated in its first four bytes.
fn levels_length(page: &[u8]) -> Result<usize, String> {
    let b: [u8; 4] = page
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("a data page too short for its definition levels")?;
    Ok(u32::from_le_bytes(b) as usize)
}

fn levels_of(page: &[u8], len: usize) -> Result<&[u8], String> {
    page.get(4..4 + len)
        .ok_or_else(|| "definition levels past the end of the page".to_string())
}

/// Appends `n` definition levels of bit width 1, in the RLE/bit-packed hybrid encoding, to `out`
/// as validity bits (level 1: a value; level 0: null).
fn hybrid_bits(mut data: &[u8], n: usize, out: &mut BooleanBufferBuilder) -> Result<(), String> {
    let mut left = n;
    while left > 0 {
        let header = uleb128(&mut data)?;
        let count = usize::try_from(header >> 1).map_err(|_| "a run too long")?;
        if count == 0 {
            return Err("an empty run of definition levels".into());
        }
        if header & 1 == 1 {
            // `count` groups of 8 levels, one bit each, least significant bit first.
            let take = count.saturating_mul(8).min(left);
            let bytes = data
                .get(..take.div_ceil(8))
                .ok_or("definition levels cut short")?;
            out.append_packed_range(0..take, bytes);
            data = &data[count.min(data.len())..];
            left -= take;
        } else {
            let (&level, rest) = data.split_first().ok_or("definition levels cut short")?;
            if level > 1 {
                return Err(format!("a definition level of {level} in a flat column"));
            }
            data = rest;
            let take = count.min(left);
            out.append_n(take, level == 1);
            left -= take;
        }
    }
    Ok(())
}

fn uleb128(data: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = data.split_first().ok_or("definition levels cut short")?;
        *data = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a run header too long".into())
}

/// A Snappy block (the raw format Parquet uses) decompressed only as far as asked.
struct SnappyHead<'a> {
    src: &'a [u8],
    /// The decompressed length the block states.
    len: usize,
}

impl<'a> SnappyHead<'a> {
    fn new(mut src: &'a [u8]) -> Result<Self, String> {
        let len = uleb128(&mut src).map_err(|_| "a Snappy block without its length")?;
        let len = usize::try_from(len).map_err(|_| "a Snappy block too long")?;
        Ok(SnappyHead { src, len })
    }

    /// Decompresses into `out` (which holds what earlier calls produced) until it holds at least
    /// `want` bytes or the whole block.
    fn fill(&mut self, want: usize, out: &mut Vec<u8>) -> Result<(), String> {
        const CUT: &str = "a Snappy block cut short";
        let want = want.min(self.len);
        while out.len() < want {
            let (&tag, rest) = self.src.split_first().ok_or(CUT)?;
            self.src = rest;
            let (offset, len) = match tag & 3 {
                0 => {
                    let mut len = usize::from(tag >> 2);
                    if len >= 60 {
                        let k = len - 59;
                        let b = self.src.get(..k).ok_or(CUT)?;
                        len = b
                            .iter()
                            .rev()
                            .fold(0usize, |v, &x| (v << 8) | usize::from(x));
                        self.src = &self.src[k..];
                    }
                    let len = len + 1;
                    let lit = self.src.get(..len).ok_or(CUT)?;
                    if out.len() + len > self.len {
                        return Err("a Snappy block longer than it states".into());
                    }
                    out.extend_from_slice(lit);
                    self.src = &self.src[len..];
                    continue;
                }
                1 => {
                    let b = *self.src.first().ok_or(CUT)?;
                    self.src = &self.src[1..];
                    (
                        (usize::from(tag >> 5) << 8) | usize::from(b),
                        4 + usize::from((tag >> 2) & 7),
                    )
                }
                2 => {
                    let b = self.src.get(..2).ok_or(CUT)?;
                    let offset = usize::from(u16::from_le_bytes([b[0], b[1]]));
                    self.src = &self.src[2..];
                    (offset, 1 + usize::from(tag >> 2))
                }
                _ => {
                    let b = self.src.get(..4).ok_or(CUT)?;
                    let offset = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                    self.src = &self.src[4..];
                    (offset, 1 + usize::from(tag >> 2))
                }
            };
            if offset == 0 || offset > out.len() {
                return Err("a Snappy copy from before the block".into());
            }
            if out.len() + len > self.len {
                return Err("a Snappy block longer than it states".into());
            }
            let start = out.len() - offset;
            if offset >= len {
                out.extend_from_within(start..start + len);
            } else {
                for i in 0..len {
                    out.push(out[start + i]);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(block: &[u8], want: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut h = SnappyHead::new(block)?;
        h.fill(want.min(1), &mut out)?;
        h.fill(want, &mut out)?;
        Ok(out)
    }

    proptest! {
        /// The head decoder gives the first bytes of what the `snap` crate decompresses, for
        /// data with long and short repeats (copies of every offset width) and literals.
        #[test]
        fn snappy_heads_are_prefixes_of_the_whole(
            parts in prop::collection::vec((prop::collection::vec(0u8..4, 0..80), 1usize..300, 0usize..70_000), 1..40),
            want in 0usize..200_000,
        ) {
            let mut data: Vec<u8> = Vec::new();
            for (bytes, times, back) in &parts {
                // Literals, then a run copied from `back` bytes earlier.
                data.extend_from_slice(bytes);
                if !data.is_empty() {
                    let start = data.len() - (*back % data.len()) - 1;
                    for i in 0..*times {
                        data.push(data[start + i % (data.len() - start)]);
                    }
                }
            }
            let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
            let whole = snap::raw::Decoder::new().decompress_vec(&block).unwrap();
            let got = head(&block, want).unwrap();
            prop_assert!(got.len() >= want.min(whole.len()));
            prop_assert_eq!(&got[..], &whole[..got.len()]);
            prop_assert_eq!(head(&block, usize::MAX).unwrap(), whole);
        }

        /// Any bytes: an error or some output, never a panic or more than the stated length.
        #[test]
        fn snappy_heads_of_any_bytes_never_panic(block in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(out) = head(&block, usize::MAX) {
                prop_assert!(out.len() <= SnappyHead::new(&block).unwrap().len);
            }
        }

        /// Definition levels as the hybrid encoding writes them: RLE runs and bit-packed groups.
        #[test]
        fn hybrid_levels_become_validity_bits(
            runs in prop::collection::vec((any::<bool>(), 1usize..40, any::<u64>()), 1..30),
            cut in 0usize..8,
        ) {
            let mut data = Vec::new();
            let mut want = Vec::new();
            for (packed, n, seed) in &runs {
                if *packed {
                    let groups = n.div_ceil(8);
                    data.push(((groups << 1) | 1) as u8);
                    for g in 0..groups {
                        let byte = (seed >> (8 * (g % 8))) as u8;
                        data.push(byte);
                        want.extend((0..8).map(|b| byte >> b & 1 == 1));
                    }
                } else {
                    data.push((n << 1) as u8);
                    data.push((seed & 1) as u8);
                    want.extend(std::iter::repeat_n(seed & 1 == 1, *n));
                }
            }
            // The last run may reach past the levels asked for (a group's padding).
            let n = want.len() - cut.min(want.len() - 1);
            let mut out = BooleanBufferBuilder::new(n);
            hybrid_bits(&data, n, &mut out).unwrap();
            let got: Vec<bool> = out.finish().iter().collect();
            prop_assert_eq!(got, want[..n].to_vec());
        }
    }

    #[test]
    fn broken_levels_are_errors() {
        let mut out = BooleanBufferBuilder::new(8);
        assert!(hybrid_bits(&[], 1, &mut out).is_err());
        assert!(hybrid_bits(&[0], 1, &mut out).is_err(), "an empty run");
        assert!(hybrid_bits(&[4, 2], 1, &mut out).is_err(), "level 2");
        assert!(
            hybrid_bits(&[3], 8, &mut out).is_err(),
            "a group without its byte"
        );
        assert!(SnappyHead::new(&[0x80]).is_err());
        let mut v = Vec::new();
        let mut copy_first = SnappyHead::new(&[8, 0b0000_0101, 1]).unwrap();
        assert!(
            copy_first.fill(8, &mut v).is_err(),
            "a copy before any output"
        );
    }
}
