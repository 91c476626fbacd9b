//! A YAML document as a tree of nodes that remember where they start.
//!
//! serde stops at the first problem and forgets positions; a suite author wants every problem at
//! once, each with its line and column. So the YAML events are collected into this small tree and
//! [`super::parse`] walks it by hand. Plain scalars keep their text and are typed on demand by the
//! YAML 1.2 core schema (`true`, `~`, `12`, `1.5`); quoted scalars are always strings.

use yaml_rust2::parser::{Event, Parser};

use super::limits::MAX_YAML_DEPTH;
pub use crate::error::Pos;
use yaml_rust2::scanner::{Marker, TScalarStyle};

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        // yaml-rust2 0.10 reports 1-based lines and 0-based columns.
        Pos {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

/// One YAML node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping in document order; keys are scalars (other keys are rejected while loading).
    Map(Vec<(Node, Node)>),
}

/// A scalar typed by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `~`, `null`, or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i128`.
    Int(i128),
    /// A float, with the text it came from.
    Float(f64),
    /// Anything else.
    Str(&'a str),
}

impl Node {
    /// Types a scalar; `None` for sequences and mappings.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        let Value::Scalar { text, plain } = &self.value else {
            return None;
        };
        if !plain {
            return Some(Scalar::Str(text));
        }
        Some(match text.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
            "true" | "True" | "TRUE" => Scalar::Bool(true),
            "false" | "False" | "FALSE" => Scalar::Bool(false),
            t => {
                if let Some(i) = parse_int(t) {
                    Scalar::Int(i)
                } else if let Some(f) = parse_float(t) {
                    Scalar::Float(f)
                } else {
                    Scalar::Str(t)
                }
            }
        })
    }

    /// A short description of what the node is, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "nothing (null)",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_)) => "an integer",
                Some(Scalar::Float(_)) => "a number",
                _ => "a string",
            },
        }
    }

    /// The raw text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

fn parse_int(t: &str) -> Option<i128> {
    let bytes = t.as_bytes();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    if bytes[0] == b'_' {
        return None;
    }
    t.replace('_', "").parse().ok()
}

fn parse_float(t: &str) -> Option<f64> {
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let ok = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok || !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// A problem found while reading the YAML itself (before any suite semantics).
#[derive(Debug, Clone)]
pub struct LoadError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

/// Loads the first document of `text` into a node tree.
pub fn load(text: &str) -> Result<Node, LoadError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Events are pulled one at a time (the parser's own `load` recurses once per nesting
    // level, which a deeply nested file would turn into a stack overflow).
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| LoadError {
            pos: (*e.marker()).into(),
            message: match e.info() {
                // The scanner counts `[` and `{` levels in a byte.
                "recursion limit exceeded" => format!(
                    "lists and mappings nest more than {MAX_YAML_DEPTH} deep here; a suite \
                     needs about five levels"
                ),
                info => info.to_string(),
            },
        })?;
        match ev {
            // Only the first document is read.
            Event::DocumentEnd | Event::StreamEnd => break,
            ev => builder.on_event(ev, mark),
        }
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    builder.root.ok_or(LoadError {
        pos: Pos { line: 1, col: 1 },
        message: "the file is empty; a suite needs at least `dq_suite`, `name`, `version` and \
                  `expectations`"
            .into(),
    })
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Node, Option<Node>)>,
    root: Option<Node>,
    error: Option<LoadError>,
    /// Lists and mappings opened past [`MAX_YAML_DEPTH`] and not yet closed: their content is
    /// not kept.
    too_deep: usize,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        let Some((parent, pending_key)) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return;
        };
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match pending_key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar { .. }) && self.error.is_none() {
                        self.error = Some(LoadError {
                            pos: node.pos,
                            message: "mapping keys must be plain words".into(),
                        });
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let name = key.text().unwrap_or_default();
                    if entries.iter().any(|(k, _)| k.text() == Some(name)) && self.error.is_none() {
                        self.error = Some(LoadError {
                            pos: key.pos,
                            message: format!("duplicate key `{name}`"),
                        });
                    }
                    entries.push((key, node));
                }
            },
            Value::Scalar { .. } => unreachable!("scalars are never pushed on the stack"),
        }
    }
}

impl Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        let opens = matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..));
        if self.too_deep > 0 || (opens && self.stack.len() >= MAX_YAML_DEPTH) {
            match ev {
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    if self.too_deep == 0 && self.error.is_none() {
                        self.error = Some(LoadError {
                            pos,
                            message: format!(
                                "lists and mappings nest more than {MAX_YAML_DEPTH} deep here; \
                                 a suite needs about five levels"
                            ),
                        });
                    }
                    self.too_deep += 1;
                }
                Event::SequenceEnd | Event::MappingEnd => self.too_deep -= 1,
                _ => {}
            }
            return;
        }
        match ev {
            Event::Scalar(text, style, _, _) => self.push_value(Node {
                pos,
                value: Value::Scalar {
                    text,
                    plain: style == TScalarStyle::Plain,
                },
            }),
            Event::SequenceStart(..) => self.stack.push((
                Node {
                    pos,
                    value: Value::Seq(Vec::new()),
                },
                None,
            )),
            Event::MappingStart(..) => self.stack.push((
                Node {
                    pos,
                    value: Value::Map(Vec::new()),
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _)) = self.stack.pop() {
                    self.push_value(node);
                }
            }
            Event::Alias(_) => {
                if self.error.is_none() {
                    self.error = Some(LoadError {
                        pos,
                        message: "YAML aliases (`*name`) are not supported in suites; \
                                  write the value out"
                            .into(),
                    });
                }
                // Keep the tree shape consistent.
                self.push_value(Node {
                    pos,
                    value: Value::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                });
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = load("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        let Value::Map(entries) = &n.value else {
            panic!()
        };
        assert_eq!(entries[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(entries[0].1.pos, Pos { line: 1, col: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(items[1].scalar(), Some(Scalar::Str("y")));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let n = load("[1, -2, 1.5, true, ~, '12', abc, 1e3, 1_000]").unwrap();
        let Value::Seq(items) = &n.value else {
            panic!()
        };
        let s: Vec<_> = items.iter().map(|i| i.scalar().unwrap()).collect();
        assert_eq!(s[0], Scalar::Int(1));
        assert_eq!(s[1], Scalar::Int(-2));
        assert_eq!(s[2], Scalar::Float(1.5));
        assert_eq!(s[3], Scalar::Bool(true));
        assert_eq!(s[4], Scalar::Null);
        assert_eq!(s[5], Scalar::Str("12"));
        assert_eq!(s[6], Scalar::Str("abc"));
        assert_eq!(s[7], Scalar::Float(1000.0));
        assert_eq!(s[8], Scalar::Int(1000));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let e = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.pos.line, 3);
        assert!(e.message.contains("duplicate key `a`"));
        let e = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
    }
}
