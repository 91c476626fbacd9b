//! The bounds of what a suite may ask for, so that a hostile or careless suite ends in a clear
//! error naming its line and key rather than in a crash, a stack overflow or an unbounded
//! allocation. Every bound is documented in `docs/suite-format.md` (Limits) and tested at and
//! just past its value.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Bytes of a suite file. Larger reference data belongs in a table, not in a suite.
pub const MAX_SUITE_BYTES: usize = 16 << 20;

/// Nesting of YAML mappings and lists (a suite needs about five).
pub const MAX_YAML_DEPTH: usize = 64;

/// Expectations in one suite, and columns in one contract.
pub const MAX_EXPECTATIONS: usize = 10_000;

/// Values of one `in_set` / `not_in_set` (ICD-10-CM and ICD-10-PCS together are about 150,000
/// codes).
pub const MAX_SET_VALUES: usize = 250_000;

/// Bytes of a regex's compiled program (the `regex` crate's size limit; its default is 10 MiB).
pub const MAX_REGEX_COMPILED_BYTES: usize = 4 << 20;

/// Characters of a regex pattern.
pub const MAX_REGEX_CHARS: usize = 10_000;

/// Bytes of one SQL expression (`sql`, `where`).
pub const MAX_SQL_BYTES: usize = 64 << 10;

/// Operators in one SQL expression (`AND`, `OR`, `NOT`, comparisons, arithmetic, `LIKE`, `IN`,
/// `IS`, ...). A chain of operators is as deep as it is long, and the engine evaluates it by
/// recursion; 256 keeps the deepest expression well inside a thread's stack even in a debug
/// build. A long list of alternatives is better written `x IN (...)`, which counts as one.
pub const MAX_SQL_OPERATORS: usize = 256;

/// Nesting of parentheses (and function calls) in one SQL expression.
pub const MAX_SQL_NESTING: usize = 32;

/// Checks a SQL expression against the bounds above before anything parses it; the tokenizer
/// does not recurse, so any text is safe to give it.
pub(crate) fn check_sql(sql: &str) -> Result<(), String> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(format!(
            "the SQL expression is {} bytes long; the limit is {MAX_SQL_BYTES}",
            sql.len()
        ));
    }
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| format!("SQL does not parse: {e}"))?;
    let (mut operators, mut depth, mut deepest) = (0usize, 0usize, 0usize);
    for t in &tokens {
        match t {
            Token::LParen => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::RParen => depth = depth.saturating_sub(1),
            t if is_operator(t) => operators += 1,
            _ => {}
        }
    }
    if deepest > MAX_SQL_NESTING {
        return Err(format!(
            "the SQL expression nests {deepest} parentheses deep; the limit is {MAX_SQL_NESTING}"
        ));
    }
    if operators > MAX_SQL_OPERATORS {
        return Err(format!(
            "the SQL expression has {operators} operators; the limit is {MAX_SQL_OPERATORS} \
             (write a long list of alternatives as `column IN (...)`)"
        ));
    }
    Ok(())
}

/// Whether a token is an operator of an expression (over-counting exotic tokens is fine).
fn is_operator(t: &Token) -> bool {
    match t {
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::AND
                | Keyword::OR
                | Keyword::XOR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::IN
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::BETWEEN
                | Keyword::REGEXP
                | Keyword::RLIKE
                | Keyword::CASE
                | Keyword::WHEN
        ),
        Token::Whitespace(_)
        | Token::Comma
        | Token::Period
        | Token::LParen
        | Token::RParen
        | Token::EOF
        | Token::Number(..)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::NationalStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> String {
        (0..=n)
            .map(|i| format!("a = {i}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    #[test]
    fn operators_and_nesting_are_counted() {
        // n ORs and n + 1 comparisons.
        assert!(check_sql(&chain(127)).is_ok());
        let e = check_sql(&chain(128)).unwrap_err();
        assert!(e.contains("257 operators"), "{e}");
        let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
        assert!(check_sql(&nested(MAX_SQL_NESTING)).is_ok());
        let e = check_sql(&nested(MAX_SQL_NESTING + 1)).unwrap_err();
        assert!(e.contains("33 parentheses"), "{e}");
        // A long IN list is one operator.
        let list: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        assert!(check_sql(&format!("a IN ({})", list.join(", "))).is_ok());
        assert!(check_sql(&"x".repeat(MAX_SQL_BYTES + 1)).is_err());
    }
}
