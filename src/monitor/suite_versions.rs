//! The suite versions that judged a period's runs, and what changed between them: each run
//! records its suite's YAML in its run-start row, so the audit reads two consecutive versions
//! back and compares them by `dq-check diff`'s rules (docs/audit.md#sections).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::log::LogRow;
use crate::suite::Suite;
use crate::suite::diff::{Change, Verdict, diff, worst};

/// A suite version in force.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteVersion {
    /// The suite.
    pub suite: String,
    /// Its version.
    pub version: i64,
    /// Its fingerprint (first 12 characters).
    pub fingerprint: String,
    /// The first run under it in the period.
    pub first_as_of: DateTime<Utc>,
    /// The last.
    pub last_as_of: DateTime<Utc>,
    /// Runs under it.
    pub runs: u64,
    /// What changed from the version in force before it (the one before the period for the
    /// first); absent when no run of this suite came before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<VersionChanges>,
}

/// What changed from one version to the next.
#[derive(Debug, Clone, Serialize)]
pub struct VersionChanges {
    /// The version before.
    pub from_version: i64,
    /// Its fingerprint (first 12 characters).
    pub from_fingerprint: String,
    /// The worst verdict of the changes (absent when they could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Each change, as `dq-check diff` reports it.
    pub changes: Vec<Change>,
    /// Why the changes are not shown, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

type Key = (String, i64, String);

/// A version's text as the run log holds it.
enum Text<'a> {
    Kept(&'a str),
    /// Not kept: these expectations hold values of a `pii` column.
    Withheld(Vec<String>),
}

/// The expectations a run-start row says kept its suite's text out of the run log.
fn withheld(r: &LogRow) -> Option<Vec<String>> {
    if r.batch != 0 || r.expectation.is_some() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(r.input.as_deref()?).ok()?;
    let ids = v.get("suite_text_withheld")?.as_array()?;
    Some(
        ids.iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
    )
}

/// The versions that judged the runs dated `in_period` (releases apart), oldest first, each
/// with its changes from the version that judged runs before it. `log` is the whole run log:
/// the version before the period's first comes from it.
pub(crate) fn suite_versions(
    log: &[LogRow],
    in_period: impl Fn(DateTime<Utc>) -> bool,
) -> Vec<SuiteVersion> {
    // One pass: every version that judged a run (its first run orders it), its text, and
    // the runs of the period it judged with their span.
    #[derive(Default)]
    struct Seen<'a> {
        first: Option<DateTime<Utc>>,
        period: std::collections::BTreeSet<&'a str>,
        span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    }
    let mut seen: BTreeMap<Key, Seen> = BTreeMap::new();
    let mut texts: BTreeMap<Key, Text> = BTreeMap::new();
    for r in log.iter().filter(|r| r.kind == "run") {
        let key = (
            r.suite.clone(),
            r.suite_version,
            r.suite_fingerprint.clone(),
        );
        if let Some(t) = r.suite_text.as_deref() {
            texts.entry(key.clone()).or_insert(Text::Kept(t));
        } else if let Some(ids) = withheld(r) {
            texts.entry(key.clone()).or_insert(Text::Withheld(ids));
        }
        let s = seen.entry(key).or_default();
        s.first = Some(s.first.map_or(r.as_of, |f| f.min(r.as_of)));
        if in_period(r.as_of) {
            s.period.insert(r.run_id.as_str());
            s.span = Some(s.span.map_or((r.as_of, r.as_of), |(lo, hi)| {
                (lo.min(r.as_of), hi.max(r.as_of))
            }));
        }
    }
    let mut order: Vec<(Key, Seen)> = seen.into_iter().collect();
    order.sort_by_key(|(_, s)| s.first);

    let mut out = Vec::new();
    let mut before: BTreeMap<String, Key> = BTreeMap::new();
    for (key, s) in order {
        let first = s.first.expect("set on insertion");
        let changed = before
            .get(&key.0)
            .filter(|prev| **prev != key)
            .map(|prev| changes(prev, &key, &texts, first));
        before.insert(key.0.clone(), key.clone());
        // In force in the period: it judged a run dated in it.
        if let Some((lo, hi)) = s.span {
            out.push(SuiteVersion {
                suite: key.0.clone(),
                version: key.1,
                fingerprint: key.2.chars().take(12).collect(),
                first_as_of: lo,
                last_as_of: hi,
                runs: s.period.len() as u64,
                changes: changed,
            });
        }
    }
    out
}

/// The changes from `old` to `new`, read from their recorded texts; a text missing, or one
/// that no longer parses to its recorded fingerprint, is said instead.
fn changes(
    old: &Key,
    new: &Key,
    texts: &BTreeMap<Key, Text>,
    when: DateTime<Utc>,
) -> VersionChanges {
    let short = |k: &Key| k.2.chars().take(12).collect::<String>();
    let mut out = VersionChanges {
        from_version: old.1,
        from_fingerprint: short(old),
        verdict: None,
        changes: Vec::new(),
        note: None,
    };
    let read = |k: &Key| -> Result<Suite, String> {
        let text = match texts.get(k) {
            Some(Text::Kept(t)) => *t,
            Some(Text::Withheld(ids)) => {
                return Err(format!(
                    "the run log keeps no text of version {} ({}): its expectations {} hold \
                     values of a pii column; compare the two versions with `dq-check diff` \
                     where the suite is kept",
                    k.1,
                    short(k),
                    ids.join(", ")
                ));
            }
            None => {
                return Err(format!(
                    "the run log holds no text of version {} ({}): its runs were recorded \
                     before runs kept their suite's text",
                    k.1,
                    short(k)
                ));
            }
        };
        let suite = Suite::from_yaml(text, "the run log").map_err(|_| {
            format!(
                "the text the run log holds for version {} no longer parses",
                k.1
            )
        })?;
        if suite.fingerprint() != k.2 {
            return Err(format!(
                "the text the run log holds for version {} does not match its fingerprint {}",
                k.1,
                short(k)
            ));
        }
        Ok(suite)
    };
    match (read(old), read(new)) {
        (Ok(a), Ok(b)) => {
            out.changes = diff(&a, &b, when.date_naive());
            out.verdict = Some(worst(&out.changes));
        }
        (Err(e), _) | (_, Err(e)) => out.note = Some(e),
    }
    out
}
