//! `dq-check quarantine ls|show|release|discard`: wiring only.

use std::collections::HashMap;
use std::fmt::Write as _;

use dq_gate::quarantine::{Discard, Quarantine};
use dq_gate::{CompiledSuite, Error};

use crate::args::{
    DiscardArgs, InspectArgs, OutputFormat, QuarantineCommand, ReleaseArgs, ShowArgs,
};

pub fn run(c: &QuarantineCommand) -> Result<u8, Error> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        match c {
            QuarantineCommand::Ls(a) => ls(a).await,
            QuarantineCommand::Show(a) => show(a).await,
            QuarantineCommand::Release(a) => release(a).await,
            QuarantineCommand::Discard(a) => discard(a).await,
        }
    })
}

/// The quarantine an inspection reads, and the suite behind it if given.
async fn open(a: &InspectArgs) -> Result<Quarantine, Error> {
    let suite = a.suite.as_ref().map(CompiledSuite::from_path).transpose()?;
    let uri = match (&a.quarantine, &suite) {
        (Some(q), _) => q.clone(),
        (None, Some(s)) => s.suite().default_quarantine(),
        (None, None) => {
            return Err(Error::Usage(
                "say which quarantine: --quarantine URI, or --suite FILE for its default".into(),
            ));
        }
    };
    let q = Quarantine::open(&uri, &HashMap::new()).await?;
    Ok(match &suite {
        Some(s) => q.with_pii_of(s.suite()),
        None => q,
    })
}

async fn ls(a: &InspectArgs) -> Result<u8, Error> {
    let q = open(a).await?;
    let groups = q.groups(&a.select.selection(!a.all)).await?;
    let out = match a.format {
        OutputFormat::Json => serde_json::to_string_pretty(&groups).expect("serializes") + "\n",
        OutputFormat::Text => {
            let mut s = format!(
                "{:<38} {:>5} {:>7}  {:<28} {:<9} {:>7}  first / last quarantined\n",
                "run", "batch", "suite v", "expectation", "status", "rows"
            );
            for g in &groups {
                let _ = writeln!(
                    s,
                    "{:<38} {:>5} {:>7}  {:<28} {:<9} {:>7}  {} / {}",
                    g.run_id,
                    g.batch,
                    g.suite_version,
                    g.expectation,
                    g.status,
                    g.rows,
                    g.first_quarantined_at,
                    g.last_quarantined_at
                );
            }
            if groups.is_empty() {
                s.push_str("(no rows)\n");
            }
            s
        }
    };
    print!("{out}");
    Ok(0)
}

async fn show(a: &ShowArgs) -> Result<u8, Error> {
    let q = open(&a.inspect).await?;
    let shown = q
        .rows(
            &a.inspect.select.selection(!a.inspect.all),
            a.limit,
            a.unmask,
        )
        .await?;
    if a.unmask {
        eprintln!(
            "warning: --unmask prints the values of pii columns; for the quarantine's own \
             readers only"
        );
    }
    match a.inspect.format {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).expect("serializes")
            )
        }
        OutputFormat::Text => {
            for r in &shown.rows {
                println!("{}", serde_json::Value::Object(r.clone()));
            }
            let masked = if shown.masked.is_empty() {
                String::new()
            } else {
                format!("; masked: {}", shown.masked.join(", "))
            };
            println!("{} of {} rows{masked}", shown.rows.len(), shown.total);
        }
    }
    Ok(0)
}

async fn release(a: &ReleaseArgs) -> Result<u8, Error> {
    let release = a.release(CompiledSuite::from_path(&a.suite)?)?;
    let r = release.run().await?;
    let json = serde_json::to_string_pretty(&r).expect("serializes");
    if let Some(path) = &a.report {
        std::fs::write(path, &json).map_err(|e| Error::Output {
            path: path.clone(),
            source: e,
        })?;
    }
    match a.format {
        OutputFormat::Json => println!("{json}"),
        OutputFormat::Text => {
            let s = &r.report.suite;
            println!(
                "release {}{}: suite {} v{}, {} as of version {}, by {}",
                r.release_id,
                if r.dry_run {
                    " (dry run: nothing written)"
                } else {
                    ""
                },
                s.name,
                s.version,
                r.report.inputs.first().map_or("", |s| s.as_str()),
                r.source_quarantine_version,
                r.actor
            );
            println!(
                "{} open rows selected: {} released to the target, {} still quarantined{}",
                r.selected,
                r.released,
                r.still_quarantined,
                if r.already_done {
                    " (already done by an earlier attempt)"
                } else {
                    ""
                }
            );
            if r.selected > 0 {
                print!("\n{}", dq_gate::report::text::render(&r.report));
            }
        }
    }
    Ok(if r.still_quarantined > 0 { 1 } else { 0 })
}

async fn discard(a: &DiscardArgs) -> Result<u8, Error> {
    let mut b = Discard::builder(&a.quarantine)
        .with_reason(&a.reason)
        .with_selection(a.select.selection(true))
        .dry_run(a.dry_run);
    if let Some(id) = &a.discard_id {
        b = b.with_id(id);
    }
    if let Some(actor) = &a.actor {
        b = b.with_actor(actor);
    }
    let r = b.build()?.run().await?;
    match a.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&r).expect("serializes")),
        OutputFormat::Text => println!(
            "discard {}{}: {} rows by {}: {}",
            r.discard_id,
            if r.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            r.discarded,
            r.actor,
            r.reason
        ),
    }
    Ok(0)
}
