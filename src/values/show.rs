//! Numbers and bands as messages and reports write them.

/// A number as the reports show it: integers without a fraction, others with at most 6
/// decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// `[lo, hi]`, with an open end where there is no bound.
pub fn band(lo: Option<f64>, hi: Option<f64>) -> String {
    format!(
        "{}, {}",
        lo.map_or("(-inf".into(), |l| format!("[{}", num(l))),
        hi.map_or("+inf)".into(), |h| format!("{}]", num(h)))
    )
}
