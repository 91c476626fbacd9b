//! `dq-check`: wiring only. Parses arguments ([`args`]), builds the library's validator or gate
//! from them, prints, and maps the outcome to an exit code. Errors print one message with its
//! cause chain; never a panic or backtrace.

mod args;
mod audit;
mod diff;
mod export;
mod history;
mod progress;
mod quarantine;
mod stage;
mod status;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Common, ReportFormat};
use dq_gate::{CompiledSuite, Error, Report};

// Freed memory is kept for reuse rather than handed back to the system and faulted in again
// (docs/performance.md, "The allocator").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    dq_gate::internal::process::no_huge_pages();
    // A panic is a bug; it still ends as an error with exit code 2, and without the panic's
    // message, which could hold a value of the data.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        let _ = writeln!(
            std::io::stderr(),
            "error: dq-check stopped on an internal error{at}; this is a bug, please report it"
        );
        std::process::exit(2);
    }));
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
    for s in dq_gate::error::chain(e).skip(1) {
        msg.push_str(&format!("\n  caused by: {s}"));
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Validate(a) => {
            dq_gate::internal::process::keep_freed_memory();
            #[cfg(feature = "distributed")]
            if a.standalone.is_some() || a.cluster.is_some() {
                return validate_on_cluster(
                    &a.common,
                    a.runs.as_deref(),
                    a.standalone,
                    a.cluster.as_deref(),
                );
            }
            validate(&a.common, a.runs.as_deref())
        }
        Command::Run(a) => gate(&a),
        Command::Lint(a) => lint(&a.files),
        Command::Quarantine(q) => quarantine::run(&q),
        Command::History(a) => history::run(&a),
        Command::Audit(a) => audit::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Import(a) => {
            use dq_gate::suite::import::{Source, import};
            let text = std::fs::read_to_string(&a.file).map_err(|e| Error::Output {
                path: a.file.clone(),
                source: e,
            })?;
            let source = match a.from {
                args::ImportFormat::Gx => Source::Gx,
                args::ImportFormat::Odcs => Source::Odcs,
                args::ImportFormat::Dqx => Source::Dqx,
            };
            let stem = a
                .file
                .file_stem()
                .map(|s| {
                    s.to_string_lossy()
                        .split('.')
                        .next()
                        .unwrap_or("imported")
                        .to_string()
                })
                .unwrap_or_else(|| "imported".into());
            let name = a.name.clone().unwrap_or(stem);
            let yaml = import(source, &text, &name)
                .map_err(|e| Error::Usage(format!("{}: {e}", a.file.display())))?;
            // The result must be a suite dq-check reads; say so now, not at the first run.
            CompiledSuite::from_yaml(&yaml, "the imported suite")?;
            match &a.out {
                Some(p) => write_atomically(p, yaml.as_bytes())?,
                None => print!("{yaml}"),
            }
            Ok(0)
        }
        Command::Suggest(a) => {
            if !dq_gate::suite::is_suite_name(&a.name) {
                return Err(Error::Usage(format!(
                    "suite name `{}` must match [a-z0-9_.-]+",
                    a.name
                )));
            }
            let yaml = dq_gate::profile::suggest(&a.inputs, &a.name)?;
            match &a.out {
                Some(p) => write_atomically(p, yaml.as_bytes())?,
                None => print!("{yaml}"),
            }
            Ok(0)
        }
        Command::Status(a) => status::run(&a),
        Command::CommitStaged(a) => stage::run(&a),
        Command::Generate(a) => generate(&a),
        #[cfg(feature = "distributed")]
        Command::Scheduler(a) => {
            runtime()?.block_on(dq_gate::distributed::serve_scheduler(
                dq_gate::distributed::SchedulerOptions {
                    bind: a.bind,
                    executor_timeout_s: a.executor_timeout_s,
                },
            ))?;
            Ok(0)
        }
        #[cfg(feature = "distributed")]
        Command::Executor(a) => {
            let (host, port) = a
                .scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    Error::Usage(format!("--scheduler {}: expected HOST:PORT", a.scheduler))
                })?;
            runtime()?.block_on(dq_gate::distributed::serve_executor(
                dq_gate::distributed::ExecutorOptions {
                    scheduler: (host, port),
                    port: a.port,
                    grpc_port: a.grpc_port,
                    vcores: a.vcores,
                    label: a
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("executor-{}", a.port)),
                    heartbeat_s: 1,
                },
            ))?;
            Ok(0)
        }
    }
}

/// The run log a command reads: `--runs`, else the target's (the suite's `tables.runs` when a
/// suite is given), else the suite's default target's.
pub(crate) fn run_log(
    runs: Option<&String>,
    target: Option<&String>,
    suite: Option<&dq_gate::Suite>,
) -> Result<String, Error> {
    Ok(match (runs, target, suite) {
        (Some(r), _, _) => r.clone(),
        (None, Some(t), Some(s)) => s.default_runs(t),
        (None, Some(t), None) => dq_gate::suite::runs_of(t),
        (None, None, Some(s)) => s.default_runs(&s.default_target()),
        (None, None, None) => {
            return Err(Error::Usage(
                "say which run log: --runs URI, --target URI, or --suite FILE for its tables"
                    .into(),
            ));
        }
    })
}

/// The async runtime the commands that touch tables run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

