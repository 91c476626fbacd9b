//! Validation across a Ballista cluster (feature `distributed`, docs/scale-out.md#one-table-on-many-machines).
//!
//! A suite judges each batch on its own, and a file is a batch (or several, with
//! `batch_rows`), so the work splits by file with nothing to merge but the batch reports:
//!
//! ```text
//!  client: the input files as rows (idx, path) ──hash-repartitioned──▶ one task per few files
//!  executor: dq_validate_file(path, suite YAML, as_of, batch_rows) = the file's batch reports,
//!            evaluated by the same code as `validate` on one machine
//!  client: batch reports in file order, numbered as one run ──▶ the report
//! ```
//!
//! The report therefore equals the single-machine report on the same input, count for count
//! and metric for metric. Ballista schedules the tasks and runs a lost executor's tasks again;
//! a task that fails (an unreadable file) fails the job with its error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use chrono::{DateTime, Utc};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{SessionConfig, SessionContext, col, lit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eval::CompiledSuite;
use crate::report::{BatchOutcome, BatchReport, Report, ReportBuilder};
use crate::validate::Validator;

/// Most tasks a job is cut into (files are grouped beyond it).
const MAX_TASKS: usize = 256;

/// The name executors know the function by.
pub const FUNCTION: &str = "dq_validate_file";

/// `dq_validate_file(path, suite_yaml, as_of_micros, batch_rows)`: the file's batch reports as
/// JSON, evaluated where the task runs. `label` names that place in the answer.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ValidateFile {
    label: String,
    signature: Signature,
}

/// What one file's task answers.
#[derive(Serialize, Deserialize)]
struct FileAnswer {
    executor: String,
    batches: Vec<BatchReport>,
}

