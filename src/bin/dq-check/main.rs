//! `dq-check`: wiring only. Parses arguments, calls the library, prints, and maps the outcome to
//! an exit code. Errors print one message with its cause chain; never a panic or backtrace.

mod args;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;

use args::{Cli, Command, Common, OutputFormat};
use dq_gate::{CompiledSuite, Error, Report, RunOptions};

// Freed memory is kept for reuse rather than handed back to the system and faulted in again:
// a fresh `validate` of 5 M rows spends a quarter of its time in page faults with the system
// allocator (README, Performance).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc hands memory that stays free for 10 ms (or whose thread ends) back to the system,
/// and the next round of chunks then faults in fresh zeroed pages: 188 MiB of them in a
/// `validate` of 5 M rows. `validate` holds about one round of chunks at a time, so it keeps
/// freed memory for reuse until it exits (0.57 → 0.54 s, the peak unchanged). `run` does not:
/// over 50 M rows kept memory would raise its peak from 648 to 774 MiB. (Figures measured on
/// mimalloc v3; `dq-check` now links v2, whose purging works the same way.)
#[cfg(feature = "mimalloc")]
fn keep_freed_memory() {
    /// `mi_option_purge_delay` (milliseconds; -1: never) in mimalloc's option enum, v2 and v3.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a plain option of the allocator; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            print_error(&e);
            ExitCode::from(2)
        }
    }
}

fn print_error(e: &(dyn std::error::Error + 'static)) {
    let mut msg = format!("error: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Validate(a) => {
            #[cfg(feature = "mimalloc")]
            keep_freed_memory();
            validate(a.common)
        }
        Command::Run(a) => gate(a),
        Command::Lint(a) => lint(&a.files),
        Command::Generate(a) => generate(&a),
    }
}

fn parse_as_of(text: Option<&str>) -> Result<DateTime<Utc>, Error> {
    let Some(t) = text else {
        return Ok(Utc::now());
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(t) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(Error::Usage(format!(
        "--as-of `{t}` is not an RFC 3339 time (2026-01-31T12:00:00Z) or a date (2026-01-31)"
    )))
}

fn options(c: &Common) -> Result<RunOptions, Error> {
    Ok(RunOptions {
        as_of: parse_as_of(c.as_of.as_deref())?,
        batch_rows: c.batch_rows.map(|n| n as usize),
        batch_memory: (c.batch_memory_mb as usize) << 20,
        ..RunOptions::default()
    })
}

fn validate(c: Common) -> Result<u8, Error> {
    let compiled = CompiledSuite::from_path(&c.suite)?;
    let opts = options(&c)?;
    let files = dq_gate::io::discover(&c.inputs)?;
    let report = dq_gate::validate(&compiled, &files, &opts)?;
    emit(&c, &report)?;
    Ok(report.status.exit_code())
}

fn gate(a: args::RunArgs) -> Result<u8, Error> {
    use std::io::IsTerminal;
    use std::sync::Arc;

    let c = &a.common;
    let compiled = CompiledSuite::from_path(&c.suite)?;
    let files = dq_gate::io::discover(&c.inputs)?;
    let mut builder = dq_gate::gate::Gate::builder(Arc::new(compiled))
        .with_batch_rows(c.batch_rows.map(|n| n as usize))
        .with_target_file_size(a.target_file_size_mb * 1024 * 1024)
        .with_batch_memory((c.batch_memory_mb as usize) << 20);
    if let Some(n) = a.max_batches_per_commit {
        builder = builder.with_max_batches_per_commit(n as usize);
    }
    if let Some(t) = c.as_of.as_deref() {
        builder = builder.with_as_of(parse_as_of(Some(t))?);
    }
    if let Some(t) = &a.target {
        builder = builder.with_target(t);
    }
    if let Some(q) = &a.quarantine {
        builder = builder.with_quarantine(q);
    }
    if let Some(r) = &a.runs {
        builder = builder.with_runs(r);
    }
    if let Some(id) = &a.run_id {
        builder = builder.with_run_id(id);
    }
    if files.len() > 1 && std::io::stderr().is_terminal() && !c.quiet {
        let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files {msg}")
                .expect("valid template"),
        );
        let mut last_input = String::new();
        builder = builder.on_batch(Box::new(move |b| {
            if b.input != last_input {
                if !last_input.is_empty() {
                    bar.inc(1);
                }
                last_input = b.input.clone();
            }
            bar.set_message(format!("{} (batch {})", b.input, b.batch));
        }));
    }
    let gate = builder.build()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Output {
            path: "<runtime>".into(),
            source: e,
        })?;
    let report = runtime.block_on(gate.run_files(&files))?;
    emit(c, &report)?;
    Ok(report.status.exit_code())
}

/// Writes the report file (atomically) and prints the chosen format.
fn emit(c: &Common, report: &Report) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(report).expect("a report always serializes");
    if let Some(path) = &c.report {
        write_atomically(path, json.as_bytes())?;
    }
    if !c.quiet {
        let text = match c.format {
            OutputFormat::Json => json + "\n",
            OutputFormat::Text => dq_gate::report::text::render(report),
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(Error::Output {
                path: "<stdout>".into(),
                source: e,
            });
        }
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |e| Error::Output {
        path: path.to_path_buf(),
        source: e,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

fn generate(a: &args::GenerateArgs) -> Result<u8, Error> {
    match a.files {
        None => dq_gate::generate::write_parquet(&a.out, a.seed, a.rows)?,
        Some(k) => {
            std::fs::create_dir_all(&a.out).map_err(|e| Error::Output {
                path: a.out.clone(),
                source: e,
            })?;
            dq_gate::generate::write_parquet_files(&a.out, a.seed, a.rows, k)?;
        }
    }
    Ok(0)
}

fn lint(files: &[std::path::PathBuf]) -> Result<u8, Error> {
    let mut failed = 0;
    for f in files {
        match CompiledSuite::from_path(f) {
            Ok(c) => {
                let s = c.suite();
                println!(
                    "ok {}: suite {} v{}, {} expectations, fingerprint {}",
                    f.display(),
                    s.name,
                    s.version,
                    s.expectations.len(),
                    s.fingerprint()
                )
            }
            Err(e) => {
                failed += 1;
                print_error(&e);
            }
        }
    }
    Ok(if failed > 0 { 2 } else { 0 })
}
