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

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Informational => "informational",
        Verdict::Compatible => "compatible",
        Verdict::Tightening => "tightening",
        Verdict::Breaking => "BREAKING",
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
    let out = match a.format {
        DiffFormat::Json => {
            let v = serde_json::json!({
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
                    "no change"
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
            s
        }
        DiffFormat::Md => notes(&old, &new, &changes, version_note.as_deref()),
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
