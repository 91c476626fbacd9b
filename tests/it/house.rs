//! The house stays in order: every top-level module imports only from floors below it, and no
//! two modules import each other, so the crate reads bottom-up (docs/architecture.md). These
//! read the sources; `scripts/module-cycles` checks the same graph with cargo-modules.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules by floor, ground first. A module may use its own floor's neighbours only
/// when listed in `SIDEWAYS`.
const FLOORS: &[&[&str]] = &[
    &["error", "types", "par", "pii", "testing"],
    &["values", "suite"],
    &["io", "conform", "metrics", "report"],
    &["eval"],
    &["validate", "profile"],
    &["gate", "distributed"],
    &["quarantine"],
    &["monitor"],
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

/// Every module of `src/` (a file, or a folder's `mod.rs`) as a path, `crate::a::b`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    std::iter::once("crate".to_string())
        .chain(parts)
        .collect::<Vec<_>>()
        .join("::")
}

#[test]
fn no_two_modules_import_each_other() {
    let src = super::util::root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.retain(|f| !f.starts_with(src.join("bin")));
    let modules: std::collections::HashMap<String, String> = files
        .iter()
        .map(|f| (module_of(&src, f), std::fs::read_to_string(f).unwrap()))
        .collect();
    // Resolves a path written in module `from` to the longest module it names.
    let resolve = |from: &str, path: &str| -> Option<String> {
        let mut parts: Vec<&str> = path.split("::").collect();
        let mut base: Vec<&str> = from.split("::").collect();
        match parts[0] {
            "crate" => base = vec![],
            "self" => {
                parts.remove(0);
            }
            "super" => {
                while parts.first() == Some(&"super") {
                    parts.remove(0);
                    base.pop();
                }
            }
            _ => return None,
        }
        let full: Vec<&str> = base.into_iter().chain(parts).collect();
        (1..=full.len())
            .rev()
            .map(|n| full[..n].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let mut edges: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (m, text) in &modules {
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let mut rest = line;
            while let Some(i) = ["crate::", "super::", "self::"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min()
            {
                let path: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                rest = &rest[i + path.len().max(1)..];
                if let Some(to) = resolve(m, path.trim_end_matches(':'))
                    && &to != m
                    && !m.starts_with(&format!("{to}::"))
                {
                    edges.entry(m.clone()).or_default().insert(to);
                }
            }
        }
    }
    // Strongly connected components (Tarjan, iterative enough for a crate's modules).
    fn visit(
        v: &str,
        edges: &std::collections::BTreeMap<String, BTreeSet<String>>,
        index: &mut std::collections::HashMap<String, (usize, usize)>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        let i = index.len();
        index.insert(v.to_string(), (i, i));
        stack.push(v.to_string());
        for w in edges.get(v).into_iter().flatten() {
            if !index.contains_key(w) {
                visit(w, edges, index, stack, cycles);
                let low = index[w].1.min(index[v].1);
                index.get_mut(v).unwrap().1 = low;
            } else if stack.contains(w) {
                let low = index[w].0.min(index[v].1);
                index.get_mut(v).unwrap().1 = low;
            }
        }
        if index[v].0 == index[v].1 {
            let mut comp = Vec::new();
            while let Some(w) = stack.pop() {
                let done = w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                cycles.push(comp);
            }
        }
    }
    let mut index: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let (mut stack, mut cycles) = (Vec::new(), Vec::new());
    let mut names: Vec<&String> = modules.keys().collect();
    names.sort();
    for v in names {
        if !index.contains_key(v) {
            visit(v, &edges, &mut index, &mut stack, &mut cycles);
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:#?}"
    );
}
