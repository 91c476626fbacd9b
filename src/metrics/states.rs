//! The states behind every metric of the `metric` kind and `freshness`.

use std::cmp::Ordering;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Float64Type};

use super::distinct::UniqueCounter;
use super::quantile::quantile;
use crate::suite::MetricKind;
use crate::values::access::char_count;
use crate::values::access::for_each_bytes;
use crate::values::domain::{Domain, Typed, decimal_scale, domain_of, float_cmp, typed_cmp};
use crate::values::numeric::{for_each_float, for_each_int, numbers_as_f64};

/// What a metric observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Computed over zero values: the expectation fails.
    Null,
    /// A count.
    Count(u64),
    /// A number (fractions, means, deviations, quantiles).
    Number(f64),
    /// A value of the column's own type (min, max).
    Value(Typed),
}

impl Observed {
    pub(crate) fn as_typed(&self) -> Option<Typed> {
        match self {
            Observed::Null => None,
            Observed::Count(c) => Some(Typed::Int(*c as i128)),
            Observed::Number(f) => Some(Typed::Float(*f)),
            Observed::Value(v) => Some(v.clone()),
        }
    }
}

#[derive(Debug)]
enum Inner {
    /// Rows in scope.
    Rows(u64),
    /// `(nulls, rows)`.
    Nulls { nulls: u64, rows: u64 },
    /// Value frequencies and rows.
    Distinct {
        counts: Box<UniqueCounter>,
        rows: u64,
    },
    /// Count, Neumaier-compensated sum, exact integer sum, Welford mean and M2.
    Moments(Moments),
    /// Smallest and largest value (NaN above every number).
    Extremes {
        min: Option<Typed>,
        max: Option<Typed>,
    },
    /// Shortest and longest value, in characters (bytes for binary).
    Lengths { min: Option<u64>, max: Option<u64> },
    /// Every value, for exact quantiles: one run per chunk, never joined (see [`quantile`]).
    Values(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, Default)]
struct Moments {
    n: u64,
    sum: f64,
    comp: f64,
    int_sum: Option<i128>,
    mean: f64,
    m2: f64,
    /// Decimal scale (values are unscaled integers).
    scale: i8,
}

impl Inner {
    /// The empty state for a metric over a column of type `dt`.
    pub fn new(metric: MetricKind, dt: Option<&DataType>) -> Self {
        match metric {
            MetricKind::RowCount => Inner::Rows(0),
            MetricKind::NullCount | MetricKind::NullFraction | MetricKind::NonNullFraction => {
                Inner::Nulls { nulls: 0, rows: 0 }
            }
            MetricKind::DistinctCount
            | MetricKind::DistinctFraction
            | MetricKind::UniqueFraction => Inner::Distinct {
                counts: Box::default(),
                rows: 0,
            },
            MetricKind::Mean | MetricKind::Sum | MetricKind::Stddev | MetricKind::StddevPop => {
                let (int_sum, scale) = match dt {
                    Some(d) if domain_of(d) == Some(Domain::Int) => {
                        (Some(0), decimal_scale(d).unwrap_or(0))
                    }
                    _ => (None, 0),
                };
                Inner::Moments(Moments {
                    int_sum,
                    scale,
                    ..Moments::default()
                })
            }
            MetricKind::Min | MetricKind::Max => Inner::Extremes {
                min: None,
                max: None,
            },
            MetricKind::MinLength | MetricKind::MaxLength => Inner::Lengths {
                min: None,
                max: None,
            },
            MetricKind::Quantile => Inner::Values(Vec::new()),
        }
    }

