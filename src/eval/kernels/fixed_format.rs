//! Fixed-width numeric formats (`%Y-%m-%d`, `%Y-%m-%dT%H:%M:%S`, `%H:%M`) checked byte by
//! byte: the digits in place, the literals between them, the fields in range. A value this
//! check accepts is one chrono's strict parse-and-format round trip accepts too, so
//! `matches_format` runs the round trip only on the values it does not accept (the failures,
//! and values such as a leap second that only the round trip can judge).

use chrono::format::{Item, Numeric, Pad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// A format of zero-padded numeric fields and literal bytes, every field at a fixed offset.
#[derive(Debug)]
pub(crate) struct FixedFormat {
    len: usize,
    literals: Vec<(usize, u8)>,
    fields: Vec<(Field, usize, usize)>,
}

impl FixedFormat {
    /// The template of `items`, when they are only zero-padded year, month, day, hour, minute
    /// and second fields and non-space literals, with a whole date and/or a whole time (hour
    /// and minute at least), each field once.
    pub(crate) fn new(items: &[Item<'_>]) -> Option<FixedFormat> {
        let mut f = FixedFormat {
            len: 0,
            literals: Vec::new(),
            fields: Vec::new(),
        };
        for item in items {
            let literal = match item {
                Item::Literal(s) => Some(s.as_bytes()),
                Item::OwnedLiteral(s) => Some(s.as_bytes()),
                _ => None,
            };
            if let Some(bytes) = literal {
                if bytes
                    .iter()
                    .any(|b| !b.is_ascii() || b.is_ascii_whitespace())
                {
                    return None;
                }
                for b in bytes {
                    f.literals.push((f.len, *b));
                    f.len += 1;
                }
                continue;
            }
            let (field, width) = match item {
                Item::Numeric(Numeric::Year, Pad::Zero) => (Field::Year, 4),
                Item::Numeric(Numeric::Month, Pad::Zero) => (Field::Month, 2),
                Item::Numeric(Numeric::Day, Pad::Zero) => (Field::Day, 2),
                Item::Numeric(Numeric::Hour, Pad::Zero) => (Field::Hour, 2),
                Item::Numeric(Numeric::Minute, Pad::Zero) => (Field::Minute, 2),
                Item::Numeric(Numeric::Second, Pad::Zero) => (Field::Second, 2),
                _ => return None,
            };
            if f.fields.iter().any(|(g, _, _)| *g == field) {
                return None;
            }
            f.fields.push((field, f.len, width));
            f.len += width;
        }
        let has = |g: Field| f.fields.iter().any(|(x, _, _)| *x == g);
        let date = [Field::Year, Field::Month, Field::Day].map(has);
        let time = [Field::Hour, Field::Minute, Field::Second].map(has);
        let whole_date = date == [true; 3];
        let whole_time = time == [true; 3] || time == [true, true, false];
        let date_ok = whole_date || date == [false; 3];
        let time_ok = whole_time || time == [false; 3];
        (date_ok && time_ok && (whole_date || whole_time)).then_some(f)
    }

    /// True when `v` is a valid value of the format (false: the round trip must judge it).
    pub(crate) fn accepts(&self, v: &[u8]) -> bool {
        if v.len() != self.len || self.literals.iter().any(|(at, b)| v[*at] != *b) {
            return false;
        }
        // Fields the format lacks stay in range: month and day 1, the rest 0.
        let mut n = [0, 1, 1, 0, 0, 0];
        for &(field, at, width) in &self.fields {
            let mut value = 0u32;
            for b in &v[at..at + width] {
                if !b.is_ascii_digit() {
                    return false;
                }
                value = value * 10 + u32::from(b - b'0');
            }
            n[field as usize] = value;
        }
        let [y, mo, d, h, mi, s] = n;
        h < 24 && mi < 60 && s < 60 && (1..=days_in_month(y as i32, mo)).contains(&d)
    }
}

/// Days of month `m` (1..=12) of year `y` in the proleptic Gregorian calendar; 0 for a
/// month out of range.
fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::kernels::strings::FormatCheck;
    use chrono::format::StrftimeItems;

    fn template(f: &str) -> Option<FixedFormat> {
        let items: Vec<Item<'_>> = StrftimeItems::new(f).collect();
        FixedFormat::new(&items)
    }

    /// Every value the template accepts, the strict round trip accepts; over edge values of
    /// every field and broken shapes.
    #[test]
    fn accepted_values_pass_the_round_trip() {
        let formats = [
            "%Y-%m-%d",
            "%Y-%m-%dT%H:%M:%S",
            "%H:%M",
            "%Y%m%d",
            "%d.%m.%Y/%H:%M",
        ];
        let days = [
            "0000-01-01",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "9999-12-31",
            "2024-1-05",
            "20x4-01-01",
        ];
        let times = [
            "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "7:05:00",
        ];
        let mut values = Vec::new();
        for d in days {
            values.push(d.to_string());
            values.push(d.replace('-', ""));
            for t in times {
                values.push(format!("{d}T{t}"));
                values.push(t[..5].to_string());
            }
        }
        values.push("31.12.2024/23:59".into());
        values.push("31.11.2024/23:59".into());
        values.push("29.02.2023/10:00".into());
        values.push(" 2024-01-01".into());
        let mut buf = String::new();
        let mut accepted = 0;
        for f in formats {
            let fixed = template(f).unwrap_or_else(|| panic!("{f} has a template"));
            let check = FormatCheck::new(f).unwrap();
            for v in &values {
                if fixed.accepts(v.as_bytes()) {
                    accepted += 1;
                    assert!(check.matches(v.as_bytes(), &mut buf), "{f}: {v}");
                }
            }
        }
        assert!(accepted > 20, "{accepted}");
    }

    /// The kernel over more distinct values than its memo holds, valid and not, repeated and
    /// not, agrees with the round trip value by value.
    #[test]
    fn the_kernel_agrees_with_the_round_trip_past_its_memo() {
        let f = "%Y-%m-%dT%H:%M:%S";
        let check = FormatCheck::new(f).unwrap();
        assert!(template(f).is_some());
        let values: Vec<String> = (0..12_000u32)
            .map(|i| match i % 7 {
                0 => format!("2024-02-{:02}T10:00:00", 20 + i % 12),
                1 => "2024-13-01T00:00:00".to_string(),
                2 => format!("2024-01-01T12:{:02}:60", i % 60),
                _ => format!(
                    "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    i % 100,
                    1 + i % 12,
                    1 + i % 28,
                    i % 24,
                    i % 60,
                    (i / 60) % 60
                ),
            })
            .collect();
        let array = arrow::array::StringArray::from(values.clone());
        let got: Vec<Option<bool>> = check.evaluate(&array).unwrap().iter().collect();
        let mut buf = String::new();
        for (v, g) in values.iter().zip(got) {
            assert_eq!(g, Some(check.matches(v.as_bytes(), &mut buf)), "{v}");
        }
    }

    #[test]
    fn month_lengths_agree_with_chrono() {
        for y in [0, 1900, 1999, 2000, 2023, 2024, 2100, 9999] {
            for m in 0..=13 {
                let chrono_days = (1..=31)
                    .filter(|d| chrono::NaiveDate::from_ymd_opt(y, m, *d).is_some())
                    .count() as u32;
                assert_eq!(days_in_month(y, m), chrono_days, "{y}-{m}");
            }
        }
    }

    #[test]
    fn formats_without_fixed_places_have_no_template() {
        for f in [
            "%Y-%m",
            "%b %d %Y",
            "%Y-%m-%d %z",
            "%e.%m.%Y",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%M:%S",
            "%j",
        ] {
            assert!(template(f).is_none(), "{f}");
        }
    }
}
