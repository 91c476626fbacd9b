//! A seeded generator of the canonical benchmark's health-claims table, for any number of rows.
//!
//! Every row is a pure function of `(seed, row index)`, so any range of rows can be generated
//! on its own (in parallel, in chunks, or as separate files) and the same seed always gives the
//! same table. Columns, value shapes and defect shares follow the benchmark's definition: about
//! 2.5% of rows break at least one of its row-level checks.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The eight plan codes, most common first.
pub const PLANS: [&str; 8] = [
    "HMO01", "PPO01", "HMO02", "PPO02", "EPO01", "POS01", "HDHP1", "MCAID",
];
/// The 50 states and DC.
pub const STATES: [&str; 51] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];
/// Claim statuses, most common first.
pub const STATUSES: [&str; 5] = ["PAID", "DENIED", "PENDING", "ADJUSTED", "VOID"];

const BAD_PLANS: [&str; 6] = ["XXX99", "hmo01", "PPO-1", "", "HMO 01", "UNK"];
const BAD_DIAG: [&str; 7] = ["U07.1", "e11.9", "E119X", "1234", "E11.12345", "", "I10 "];
const DIAG_LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTVWXYZ";
const DIAG_TAIL: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTVWXYZ";

/// Days from 1970-01-01 to 2020-01-01 and the length of 2020..=2025.
const DAY_2020: i32 = 18_262;
const DAYS_2020_2025: i32 = 2_192;

/// The generated table's schema (plain `string`, `date32`, `int64`, `float64`).
pub fn schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("claim_id", DataType::Int64, true),
        s("member_id"),
        s("plan_code"),
        s("provider_npi"),
        Field::new("service_date", DataType::Date32, true),
        Field::new("paid_date", DataType::Date32, true),
        Field::new("billed_amount", DataType::Float64, true),
        Field::new("paid_amount", DataType::Float64, true),
        s("diagnosis_code"),
        s("state"),
        s("email"),
        s("status"),
    ]))
}

/// SplitMix64: small, fast, and good enough to draw benchmark data. `Rng(seed)` starts a
/// stream; the same seed gives the same stream.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    fn for_row(seed: u64, row: u64) -> Self {
        let mut r = Rng(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    /// The next 64 random bits.
    #[expect(
        clippy::should_implement_trait,
        reason = "a seeded generator, not an iterator"
    )]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.f().max(f64::MIN_POSITIVE);
        let u2 = self.f();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Index drawn with weights halving from the first (a skewed categorical).
    fn skewed(&mut self, n: usize) -> usize {
        let mut i = 0;
        while i + 1 < n && self.chance(0.5) {
            i += 1;
        }
        i
    }
}

