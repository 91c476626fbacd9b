//! The suite fingerprint: SHA-256 of a canonical form.
//!
//! The canonical form is the typed model (defaults filled in) serialized as JSON with object keys
//! sorted and no whitespace. Reordering keys, re-indenting, adding comments or spelling a default
//! out does not change it; changing any value does. Expectation order is kept: it is the order of
//! the report.

use sha2::{Digest, Sha256};

use super::{Expectation, Kind, Suite};

/// What a metric expectation measures, as a digest: its metric, column, `q` and `where`.
/// Points of its history carry it; a change of any of these starts a new history, while its
/// bounds, `history:` parameters, `on_fail` and the suite's version do not.
pub(super) fn measure(e: &Expectation) -> Option<String> {
    let Kind::Metric {
        metric, column, q, ..
    } = &e.kind
    else {
        return None;
    };
    let value = serde_json::json!({
        "metric": metric,
        "column": column,
        "q": q,
        "where": e.filter,
    });
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    Some(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

pub(super) fn fingerprint(suite: &Suite) -> String {
    let value = serde_json::to_value(suite).expect("a suite always serializes");
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