    /// Adds the rows of `array` selected by `scope` (all rows when `None`); `rows` is the chunk
    /// length (for `row_count`, which has no column).
    pub fn update(
        &mut self,
        array: Option<&dyn Array>,
        scope: Option<&BooleanBuffer>,
        rows: usize,
    ) {
        let in_scope = scope.map_or(rows, |s| s.count_set_bits()) as u64;
        let Some(array) = array else {
            if let Inner::Rows(n) = self {
                *n += in_scope;
            }
            return;
        };
        // Rows that are in scope and not null.
        let nulls = array.logical_nulls();
        let valid: BooleanBuffer = match (&nulls, scope) {
            (Some(n), Some(s)) => n.inner() & s,
            (Some(n), None) => n.inner().clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => BooleanBuffer::new_set(array.len()),
        };
        let n_valid = valid.count_set_bits() as u64;
        match self {
            Inner::Rows(n) => *n += in_scope,
            Inner::Nulls { nulls, rows } => {
                *rows += in_scope;
                *nulls += in_scope - n_valid;
            }
            Inner::Distinct { counts, rows } => {
                *rows += in_scope;
                counts.count_chunk(array, scope);
            }
            Inner::Moments(m) => {
                let mut isum: i128 = 0;
                let is_int = m.int_sum.is_some();
                let collected;
                let xs: &[f64] = match array.as_primitive_opt::<Float64Type>() {
                    // Every row counted: the values as they lie.
                    Some(a) if !is_int && n_valid as usize == a.len() => a.values(),
                    _ => {
                        let mut xs = Vec::with_capacity(n_valid as usize);
                        isum = numbers_as_f64(array, &valid, &mut xs).unwrap_or(0);
                        collected = xs;
                        &collected
                    }
                };
                let mut chunk = Moments {
                    int_sum: m.int_sum.map(|_| isum),
                    scale: m.scale,
                    ..Moments::default()
                };
                chunk.n = xs.len() as u64;
                (chunk.sum, chunk.comp) = compensated_sum(xs);
                if chunk.n > 0 {
                    chunk.mean = (chunk.sum + chunk.comp) / chunk.n as f64;
                    chunk.m2 = squared_deviations(xs, chunk.mean);
                }
                m.merge(&chunk);
            }
            Inner::Extremes { min, max } => {
                let mut consider = |v: Typed| {
                    if min
                        .as_ref()
                        .is_none_or(|m| typed_cmp(&v, m) == Some(Ordering::Less))
                    {
                        *min = Some(v.clone());
                    }
                    if max
                        .as_ref()
                        .is_none_or(|m| typed_cmp(&v, m) == Some(Ordering::Greater))
                    {
                        *max = Some(v);
                    }
                };
                match domain_of(array.data_type()) {
                    Some(Domain::Bytes) => {
                        // Track by reference first; clone only the winners.
                        let mut lo: Option<Vec<u8>> = None;
                        let mut hi: Option<Vec<u8>> = None;
                        for_each_bytes(array, |i, v| {
                            if !valid.value(i) {
                                return;
                            }
                            if lo.as_deref().is_none_or(|l| v < l) {
                                lo = Some(v.to_vec());
                            }
                            if hi.as_deref().is_none_or(|h| v > h) {
                                hi = Some(v.to_vec());
                            }
                        });
                        lo.into_iter()
                            .chain(hi)
                            .for_each(|b| consider(Typed::Bytes(b)));
                    }
                    Some(Domain::Float) => {
                        let mut lo: Option<f64> = None;
                        let mut hi: Option<f64> = None;
                        for_each_float(array, &valid, |_, x| {
                            if lo.is_none_or(|l| float_cmp(x, l) == Ordering::Less) {
                                lo = Some(x);
                            }
                            if hi.is_none_or(|h| float_cmp(x, h) == Ordering::Greater) {
                                hi = Some(x);
                            }
                        });
                        lo.into_iter()
                            .chain(hi)
                            .for_each(|x| consider(Typed::Float(x)));
                    }
                    Some(Domain::Bool) => {
                        let b = array.as_any().downcast_ref::<BooleanArray>().expect("bool");
                        for i in valid.set_indices() {
                            consider(Typed::Bool(b.value(i)));
                        }
                    }
                    _ => {
                        let (mut lo, mut hi) = (i128::MAX, i128::MIN);
                        let mut any = false;
                        for_each_int(array, &valid, |_, v| {
                            any = true;
                            lo = lo.min(v);
                            hi = hi.max(v);
                        });
                        if any {
                            consider(Typed::Int(lo));
                            consider(Typed::Int(hi));
                        }
                    }
                }
            }
            Inner::Lengths { min, max } => {
                let binary = !crate::types::is_string_like(array.data_type());
                for_each_bytes(array, |i, v| {
                    if valid.value(i) {
                        let l = if binary {
                            v.len() as u64
                        } else {
                            char_count(v)
                        };
                        *min = Some(min.map_or(l, |m| m.min(l)));
                        *max = Some(max.map_or(l, |m| m.max(l)));
                    }
                });
            }
            Inner::Values(runs) => {
                let mut vals = Vec::with_capacity(n_valid as usize);
                numbers_as_f64(array, &valid, &mut vals);
                if !vals.is_empty() {
                    runs.push(vals);
                }
            }
        }
    }

