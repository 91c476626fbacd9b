//! Mergeable metric states (Deequ style): a state is a sufficient statistic with `update`,
//! `merge` and `finish`; the metric is computed only at the end.
//!
//! `merge` is associative and commutative with the empty state as identity, so a metric over a
//! batch equals the merge of the metrics' states over any split of it (the tests prove
//! `finish(merge(a, b)) == finish(a ++ b)`; float sums agree to rounding). A metric over zero
//! values is `None`, never NaN and never a vacuous pass.

pub(crate) mod anomaly;
mod byte_counts;
pub(crate) mod distinct;
mod quantile;
mod runs;
mod states;

pub use states::{MetricState, Observed};

use arrow::datatypes::DataType;

use crate::suite::MetricKind;
use crate::types::type_name;

/// Checks that `metric` can be computed over a column of type `dt` (`None` for `row_count`).
pub(crate) fn check_metric_type(metric: MetricKind, dt: Option<&DataType>) -> Result<(), String> {
    use crate::values::domain::{Domain, domain_of};
    let Some(dt) = dt else { return Ok(()) };
    let domain = domain_of(dt);
    let numeric = matches!(domain, Some(Domain::Float))
        || matches!(
            dt,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Decimal32(_, _)
                | DataType::Decimal64(_, _)
                | DataType::Decimal128(_, _)
        );
    let ok = match metric {
        MetricKind::RowCount
        | MetricKind::NullCount
        | MetricKind::NullFraction
        | MetricKind::NonNullFraction => true,
        MetricKind::DistinctCount
        | MetricKind::DistinctFraction
        | MetricKind::UniqueFraction
        | MetricKind::Min
        | MetricKind::Max => domain.is_some(),
        MetricKind::Mean
        | MetricKind::Sum
        | MetricKind::Stddev
        | MetricKind::StddevPop
        | MetricKind::Quantile => numeric,
        MetricKind::MinLength | MetricKind::MaxLength => domain == Some(Domain::Bytes),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metric `{}` cannot be computed over a column of type {}",
            metric.as_str(),
            type_name(dt)
        ))
    }
}
