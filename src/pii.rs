//! Values of columns tagged `pii`: how they are shown where they must not appear.
//!
//! A protected value appears only in the target table (as its policy says) and in the
//! quarantine table. Everywhere else (report samples and keys, observed metrics, bounds echoed
//! back, engine errors, the run log) it is replaced by its *shape*: letters become `A`/`a`,
//! digits `9`, other characters stay (`M123-45` is shown as `masked:A999-99`).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The environment variable holding the tokenization key.
pub const KEY_ENV: &str = "DQ_GATE_TOKEN_KEY";
/// The environment variable naming a file that holds the tokenization key.
pub const KEY_FILE_ENV: &str = "DQ_GATE_TOKEN_KEY_FILE";
/// The shortest key accepted, in bytes (the length of an HMAC-SHA256 output).
pub const MIN_KEY_BYTES: usize = 32;

/// The secret key of `share: token` columns. Never part of a suite, never printed: only its id
/// (a hash of it) appears in reports, the run log and the target table's configuration.
#[derive(Clone)]
pub struct TokenKey {
    /// SHA-256 having read the key's inner and outer pads (RFC 2104): every MAC resumes from
    /// them instead of hashing the two pads again.
    inner: Sha256,
    outer: Sha256,
    id: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({})", self.id)
    }
}

impl TokenKey {
    /// A key from its bytes (at least [`MIN_KEY_BYTES`]).
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the tokenization key has {} bytes; it needs at least {MIN_KEY_BYTES} (for \
                 example 64 hex digits from `openssl rand -hex 32`)",
                key.len()
            ));
        }
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let id = Sha256::new()
            .chain_update(b"dq-gate token key id\0")
            .chain_update(key)
            .finalize();
        let pad = |byte: u8| Sha256::new().chain_update(block.map(|k| k ^ byte));
        Ok(TokenKey {
            inner: pad(0x36),
            outer: pad(0x5c),
            id: hex(&id[..8]),
        })
    }

    /// The key from `DQ_GATE_TOKEN_KEY`, or from the file `DQ_GATE_TOKEN_KEY_FILE` names (a
    /// trailing newline is not part of it). `None` when neither is set.
    pub fn from_env() -> Result<Option<Self>, String> {
        if let Ok(k) = std::env::var(KEY_ENV) {
            return Self::new(k.as_bytes()).map(Some);
        }
        match std::env::var_os(KEY_FILE_ENV) {
            Some(path) => Self::from_file(std::path::Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// The key held in a file (a trailing newline is not part of it).
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read the tokenization key file {}: {e}",
                path.display()
            )
        })?;
        let trimmed = bytes
            .strip_suffix(b"\n")
            .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
            .unwrap_or(&bytes);
        Self::new(trimmed)
    }

    /// A short public name of the key: 16 hex digits of a hash of it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `message` under the key (RFC 2104).
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = self.inner.clone().chain_update(message).finalize();
        self.outer.clone().chain_update(inner).finalize().into()
    }

    /// The token of a value's text: 32 hex digits (128 bits) of its HMAC. The same text always
    /// gives the same token under one key, and different tokens under another.
    #[cfg(test)]
    pub fn token(&self, text: &str) -> String {
        let mut out = String::with_capacity(32);
        self.token_into(text.as_bytes(), &mut out);
        out
    }

    /// [`token`](Self::token) of a text's bytes, appended to `out`.
    pub fn token_into(&self, text: &[u8], out: &mut String) {
        push_hex(&self.mac(text)[..16], out);
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    push_hex(bytes, &mut out);
    out
}

/// Appends `bytes` in lowercase hex.
fn push_hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/// The prefix of every masked value.
pub const MASKED: &str = "masked:";

/// The shape of a text: letters as `A`/`a`, digits as `9`, other characters kept.
pub fn shape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    shape_into(text, &mut out);
    out
}

/// [`shape`] of `text`, appended to `out`.
pub fn shape_into(text: &str, out: &mut String) {
    out.extend(text.chars().map(|c| {
        if c.is_ascii_digit() {
            '9'
        } else if c.is_uppercase() {
            'A'
        } else if c.is_alphabetic() {
            'a'
        } else {
            c
        }
    }));
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
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 has a 4-byte key, under this crate's minimum; case 6 has a
        // 131-byte key (hashed first) and case 7 too.
        let k = TokenKey::new(&[0xaa; 131]).unwrap();
        let mac = k.mac(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let mac = k.mac(
            b"This is a test using a larger than block-size key and a larger than block-size \
              data. The key needs to be hashed before being used by the HMAC algorithm.",
        );
        assert_eq!(
            hex(&mac),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn tokens_are_keyed_and_deterministic() {
        let a = TokenKey::new(&[1; 32]).unwrap();
        let b = TokenKey::new(&[2; 32]).unwrap();
        assert_eq!(a.token("M123"), a.token("M123"));
        assert_ne!(a.token("M123"), a.token("M124"));
        assert_ne!(a.token("M123"), b.token("M123"));
        assert_eq!(a.token("M123").len(), 32);
        assert_ne!(a.id(), b.id());
        assert!(TokenKey::new(b"short").unwrap_err().contains("at least 32"));
    }

    /// The MAC is HMAC-SHA256 as Python's `hmac` computes it (RFC 4231 test case 6 for a
    /// key longer than a block), and a token its first 16 bytes in hex.
    #[test]
    fn macs_and_tokens_match_a_reference() {
        let long = TokenKey::new(&[0xaa; 131]).unwrap();
        assert_eq!(
            hex(&long.mac(b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let k32: Vec<u8> = (0..32).collect();
        assert_eq!(
            hex(&TokenKey::new(&k32).unwrap().mac(b"M123")),
            "7f8a18588790c7d7a69442ff7170adc0c69ed8152d03ffda29fb7eb2651ab4d3"
        );
        let k64: Vec<u8> = (0..64).collect();
        assert_eq!(
            TokenKey::new(&k64).unwrap().token("jö@example.com"),
            "66f8e5c6cace737963c251ebe79e2282"
        );
    }

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