    /// Merges a state over other rows into this one.
    pub fn merge(&mut self, other: &Inner) {
        match (self, other) {
            (Inner::Rows(a), Inner::Rows(b)) => *a += b,
            (
                Inner::Nulls { nulls, rows },
                Inner::Nulls {
                    nulls: n2,
                    rows: r2,
                },
            ) => {
                *nulls += n2;
                *rows += r2;
            }
            (
                Inner::Distinct { counts, rows },
                Inner::Distinct {
                    counts: c2,
                    rows: r2,
                },
            ) => {
                counts.merge(c2);
                *rows += r2;
            }
            (Inner::Moments(a), Inner::Moments(b)) => a.merge(b),
            (Inner::Extremes { min, max }, Inner::Extremes { min: m2, max: x2 }) => {
                if let Some(v) = m2
                    && min
                        .as_ref()
                        .is_none_or(|m| typed_cmp(v, m) == Some(Ordering::Less))
                {
                    *min = Some(v.clone());
                }
                if let Some(v) = x2
                    && max
                        .as_ref()
                        .is_none_or(|m| typed_cmp(v, m) == Some(Ordering::Greater))
                {
                    *max = Some(v.clone());
                }
            }
            (Inner::Lengths { min, max }, Inner::Lengths { min: m2, max: x2 }) => {
                if let Some(v) = m2 {
                    *min = Some(min.map_or(*v, |m| m.min(*v)));
                }
                if let Some(v) = x2 {
                    *max = Some(max.map_or(*v, |m| m.max(*v)));
                }
            }
            (Inner::Values(a), Inner::Values(b)) => a.extend(b.iter().cloned()),
            _ => panic!("merging states of different metrics"),
        }
    }

    /// The metric's value.
    pub fn finish(&self, metric: MetricKind, q: Option<f64>) -> Observed {
        let frac = |num: u64, den: u64| {
            if den == 0 {
                Observed::Null
            } else {
                Observed::Number(num as f64 / den as f64)
            }
        };
        match (self, metric) {
            (Inner::Rows(n), _) => Observed::Count(*n),
            (Inner::Nulls { nulls, .. }, MetricKind::NullCount) => Observed::Count(*nulls),
            (Inner::Nulls { nulls, rows }, MetricKind::NullFraction) => frac(*nulls, *rows),
            (Inner::Nulls { nulls, rows }, _) => frac(rows - nulls, *rows),
            (Inner::Distinct { counts, rows }, MetricKind::DistinctCount) => {
                let _ = rows;
                Observed::Count(counts.distinct())
            }
            (Inner::Distinct { counts, rows }, MetricKind::DistinctFraction) => {
                frac(counts.distinct(), *rows)
            }
            (Inner::Distinct { counts, rows }, _) => frac(counts.singletons(), *rows),
            (Inner::Moments(m), kind) => {
                if m.n == 0 {
                    return Observed::Null;
                }
                match kind {
                    MetricKind::Sum => match m.int_sum {
                        Some(s) if m.scale == 0 => Observed::Value(Typed::Int(s)),
                        Some(s) => Observed::Number(s as f64 / 10f64.powi(m.scale as i32)),
                        None => Observed::Number(m.sum + m.comp),
                    },
                    MetricKind::Mean => Observed::Number(m.mean),
                    MetricKind::StddevPop => Observed::Number((m.m2 / m.n as f64).sqrt()),
                    _ if m.n < 2 => Observed::Null,
                    _ => Observed::Number((m.m2 / (m.n - 1) as f64).sqrt()),
                }
            }
            (Inner::Extremes { min, max }, kind) => {
                let v = if kind == MetricKind::Min { min } else { max };
                v.clone().map_or(Observed::Null, Observed::Value)
            }
            (Inner::Lengths { min, max }, kind) => {
                let v = if kind == MetricKind::MinLength {
                    min
                } else {
                    max
                };
                v.map_or(Observed::Null, Observed::Count)
            }
            (Inner::Values(runs), _) => {
                quantile(runs, q.unwrap_or(0.5)).map_or(Observed::Null, Observed::Number)
            }
        }
    }
}

/// Lanes of the sums below: independent running sums the processor adds side by side.
const LANES: usize = 4;

