//! `dq-check audit`: wiring only.

use std::collections::HashMap;

use dq_gate::monitor::audit::{DatasetTables, audit};
use dq_gate::monitor::audit_page;
use dq_gate::{CompiledSuite, Error};

use crate::args::{AuditArgs, AuditFormat};
use crate::write_atomically;

pub fn run(a: &AuditArgs) -> Result<u8, Error> {
    let compiled = a.suite.as_ref().map(CompiledSuite::from_path).transpose()?;
    let suite = compiled.as_ref().map(CompiledSuite::suite);
    let mut targets = a.target.clone();
    if targets.is_empty() {
        match suite {
            Some(s) => targets.push(s.default_target()),
            None => {
                return Err(Error::Usage(
                    "say which dataset: --target URI (repeatable), or --suite FILE for its target"
                        .into(),
                ));
            }
        }
    }
    if targets.len() > 1 && (a.quarantine.is_some() || a.runs.is_some()) {
        return Err(Error::Usage(
            "--quarantine and --runs name one dataset's tables; with several --target, each \
             uses <target>_quarantine and <target>_dq_runs"
                .into(),
        ));
    }
    let single = targets.len() == 1;
    let datasets: Vec<DatasetTables> = targets
        .iter()
        .map(|t| {
            let base = t.trim_end_matches('/');
            let from_suite =
                |f: fn(&dq_gate::Suite) -> Option<String>| suite.filter(|_| single).and_then(f);
            DatasetTables {
                target: t.clone(),
                quarantine: a
                    .quarantine
                    .clone()
                    .or_else(|| from_suite(|s| s.tables.quarantine.clone()))
                    .unwrap_or_else(|| format!("{base}_quarantine")),
                runs: a
                    .runs
                    .clone()
                    .or_else(|| from_suite(|s| s.tables.runs.clone()))
                    .unwrap_or_else(|| dq_gate::suite::runs_of(t)),
                alerts: suite.and_then(|s| s.alerts.as_ref()).map_or_else(
                    || format!("{base}_dq_alerts"),
                    |al| dq_gate::monitor::alerts::state_table(al, t),
                ),
            }
        })
        .collect();
    let runtime = crate::runtime()?;
    let made = runtime.block_on(audit(&datasets, a.from, a.to, suite, &HashMap::new()))?;
    let json = audit_page::json(&made);
    let sha = audit_page::sha256(json.as_bytes());
    match a.format {
        AuditFormat::Json => write_atomically(&a.out, json.as_bytes())?,
        form => {
            let record = a.out.with_extension("json");
            if record == a.out {
                return Err(Error::Usage(format!(
                    "{}: the page and its JSON record would be the same file; name the page \
                     .html or .md",
                    a.out.display()
                )));
            }
            write_atomically(&record, json.as_bytes())?;
            let name = record
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let page = match form {
                AuditFormat::Html => audit_page::html(&made, &name, &sha),
                _ => audit_page::markdown(&made, &name, &sha),
            };
            write_atomically(&a.out, page.as_bytes())?;
        }
    }
    let unreconciled: u64 = made
        .datasets
        .iter()
        .map(|d| d.totals.unreconciled_runs)
        .sum();
    println!(
        "audit {}: {} dataset(s), {} run(s) not reconciled; record SHA-256 {sha}",
        a.out.display(),
        made.datasets.len(),
        unreconciled
    );
    Ok(u8::from(unreconciled > 0))
}
