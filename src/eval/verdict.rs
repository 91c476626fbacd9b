//! Verdicts: whether a rule succeeded over a batch, what it observed, and why not; and from
//! them the batch's fate.

use arrow::datatypes::DataType;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::bind::{BoundRule, Op};
use super::chunk::Partial;
use super::history::HistoryPoint;
use super::mask::Fate;
use super::{CompiledSuite, Rule, RuleSource};
use crate::metrics::Observed;
use crate::report::ExpectationResult;
use crate::report::cells::{float_json, mask, typed_json};
use crate::suite::MetricKind;
use crate::suite::{OnFail, Unjudged};
use crate::values::domain::Typed;
use crate::values::parse::from_unit;

/// Success, the observed value (aggregates) and an explanation (failed aggregates).
pub(crate) type Verdict = (bool, Option<Value>, Option<String>);

/// A metric's value as a number, for `history:` checks (counts, fractions, numbers, and
/// the min or max of a numeric column).
fn as_number(o: &Observed) -> Option<f64> {
    match o {
        Observed::Null => None,
        Observed::Count(c) => Some(*c as f64),
        Observed::Number(f) => Some(*f),
        Observed::Value(Typed::Int(i)) => Some(*i as f64),
        Observed::Value(Typed::Float(f)) => Some(*f),
        Observed::Value(_) => None,
    }
}

/// Decides a rule's success from its merged partial result.
pub(crate) fn verdict(
    s: &Partial,
    rule: &Rule,
    br: &BoundRule,
    schema: &arrow::datatypes::SchemaRef,
    as_of: DateTime<Utc>,
    number: &mut Option<f64>,
) -> Verdict {
    // A value of a `pii` column, or one in its units, is shown by its shape only.
    let show = |v: Value, in_units: bool| if br.pii && in_units { mask(&v) } else { v };
    match &br.op {
        Op::Metric {
            col,
            metric,
            q,
            interval,
            ..
        } => {
            let dt = col.map(|c| schema.field(c).data_type().clone());
            let dt = dt.map(|d| match d {
                DataType::Dictionary(_, v) => *v,
                d => d,
            });
            let observed = s
                .state
                .as_ref()
                .map_or(Observed::Null, |st| st.finish(*metric, *q));
            *number = as_number(&observed);
            let in_units = metric.in_column_units();
            let shown = show(
                match &observed {
                    Observed::Null => Value::Null,
                    Observed::Count(c) => Value::from(*c),
                    Observed::Number(f) => float_json(*f),
                    Observed::Value(v) => typed_json(v, dt.as_ref()),
                },
                in_units,
            );
            match observed.as_typed() {
                None => (
                    false,
                    Some(Value::Null),
                    Some(format!(
                        "{} over zero non-null values is null",
                        metric.as_str()
                    )),
                ),
                Some(v) => {
                    let ok = interval.contains(&v);
                    let msg = (!ok).then(|| {
                        format!(
                            "{} {} is outside {}",
                            metric.as_str(),
                            shown,
                            describe_interval(interval, dt.as_ref(), br.pii && in_units)
                        )
                    });
                    (ok, Some(shown), msg)
                }
            }
        }
        Op::Freshness { col, max_age } => {
            let dt = schema.field(*col).data_type().clone();
            let newest = match s.state.as_ref().map(|st| st.finish(MetricKind::Max, None)) {
                Some(Observed::Value(Typed::Int(v))) => Some(v),
                _ => None,
            };
            let Some(v) = newest else {
                return (
                    false,
                    Some(Value::Null),
                    Some("no non-null values: freshness cannot be shown".into()),
                );
            };
            let instant = match &dt {
                DataType::Date32 => chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|e| e.checked_add_signed(TimeDelta::days(v as i64)))
                    .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
                DataType::Timestamp(unit, _) => from_unit(v as i64, *unit),
                _ => None,
            };
            let Some(instant) = instant else {
                return (
                    false,
                    Some(Value::Null),
                    Some("newest value is out of range".into()),
                );
            };
            let age = (as_of - instant).num_seconds();
            let ok = age <= *max_age;
            let shown = show(typed_json(&Typed::Int(v), Some(&dt)), true);
            let msg = (!ok).then(|| {
                if br.pii {
                    // The age and the clock would give the value back.
                    format!(
                        "newest value {shown} is older than max_age {}",
                        human_secs(*max_age)
                    )
                } else {
                    format!(
                        "newest value {shown} is {} old at {}; max_age is {}",
                        human_secs(age),
                        as_of.to_rfc3339(),
                        human_secs(*max_age)
                    )
                }
            });
            (ok, Some(shown), msg)
        }
        _ => {
            let ok = s.evaluated == 0
                || (s.evaluated - s.failed) as f64 / s.evaluated as f64 >= rule.mostly;
            (ok, None, None)
        }
    }
}

