//! `dq-check export`: wiring and the three statement forms.

use std::fmt::Write as _;

use dq_gate::suite::OnFail;
use dq_gate::suite::export::export;
use dq_gate::{CompiledSuite, Error};

use crate::args::{ExportArgs, ExportTarget, OutputFormat};

pub fn run(a: &ExportArgs) -> Result<u8, Error> {
    let compiled = CompiledSuite::from_path(&a.suite)?;
    let suite = compiled.suite();
    let (rules, mut skipped) = export(suite);
    let table = a.table.clone().unwrap_or_else(|| suite.name.clone());
    // A CHECK rejects the whole write: a `warn` rule would stop data the suite lets through.
    let rules: Vec<_> = match a.target {
        ExportTarget::DeltaConstraints => rules
            .into_iter()
            .filter(|r| {
                let keep = r.on_fail != OnFail::Warn;
                if !keep {
                    skipped.push(dq_gate::suite::export::Skipped {
                        id: r.id.clone(),
                        reason: "on_fail warn: a CHECK constraint would reject the write".into(),
                    });
                }
                keep
            })
            .collect(),
        _ => rules,
    };
    if a.format == OutputFormat::Json {
        let v = serde_json::json!({"table": table, "rules": rules, "skipped": skipped});
        println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
        return Ok(0);
    }
    let mut out = format!(
        "-- {} v{} ({}): {} rule(s) exported, {} not\n",
        suite.name,
        suite.version,
        &suite.fingerprint()[..12],
        rules.len(),
        skipped.len()
    );
    for r in &rules {
        if let Some(c) = &r.caveat {
            let _ = writeln!(out, "-- {}: {c}", r.id);
        }
        let _ = match a.target {
            ExportTarget::DeltaConstraints => writeln!(
                out,
                "ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({});",
                r.id, r.sql
            ),
            ExportTarget::DltSql => {
                let action = match r.on_fail {
                    OnFail::Warn => String::new(),
                    OnFail::Fail => " ON VIOLATION FAIL UPDATE".into(),
                    // A batch-level fate has no DLT form: the failing rows are dropped.
                    OnFail::QuarantineRows | OnFail::QuarantineBatch => {
                        " ON VIOLATION DROP ROW".into()
                    }
                };
                writeln!(out, "CONSTRAINT {} EXPECT ({}){action},", r.id, r.sql)
            }
            ExportTarget::Sql => writeln!(
                out,
                "-- {}\nSELECT * FROM {table} WHERE NOT ({});",
                r.id, r.sql
            ),
        };
    }
    for s in &skipped {
        let _ = writeln!(out, "-- not exported: {}: {}", s.id, s.reason);
    }
    print!("{out}");
    Ok(0)
}