/// Neumaier-compensated sum of `xs` as `(sum, compensation)`, over [`LANES`] running sums
/// combined at the end.
fn compensated_sum(xs: &[f64]) -> (f64, f64) {
    let (mut s, mut c) = ([0.0; LANES], [0.0; LANES]);
    let mut quads = xs.chunks_exact(LANES);
    for q in &mut quads {
        for l in 0..LANES {
            neumaier(&mut s[l], &mut c[l], q[l]);
        }
    }
    for (l, x) in quads.remainder().iter().enumerate() {
        neumaier(&mut s[l], &mut c[l], *x);
    }
    let (mut sum, mut comp) = (0.0, 0.0);
    for l in 0..LANES {
        neumaier(&mut sum, &mut comp, s[l]);
        comp += c[l];
    }
    (sum, comp)
}

/// The sum of squared deviations of `xs` from `mean`, over [`LANES`] running sums.
fn squared_deviations(xs: &[f64], mean: f64) -> f64 {
    let mut s = [0.0; LANES];
    let mut quads = xs.chunks_exact(LANES);
    for q in &mut quads {
        for l in 0..LANES {
            s[l] += (q[l] - mean) * (q[l] - mean);
        }
    }
    for (l, x) in quads.remainder().iter().enumerate() {
        s[l] += (x - mean) * (x - mean);
    }
    s.iter().sum()
}

fn neumaier(sum: &mut f64, comp: &mut f64, x: f64) {
    let t = *sum + x;
    if sum.abs() >= x.abs() {
        *comp += (*sum - t) + x;
    } else {
        *comp += (x - t) + *sum;
    }
    *sum = t;
}

impl Moments {
    /// Chan et al.'s parallel combination of (n, mean, M2), plus the sums.
    fn merge(&mut self, b: &Moments) {
        if b.n == 0 {
            return;
        }
        if self.n == 0 {
            let (int_sum, scale) = (self.int_sum.map(|_| b.int_sum.unwrap_or(0)), self.scale);
            *self = b.clone();
            self.int_sum = int_sum;
            self.scale = scale;
            return;
        }
        let n = self.n + b.n;
        let delta = b.mean - self.mean;
        self.mean += delta * b.n as f64 / n as f64;
        self.m2 += b.m2 + delta * delta * (self.n as f64) * (b.n as f64) / n as f64;
        self.n = n;
        neumaier(&mut self.sum, &mut self.comp, b.sum);
        self.comp += b.comp;
        if let (Some(a), Some(bs)) = (self.int_sum.as_mut(), b.int_sum) {
            *a = a.saturating_add(bs);
        }
    }
}

/// A mergeable sufficient statistic for one metric over one column.
#[derive(Debug)]
pub struct MetricState(Inner);

impl MetricState {
    /// The empty state for `metric` over a column of type `dt` (`None` for `row_count`).
    pub fn new(metric: MetricKind, dt: Option<&DataType>) -> Self {
        MetricState(Inner::new(metric, dt))
    }

    /// The state of a null-count metric (`null_count`, `null_fraction`, `non_null_fraction`)
    /// over `rows` rows of which `nulls` are null, as file statistics state them.
    pub fn of_nulls(nulls: u64, rows: u64) -> Self {
        MetricState(Inner::Nulls { nulls, rows })
    }

    /// Adds the rows of `array` selected by `scope` (all when `None`); `rows` is the chunk length.
    pub fn update(
        &mut self,
        array: Option<&dyn Array>,
        scope: Option<&BooleanBuffer>,
        rows: usize,
    ) {
        self.0.update(array, scope, rows)
    }

    /// Merges a state computed over other rows.
    pub fn merge(&mut self, other: &MetricState) {
        self.0.merge(&other.0)
    }

    /// [`merge`](Self::merge), taking the other state: the values a quantile gathered and the
    /// strings a distinct count holds move instead of being copied.
    pub fn absorb(&mut self, other: MetricState) {
        match (&mut self.0, other.0) {
            (Inner::Values(a), Inner::Values(b)) => a.extend(b),
            (
                Inner::Distinct { counts, rows },
                Inner::Distinct {
                    counts: c2,
                    rows: r2,
                },
            ) => {
                counts.absorb(*c2);
                *rows += r2;
            }
            (_, other) => self.0.merge(&other),
        }
    }

    /// The metric's value (`q` for `quantile`).
    pub fn finish(&self, metric: MetricKind, q: Option<f64>) -> Observed {
        self.0.finish(metric, q)
    }
}

#[cfg(test)]
#[path = "states_tests.rs"]
mod tests;
