//! Objectives over a window of the run log: good and valid events, attainment, the error
//! budget left and the rate it burns (docs/monitoring.md#slos).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::suite::{Slo, SloKind};

/// One batch of the run log, as the objectives count it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    /// The run's clock.
    pub as_of: DateTime<Utc>,
    /// Rows in.
    pub rows: u64,
    /// Rows that reached the target.
    pub rows_passed: u64,
    /// `passed`, `rows_quarantined`, `batch_quarantined` or `failed`.
    pub outcome: String,
    /// The expectation results of the batch: id, aggregate, success, evaluated, failed.
    pub results: Vec<(String, bool, bool, u64, u64)>,
    /// The newest value each `freshness` expectation of the batch saw, by id.
    pub newest: Vec<(String, DateTime<Utc>)>,
}

/// Where an objective stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloState {
    /// Attained, and the budget is not burning faster than the window allows.
    Ok,
    /// Attained, but the recent burn rate would spend the budget before the window ends.
    AtRisk,
    /// Not attained over the window.
    Breached,
    /// No events in the window: nothing shows it is met.
    NoData,
}

/// An objective evaluated at a clock.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloStatus {
    /// The objective's id.
    pub id: String,
    /// `freshness`, `completeness` or `validity`.
    pub kind: String,
    /// The share to keep.
    pub objective: f64,
    /// The window, in seconds.
    pub window_seconds: i64,
    /// Good events in the window (rows, batches or seconds).
    pub good: f64,
    /// Valid events in the window.
    pub valid: f64,
    /// good / valid (absent without events).
    pub attainment: Option<f64>,
    /// The share of the error budget (1 − objective) not yet spent; negative when overspent.
    pub budget_left: Option<f64>,
    /// The bad share over the most recent seventh of the window, over the budget: 1 spends
    /// the budget exactly over the window.
    pub burn_rate: Option<f64>,
    /// Where it stands.
    pub state: SloState,
}

