//! `dq-check diff`: wiring and printing.

use std::fmt::Write as _;

use dq_gate::suite::diff::{Change, Verdict, diff, worst};
use dq_gate::{Error, Suite};

use crate::args::{DiffArgs, DiffFormat};

/// A suite from a file, or from git (`git:REV:path`, read with `git show`).
fn load(spec: &str) -> Result<Suite, Error> {
    let (text, source) = match spec.strip_prefix("git:") {
        Some(rest) => {
            let o = std::process::Command::new("git")
                .args(["show", rest])
                .output()
                .map_err(|e| Error::Usage(format!("{spec}: cannot run git: {e}")))?;
            if !o.status.success() {
                return Err(Error::Usage(format!(
                    "{spec}: git show {rest} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )));
            }
            (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                spec.to_string(),
            )
        }
        None => return Suite::from_path(spec),
    };
    Suite::from_yaml(&text, &source)
}

fn word(v: Verdict) -> String {
    match v {
        Verdict::Breaking => v.as_str().to_uppercase(),
        _ => v.as_str().to_string(),
    }
}

pub fn run(a: &DiffArgs) -> Result<u8, Error> {
    let (old, new) = (load(&a.old)?, load(&a.new)?);
    let today = a.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let changes = diff(&old, &new, today);
    let verdict = worst(&changes);
    let changed = !changes.is_empty() || old.fingerprint() != new.fingerprint();
    let version_ok = !changed || new.version > old.version;
    let version_note = if version_ok {
        None
    } else {
        Some(format!(
            "the suite changed but its version did not rise ({} to {}): raise it",
            old.version, new.version
        ))
    };
    let against = if a.against.is_empty() {
        None
    } else {
        let clock = a
            .as_of
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or_else(chrono::Utc::now, |t| t.and_utc());
        Some(against(&old, &new, &a.against, clock)?)
    };
    let against_line = against.map(|(newly, no_longer, rows)| {
        format!(
            "on {} ({rows} rows): the new suite quarantines {newly} rows the old one passed, and \
             passes {no_longer} rows the old one quarantined",
            a.against
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let out = match a.format {
        DiffFormat::Json => {
            let v = serde_json::json!({
                "against": against.map(|(newly, no_longer, rows)| serde_json::json!({
                    "rows": rows, "newly_quarantined": newly, "no_longer_quarantined": no_longer,
                })),
                "old": {"name": old.name, "version": old.version, "fingerprint": old.fingerprint()},
                "new": {"name": new.name, "version": new.version, "fingerprint": new.fingerprint()},
                "verdict": verdict,
                "version_ok": version_ok,
                "changes": changes,
            });
            serde_json::to_string_pretty(&v).expect("serializes") + "\n"
        }
        DiffFormat::Text => {
            let mut s = format!(
                "{} v{} -> {} v{}: {}{}\n",
                old.name,
                old.version,
                new.name,
                new.version,
                if changes.is_empty() {
                    "no change".to_string()
                } else {
                    word(verdict)
                },
                version_note
                    .as_ref()
                    .map_or(String::new(), |n| format!("; {n}"))
            );
            for c in &changes {
                let _ = writeln!(
                    s,
                    "  {:<13} {:<30} {}  [{}]",
                    word(c.verdict),
                    c.path,
                    c.what,
                    c.rule
                );
            }
            if let Some(l) = &against_line {
                let _ = writeln!(s, "{l}");
            }
            s
        }
        DiffFormat::Md => {
            let mut m = notes(&old, &new, &changes, version_note.as_deref());
            if let Some(l) = &against_line {
                let _ = writeln!(m, "\n## On sample data\n\nThe new suite, {l}.");
            }
            m
        }
    };
    print!("{out}");
    Ok(u8::from(verdict == Verdict::Breaking || !version_ok))
}

/// Release notes for the table's partners and producers.
fn notes(old: &Suite, new: &Suite, changes: &[Change], version_note: Option<&str>) -> String {
    let mut m = format!(
        "# {} {} → {}\n\nSuite fingerprint `{}` → `{}`.\n",
        new.name,
        old.version,
        new.version,
        &old.fingerprint()[..12],
        &new.fingerprint()[..12]
    );
    if let Some(n) = version_note {
        let _ = writeln!(m, "\n> **Version not raised:** {n}.");
    }
    let sections = [
        (
            Verdict::Breaking,
            "Breaking for consumers",
            "A guarantee the shared table gave is gone or changed.",
        ),
        (
            Verdict::Tightening,
            "Tightening for producers",
            "Data that passed before may now be quarantined or refused.",
        ),
        (
            Verdict::Compatible,
            "Compatible",
            "Nothing that passed fails; no guarantee is lost.",
        ),
        (
            Verdict::Informational,
            "Informational",
            "Wording and operations.",
        ),
    ];
    for (v, title, meaning) in sections {
        let these: Vec<&Change> = changes.iter().filter(|c| c.verdict == v).collect();
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(m, "\n## {title}\n\n{meaning}\n");
        for c in these {
            let _ = writeln!(m, "- {} (`{}`)", c.what, c.path);
        }
    }
    let deprecated: Vec<String> = new
        .schema
        .iter()
        .flat_map(|c| &c.columns)
        .filter_map(|c| {
            let d = c.deprecated.as_ref()?;
            Some(format!(
                "- `{}` may be removed after {}{}",
                c.name,
                d.after,
                d.note.as_ref().map_or(String::new(), |n| format!(": {n}"))
            ))
        })
        .collect();
    if !deprecated.is_empty() {
        let _ = writeln!(m, "\n## Deprecated\n\n{}", deprecated.join("\n"));
    }
    if changes.is_empty() {
        m.push_str("\nNo change.\n");
    }
    m
}

/// Per row of the sample, whether each suite would commit it to the target (not quarantined,
/// not stopped by a `fail`): rows the new one quarantines that the old passed, the reverse,
/// and the rows read.
fn against(
    old: &Suite,
    new: &Suite,
    data: &[std::path::PathBuf],
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64, u64), Error> {
    use dq_gate::internal::{BatchOptions, Fate, FileBatches, discover};
    let files = discover(data)?;
    let passes = |suite: &Suite| -> Result<Vec<bool>, Error> {
        let compiled = dq_gate::CompiledSuite::new(suite.clone())?;
        let opts = BatchOptions {
            as_of,
            ..BatchOptions::default()
        };
        let mut batches = FileBatches::new(&files, &compiled, opts);
        let mut out = Vec::new();
        while let Some(mut b) = batches.next(&compiled)? {
            let stopped = b.fate == Fate::Fail;
            for chunk in b.routed()? {
                let chunk = chunk?;
                out.extend(
                    (0..chunk.batch.num_rows()).map(|i| !stopped && !chunk.quarantine.value(i)),
                );
            }
        }
        Ok(out)
    };
    let (was, now) = (passes(old)?, passes(new)?);
    if was.len() != now.len() {
        return Err(Error::Usage(format!(
            "the two suites read {} and {} rows of the sample: their contracts read it differently",
            was.len(),
            now.len()
        )));
    }
    let newly = was.iter().zip(&now).filter(|(w, n)| **w && !**n).count() as u64;
    let no_longer = was.iter().zip(&now).filter(|(w, n)| !**w && **n).count() as u64;
    Ok((newly, no_longer, was.len() as u64))
}