impl ScalarUDFImpl for ValidateFile {
    fn name(&self) -> &str {
        FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (paths, suites) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
        let (as_of, batch_rows) = (
            arrays[2].as_primitive::<Int64Type>(),
            arrays[3].as_primitive::<Int64Type>(),
        );
        let mut out = Vec::with_capacity(paths.len());
        for i in 0..paths.len() {
            if paths.is_null(i) {
                out.push(None);
                continue;
            }
            let fail = |e: Error| datafusion::error::DataFusionError::External(Box::new(e));
            let compiled =
                CompiledSuite::from_yaml(suites.value(i), "the job's suite").map_err(fail)?;
            let as_of = DateTime::from_timestamp_micros(as_of.value(i)).unwrap_or_else(Utc::now);
            let rows = (!batch_rows.is_null(i)).then(|| batch_rows.value(i) as usize);
            let report = Validator::builder(Arc::new(compiled))
                .with_as_of(as_of)
                .with_batch_rows(rows)
                .build()
                .validate_paths(&[paths.value(i)])
                .map_err(fail)?;
            let answer = FileAnswer {
                executor: self.label.clone(),
                batches: report.batches,
            };
            out.push(Some(
                serde_json::to_string(&answer).expect("a report serializes"),
            ));
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

/// The function, as a session registers it; `label` names where it runs (an executor).
pub fn function(label: &str) -> ScalarUDF {
    ScalarUDF::new_from_impl(ValidateFile {
        label: label.to_string(),
        signature: Signature::exact(
            vec![
                DataType::Utf8,
                DataType::Utf8,
                DataType::Int64,
                DataType::Int64,
            ],
            Volatility::Volatile,
        ),
    })
}

/// A session's configuration for Ballista, one partition per task.
fn config() -> SessionConfig {
    SessionConfig::new_with_ballista().set_str("ballista.scheduler.max_partitions_per_task", "1")
}

fn state(label: &str) -> datafusion::execution::SessionState {
    SessionStateBuilder::new()
        .with_config(config())
        .with_default_features()
        .with_scalar_functions(vec![Arc::new(function(label))])
        .build()
}

fn cluster_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Usage(format!("the Ballista cluster: {what}: {e}"))
}

/// A Ballista cluster to validate on.
pub struct Cluster {
    ctx: SessionContext,
}

/// A distributed validation's report, and how many files each executor judged.
#[derive(Debug)]
pub struct Distributed {
    /// The report, as `validate` on one machine gives it.
    pub report: Report,
    /// Files judged per executor label.
    pub executors: BTreeMap<String, usize>,
}

impl Cluster {
    /// A scheduler and `executors` executors in this process, on loopback, each running up
    /// to `vcores` tasks at once (executors are labelled `executor-0`, `executor-1`, ...).
    pub async fn standalone(executors: usize, vcores: usize) -> Result<Cluster> {
        let client = state("client");
        let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(&client)
            .await
            .map_err(|e| cluster_error("start the scheduler", e))?;
        let url = format!("http://localhost:{}", addr.port());
        for i in 0..executors.max(1) {
            let mut tries = 0;
            let scheduler = loop {
                match ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient::connect(url.clone()).await {
                    Ok(s) => break s,
                    Err(e) if tries >= 100 => return Err(cluster_error("reach the scheduler", e)),
                    Err(_) => {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            };
            ballista_executor::new_standalone_executor_from_state(
                scheduler,
                vcores.max(1),
                &state(&format!("executor-{i}")),
            )
            .await
            .map_err(|e| cluster_error("start an executor", e))?;
        }
        Cluster::remote(&format!("df://localhost:{}", addr.port())).await
    }

    /// A remote scheduler at `url` (`df://host:port`), whose executors know [`FUNCTION`].
    pub async fn remote(url: &str) -> Result<Cluster> {
        let ctx = SessionContext::remote_with_state(url, state("client"))
            .await
            .map_err(|e| cluster_error(&format!("connect to {url}"), e))?;
        Ok(Cluster { ctx })
    }

    /// Validates `inputs` (files or directories, as `validate` takes them) against
    /// `compiled`, each file judged by an executor; the batches numbered in file order.
    pub async fn validate(
        &self,
        compiled: &CompiledSuite,
        inputs: &[PathBuf],
        as_of: DateTime<Utc>,
        batch_rows: Option<usize>,
        run_id: &str,
    ) -> Result<Distributed> {
        let suite = compiled.suite();
        if suite.text().is_empty() {
            return Err(Error::Usage(
                "a suite built in code has no YAML to send to the executors".into(),
            ));
        }
        let files = crate::io::discover(inputs)?;
        let paths: Vec<String> = files
            .iter()
            .map(|f| {
                std::path::absolute(&f.path)
                    .unwrap_or_else(|_| f.path.clone())
                    .display()
                    .to_string()
            })
            .collect();
        // The file list as a UNION of VALUES, one input (so one partition, one task) per group
        // of files: every Ballista codec carries them (an in-memory table is not), and a
        // repartition would be planned away.
        let fail = |e: datafusion::error::DataFusionError| cluster_error("the job", e);
        let groups = paths.len().clamp(1, MAX_TASKS);
        let mut plan: Option<datafusion::logical_expr::LogicalPlanBuilder> = None;
        for g in 0..groups {
            let rows: Vec<Vec<datafusion::prelude::Expr>> = paths
                .iter()
                .enumerate()
                .filter(|(i, _)| i % groups == g)
                .map(|(i, p)| vec![lit(i as i64), lit(p.as_str())])
                .collect();
            let part = datafusion::logical_expr::LogicalPlanBuilder::values(rows)
                .map_err(fail)?
                .project(vec![
                    col("column1").alias("idx"),
                    col("column2").alias("path"),
                ])
                .map_err(fail)?;
            plan = Some(match plan {
                None => part,
                Some(p) => p.union(part.build().map_err(fail)?).map_err(fail)?,
            });
        }
        let plan = plan.expect("one group at least").build().map_err(fail)?;
        let df = datafusion::dataframe::DataFrame::new(self.ctx.state(), plan)
            .select(vec![
                col("idx"),
                function("client")
                    .call(vec![
                        col("path"),
                        lit(suite.text()),
                        lit(as_of.timestamp_micros()),
                        lit(datafusion::scalar::ScalarValue::Int64(
                            batch_rows.map(|r| r as i64),
                        )),
                    ])
                    .alias("answer"),
            ])
            .map_err(fail)?;
        let out = df.collect().await.map_err(fail)?;
        let mut answers: BTreeMap<i64, FileAnswer> = BTreeMap::new();
        for b in &out {
            let idx = b.column(0).as_primitive::<Int64Type>();
            let answer = b.column(1).as_string::<i32>();
            for r in 0..b.num_rows() {
                let a: FileAnswer = serde_json::from_str(answer.value(r))
                    .map_err(|e| cluster_error("read a task's answer", e))?;
                answers.insert(idx.value(r), a);
            }
        }
        if answers.len() != paths.len() {
            return Err(cluster_error(
                "the job",
                format!("{} of {} files answered", answers.len(), paths.len()),
            ));
        }
        let inputs: Vec<String> = files
            .iter()
            .map(|f| crate::io::display_path(&f.path))
            .collect();
        let mut report = ReportBuilder::new(suite, run_id, as_of, inputs.clone());
        let mut executors = BTreeMap::new();
        let mut next = 1;
        'files: for (idx, a) in answers {
            *executors.entry(a.executor).or_insert(0) += 1;
            let (sent, shown) = (&paths[idx as usize], &inputs[idx as usize]);
            for mut b in a.batches {
                b.batch = next;
                // The file as the caller named it, not as it was sent.
                if let Some(rest) = b.input.strip_prefix(sent.as_str()) {
                    b.input = format!("{shown}{rest}");
                }
                next += 1;
                let stop = b.outcome == BatchOutcome::Failed;
                report.add(b);
                // A `fail` stops the run where it is, as on one machine.
                if stop {
                    break 'files;
                }
            }
        }
        Ok(Distributed {
            report: report.finish(),
            executors,
        })
    }
}

/// A scheduler's settings (`dq-check scheduler`).
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Where it listens for clients and executors.
    pub bind: std::net::SocketAddr,
    /// An executor silent this long is lost, and its tasks run again elsewhere.
    pub executor_timeout_s: u64,
}

/// Runs a scheduler whose sessions know [`FUNCTION`] until the process ends.
pub async fn serve_scheduler(o: SchedulerOptions) -> Result<()> {
    let mut config = ballista_scheduler::config::SchedulerConfig::default()
        .with_override_session_builder(Arc::new(|config: SessionConfig| {
            Ok(SessionStateBuilder::new()
                .with_config(config)
                .with_default_features()
                .with_scalar_functions(vec![Arc::new(function("scheduler"))])
                .build())
        }));
    config.bind_host = o.bind.ip().to_string();
    config.external_host = o.bind.ip().to_string();
    config.bind_port = o.bind.port();
    config.executor_timeout_seconds = o.executor_timeout_s.max(2);
    config.expire_dead_executor_interval_seconds = 1;
    config.no_executors_grace_period_seconds = config.executor_timeout_seconds - 1;
    let cluster = ballista_scheduler::cluster::BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| cluster_error("start the scheduler", e))?;
    ballista_scheduler::scheduler_process::start_server(cluster, o.bind, Arc::new(config))
        .await
        .map_err(|e| cluster_error("run the scheduler", e))
}

/// An executor's settings (`dq-check executor`).
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// Where this executor listens (Flight) and its gRPC port.
    pub port: u16,
    /// Its gRPC port.
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub vcores: usize,
    /// Its name in answers.
    pub label: String,
    /// Seconds between heartbeats.
    pub heartbeat_s: u64,
}

/// Runs an executor that knows [`FUNCTION`], registered with the scheduler, until the process
/// ends.
pub async fn serve_executor(o: ExecutorOptions) -> Result<()> {
    let registry = ballista_core::registry::BallistaFunctionRegistry::from(&state(&o.label));
    let config = ballista_executor::executor_process::ExecutorProcessConfig {
        scheduler_host: o.scheduler.0.clone(),
        scheduler_port: o.scheduler.1,
        bind_host: "127.0.0.1".into(),
        external_host: Some("127.0.0.1".into()),
        port: o.port,
        grpc_port: o.grpc_port,
        vcores: o.vcores.max(1),
        executor_heartbeat_interval_seconds: o.heartbeat_s.max(1),
        override_function_registry: Some(Arc::new(registry)),
        ..Default::default()
    };
    ballista_executor::executor_process::start_executor_process(Arc::new(config))
        .await
        .map_err(|e| cluster_error("run the executor", e))
}
