//! A `metric` judged against its own history (docs/monitoring.md): the model of the `history:`
//! key and how it reads from YAML.

use serde::Serialize;

use super::super::reader::{Ctx, MapReader, as_choice, as_uint, describe, parse_duration};
use super::super::yaml::{Node, Scalar};

/// How the newest value is judged against the values before it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Strategy {
    /// The `order`-th difference of the series at the newest value lies in
    /// `min_change..=max_change` (order 1: `x - previous`).
    AbsoluteChange {
        /// The smallest change allowed (negative: a decrease).
        #[serde(skip_serializing_if = "Option::is_none")]
        min_change: Option<f64>,
        /// The largest change allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_change: Option<f64>,
        /// Which difference, at least 1.
        order: u32,
    },
    /// `x / value order points back` lies in `min_ratio..=max_ratio`.
    RelativeChange {
        /// The smallest ratio allowed (0.5: at most halved).
        #[serde(skip_serializing_if = "Option::is_none")]
        min_ratio: Option<f64>,
        /// The largest ratio allowed (2.0: at most doubled).
        #[serde(skip_serializing_if = "Option::is_none")]
        max_ratio: Option<f64>,
        /// How many points back the base is, at least 1.
        order: u32,
    },
    /// `x` lies within the mean ± sigmas · sample standard deviation of the history (the
    /// newest value left out).
    Normal {
        /// Standard deviations allowed below the mean (absent: no lower bound).
        #[serde(skip_serializing_if = "Option::is_none")]
        lower_sigmas: Option<f64>,
        /// Standard deviations allowed above the mean (absent: no upper bound).
        #[serde(skip_serializing_if = "Option::is_none")]
        upper_sigmas: Option<f64>,
    },
    /// `x` lies within the running mean ± sigmas · population standard deviation of the
    /// series with `x` included; earlier anomalies are left out of the running figures and
    /// the first `ignore_start` share of the series is never flagged.
    OnlineNormal {
        /// Standard deviations allowed below the mean (absent: no lower bound).
        #[serde(skip_serializing_if = "Option::is_none")]
        lower_sigmas: Option<f64>,
        /// Standard deviations allowed above the mean (absent: no upper bound).
        #[serde(skip_serializing_if = "Option::is_none")]
        upper_sigmas: Option<f64>,
        /// The share of the series, from its start, never flagged.
        ignore_start: f64,
    },
    /// `x` lies within the one-step forecast of an additive Holt-Winters model (level, trend
    /// and a season of `period` points) fitted to the history, ± sigmas · the standard
    /// deviation of its absolute residuals.
    HoltWinters {
        /// Points in one season (7 for a daily metric with a weekly cycle).
        period: u32,
        /// Standard deviations allowed either way (1.96 by default).
        sigmas: f64,
    },
}

impl Strategy {
    /// The suite spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::AbsoluteChange { .. } => "absolute_change",
            Strategy::RelativeChange { .. } => "relative_change",
            Strategy::Normal { .. } => "normal",
            Strategy::OnlineNormal { .. } => "online_normal",
            Strategy::HoltWinters { .. } => "holt_winters",
        }
    }

    /// The fewest earlier points the strategy can judge with at all.
    pub fn least_history(&self) -> u64 {
        match self {
            Strategy::AbsoluteChange { order, .. } | Strategy::RelativeChange { order, .. } => {
                u64::from(*order)
            }
            Strategy::Normal { .. } => 2,
            Strategy::OnlineNormal { .. } => 1,
            // Two full seasons to estimate the model.
            Strategy::HoltWinters { period, .. } => 2 * u64::from(*period),
        }
    }
}

/// How much history a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The newest `n` points.
    Points(u64),
    /// Points whose run's `as_of` is at most this many seconds before this run's.
    Seconds(i64),
}

/// What a check does while its history is shorter than `min_history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unjudged {
    /// It fails at warning level: reported, routes nothing.
    Warn,
    /// It fails with its own `on_fail`.
    Fail,
}

/// The `history:` key of a `metric` expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryCheck {
    /// The strategy and its parameters.
    #[serde(flatten)]
    pub strategy: Strategy,
    /// The history read; absent: all of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// The fewest earlier points before the check judges.
    pub min_history: u64,
    /// What happens before then.
    pub until_min_history: Unjudged,
}

const HISTORY_KEYS: &str = "strategy, min_change, max_change, min_ratio, max_ratio, order, \
                            lower_sigmas, upper_sigmas, ignore_start, period, sigmas, window, \
                            min_history, until_min_history";

