//! Profiling data into a starting suite (`dq-check suggest`, docs/suites-as-code.md#suggest):
//! one streaming pass over the inputs, then rules a reviewer edits, each with the evidence
//! behind it as a comment. Values of columns that look like personal data never reach the
//! suite.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::eval::CompiledSuite;
use crate::eval::drive::{BatchOptions, FileBatches};
use crate::types::{ColumnType, is_string_like, type_name};

/// Distinct values remembered per column: a column with more is not a set.
const SET_LIMIT: usize = 20;
/// Shapes remembered per string column: more and no regex is suggested.
const SHAPE_LIMIT: usize = 1;
/// Hashes remembered for uniqueness (beyond, uniqueness is not suggested).
const UNIQUE_LIMIT: usize = 20_000_000;

/// What one pass learned about a column.
struct Column {
    name: String,
    dt: DataType,
    nulls: u64,
    /// Distinct values, while there are at most SET_LIMIT of them.
    values: Option<BTreeSet<String>>,
    /// Value shapes (letters `A`/`a`, digits `9`, others kept), while there is one.
    shapes: Option<BTreeSet<String>>,
    min_len: Option<usize>,
    max_len: Option<usize>,
    min: Option<f64>,
    max: Option<f64>,
    sum: f64,
    /// Text of the smallest and largest values (dates, timestamps) in display order.
    first: Option<String>,
    last: Option<String>,
    /// Hashes of values, while uniqueness is still possible.
    seen: Option<HashSet<u64>>,
    pii_hits: u64,
    seen_rows: u64,
    /// Read as text (CSV, NDJSON): every value so far parses as an integer, a number, a date.
    text: bool,
    all_int: bool,
    all_float: bool,
    all_date: bool,
}

fn shape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'A'..='Z' => 'A',
            'a'..='z' => 'a',
            '0'..='9' => '9',
            c => c,
        })
        .collect()
}

/// A regex for one shape, runs collapsed: `A999-99` gives `[A-Z][0-9]{3}-[0-9]{2}`.
fn shape_regex(shape: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = shape.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let class = match c {
            'A' => "[A-Z]".to_string(),
            'a' => "[a-z]".to_string(),
            '9' => "[0-9]".to_string(),
            c => regex::escape(&c.to_string()),
        };
        out.push_str(&class);
        if n > 1 {
            let _ = write!(out, "{{{n}}}");
        }
        i += n;
    }
    out
}

/// Personal data by its look: an email, a phone number, a national id; or by its name.
fn looks_personal(v: &str) -> bool {
    let email = v.contains('@') && v.rsplit('@').next().is_some_and(|d| d.contains('.'));
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let phone = (10..=15).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && v.chars().any(|c| " +-()".contains(c));
    let ssn = v.len() == 11 && shape(v) == "999-99-9999";
    email || phone || ssn
}

fn personal_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "email",
        "e_mail",
        "phone",
        "mobile",
        "ssn",
        "social_security",
        "birth",
        "dob",
        "first_name",
        "last_name",
        "full_name",
        "address",
        "iban",
        "passport",
    ]
    .iter()
    .any(|h| n.contains(h))
}

impl Column {
    fn new(name: &str, dt: &DataType) -> Self {
        Column {
            name: name.to_string(),
            dt: dt.clone(),
            nulls: 0,
            values: Some(BTreeSet::new()),
            shapes: Some(BTreeSet::new()),
            min_len: None,
            max_len: None,
            min: None,
            max: None,
            sum: 0.0,
            first: None,
            last: None,
            seen: Some(HashSet::new()),
            pii_hits: 0,
            seen_rows: 0,
            text: false,
            all_int: true,
            all_float: true,
            all_date: true,
        }
    }

