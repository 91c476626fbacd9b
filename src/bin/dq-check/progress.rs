//! The progress bar on a terminal: rows with throughput and time left when the inputs state
//! their rows (Parquet), else bytes read. Never on a pipe, never with `--quiet`.

use std::io::IsTerminal;

use dq_gate::{Progress, ProgressFn};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress callback drawing on stderr, or `None` when nothing should be drawn.
pub fn bar(quiet: bool) -> Option<ProgressFn> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let mut styled = false;
    Some(Box::new(move |p: &Progress| {
        if !styled {
            styled = true;
            let (len, template) = match p.rows_total {
                Some(rows) => (
                    rows,
                    "{bar:30} {human_pos}/{human_len} rows  {per_sec}  {eta} left",
                ),
                None => (
                    p.bytes_total,
                    "{bar:30} {bytes}/{total_bytes}  {bytes_per_sec}  {eta} left",
                ),
            };
            bar.set_length(len);
            bar.set_style(ProgressStyle::with_template(template).expect("a valid template"));
        }
        bar.set_position(match p.rows_total {
            Some(_) => p.rows,
            None => p.bytes,
        });
        if bar.position() >= bar.length().unwrap_or(0) {
            bar.finish_and_clear();
        }
    }))
}
