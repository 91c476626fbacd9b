//! Judging the newest value of a metric against the values before it (the strategies of the
//! `history:` key, docs/monitoring.md). Pure arithmetic over a series, oldest first.

use crate::suite::Strategy;
use crate::values::show::{band, num};

/// A strategy's decision about the newest value, with the band of values it would have taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The value is within the band.
    pub ok: bool,
    /// The band's lower end, if it has one.
    pub lo: Option<f64>,
    /// The band's upper end, if it has one.
    pub hi: Option<f64>,
    /// Why the value is outside it, when it is not within it.
    pub reason: Option<String>,
}

impl Judgement {
    fn within(lo: Option<f64>, hi: Option<f64>, x: f64) -> Self {
        let ok = lo.is_none_or(|l| x >= l) && hi.is_none_or(|h| x <= h);
        Judgement {
            ok,
            lo,
            hi,
            reason: None,
        }
    }
}

/// Judges `x` against `history` (oldest first). The caller has checked that `history` holds
/// at least [`Strategy::least_history`] points.
pub fn judge(strategy: &Strategy, history: &[f64], x: f64) -> Judgement {
    match *strategy {
        Strategy::AbsoluteChange {
            min_change,
            max_change,
            order,
        } => {
            let k = order as usize;
            let mut d: Vec<f64> = history[history.len() - k..].to_vec();
            d.push(x);
            // The k-th difference at the newest point, as Deequ computes it: difference the
            // last k + 1 values k times.
            for _ in 0..k {
                d = d.windows(2).map(|w| w[1] - w[0]).collect();
            }
            let change = d[0];
            // The k-th difference is x plus a sum of earlier values: the band on x is the
            // band on the change moved by that sum.
            let rest = change - x;
            let mut j = Judgement::within(
                min_change.map(|m| m - rest),
                max_change.map(|m| m - rest),
                x,
            );
            j.ok = min_change.is_none_or(|m| change >= m) && max_change.is_none_or(|m| change <= m);
            if !j.ok {
                j.reason = Some(format!(
                    "its change (order {order}) of {} is outside {}",
                    num(change),
                    band(min_change, max_change)
                ));
            }
            j
        }
        Strategy::RelativeChange {
            min_ratio,
            max_ratio,
            order,
        } => {
            let base = history[history.len() - order as usize];
            if base == 0.0 {
                // No ratio to zero: unchanged zero is a ratio of 1, anything else fails.
                let ratio_ok = x == 0.0
                    && min_ratio.is_none_or(|m| m <= 1.0)
                    && max_ratio.is_none_or(|m| m >= 1.0);
                return Judgement {
                    ok: ratio_ok,
                    lo: ratio_ok.then_some(0.0),
                    hi: ratio_ok.then_some(0.0),
                    reason: (!ratio_ok).then(|| {
                        format!(
                            "the value {order} point(s) back is 0, so no ratio to it can be judged"
                        )
                    }),
                };
            }
            let ratio = x / base;
            let (a, b) = (min_ratio.map(|r| r * base), max_ratio.map(|r| r * base));
            let (lo, hi) = if base > 0.0 { (a, b) } else { (b, a) };
            let ok = min_ratio.is_none_or(|m| ratio >= m) && max_ratio.is_none_or(|m| ratio <= m);
            Judgement {
                ok,
                lo,
                hi,
                reason: (!ok).then(|| {
                    format!(
                        "its ratio to {} ({order} point(s) back) is {}, outside {}",
                        num(base),
                        num(ratio),
                        band(min_ratio, max_ratio)
                    )
                }),
            }
        }
        Strategy::Normal {
            lower_sigmas,
            upper_sigmas,
        } => {
            let n = history.len() as f64;
            let mean = history.iter().sum::<f64>() / n;
            let var = history.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
            let sd = var.sqrt();
            sigma_band(
                mean,
                sd,
                lower_sigmas,
                upper_sigmas,
                x,
                "mean and sample standard deviation of the history",
            )
        }
        Strategy::OnlineNormal {
            lower_sigmas,
            upper_sigmas,
            ignore_start,
        } => {
            let series_len = history.len() + 1;
            let skip = series_len as f64 * ignore_start;
            let (mut mean, mut sn) = (0.0f64, 0.0f64);
            let mut last = (0.0, 0.0, true);
            for (i, &v) in history.iter().chain(std::iter::once(&x)).enumerate() {
                let (prev_mean, prev_sn) = (mean, sn);
                mean = if i == 0 {
                    v
                } else {
                    prev_mean + (v - prev_mean) / (i as f64 + 1.0)
                };
                sn += (v - prev_mean) * (v - mean);
                let sd = (sn / (i as f64 + 1.0)).sqrt();
                let lo = lower_sigmas.map(|k| mean - k * sd);
                let hi = upper_sigmas.map(|k| mean + k * sd);
                let inside = lo.is_none_or(|l| v >= l) && hi.is_none_or(|h| v <= h);
                let normal = (i as f64) < skip || inside;
                last = (mean, sd, normal);
                if !normal {
                    // An anomaly stays out of the running figures.
                    mean = prev_mean;
                    sn = prev_sn;
                }
            }
            let (m, sd, ok) = last;
            let mut j = sigma_band(
                m,
                sd,
                lower_sigmas,
                upper_sigmas,
                x,
                "running mean and standard deviation",
            );
            // Within the ignored start, the value is never flagged.
            if ok && !j.ok {
                j.ok = true;
                j.reason = None;
            }
            j
        }
        Strategy::HoltWinters { period, sigmas } => {
            let p = period as usize;
            let (a, b, g) = fit(history, p);
            let (forecast, residuals) = holt_winters(history, p, a, b, g);
            let abs: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
            let n = abs.len() as f64;
            let mean = abs.iter().sum::<f64>() / n;
            let sd = (abs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt();
            let mut j = Judgement::within(
                Some(forecast - sigmas * sd),
                Some(forecast + sigmas * sd),
                x,
            );
            if !j.ok {
                j.reason = Some(format!(
                    "it is outside {} (forecast {} ± {sigmas} × {}; level, trend, season \
                     smoothing {a:.3}, {b:.3}, {g:.3})",
                    band(j.lo, j.hi),
                    num(forecast),
                    num(sd)
                ));
            }
            j
        }
    }
}

/// Additive Holt-Winters (ETS(A, A, A)) over `series` with a season of `p` points, started as
/// Deequ starts it: level the first season's mean, trend the difference of the first two
/// seasons' means over `p`, seasonal terms the first season less that level. Returns the
/// one-step forecast after the series and the one-step residuals of every point.
fn holt_winters(series: &[f64], p: usize, a: f64, b: f64, g: f64) -> (f64, Vec<f64>) {
    let first: f64 = series[..p].iter().sum();
    let second: f64 = series[p..2 * p].iter().sum();
    let mut level = first / p as f64;
    let mut trend = (second - first) / (p * p) as f64;
    let mut season: Vec<f64> = series[..p].iter().map(|v| v - level).collect();
    let mut residuals = Vec::with_capacity(series.len());
    for (t, &y) in series.iter().enumerate() {
        let s = season[t];
        residuals.push(y - (level + trend + s));
        let next_level = a * (y - s) + (1.0 - a) * (level + trend);
        let next_trend = b * (next_level - level) + (1.0 - b) * trend;
        season.push(g * (y - level - trend) + (1.0 - g) * s);
        level = next_level;
        trend = next_trend;
    }
    (level + trend + season[series.len()], residuals)
}

/// The smoothing parameters in [0, 1]³ that minimize the residuals' sum of squares: the best
/// point of a grid of tenths, refined by a pattern search down to steps of 1/4096.
fn fit(series: &[f64], p: usize) -> (f64, f64, f64) {
    let rss = |a: f64, b: f64, g: f64| -> f64 {
        let (_, r) = holt_winters(series, p, a, b, g);
        r.iter().map(|v| v * v).sum()
    };
    let mut best = (0.3, 0.1, 0.1);
    let mut best_rss = rss(best.0, best.1, best.2);
    for i in 0..=10 {
        for j in 0..=10 {
            for k in 0..=10 {
                let c = (i as f64 / 10.0, j as f64 / 10.0, k as f64 / 10.0);
                let r = rss(c.0, c.1, c.2);
                if r < best_rss {
                    (best, best_rss) = (c, r);
                }
            }
        }
    }
    let mut step = 0.05;
    while step > 1.0 / 4096.0 {
        let mut moved = false;
        for d in [
            (step, 0.0, 0.0),
            (-step, 0.0, 0.0),
            (0.0, step, 0.0),
            (0.0, -step, 0.0),
            (0.0, 0.0, step),
            (0.0, 0.0, -step),
        ] {
            let c = (
                (best.0 + d.0).clamp(0.0, 1.0),
                (best.1 + d.1).clamp(0.0, 1.0),
                (best.2 + d.2).clamp(0.0, 1.0),
            );
            let r = rss(c.0, c.1, c.2);
            if r < best_rss {
                (best, best_rss) = (c, r);
                moved = true;
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    best
}

fn sigma_band(
    mean: f64,
    sd: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    x: f64,
    what: &str,
) -> Judgement {
    let mut j = Judgement::within(
        lower.map(|k| mean - k * sd),
        upper.map(|k| mean + k * sd),
        x,
    );
    if !j.ok {
        j.reason = Some(format!(
            "it is outside {} ({what}: {} and {})",
            band(j.lo, j.hi),
            num(mean),
            num(sd)
        ));
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(lo: Option<f64>, hi: Option<f64>, order: u32) -> Strategy {
        Strategy::AbsoluteChange {
            min_change: lo,
            max_change: hi,
            order,
        }
    }

    #[test]
    fn absolute_change_of_order_one_and_two() {
        // 10, 12 then 13: change 1, within [-2, 2]; 17: change 5, outside.
        let j = judge(&abs(Some(-2.0), Some(2.0), 1), &[10.0, 12.0], 13.0);
        assert!(j.ok);
        assert_eq!((j.lo, j.hi), (Some(10.0), Some(14.0)));
        let j = judge(&abs(Some(-2.0), Some(2.0), 1), &[10.0, 12.0], 17.0);
        assert!(!j.ok);
        assert!(j.reason.unwrap().contains("change (order 1) of 5"));
        // Order 2 at 10, 12, 16: (16 - 12) - (12 - 10) = 2. The band on x: x - 2·12 + 10 in
        // [-1, 1], so x in [13, 15].
        let j = judge(&abs(Some(-1.0), Some(1.0), 2), &[10.0, 12.0], 16.0);
        assert!(!j.ok);
        assert_eq!((j.lo, j.hi), (Some(13.0), Some(15.0)));
        assert!(judge(&abs(Some(-1.0), Some(1.0), 2), &[10.0, 12.0], 14.5).ok);
        // One-sided: only a drop of more than 100 fails.
        assert!(judge(&abs(Some(-100.0), None, 1), &[1000.0], 5000.0).ok);
        assert!(!judge(&abs(Some(-100.0), None, 1), &[1000.0], 899.0).ok);
    }

    #[test]
    fn relative_change_is_a_ratio_to_the_value_order_points_back() {
        let s = Strategy::RelativeChange {
            min_ratio: Some(0.5),
            max_ratio: Some(2.0),
            order: 2,
        };
        // Base is 100 (two back), not 400.
        let j = judge(&s, &[100.0, 400.0], 180.0);
        assert!(j.ok);
        assert_eq!((j.lo, j.hi), (Some(50.0), Some(200.0)));
        let j = judge(&s, &[100.0, 400.0], 49.0);
        assert!(!j.ok);
        assert!(j.reason.unwrap().contains("ratio to 100"));
        // A negative base flips the band.
        let j = judge(&s, &[-100.0, 1.0], -150.0);
        assert!(j.ok);
        assert_eq!((j.lo, j.hi), (Some(-200.0), Some(-50.0)));
        // A zero base: zero again passes, anything else fails.
        assert!(judge(&s, &[0.0, 5.0], 0.0).ok);
        assert!(!judge(&s, &[0.0, 5.0], 1.0).ok);
    }

    #[test]
    fn normal_uses_the_sample_deviation_of_the_history_alone() {
        let s = Strategy::Normal {
            lower_sigmas: Some(2.0),
            upper_sigmas: Some(2.0),
        };
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7.
        let h = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let sd = (32.0f64 / 7.0).sqrt();
        let j = judge(&s, &h, 9.0);
        assert!(j.ok);
        assert!((j.hi.unwrap() - (5.0 + 2.0 * sd)).abs() < 1e-12);
        assert!((j.lo.unwrap() - (5.0 - 2.0 * sd)).abs() < 1e-12);
        assert!(!judge(&s, &h, 5.0 + 2.0 * sd + 1e-9).ok);
        // A constant history allows only its value.
        assert!(judge(&s, &[3.0, 3.0, 3.0], 3.0).ok);
        assert!(!judge(&s, &[3.0, 3.0, 3.0], 3.1).ok);
    }

    #[test]
    fn online_normal_includes_the_new_point_and_leaves_anomalies_out() {
        let s = Strategy::OnlineNormal {
            lower_sigmas: Some(1.5),
            upper_sigmas: Some(1.5),
            ignore_start: 0.0,
        };
        // By hand: after 10, 10, 10 (sd 0), 30 is anomalous (the mean with it is 15, sd
        // 8.66, bound 27.99) and is rolled back; then 10 is normal again.
        let j = judge(&s, &[10.0, 10.0, 10.0], 30.0);
        assert!(!j.ok);
        let mean = 15.0;
        let sd = (300.0f64 / 4.0).sqrt();
        assert!((j.hi.unwrap() - (mean + 1.5 * sd)).abs() < 1e-9);
        // With 30 in the history, rolled back, a 10 sees mean 10 and sd 0 again.
        let j = judge(&s, &[10.0, 10.0, 10.0, 30.0], 10.0);
        assert!(j.ok);
        assert_eq!((j.lo, j.hi), (Some(10.0), Some(10.0)));
        // Within the ignored start, nothing is flagged.
        let s = Strategy::OnlineNormal {
            lower_sigmas: Some(1.5),
            upper_sigmas: Some(1.5),
            ignore_start: 0.9,
        };
        assert!(judge(&s, &[10.0, 10.0, 10.0], 30.0).ok);
    }

    #[test]
    fn holt_winters_forecasts_a_weekly_cycle_and_flags_a_break_in_it() {
        // Four weeks of a weekly cycle with a gentle trend and a little noise.
        let week = [100.0, 120.0, 130.0, 125.0, 140.0, 60.0, 50.0];
        let noise = [0.8, -0.5, 0.3, -0.9, 0.6, -0.2, 0.4];
        let h: Vec<f64> = (0..28)
            .map(|i| week[i % 7] + i as f64 * 0.5 + noise[(i * 3) % 7])
            .collect();
        let s = Strategy::HoltWinters {
            period: 7,
            sigmas: 1.96,
        };
        // The next point is a Monday (index 28): about 100 + 14.
        let j = judge(&s, &h, 114.0);
        assert!(j.ok, "{j:?}");
        let (lo, hi) = (j.lo.unwrap(), j.hi.unwrap());
        assert!(lo < 114.0 && hi > 114.0 && hi - lo < 15.0, "{lo} {hi}");
        // A Saturday's value on a Monday is an anomaly.
        assert!(!judge(&s, &h, 64.0).ok);
        // The model with the parameters fitted reproduces the series closely.
        let (a, b, g) = fit(&h, 7);
        let (_, r) = holt_winters(&h, 7, a, b, g);
        let plain: f64 = holt_winters(&h, 7, 0.3, 0.1, 0.1)
            .1
            .iter()
            .map(|v| v * v)
            .sum();
        assert!(r.iter().map(|v| v * v).sum::<f64>() <= plain);
    }

    /// The recurrences by hand for a season of 2 and four points.
    #[test]
    fn holt_winters_recurrences_by_hand() {
        // level0 = (1+3)/2 = 2, trend0 = ((5+7)-(1+3))/4 = 2, season = [-1, 1]. With
        // a = b = g = 0 the level only follows the trend (2, 4, 6, 8, 10), the trend stays 2
        // and each season repeats: forecasts 3, 7, 7, 11 for 1, 3, 5, 7, residuals -2, -4,
        // -2, -4; after them 10 + 2 + s[4] = 10 + 2 - 1 = 11.
        let (f, r) = holt_winters(&[1.0, 3.0, 5.0, 7.0], 2, 0.0, 0.0, 0.0);
        assert_eq!(r, vec![-2.0, -4.0, -2.0, -4.0]);
        assert_eq!(f, 11.0);
        // With a = 1 the level follows the deseasoned value: level1 = 1 - (-1) = 2,
        // trend1 = b·(2-2) + (1-b)·2 = 2 (b = 0): forecast for t=1 is 2 + 2 + 1 = 5.
        let (_, r) = holt_winters(&[1.0, 3.0, 5.0, 7.0], 2, 1.0, 0.0, 0.0);
        assert_eq!(r[1], 3.0 - 5.0);
    }

    /// The band a strategy reports holds exactly the values it accepts.
    #[test]
    fn the_band_agrees_with_the_verdict() {
        use proptest::{prop_assert, proptest};
        let strategies = [
            abs(Some(-3.0), Some(5.0), 1),
            abs(None, Some(2.0), 3),
            Strategy::RelativeChange {
                min_ratio: Some(0.8),
                max_ratio: Some(1.25),
                order: 1,
            },
            Strategy::Normal {
                lower_sigmas: Some(3.0),
                upper_sigmas: Some(1.0),
            },
        ];
        proptest!(|(h in proptest::collection::vec(1.0f64..1000.0, 3..20), x in -100.0f64..2000.0, which in 0usize..4)| {
            let j = judge(&strategies[which], &h, x);
            // Values a hair inside the band pass; the verdict on x matches its place.
            let inside = j.lo.is_none_or(|l| x >= l - 1e-9 * l.abs().max(1.0))
                && j.hi.is_none_or(|hh| x <= hh + 1e-9 * hh.abs().max(1.0));
            let clearly_inside = j.lo.is_none_or(|l| x >= l + 1e-6 * l.abs().max(1.0))
                && j.hi.is_none_or(|hh| x <= hh - 1e-6 * hh.abs().max(1.0));
            if clearly_inside { prop_assert!(j.ok); }
            if !inside { prop_assert!(!j.ok); }
        });
    }
}
