//! Helpers for the crate's unit tests (compiled only for them).

/// A seeded linear congruential generator (Knuth's MMIX constants): the same sequence on every
/// run, for tests that draw their data. Callers take the high bits (`next() >> 33`); the low
/// ones repeat with short periods.
pub(crate) struct Lcg(pub u64);

impl Lcg {
    /// The generator's next state.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }
}