/// Reads `history:` (the metric's own reader has taken the key).
pub(super) fn history(ctx: &mut Ctx, node: &Node, path: &str) -> Option<HistoryCheck> {
    let mut m = MapReader::new(ctx, node, path)?;
    let snode = m.required(ctx, "strategy")?;
    let kinds = [
        ("absolute_change", 0u8),
        ("relative_change", 1),
        ("normal", 2),
        ("online_normal", 3),
        ("holt_winters", 4),
    ];
    let which = as_choice(ctx, snode, &m.path("strategy"), &kinds)?;
    let strategy = match which {
        0 | 1 => {
            let (lo_key, hi_key) = if which == 0 {
                ("min_change", "max_change")
            } else {
                ("min_ratio", "max_ratio")
            };
            let lo = number(ctx, &mut m, lo_key);
            let hi = number(ctx, &mut m, hi_key);
            if lo.is_none() && hi.is_none() {
                ctx.err(
                    node.pos,
                    &m.path(lo_key),
                    format!(
                        "`{}` needs `{lo_key}`, `{hi_key}` or both",
                        kinds[which as usize].0
                    ),
                );
            }
            if let (Some(l), Some(h)) = (lo, hi)
                && l > h
            {
                ctx.err(
                    node.pos,
                    &m.path(lo_key),
                    format!("`{lo_key}` {l} is above `{hi_key}` {h}"),
                );
            }
            if which == 1 && lo.is_some_and(|l| l < 0.0) {
                ctx.err(
                    node.pos,
                    &m.path(lo_key),
                    "a ratio is at least 0".to_string(),
                );
            }
            let order = match m.get("order") {
                None => 1,
                Some(n) => match as_uint(ctx, n, &m.path("order")) {
                    Some(o @ 1..=100) => o as u32,
                    Some(_) => {
                        ctx.err(n.pos, &m.path("order"), "`order` is from 1 to 100".into());
                        1
                    }
                    None => 1,
                },
            };
            if which == 0 {
                Strategy::AbsoluteChange {
                    min_change: lo,
                    max_change: hi,
                    order,
                }
            } else {
                Strategy::RelativeChange {
                    min_ratio: lo,
                    max_ratio: hi,
                    order,
                }
            }
        }
        4 => {
            let period = match m.required(ctx, "period") {
                Some(n) => match as_uint(ctx, n, &m.path("period")) {
                    Some(p @ 2..=366) => p as u32,
                    Some(_) => {
                        ctx.err(n.pos, &m.path("period"), "`period` is from 2 to 366".into());
                        7
                    }
                    None => 7,
                },
                None => 7,
            };
            let sigmas = number(ctx, &mut m, "sigmas").unwrap_or(1.96);
            if sigmas < 0.0 {
                ctx.err(node.pos, &m.path("sigmas"), "`sigmas` is at least 0".into());
            }
            Strategy::HoltWinters { period, sigmas }
        }
        _ => {
            let lo = number(ctx, &mut m, "lower_sigmas");
            let hi = number(ctx, &mut m, "upper_sigmas");
            for (key, v) in [("lower_sigmas", lo), ("upper_sigmas", hi)] {
                if v.is_some_and(|v| v < 0.0) {
                    ctx.err(node.pos, &m.path(key), format!("`{key}` is at least 0"));
                }
            }
            // Neither given: three standard deviations each way.
            let (lo, hi) = match (lo, hi) {
                (None, None) => (Some(3.0), Some(3.0)),
                other => other,
            };
            if which == 2 {
                Strategy::Normal {
                    lower_sigmas: lo,
                    upper_sigmas: hi,
                }
            } else {
                let ignore_start = number(ctx, &mut m, "ignore_start").unwrap_or(0.1);
                if !(0.0..=1.0).contains(&ignore_start) {
                    ctx.err(
                        node.pos,
                        &m.path("ignore_start"),
                        "`ignore_start` is a share from 0 to 1".into(),
                    );
                }
                Strategy::OnlineNormal {
                    lower_sigmas: lo,
                    upper_sigmas: hi,
                    ignore_start,
                }
            }
        }
    };
    let window = m
        .get("window")
        .and_then(|n| window(ctx, n, &m.path("window")));
    let least = strategy.least_history();
    let min_history = match m.get("min_history") {
        None => least.max(3),
        Some(n) => {
            let v = as_uint(ctx, n, &m.path("min_history"))?;
            if v < least {
                ctx.err(
                    n.pos,
                    &m.path("min_history"),
                    format!(
                        "`{}` needs at least {least} earlier point(s); `min_history` is {v}",
                        strategy.name()
                    ),
                );
            }
            v
        }
    };
    if let Some(Window::Points(w)) = window
        && w < min_history
    {
        ctx.err(
            node.pos,
            &m.path("window"),
            format!("a window of {w} points never holds `min_history` {min_history}"),
        );
    }
    let until_min_history = match m.get("until_min_history") {
        None => Unjudged::Warn,
        Some(n) => as_choice(
            ctx,
            n,
            &m.path("until_min_history"),
            &[("warn", Unjudged::Warn), ("fail", Unjudged::Fail)],
        )
        .unwrap_or(Unjudged::Warn),
    };
    m.finish(ctx, &format!("in `history` (it takes {HISTORY_KEYS})"));
    Some(HistoryCheck {
        strategy,
        window,
        min_history,
        until_min_history,
    })
}

fn number(ctx: &mut Ctx, m: &mut MapReader<'_>, key: &str) -> Option<f64> {
    let n = m.get(key)?;
    match n.scalar() {
        Some(Scalar::Int(i)) => Some(i as f64),
        Some(Scalar::Float(f)) if f.is_finite() => Some(f),
        _ => {
            ctx.err(
                n.pos,
                &m.path(key),
                format!("expected a number, found {}", describe(n)),
            );
            None
        }
    }
}

/// `window: 30` (points) or `window: 28d` (a duration).
fn window(ctx: &mut Ctx, n: &Node, path: &str) -> Option<Window> {
    match n.scalar() {
        Some(Scalar::Int(i)) if (1..=1_000_000).contains(&i) => Some(Window::Points(i as u64)),
        Some(Scalar::Str(s)) => match parse_duration(s) {
            Ok(secs) if secs > 0 => Some(Window::Seconds(secs)),
            Ok(_) => {
                ctx.err(n.pos, path, "a window is longer than 0".into());
                None
            }
            Err(e) => {
                ctx.err(n.pos, path, format!("{e}; or a number of points, from 1"));
                None
            }
        },
        _ => {
            ctx.err(
                n.pos,
                path,
                format!(
                    "expected a number of points or a duration (`28d`), found {}",
                    describe(n)
                ),
            );
            None
        }
    }
}
