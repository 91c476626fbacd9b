//! Routing a chunk: which of its rows go to quarantine.
//!
//! The quarantine mask of a chunk is the OR of the failing-row masks of the rules whose
//! `on_fail` is `quarantine_rows` (the implicit contract rules included). Each failing-row mask
//! is null-free by construction ([`super::nulls`]), so a row is kept only when every routing rule
//! is TRUE for it: a NULL never slips through. A batch whose fate is to be quarantined whole, or
//! to stop the run, routes all or none of its rows.

use arrow::array::{RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;

use super::Rule;
use super::chunk::Chunk;
use crate::suite::OnFail;

/// What the gate does with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Passing rows to the target, failing rows to quarantine.
    Split,
    /// Every row to quarantine (schema violation, or a batch-level failure).
    QuarantineAll,
    /// A `fail` expectation did not succeed: nothing is committed and the run stops.
    Fail,
}

/// A chunk after evaluation, ready to be split.
#[derive(Debug)]
pub struct RoutedChunk {
    /// The chunk's rows: the contract's columns (or the input's, without a contract).
    pub batch: RecordBatch,
    /// Per row, JSON of original values that could not be kept in the typed columns.
    pub raw: Option<StringArray>,
    /// Rows going to quarantine (null-free).
    pub quarantine: BooleanBuffer,
    /// Per rule index, the rows that failed it (only rules with failures).
    pub fails: Vec<(usize, BooleanBuffer)>,
    /// Position of the chunk's first row in its input file.
    pub first_row: u64,
}

/// The rules whose failing rows go to quarantine.
pub(crate) fn routing_rules(rules: &[Rule]) -> Vec<usize> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.on_fail == OnFail::QuarantineRows)
        .map(|(i, _)| i)
        .collect()
}

/// A chunk's quarantine mask: the OR of its routing rules' failing rows, or all or none of its
/// rows when the batch's fate says so.
pub(crate) fn quarantine_mask(
    fails: &[Option<BooleanBuffer>],
    routing: &[usize],
    fate: Fate,
    len: usize,
) -> BooleanBuffer {
    match fate {
        Fate::QuarantineAll => BooleanBuffer::new_set(len),
        Fate::Fail => BooleanBuffer::new_unset(len),
        Fate::Split => routing
            .iter()
            .filter_map(|i| fails[*i].as_ref())
            .fold(BooleanBuffer::new_unset(len), |acc, f| &acc | f),
    }
}

impl RoutedChunk {
    /// Routes an evaluated chunk by the batch's fate.
    pub(crate) fn route(chunk: Chunk, routing: &[usize], fate: Fate) -> Self {
        let quarantine = quarantine_mask(&chunk.fails, routing, fate, chunk.batch.num_rows());
        RoutedChunk {
            batch: chunk.batch,
            raw: chunk.raw,
            quarantine,
            fails: chunk
                .fails
                .into_iter()
                .enumerate()
                .filter_map(|(i, f)| f.map(|f| (i, f)))
                .collect(),
            first_row: chunk.first_row,
        }
    }
}