/// Good and valid events of `slo` among `batches` whose clock lies in `(from, to]`.
fn events(
    slo: &Slo,
    batches: &[BatchRecord],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (f64, f64) {
    let inside = || {
        batches
            .iter()
            .filter(move |b| b.as_of > from && b.as_of <= to)
    };
    match &slo.kind {
        SloKind::Completeness => inside().fold((0.0, 0.0), |(g, v), b| {
            (g + b.rows_passed as f64, v + b.rows as f64)
        }),
        SloKind::Validity { expectation: None } => inside().fold((0.0, 0.0), |(g, v), b| {
            (g + f64::from(u8::from(b.outcome == "passed")), v + 1.0)
        }),
        SloKind::Validity {
            expectation: Some(id),
        }
        | SloKind::ColumnCompleteness { rule: id, .. } => inside()
            .flat_map(|b| b.results.iter().filter(|r| &r.0 == id))
            .fold(
                (0.0, 0.0),
                |(g, v), (_, aggregate, success, evaluated, failed)| {
                    if *aggregate {
                        (g + f64::from(u8::from(*success)), v + 1.0)
                    } else {
                        (
                            g + evaluated.saturating_sub(*failed) as f64,
                            v + *evaluated as f64,
                        )
                    }
                },
            ),
        SloKind::Freshness {
            max_age,
            expectation,
        } => {
            // Deliveries in order, each with how new its data is: the batch's clock, or the
            // newest value its freshness expectation saw.
            let mut points: Vec<(DateTime<Utc>, DateTime<Utc>)> = batches
                .iter()
                .filter(|b| b.rows_passed > 0 && b.as_of <= to)
                .filter_map(|b| match expectation {
                    None => Some((b.as_of, b.as_of)),
                    Some(id) => b
                        .newest
                        .iter()
                        .find(|(e, _)| e == id)
                        .map(|(_, v)| (b.as_of, *v)),
                })
                .collect();
            points.sort();
            let span = (to - from).num_seconds() as f64;
            let mut fresh = 0.0;
            let mut newest: Option<DateTime<Utc>> = None;
            for (i, (at, data)) in points.iter().enumerate() {
                newest = Some(newest.map_or(*data, |n| n.max(*data)));
                let next = points.get(i + 1).map_or(to, |p| p.0);
                let until = (newest.expect("set") + TimeDelta::seconds(*max_age)).min(next);
                let (a, b) = ((*at).max(from), until.min(to));
                if b > a {
                    fresh += (b - a).num_seconds() as f64;
                }
            }
            (fresh, span)
        }
    }
}

/// Evaluates `slo` at `now` over `batches` (any order; those after `now` are ignored).
pub fn evaluate(slo: &Slo, batches: &[BatchRecord], now: DateTime<Utc>) -> SloStatus {
    let from = now - TimeDelta::seconds(slo.window);
    let (good, valid) = events(slo, batches, from, now);
    let budget = 1.0 - slo.objective;
    let attainment = (valid > 0.0).then(|| good / valid);
    let budget_left = attainment.map(|a| 1.0 - (1.0 - a) / budget);
    let recent = now - TimeDelta::seconds((slo.window / 7).max(1));
    let (rg, rv) = events(slo, batches, recent, now);
    let burn_rate = (rv > 0.0).then(|| (1.0 - rg / rv) / budget);
    let state = match attainment {
        None => SloState::NoData,
        Some(a) if a < slo.objective => SloState::Breached,
        Some(_) if burn_rate.is_some_and(|b| b > 1.0) => SloState::AtRisk,
        Some(_) => SloState::Ok,
    };
    SloStatus {
        id: slo.id.clone(),
        kind: slo.kind.name().to_string(),
        objective: slo.objective,
        window_seconds: slo.window,
        good,
        valid,
        attainment,
        budget_left,
        burn_rate,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> DateTime<Utc> {
        "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::days(d - 1)
    }

    fn batch(d: i64, rows: u64, passed: u64, outcome: &str) -> BatchRecord {
        BatchRecord {
            as_of: day(d),
            rows,
            rows_passed: passed,
            outcome: outcome.into(),
            results: vec![
                ("m".into(), true, outcome == "passed", rows, 0),
                ("r".into(), false, passed == rows, rows, rows - passed),
            ],
            newest: vec![("f".into(), day(d) - TimeDelta::hours(12))],
        }
    }

    fn slo(kind: SloKind, objective: f64, days: i64) -> Slo {
        Slo {
            id: "s".into(),
            kind,
            objective,
            window: days * 86_400,
        }
    }

    #[test]
    fn completeness_and_validity_count_by_hand() {
        // Ten days of 100 rows; day 4 lost 30 rows to quarantine, day 8 the whole batch.
        let mut b: Vec<BatchRecord> = (1..=10).map(|d| batch(d, 100, 100, "passed")).collect();
        b[3] = batch(4, 100, 70, "rows_quarantined");
        b[7] = batch(8, 100, 0, "batch_quarantined");
        let now = day(10);
        let s = evaluate(&slo(SloKind::Completeness, 0.95, 28), &b, now);
        assert_eq!((s.good, s.valid), (870.0, 1000.0));
        assert_eq!(s.state, SloState::Breached);
        assert!((s.budget_left.unwrap() - (1.0 - 0.13 / 0.05)).abs() < 1e-12);
        let s = evaluate(
            &slo(SloKind::Validity { expectation: None }, 0.75, 28),
            &b,
            now,
        );
        assert_eq!((s.good, s.valid), (8.0, 10.0));
        assert_eq!(s.state, SloState::Ok);
        // Row-level expectation: 870 of 1000; aggregate: 8 of 10 batches.
        let r = slo(
            SloKind::Validity {
                expectation: Some("r".into()),
            },
            0.8,
            28,
        );
        assert_eq!(evaluate(&r, &b, now).good, 870.0);
        // A column's completeness reads its not_null rule's counts the same way.
        let c = slo(
            SloKind::ColumnCompleteness {
                column: "x".into(),
                rule: "r".into(),
            },
            0.8,
            28,
        );
        let s = evaluate(&c, &b, now);
        assert_eq!(
            (s.good, s.valid, s.kind.as_str()),
            (870.0, 1000.0, "completeness")
        );
        let m = slo(
            SloKind::Validity {
                expectation: Some("m".into()),
            },
            0.8,
            28,
        );
        assert_eq!(evaluate(&m, &b, now).good, 8.0);
        // A window of 5 days at day 10 holds days 6 to 10: day 8 is in it.
        let s = evaluate(&slo(SloKind::Completeness, 0.5, 5), &b, now);
        assert_eq!((s.good, s.valid), (400.0, 500.0));
        // The recent seventh (1 day of 7) is day 10 alone: no burn.
        let s = evaluate(&slo(SloKind::Completeness, 0.5, 7), &b, now);
        assert_eq!(s.burn_rate, Some(0.0));
        // Nothing in the window: no data, never a pass.
        let s = evaluate(&slo(SloKind::Completeness, 0.5, 7), &b, day(30));
        assert_eq!(s.state, SloState::NoData);
    }

    #[test]
    fn freshness_is_the_share_of_time_the_newest_delivery_was_young_enough() {
        // Deliveries on days 1, 2, 3 and 6 (at midnight); max_age 1 day; window of 7 days
        // ending day 8: (day 1, day 8]. Fresh: day 1→2, 2→3, 3→4, 6→7 = 4 days of 7.
        let b: Vec<BatchRecord> = [1, 2, 3, 6]
            .iter()
            .map(|&d| batch(d, 10, 10, "passed"))
            .collect();
        let s = evaluate(
            &slo(
                SloKind::Freshness {
                    max_age: 86_400,
                    expectation: None,
                },
                0.9,
                7,
            ),
            &b,
            day(8),
        );
        assert_eq!(s.valid, 7.0 * 86_400.0);
        assert_eq!(s.good, 4.0 * 86_400.0);
        assert_eq!(s.state, SloState::Breached);
        // A batch that delivered nothing is not a delivery.
        let mut b2 = b.clone();
        b2.push(batch(7, 10, 0, "batch_quarantined"));
        let fresh = |e: Option<&str>| SloKind::Freshness {
            max_age: 86_400,
            expectation: e.map(String::from),
        };
        assert_eq!(
            evaluate(&slo(fresh(None), 0.9, 7), &b2, day(8)).good,
            4.0 * 86_400.0
        );
        // Dated by a column whose newest value is 12 h older than each delivery: each
        // delivery stays fresh for 12 h: 4 × 12 h.
        assert_eq!(
            evaluate(&slo(fresh(Some("f")), 0.9, 7), &b, day(8)).good,
            4.0 * 12.0 * 3600.0
        );
    }
}