fn validate(c: &Common, runs: Option<&str>) -> Result<u8, Error> {
    let mut compiled = CompiledSuite::from_path(&c.suite)?;
    let needs_runtime = runs.is_some() || c.inputs.iter().any(|p| p.join("_delta_log").is_dir());
    let runtime = needs_runtime.then(runtime).transpose()?;
    let inputs = match &runtime {
        Some(rt) => rt.block_on(c.resolve_inputs())?,
        None => {
            if c.version.is_some() || c.since_version.is_some() {
                return Err(Error::Usage(
                    "--version and --since-version apply to Delta table inputs; none was given"
                        .into(),
                ));
            }
            c.inputs.clone()
        }
    };
    if let (Some(uri), Some(runtime)) = (runs, &runtime) {
        let as_of = match &c.as_of {
            Some(t) => args::parse_as_of(t)?,
            None => chrono::Utc::now(),
        };
        let history = runtime.block_on(dq_gate::monitor::load_history(
            uri,
            &std::collections::HashMap::new(),
            compiled.suite(),
            as_of,
        ))?;
        compiled = compiled.with_history(history);
    }
    let validator = c.validator(compiled)?;
    let report = validator.validate_paths(&inputs)?;
    emit(c, &report)?;
    Ok(report.status.exit_code())
}

/// `validate --standalone N`: the same report, each file judged on an executor of a Ballista
/// cluster started in this process.
#[cfg(feature = "distributed")]
fn validate_on_cluster(
    c: &Common,
    runs: Option<&str>,
    standalone: Option<u64>,
    cluster: Option<&str>,
) -> Result<u8, Error> {
    if runs.is_some() {
        return Err(Error::Usage(
            "--runs (history from a run log) is not available on a cluster yet".into(),
        ));
    }
    let compiled = CompiledSuite::from_path(&c.suite)?;
    let as_of = match &c.as_of {
        Some(t) => args::parse_as_of(t)?,
        None => chrono::Utc::now(),
    };
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let inputs = c.resolve_inputs().await?;
        let cluster = match cluster {
            Some(url) => dq_gate::distributed::Cluster::remote(url).await?,
            None => {
                let n = standalone.unwrap_or(1) as usize;
                dq_gate::distributed::Cluster::standalone(n, 1).await?
            }
        };
        let run_id = uuid::Uuid::new_v4().to_string();
        cluster
            .validate(
                &compiled,
                &inputs,
                as_of,
                c.batch_rows.map(|n| n as usize),
                &run_id,
            )
            .await
    })?;
    let executors: Vec<String> = report
        .executors
        .iter()
        .map(|(e, n)| format!("{e}: {n} file(s)"))
        .collect();
    if !c.quiet {
        let _ = writeln!(std::io::stderr(), "judged on {}", executors.join(", "));
    }
    emit(c, &report.report)?;
    Ok(report.report.status.exit_code())
}

fn gate(a: &args::RunArgs) -> Result<u8, Error> {
    let compiled_suite = CompiledSuite::from_path(&a.common.suite)?;
    let gate = a.gate(compiled_suite.clone())?;
    let runtime = runtime()?;
    let inputs = runtime.block_on(a.common.resolve_inputs())?;
    let mut report = runtime.block_on(gate.run_paths(&inputs))?;
    // Alerts follow the run; a problem with them never changes what the run did.
    if let (Some(_), Some(t)) = (&compiled_suite.suite().alerts, &report.tables) {
        let tables = dq_gate::monitor::alerts::AlertTables {
            target: t.target.uri.clone(),
            runs: t.runs.uri.clone(),
            quarantine: t.quarantine.uri.clone(),
            storage: std::collections::HashMap::new(),
        };
        match runtime.block_on(dq_gate::monitor::alerts::after_run(
            compiled_suite.suite(),
            &report,
            &tables,
        )) {
            Ok(outcomes) => report.alerts = outcomes,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "warning: alerts not raised: {e}");
            }
        }
    }
    emit(&a.common, &report)?;
    Ok(report.status.exit_code())
}

/// Writes the report file (atomically) and prints the chosen format.
fn emit(c: &Common, report: &Report) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(report).expect("a report always serializes");
    if let Some(path) = &c.report {
        write_atomically(path, json.as_bytes())?;
    }
    if let Some(path) = &c.report_html {
        write_atomically(path, dq_gate::report::html::render(report).as_bytes())?;
    }
    if !c.quiet {
        let text = match c.format {
            ReportFormat::Json => json + "\n",
            ReportFormat::Text => dq_gate::report::text::render(report),
            ReportFormat::Html => dq_gate::report::html::render(report),
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(Error::Usage(format!(
                "cannot write to standard output: {e}"
            )));
        }
    }
    Ok(())
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
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
    use dq_gate::internal::generate;
    match a.files {
        None => generate::write_parquet(&a.out, a.seed, a.rows)?,
        Some(k) => {
            std::fs::create_dir_all(&a.out).map_err(|e| Error::Output {
                path: a.out.clone(),
                source: e,
            })?;
            generate::write_parquet_files(&a.out, a.seed, a.rows, k)?;
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
                );
                // A deprecation window that has ended: the column is due to go.
                let today = chrono::Utc::now().date_naive();
                for col in s.schema.iter().flat_map(|c| &c.columns) {
                    if let Some(d) = col.deprecated.as_ref().filter(|d| d.after < today) {
                        eprintln!(
                            "warning: {}: column `{}` was deprecated until {}, which has passed: \
                             remove it in a new version",
                            f.display(),
                            col.name,
                            d.after
                        );
                    }
                }
            }
            Err(e) => {
                failed += 1;
                print_error(&e);
            }
        }
    }
    Ok(if failed > 0 { 2 } else { 0 })
}
