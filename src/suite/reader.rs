//! Reading the YAML node tree: a mapping reader that remembers which keys were used, typed
//! scalar accessors, and the problem collector they all report into.

use super::Literal;
use super::yaml::{Node, Pos, Scalar, Value};
use crate::error::SuiteProblem;

#[derive(Default)]
pub(super) struct Ctx {
    pub(super) problems: Vec<SuiteProblem>,
    /// Per expectation, whether it and the contract parsed cleanly, so binding it to the
    /// contract can only add problems of its own.
    pub(super) bindable: Vec<bool>,
}

impl Ctx {
    pub(super) fn err(&mut self, pos: Pos, path: &str, message: String) {
        self.problems.push(SuiteProblem {
            pos,
            path: path.to_string(),
            message,
        });
    }
}

/// A mapping being read: remembers which keys were consumed, so the rest can be reported.
pub(super) struct MapReader<'a> {
    pub(super) node: &'a Node,
    pub(super) path: String,
    pub(super) entries: &'a [(Node, Node)],
    pub(super) used: Vec<bool>,
}

impl<'a> MapReader<'a> {
    pub(super) fn new(ctx: &mut Ctx, node: &'a Node, path: &str) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                node,
                path: path.to_string(),
                entries,
                used: vec![false; entries.len()],
            }),
            _ => {
                ctx.err(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    pub(super) fn get(&mut self, key: &str) -> Option<&'a Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.text() == Some(key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.text() == Some(key))
    }

    pub(super) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn required(&mut self, ctx: &mut Ctx, key: &str) -> Option<&'a Node> {
        let n = self.get(key);
        if n.is_none() {
            let what = if self.path.is_empty() {
                "the suite".to_string()
            } else {
                format!("`{}`", self.path)
            };
            ctx.err(
                self.node.pos,
                &self.path(key),
                format!("missing required key `{key}` in {what}"),
            );
        }
        n
    }

    pub(super) fn string(&mut self, ctx: &mut Ctx, key: &str, required: bool) -> Option<String> {
        let node = if required {
            self.required(ctx, key)?
        } else {
            self.get(key)?
        };
        as_string(ctx, node, &self.path(key))
    }

    pub(super) fn bool(&mut self, ctx: &mut Ctx, key: &str, default: bool) -> bool {
        let Some(node) = self.get(key) else {
            return default;
        };
        match node.scalar() {
            Some(Scalar::Bool(b)) => b,
            _ => {
                ctx.err(
                    node.pos,
                    &self.path(key),
                    format!("expected true or false, found {}", node.kind_name()),
                );
                default
            }
        }
    }

    pub(super) fn finish(self, ctx: &mut Ctx, allowed_for: &str) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                let key = k.text().unwrap_or_default();
                ctx.err(
                    k.pos,
                    &self.path(key),
                    format!("unknown key `{key}` {allowed_for}"),
                );
            }
        }
    }
}

pub(super) fn as_string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match (&node.value, node.scalar()) {
        (Value::Scalar { text, .. }, Some(s)) if s != Scalar::Null => Some(text.clone()),
        _ => {
            ctx.err(
                node.pos,
                path,
                format!("expected a string, found {}", node.kind_name()),
            );
            None
        }
    }
}

pub(super) fn as_literal(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Literal> {
    match node.scalar() {
        Some(Scalar::Bool(b)) => Some(Literal::Bool(b)),
        Some(Scalar::Int(i)) => Some(Literal::Int(i, node.text().unwrap_or("").to_string())),
        Some(Scalar::Float(f)) => Some(Literal::Float(f, node.text().unwrap_or("").to_string())),
        Some(Scalar::Str(s)) => Some(Literal::Str(s.to_string())),
        Some(Scalar::Null) => {
            ctx.err(
                node.pos,
                path,
                "expected a value, found null; nulls are governed by `nulls:`".into(),
            );
            None
        }
        None => {
            ctx.err(
                node.pos,
                path,
                format!("expected a single value, found {}", node.kind_name()),
            );
            None
        }
    }
}

pub(super) fn as_uint(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u64> {
    match node.scalar() {
        Some(Scalar::Int(i)) if i >= 0 && i <= u64::MAX as i128 => Some(i as u64),
        _ => {
            ctx.err(
                node.pos,
                path,
                format!("expected a non-negative integer, found {}", describe(node)),
            );
            None
        }
    }
}

/// The value among `options` (spelling, value) that `node` spells; otherwise an error naming
/// every spelling.
pub(super) fn as_choice<T: Copy>(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    options: &[(&str, T)],
) -> Option<T> {
    let found = match node.scalar() {
        Some(Scalar::Str(s)) => options.iter().find(|(w, _)| *w == s).map(|(_, v)| *v),
        _ => None,
    };
    if found.is_none() {
        let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
        ctx.err(
            node.pos,
            path,
            format!(
                "expected one of {}; found {}",
                words.join(", "),
                describe(node)
            ),
        );
    }
    found
}

pub(super) fn describe(node: &Node) -> String {
    match node.text() {
        Some(t) => format!("{} `{t}`", node.kind_name()),
        None => node.kind_name().to_string(),
    }
}

pub(super) fn as_string_list(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    let Value::Seq(items) = &node.value else {
        ctx.err(
            node.pos,
            path,
            format!("expected a list of strings, found {}", node.kind_name()),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(as_string(ctx, item, &format!("{path}[{i}]"))?);
    }
    Some(out)
}

/// Parses a duration: an integer and a unit (`s`, `m`, `h`, `d`, `w`), concatenated
/// (`90m`, `26h`, `1d12h`). Returns seconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{text}` is not a duration; write a number and a unit, e.g. `90m`, `26h`, `3d` \
             (units: s, m, h, d, w)"
        )
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

pub(super) fn is_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || extra.contains(&b)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("26h"), Ok(93_600));
        assert_eq!(parse_duration("3d"), Ok(259_200));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert!(parse_duration("3").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }
}