    /// The type the values support: for text, the narrowest every value parses as.
    fn suggested_type(&self) -> DataType {
        if !self.text {
            return self.value_type().clone();
        }
        let any = self.nulls < self.seen_rows;
        match (any, self.all_int, self.all_float, self.all_date) {
            (true, true, _, _) => DataType::Int64,
            (true, _, true, _) => DataType::Float64,
            (true, _, _, true) => DataType::Date32,
            _ => DataType::Utf8,
        }
    }

    fn value_type(&self) -> &DataType {
        match &self.dt {
            DataType::Dictionary(_, v) => v,
            d => d,
        }
    }

    fn update(&mut self, a: &dyn Array) -> Result<()> {
        self.nulls += a.null_count() as u64;
        self.seen_rows += a.len() as u64;
        let opts = FormatOptions::default();
        let f = ArrayFormatter::try_new(a, &opts)?;
        let floats = if self.value_type().is_numeric() {
            Some(arrow::compute::cast(a, &DataType::Float64)?)
        } else {
            None
        };
        let string = is_string_like(self.value_type());
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            let text = f.value(i).to_string();
            if let Some(set) = &mut self.seen {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                if !set.insert(h.finish()) || set.len() > UNIQUE_LIMIT {
                    self.seen = None;
                }
            }
            if let Some(v) = &mut self.values
                && !v.contains(&text)
            {
                if v.len() >= SET_LIMIT {
                    self.values = None;
                } else {
                    v.insert(text.clone());
                }
            }
            if self.text {
                self.all_int &= text.parse::<i64>().is_ok();
                let x = text.parse::<f64>().ok().filter(|x| x.is_finite());
                self.all_float &= x.is_some();
                self.all_date &= chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok();
                if let Some(x) = x {
                    self.min = Some(self.min.map_or(x, |m| m.min(x)));
                    self.max = Some(self.max.map_or(x, |m| m.max(x)));
                    self.sum += x;
                }
                if self.first.as_ref().is_none_or(|m| &text < m) {
                    self.first = Some(text.clone());
                }
                if self.last.as_ref().is_none_or(|m| &text > m) {
                    self.last = Some(text.clone());
                }
            }
            if string {
                let n = text.chars().count();
                self.min_len = Some(self.min_len.map_or(n, |m| m.min(n)));
                self.max_len = Some(self.max_len.map_or(n, |m| m.max(n)));
                if looks_personal(&text) {
                    self.pii_hits += 1;
                }
                if let Some(s) = &mut self.shapes {
                    s.insert(shape(&text));
                    if s.len() > SHAPE_LIMIT {
                        self.shapes = None;
                    }
                }
            } else if let Some(fl) = &floats {
                let x = fl.as_primitive::<Float64Type>().value(i);
                self.min = Some(self.min.map_or(x, |m| m.min(x)));
                self.max = Some(self.max.map_or(x, |m| m.max(x)));
                self.sum += x;
            } else {
                if self.first.as_ref().is_none_or(|m| &text < m) {
                    self.first = Some(text.clone());
                }
                if self.last.as_ref().is_none_or(|m| &text > m) {
                    self.last = Some(text);
                }
            }
        }
        Ok(())
    }
}

/// A number rounded outward to two significant places past its magnitude, for bounds.
fn round_out(x: f64, up: bool) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let step = 10f64.powi(x.abs().log10().floor() as i32 - 1);
    if up {
        (x / step).ceil() * step
    } else {
        (x / step).floor() * step
    }
}

fn num(x: f64) -> String {
    crate::values::show::num(x)
}

fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Reads `paths` once and writes a starting suite named `name`, as YAML.
pub fn suggest(paths: &[std::path::PathBuf], name: &str) -> Result<String> {
    let files = crate::io::discover(paths)?;
    // Text is read as text, and typed by what every value parses as: the readers' own
    // inference would stop at the first value that contradicts the first thousand.
    let text = files.iter().all(|f| f.format.is_text());
    let header = match files.first() {
        Some(f) if text => crate::io::text_columns(f)?,
        _ => Vec::new(),
    };
    let contract = if header.is_empty() {
        String::new()
    } else {
        let cols: Vec<String> = header
            .iter()
            .map(|c| format!("    - {{name: {}, type: string}}\n", yaml_str(c)))
            .collect();
        format!("schema:\n  mode: strict\n  columns:\n{}", cols.concat())
    };
    let empty = CompiledSuite::from_yaml(
        &format!("dq_suite: 1\nname: {name}\nversion: 1\n{contract}expectations: []\n"),
        "suggest",
    )?;
    let opts = BatchOptions {
        as_of: Utc::now(),
        ..BatchOptions::default()
    };
    let mut batches = FileBatches::new(&files, &empty, opts);
    let mut cols: Vec<Column> = Vec::new();
    let (mut rows, mut batch_rows) = (0u64, Vec::new());
    while let Some(mut b) = batches.next(&empty)? {
        batch_rows.push(b.report.rows);
        for chunk in b.routed()? {
            let chunk: RecordBatch = chunk?.batch;
            if cols.is_empty() {
                cols = chunk
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        let mut c = Column::new(f.name(), f.data_type());
                        c.text = !header.is_empty();
                        c
                    })
                    .collect();
            }
            rows += chunk.num_rows() as u64;
            for (c, a) in cols.iter_mut().zip(chunk.columns()) {
                c.update(a.as_ref())?;
            }
        }
    }
    Ok(render(name, &cols, rows, &batch_rows, files.len()))
}

