//! Crash injection for tests: `DQ_GATE_FAILPOINT=<point>:<batch>` aborts the process (no
//! unwinding, no cleanup, like a killed job) when the gate reaches `<point>` for batch
//! `<batch>`. Points, in commit order: `files_written`, `quarantine_committed`,
//! `target_committed`, `runs_committed`; for a release (batch 1): `release_started`,
//! `release_quarantine_committed`, `release_target_committed`; for a discard (batch 1):
//! `discard_committed`. Unset, it costs one environment lookup per run.

use std::sync::OnceLock;

fn configured() -> &'static Option<(String, i64)> {
    static POINT: OnceLock<Option<(String, i64)>> = OnceLock::new();
    POINT.get_or_init(|| {
        let v = std::env::var("DQ_GATE_FAILPOINT").ok()?;
        let (point, batch) = v.split_once(':')?;
        Some((point.to_string(), batch.parse().ok()?))
    })
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
