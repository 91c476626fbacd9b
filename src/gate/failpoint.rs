//! Crash injection for tests: `DQ_GATE_FAILPOINT=<point>:<batch>` aborts the process (no
//! unwinding, no cleanup, like a killed job) when the gate reaches `<point>` for batch
//! `<batch>`. Points, in commit order: `files_written`, `quarantine_committed`,
//! `target_committed`, `runs_committed`; for a release (batch 1): `release_started`,
//! `release_quarantine_committed`, `release_target_committed`; for a discard (batch 1):
//! `discard_committed`. Unset, it costs one environment lookup per run.
//!
//! `DQ_GATE_PAUSE=<point>:<milliseconds>` makes the gate wait there instead, so that tests can
//! line up races between processes. Points: `table_missing` (a table was found missing, before
//! it is created).

use std::sync::OnceLock;

/// `<point>:<number>` read from the environment variable `var`.
fn from_env<T: std::str::FromStr>(var: &str) -> Option<(String, T)> {
    let v = std::env::var(var).ok()?;
    let (point, n) = v.split_once(':')?;
    Some((point.to_string(), n.parse().ok()?))
}

fn configured() -> &'static Option<(String, i64)> {
    static POINT: OnceLock<Option<(String, i64)>> = OnceLock::new();
    POINT.get_or_init(|| from_env("DQ_GATE_FAILPOINT"))
}

/// Aborts when the configured failpoint is `point` for a batch in `batches`.
pub(crate) fn hit(point: &str, batches: &[i64]) {
    if let Some((p, b)) = configured()
        && p == point
        && batches.contains(b)
    {
        eprintln!("dq-gate: failpoint {point}:{b} reached, aborting");
        std::process::abort();
    }
}

/// Waits when `DQ_GATE_PAUSE` names `point`.
pub(crate) fn pause(point: &str) {
    static PAUSE: OnceLock<Option<(String, u64)>> = OnceLock::new();
    let configured = PAUSE.get_or_init(|| from_env("DQ_GATE_PAUSE"));
    if let Some((p, ms)) = configured
        && p == point
    {
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}
