//! Values of columns tagged `pii`: how they are shown where they must not appear.
//!
//! A protected value appears only in the target table (as its policy says) and in the
//! quarantine table. Everywhere else (report samples and keys, observed metrics, bounds echoed
//! back, engine errors, the run log) it is replaced by its *shape*: letters become `A`/`a`,
//! digits `9`, other characters stay (`M123-45` is shown as `masked:A999-99`).

use serde_json::Value;

/// The prefix of every masked value.
pub const MASKED: &str = "masked:";

/// The shape of a text: letters as `A`/`a`, digits as `9`, other characters kept.
pub fn shape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_uppercase() {
                'A'
            } else if c.is_alphabetic() {
                'a'
            } else {
                c
            }
        })
        .collect()
}

/// A JSON value masked: `masked:<shape>` of its text. Nulls stay null.
pub fn mask_json(v: &Value) -> Value {
    let text = match v {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Value::String(format!("{MASKED}{}", shape(&text)))
}

/// A message from an engine (Arrow, DataFusion) with every single-quoted part masked: engines
/// quote the values they could not handle (`Cannot cast string 'M123' to ...`).
pub fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('\'');
        if i % 2 == 0 {
            out.push_str(MASKED);
            out.push_str(&shape(part));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_masks_and_scrubs() {
        assert_eq!(shape("M123-45 jö"), "A999-99 aa");
        assert_eq!(mask_json(&Value::from(1234)), Value::from("masked:9999"));
        assert_eq!(mask_json(&Value::Null), Value::Null);
        assert_eq!(
            scrub_quoted("Cannot cast string 'M123' to value of Int64 type"),
            "Cannot cast string 'masked:A999' to value of Int64 type"
        );
        assert_eq!(
            scrub_quoted("a 'x1' b 'y2' c"),
            "a 'masked:a9' b 'masked:a9' c"
        );
        assert_eq!(scrub_quoted("no quotes"), "no quotes");
    }
}
