//! The suite's regex dialect: the `regex` crate's syntax, run in linear time, anchored at both
//! ends in `full` mode, and bounded in size ([`super::limits`]). Checked when a suite loads and
//! compiled again by the kernel that runs it.

use regex::bytes::{Regex, RegexBuilder};

use super::RegexMode;
use super::limits::{MAX_REGEX_CHARS, MAX_REGEX_COMPILED_BYTES};

/// Compiles a suite regex. `full` anchors it at both ends of the value (`\A(?:re)\z`, so a
/// trailing newline does not match); `search` leaves it unanchored. Look-around and
/// backreferences, which the linear-time engine cannot run, are rejected with a message that
/// says so.
pub fn compile_regex(pattern: &str, mode: RegexMode) -> Result<Regex, String> {
    use regex_syntax::ast::ErrorKind;
    let chars = pattern.chars().count();
    if chars > MAX_REGEX_CHARS {
        return Err(format!(
            "regex `{}` is {chars} characters long; the limit is {MAX_REGEX_CHARS}",
            abbreviated(pattern)
        ));
    }
    if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(pattern) {
        return Err(match e.kind() {
            ErrorKind::UnsupportedLookAround => format!(
                "regex `{pattern}` uses look-around ((?=, (?!, (?<=, (?<!), which dq-gate's \
                 linear-time regex engine does not support; rewrite it without look-around, \
                 or split it into two expectations"
            ),
            ErrorKind::UnsupportedBackreference => format!(
                "regex `{pattern}` uses a backreference (\\1), which dq-gate's linear-time regex \
                 engine does not support"
            ),
            _ => format!("regex `{pattern}` does not compile: {e}"),
        });
    }
    let full = match mode {
        RegexMode::Full => format!(r"\A(?:{pattern})\z"),
        RegexMode::Search => pattern.to_string(),
    };
    RegexBuilder::new(&full)
        .size_limit(MAX_REGEX_COMPILED_BYTES)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => format!(
                "regex `{}` compiles to more than {} bytes, the limit; use narrower classes \
                 (`[0-9]` instead of `\\d`, which is every Unicode digit) or fewer repetitions",
                abbreviated(pattern),
                MAX_REGEX_COMPILED_BYTES
            ),
            e => format!("regex `{pattern}` does not compile: {e}"),
        })
}

/// A long pattern cut for a message.
fn abbreviated(pattern: &str) -> String {
    match pattern.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &pattern[..i]),
        None => pattern.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_bounded_in_length_and_compiled_size() {
        let at = "a".repeat(MAX_REGEX_CHARS);
        assert!(compile_regex(&at, RegexMode::Full).is_ok());
        let past = "a".repeat(MAX_REGEX_CHARS + 1);
        let e = compile_regex(&past, RegexMode::Full).unwrap_err();
        assert!(e.contains("10001 characters long"), "{e}");
        // The largest repetition that compiles within the limit, and one more.
        let rep = |n: usize| compile_regex(&format!("[a-z]{{{n}}}"), RegexMode::Full);
        let (mut lo, mut hi) = (1usize, 1 << 20);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if rep(mid).is_ok() { lo = mid } else { hi = mid }
        }
        assert!(rep(lo).is_ok());
        let e = rep(lo + 1).unwrap_err();
        assert!(e.contains("compiles to more than 4194304 bytes"), "{e}");
        assert!(
            compile_regex(r"\w{1000}", RegexMode::Full)
                .unwrap_err()
                .contains("narrower")
        );
    }
}
