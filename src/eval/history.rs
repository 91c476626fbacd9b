//! The history `history:` checks read: the points earlier runs recorded (handed in by whoever
//! runs the suite: the gate reads them from its run log), then the points of this run's
//! batches, added as each is judged, so a run of many batches judges each against the ones
//! before it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::metrics::anomaly::judge;
use crate::report::HistoryResult;
use crate::suite::{HistoryCheck, Unjudged, Window};

/// One earlier value of a metric expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    /// The value the metric observed.
    pub value: f64,
    /// The clock of the run that observed it.
    pub as_of: DateTime<Utc>,
    /// That run.
    pub run_id: String,
    /// Its batch.
    pub batch: u64,
}

/// The points of every expectation with a `history:` key, by expectation id, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    series: HashMap<String, Vec<HistoryPoint>>,
}

/// Values shown in a report of the points a check read (the newest ones).
const SHOWN_POINTS: usize = 30;

impl History {
    /// A history from points by expectation id (each series is put in order of its clock,
    /// run and batch).
    pub fn new(series: HashMap<String, Vec<HistoryPoint>>) -> Self {
        let mut series = series;
        for points in series.values_mut() {
            points
                .sort_by(|a, b| (a.as_of, &a.run_id, a.batch).cmp(&(b.as_of, &b.run_id, b.batch)));
        }
        History { series }
    }

    /// Whether it holds no point at all.
    pub fn is_empty(&self) -> bool {
        self.series.values().all(Vec::is_empty)
    }

    /// The points of one expectation, oldest first.
    pub fn points(&self, id: &str) -> &[HistoryPoint] {
        self.series.get(id).map_or(&[], Vec::as_slice)
    }

    /// Adds the newest point of an expectation.
    pub(crate) fn push(&mut self, id: &str, point: HistoryPoint) {
        self.series.entry(id.to_string()).or_default().push(point);
    }

    /// Judges `x`, observed at `as_of`, against the points of `id` within the check's window.
    /// Returns whether it passes, whether the check judged at all (else it had too little
    /// history), the reason it failed, and what the report shows.
    pub(crate) fn judge(
        &self,
        id: &str,
        check: &HistoryCheck,
        x: f64,
        as_of: DateTime<Utc>,
    ) -> (bool, bool, Option<String>, HistoryResult) {
        let all = self.points(id);
        let window: &[HistoryPoint] = match check.window {
            None => all,
            Some(Window::Points(n)) => &all[all.len().saturating_sub(n as usize)..],
            Some(Window::Seconds(s)) => {
                let from = as_of - chrono::TimeDelta::seconds(s);
                let start = all.partition_point(|p| p.as_of < from);
                &all[start..]
            }
        };
        let values: Vec<f64> = window.iter().map(|p| p.value).collect();
        let mut result = HistoryResult {
            strategy: check.strategy.name().to_string(),
            points: values.len() as u64,
            min_history: check.min_history,
            judged: false,
            lo: None,
            hi: None,
            from: window.first().map(|p| p.as_of),
            to: window.last().map(|p| p.as_of),
            values: values[values.len().saturating_sub(SHOWN_POINTS)..].to_vec(),
        };
        if (values.len() as u64) < check.min_history {
            let level = match check.until_min_history {
                Unjudged::Warn => "a warning until then",
                Unjudged::Fail => "a failure until then",
            };
            let reason = format!(
                "not judged: {} of the {} earlier points it needs ({level})",
                values.len(),
                check.min_history,
            );
            return (false, false, Some(reason), result);
        }
        if !x.is_finite() {
            return (
                false,
                true,
                Some(format!("the value {x} cannot be judged against history")),
                result,
            );
        }
        let j = judge(&check.strategy, &values, x);
        result.judged = true;
        result.lo = j.lo;
        result.hi = j.hi;
        (j.ok, true, j.reason, result)
    }
}