fn render(name: &str, cols: &[Column], rows: u64, batch_rows: &[u64], files: usize) -> String {
    let mut y = String::new();
    let generated: DateTime<Utc> = Utc::now();
    let _ = writeln!(
        y,
        "# Suggested by dq-check suggest from {files} input file(s), {rows} rows, on {}.\n\
         # A starting point: review every rule, then raise `version` with each change.",
        generated.format("%Y-%m-%d")
    );
    let _ = writeln!(
        y,
        "dq_suite: 1\nname: {name}\nversion: 1\nschema:\n  mode: strict\n  columns:"
    );
    let mut pii = Vec::new();
    for c in cols {
        let st = c.suggested_type();
        let ty = if is_string_like(&st) {
            "string".to_string()
        } else {
            let t = type_name(&st);
            if ColumnType::parse(&t).is_ok() {
                t
            } else {
                "string".to_string()
            }
        };
        let non_null = rows - c.nulls;
        let personal =
            personal_name(&c.name) || (non_null > 0 && c.pii_hits as f64 >= 0.9 * non_null as f64);
        if personal {
            pii.push(c.name.clone());
        }
        let _ = writeln!(
            y,
            "    # {} nulls of {rows}{}\n    - {{name: {}, type: {}{}{}}}",
            c.nulls,
            if personal {
                "; looks like personal data: tagged pii, its values left out"
            } else {
                ""
            },
            yaml_str(&c.name),
            yaml_str(&ty),
            if c.nulls == 0 && rows > 0 {
                ", nullable: false"
            } else {
                ""
            },
            if personal { ", tags: [pii]" } else { "" },
        );
    }
    let _ = writeln!(y, "expectations:");
    let id = |c: &Column, what: &str| {
        let base: String = c
            .name
            .to_ascii_lowercase()
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
            .collect();
        format!("{base}_{what}")
    };
    for c in cols {
        let non_null = rows - c.nulls;
        if non_null == 0 {
            continue;
        }
        let personal = pii.contains(&c.name);
        let col = yaml_str(&c.name);
        let distinct = c.values.as_ref().map(BTreeSet::len);
        // Key-like: named like a key, every value distinct, no null, enough rows to mean it.
        let key_name = {
            let n = c.name.to_ascii_lowercase();
            n == "id"
                || ["_id", "id", "key", "_no", "number", "uuid"]
                    .iter()
                    .any(|h| n.ends_with(h))
        };
        let st = c.suggested_type();
        let float = matches!(st, DataType::Float32 | DataType::Float64);
        if key_name && !float && c.seen.is_some() && c.nulls == 0 && rows >= 20 {
            let _ = writeln!(
                y,
                "  # {rows} rows, {rows} distinct values\n  - {{id: {}, expect: unique, column: {col}}}",
                id(c, "unique")
            );
        }
        if is_string_like(&st) {
            if let (Some(lo), Some(hi)) = (c.min_len, c.max_len) {
                let _ = writeln!(
                    y,
                    "  # lengths {lo} to {hi}\n  - {{id: {}, expect: length_between, column: {col}, min: {lo}, max: {hi}}}",
                    id(c, "length")
                );
            }
            if personal {
                continue;
            }
            match (distinct, &c.shapes) {
                // Few values, repeated: a set.
                (Some(d), _) if (d as u64) * 10 <= non_null => {
                    let vals: Vec<String> = c
                        .values
                        .as_ref()
                        .expect("some")
                        .iter()
                        .map(|v| yaml_str(v))
                        .collect();
                    let _ = writeln!(
                        y,
                        "  # {d} distinct values in {non_null} non-null rows\n  - {{id: {}, expect: in_set, column: {col}, values: [{}]}}",
                        id(c, "valid"),
                        vals.join(", ")
                    );
                }
                (_, Some(shapes)) if shapes.len() == 1 => {
                    let s = shapes.iter().next().expect("one");
                    if s.chars().count() <= 40 {
                        let _ = writeln!(
                            y,
                            "  # every value has the shape {}\n  - {{id: {}, expect: matches_regex, column: {col}, regex: {}}}",
                            yaml_str(s),
                            id(c, "format"),
                            yaml_str(&shape_regex(s))
                        );
                    }
                }
                _ => {}
            }
        } else if let (Some(lo), Some(hi)) = (c.min, c.max) {
            let span = (hi - lo).abs();
            let mut min = round_out(lo - 0.1 * span, false);
            if lo >= 0.0 && min < 0.0 {
                min = 0.0;
            }
            let max = round_out(hi + 0.1 * span, true);
            let _ = writeln!(
                y,
                "  # observed {} to {}; bounds 10% of the span wider\n  - {{id: {}, expect: between, column: {col}, min: {}, max: {}}}",
                num(lo),
                num(hi),
                id(c, "range"),
                num(min),
                num(max)
            );
            let mean = c.sum / non_null as f64;
            // The mean of identifiers means nothing.
            if mean > 0.0 && batch_rows.len() == 1 && !key_name {
                let _ = writeln!(
                    y,
                    "  # mean {}; the band allows half to one and a half times it\n  - {{id: {}, expect: metric, metric: mean, column: {col}, min: {}, max: {}, on_fail: warn}}",
                    num(mean),
                    id(c, "mean"),
                    num(round_out(mean * 0.5, false)),
                    num(round_out(mean * 1.5, true))
                );
            }
        } else if let (Some(first), Some(_)) = (&c.first, &c.last)
            && matches!(st, DataType::Date32 | DataType::Timestamp(_, _))
        {
            let _ = writeln!(
                y,
                "  # earliest {first}\n  - {{id: {}, expect: between, column: {col}, min: {}}}",
                id(c, "since"),
                yaml_str(&first.chars().take(10).collect::<String>()),
            );
        }
    }
    let per_batch = rows as f64 / batch_rows.len().max(1) as f64;
    if rows == 0 {
        return y.replace("expectations:\n", "expectations: []\n");
    }
    let _ = writeln!(
        y,
        "  # {} batch(es), {} rows each on average; a batch with half as many, or twice, is suspect\n  - {{id: rows_per_batch, expect: metric, metric: row_count, min: {}, max: {}}}",
        batch_rows.len(),
        num(per_batch.round()),
        num((per_batch * 0.5).floor()),
        num((per_batch * 2.0).ceil())
    );
    y
}
