//! The house stays in order: every top-level module imports only from floors below it, so the
//! crate reads bottom-up (docs/architecture.md). `cargo modules dependencies --lib --acyclic`
//! checks the same for cycles between all modules; this test keeps the floors without it.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules by floor, ground first. A module may use its own floor's neighbours only
/// when listed in `SIDEWAYS`.
const FLOORS: &[&[&str]] = &[
    &["error", "types", "par", "pii"],
    &["values", "suite"],
    &["io", "conform", "metrics", "report"],
    &["eval"],
    &["validate"],
    &["gate"],
    &["internal"],
];

/// Same-floor imports that are allowed (from, to).
const SIDEWAYS: &[(&str, &str)] = &[
    ("error", "pii"),
    ("suite", "error"),
    ("suite", "types"),
    ("values", "types"),
];

fn floor_of(m: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&m))
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_one_on_a_higher_floor() {
    let src = super::util::root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = BTreeSet::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(top) = rel.iter().next().and_then(|c| c.to_str()) else {
            continue;
        };
        let top = top.trim_end_matches(".rs");
        let Some(from) = floor_of(top) else {
            // lib.rs and the binary stand on top of everything.
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let to: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let Some(floor) = floor_of(&to) else { continue };
                let sideways =
                    floor == from && to != top && !SIDEWAYS.contains(&(top, to.as_str()));
                if floor > from || sideways {
                    wrong.insert(format!("{}: {top} -> {to}: {}", rel.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that go up a floor:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}