/// A permutation of `0..n` (an affine map with a multiplier coprime to `n`), so ids are unique
/// and scattered without holding a shuffled array.
fn permute(i: u64, n: u64, seed: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let mut a = (seed | 1).wrapping_mul(0x2545_F491_4F6C_DD1D) % n;
    while a == 0 || gcd(a, n) != 1 {
        a = (a + 1) % n;
    }
    ((a as u128 * i as u128 + (seed % n) as u128) % n as u128) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Rows `start..start + len` of the `total`-row table for `seed`.
pub fn rows(seed: u64, total: u64, start: u64, len: usize) -> RecordBatch {
    let mut claim_id = Int64Builder::with_capacity(len);
    let mut member = StringBuilder::with_capacity(len, len * 10);
    let mut plan = StringBuilder::with_capacity(len, len * 5);
    let mut npi = StringBuilder::with_capacity(len, len * 10);
    let mut service = Date32Builder::with_capacity(len);
    let mut paid_date = Date32Builder::with_capacity(len);
    let mut billed = Float64Builder::with_capacity(len);
    let mut paid = Float64Builder::with_capacity(len);
    let mut diag = StringBuilder::with_capacity(len, len * 6);
    let mut state = StringBuilder::with_capacity(len, len * 2);
    let mut email = StringBuilder::with_capacity(len, len * 22);
    let mut status = StringBuilder::with_capacity(len, len * 6);
    let mut buf = String::with_capacity(32);
    use std::fmt::Write;
    for row in start..start + len as u64 {
        let mut r = Rng::for_row(seed, row);
        // claim_id: 0.01% reuse another row's id.
        let id_row = if r.chance(0.0001) {
            r.below(total)
        } else {
            row
        };
        claim_id.append_value(10_000_000_000 + permute(id_row, total, seed) as i64);
        // member_id: 0.5% null.
        if r.chance(0.005) {
            member.append_null();
        } else {
            buf.clear();
            let _ = write!(buf, "M{:09}", r.below(1_000_000_000));
            member.append_value(&buf);
        }
        // plan_code: 0.5% null, 0.1% invalid.
        let p = r.f();
        if p < 0.005 {
            plan.append_null();
        } else if p < 0.006 {
            plan.append_value(BAD_PLANS[r.below(BAD_PLANS.len() as u64) as usize]);
        } else {
            plan.append_value(PLANS[r.skewed(PLANS.len())]);
        }
        // provider_npi: 0.1% malformed.
        buf.clear();
        if r.chance(0.001) {
            match r.below(6) {
                0 => {
                    let _ = write!(buf, "{:09}", r.below(1_000_000_000));
                }
                1 => {
                    let _ = write!(buf, "{:011}", r.below(100_000_000_000));
                }
                2 => {
                    let _ = write!(buf, "{:06}ABCD", r.below(1_000_000));
                }
                3 => {
                    let _ = write!(
                        buf,
                        "{:03}-{:03}-{:04}",
                        r.below(1000),
                        r.below(1000),
                        r.below(10_000)
                    );
                }
                4 => {}
                _ => {
                    let _ = writeln!(buf, "{:010}", r.below(10_000_000_000));
                }
            }
        } else {
            let _ = write!(buf, "{:010}", 1_000_000_000 + r.below(9_000_000_000));
        }
        npi.append_value(&buf);
        // service_date: 0.5% null, 0.05% out of range.
        let s = r.f();
        let sd = if s < 0.005 {
            None
        } else if s < 0.0055 {
            Some(match r.below(3) {
                0 => 17_897 + r.below(365) as i32,   // 2019
                1 => 20_454 + r.below(1_826) as i32, // 2026..2030
                _ => -25_567,                        // 1900-01-01
            })
        } else {
            Some(DAY_2020 + r.below(DAYS_2020_2025 as u64) as i32)
        };
        service.append_option(sd);
        // paid_date: service + 0..90 days; 0.05% before service.
        let base = sd.unwrap_or(DAY_2020 + r.below(DAYS_2020_2025 as u64) as i32);
        let pd = if r.chance(0.0005) {
            base - 1 - r.below(30) as i32
        } else {
            base + r.below(91) as i32
        };
        paid_date.append_value(pd);
        // billed: lognormal(5, 1), 2 decimals, 0.1% negative; paid: billed * U(0.5, 1).
        let b = ((5.0 + r.normal()).exp() * 100.0).round() / 100.0;
        let b = if r.chance(0.001) { -b } else { b };
        billed.append_value(b);
        paid.append_value(((b.abs() * (0.5 + 0.5 * r.f())) * 100.0).round() / 100.0);
        // diagnosis_code: ICD-10-CM shape, 0.1% malformed.
        buf.clear();
        if r.chance(0.001) {
            buf.push_str(BAD_DIAG[r.below(BAD_DIAG.len() as u64) as usize]);
        } else {
            buf.push(DIAG_LETTERS[r.below(DIAG_LETTERS.len() as u64) as usize] as char);
            let _ = write!(buf, "{}", r.below(10));
            buf.push(if r.chance(0.1) {
                'A'
            } else {
                (b'0' + r.below(10) as u8) as char
            });
            if r.chance(0.7) {
                buf.push('.');
                for _ in 0..1 + r.below(2) {
                    buf.push(DIAG_TAIL[r.below(DIAG_TAIL.len() as u64) as usize] as char);
                }
            }
        }
        diag.append_value(&buf);
        // state: 0.02% invalid.
        if r.chance(0.0002) {
            state.append_value("XX");
        } else {
            state.append_value(STATES[r.below(STATES.len() as u64) as usize]);
        }
        // email: 2% null.
        if r.chance(0.02) {
            email.append_null();
        } else {
            buf.clear();
            let _ = write!(buf, "user{}@example.com", r.below(10_000_000));
            email.append_value(&buf);
        }
        // status: skewed, 0.02% invalid.
        if r.chance(0.0002) {
            status.append_value("UNKNOWN");
        } else {
            status.append_value(STATUSES[r.skewed(STATUSES.len())]);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(claim_id.finish()),
        Arc::new(member.finish()),
        Arc::new(plan.finish()),
        Arc::new(npi.finish()),
        Arc::new(service.finish()),
        Arc::new(paid_date.finish()),
        Arc::new(billed.finish()),
        Arc::new(paid.finish()),
        Arc::new(diag.finish()),
        Arc::new(state.finish()),
        Arc::new(email.finish()),
        Arc::new(status.finish()),
    ];
    RecordBatch::try_new(schema(), columns).expect("columns match the schema")
}

/// Writes the `total`-row table split over `files` Parquet files `claims-00000.parquet`, ... in
/// `dir`, two files at a time.
pub fn write_parquet_files(
    dir: &std::path::Path,
    seed: u64,
    total: u64,
    files: u64,
) -> crate::Result<()> {
    let per = total.div_ceil(files);
    let parts: Vec<u64> = (0..files).collect();
    let results = crate::par::par_map(&parts, |k| {
        let start = k * per;
        let len = per.min(total.saturating_sub(start));
        write_range(
            &dir.join(format!("claims-{k:05}.parquet")),
            seed,
            total,
            start,
            len,
        )
    });
    results.into_iter().collect()
}

/// Writes `total` rows to a Parquet file (row groups of 1M rows, written in 64K-row chunks).
pub fn write_parquet(path: &std::path::Path, seed: u64, total: u64) -> crate::Result<()> {
    write_range(path, seed, total, 0, total)
}

fn write_range(
    path: &std::path::Path,
    seed: u64,
    total: u64,
    first: u64,
    len: u64,
) -> crate::Result<()> {
    let file = std::fs::File::create(path).map_err(|e| crate::Error::Output {
        path: path.to_path_buf(),
        source: e,
    })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema(), Some(props))
        .map_err(|e| crate::Error::input(path, e))?;
    let mut start = first;
    while start < first + len {
        let n = (first + len - start).min(65_536) as usize;
        w.write(&rows(seed, total, start, n))
            .map_err(|e| crate::Error::input(path, e))?;
        start += n as u64;
    }
    w.close().map_err(|e| crate::Error::input(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compose_and_ids_are_unique_but_for_the_reused_ones() {
        let whole = rows(7, 20_000, 0, 20_000);
        let a = rows(7, 20_000, 0, 12_345);
        let b = rows(7, 20_000, 12_345, 7_655);
        let joined = arrow::compute::concat_batches(&schema(), [&a, &b]).unwrap();
        assert_eq!(whole, joined);
        let ids = whole
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        let mut v: Vec<i64> = ids.values().to_vec();
        v.sort();
        v.dedup();
        assert!(v.len() >= 19_990 && v.len() < 20_000 + 1, "{}", v.len());
        assert!(
            v.iter()
                .all(|id| (10_000_000_000..10_000_020_000).contains(id))
        );
        assert_ne!(rows(8, 100, 0, 100), rows(7, 100, 0, 100));
    }
}