/// Decides every rule's verdict from its merged partial, and the batch's fate.
pub(crate) fn decide(
    compiled: &CompiledSuite,
    bound: Option<&super::Bound>,
    partials: &mut [Partial],
    violated: bool,
    rows: u64,
    as_of: DateTime<Utc>,
) -> (Vec<ExpectationResult>, Vec<usize>, Fate) {
    let rules = compiled.rules();
    let mut results = Vec::new();
    let mut batch_failures = Vec::new();
    let mut fate = Fate::Split;
    if violated {
        fate = Fate::QuarantineAll;
    } else if let Some(bound) = &bound {
        for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
            if matches!(rule.source, RuleSource::Type(_)) && !partials[ri].active {
                continue;
            }
            let mut number = None;
            let (mut success, observed, mut message) =
                verdict(&partials[ri], rule, br, &bound.schema, as_of, &mut number);
            let mut on_fail = rule.on_fail;
            let mut history = None;
            if let Op::Metric {
                history: Some(check),
                ..
            } = &br.op
                && let Some(x) = number
            {
                let mut book = compiled.history_lock();
                let (ok, judged, why, shown) = book.judge(&rule.id, check, x, as_of);
                if !ok {
                    // Too little history to judge, with the fixed bounds met: a warning
                    // unless the check says otherwise.
                    if success && !judged && check.until_min_history == Unjudged::Warn {
                        on_fail = OnFail::Warn;
                    }
                    success = false;
                    let why = why.unwrap_or_default();
                    message = Some(match message {
                        Some(m) => format!("{m}; against its history: {why}"),
                        None => format!("against its history: {why}"),
                    });
                }
                history = Some(shown);
                // Later batches of this run read this one too (a value, not a NaN).
                if x.is_finite() {
                    book.push(
                        &rule.id,
                        HistoryPoint {
                            value: x,
                            as_of,
                            run_id: String::new(),
                            batch: 0,
                        },
                    );
                }
            }
            if !success {
                match on_fail {
                    OnFail::Fail => fate = Fate::Fail,
                    OnFail::QuarantineBatch => {
                        batch_failures.push(ri);
                        if fate != Fate::Fail {
                            fate = Fate::QuarantineAll;
                        }
                    }
                    OnFail::Warn | OnFail::QuarantineRows => {}
                }
                if rule.aggregate && on_fail != OnFail::QuarantineBatch {
                    batch_failures.push(ri);
                }
            }
            let p = std::mem::take(&mut partials[ri]);
            let mut r = result(rule, p, rows, success, observed, message);
            r.on_fail = on_fail.as_str().to_string();
            r.history = history;
            results.push(r);
        }
    }

    (results, batch_failures, fate)
}

fn result(
    rule: &Rule,
    p: Partial,
    rows: u64,
    success: bool,
    observed: Option<serde_json::Value>,
    message: Option<String>,
) -> ExpectationResult {
    let (column, columns) = match rule.columns.len() {
        0 => (None, None),
        1 => (Some(rule.columns[0].clone()), None),
        _ => (None, Some(rule.columns.clone())),
    };
    ExpectationResult {
        id: rule.id.clone(),
        expect: rule.expect.to_string(),
        column,
        columns,
        on_fail: rule.on_fail.as_str().to_string(),
        success,
        evaluated: p.evaluated,
        proven: p.proven,
        failed: p.failed,
        failed_fraction: (p.evaluated > 0 && !rule.aggregate)
            .then(|| p.failed as f64 / p.evaluated as f64),
        failed_fraction_total: (rows > 0 && !rule.aggregate).then(|| p.failed as f64 / rows as f64),
        observed,
        // A table's rule says what it is: its constraint, in words.
        message: message.or_else(|| {
            matches!(
                rule.source,
                RuleSource::TableCheck(_) | RuleSource::TableNotNull(_)
            )
            .then(|| rule.message.clone())
        }),
        samples: p.samples,
        sample_keys: p.keys,
        history: None,
    }
}

fn human_secs(s: i64) -> String {
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

fn describe_interval(
    iv: &super::kernels::range::Interval,
    dt: Option<&DataType>,
    masked: bool,
) -> String {
    let show = |v: &Typed| match v {
        _ if masked => mask(&typed_json(v, dt)).to_string(),
        // Bounds of counts and fractions are typed as floats; show `5`, not `5.0`.
        Typed::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        v => typed_json(v, dt).to_string(),
    };
    let lo = iv
        .lo
        .as_ref()
        .map(|(v, s)| format!("{}{}", if *s { "(" } else { "[" }, show(v)));
    let hi = iv
        .hi
        .as_ref()
        .map(|(v, s)| format!("{}{}", show(v), if *s { ")" } else { "]" }));
    format!(
        "{}, {}",
        lo.unwrap_or_else(|| "(-inf".into()),
        hi.unwrap_or_else(|| "+inf)".into())
    )
}
