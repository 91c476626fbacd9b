//! `not_in_future`: value <= as_of + tolerance.
//!
//! Timestamps compare as instants (a timestamp without a time zone is read as UTC); a date
//! passes when it is on or before the UTC date of `as_of + tolerance`.

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;
use chrono::{DateTime, TimeDelta, Utc};

use crate::values::numeric::map_int_like;
use crate::values::parse::{days_since_epoch, to_unit};

pub(crate) fn not_in_future(
    array: &dyn Array,
    as_of: DateTime<Utc>,
    tolerance_secs: i64,
) -> Option<BooleanArray> {
    let limit = as_of + TimeDelta::seconds(tolerance_secs);
    let max: i128 = match array.data_type() {
        DataType::Date32 => days_since_epoch(limit.date_naive()) as i128,
        DataType::Timestamp(unit, _) => to_unit(limit, *unit).map_or(i128::MAX, |v| v as i128),
        _ => return None,
    };
    map_int_like(array, move |v| v <= max)
}

/// `not_in_future`: the tolerance in seconds.
#[derive(Debug)]
pub(crate) struct NotInFuture {
    pub tolerance: i64,
}

impl super::ColumnCheck for NotInFuture {
    fn check(&self, array: &dyn Array, as_of: DateTime<Utc>) -> Option<BooleanArray> {
        not_in_future(array, as_of, self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, TimestampSecondArray};

    #[test]
    fn dates_and_timestamps() {
        let as_of: DateTime<Utc> = "1970-01-02T12:00:00Z".parse().unwrap();
        let d = Date32Array::from(vec![Some(0), Some(1), Some(2), None]);
        let got: Vec<_> = not_in_future(&d, as_of, 0).unwrap().iter().collect();
        assert_eq!(got, vec![Some(true), Some(true), Some(false), None]);
        let got: Vec<_> = not_in_future(&d, as_of, 12 * 3600)
            .unwrap()
            .iter()
            .collect();
        assert_eq!(got, vec![Some(true), Some(true), Some(true), None]);
        let t = TimestampSecondArray::from(vec![129_600, 129_601]).with_timezone("UTC");
        let got: Vec<_> = not_in_future(&t, as_of, 0).unwrap().iter().collect();
        assert_eq!(got, vec![Some(true), Some(false)]);
    }
}
