//! `dq-check diff`: every change class in both directions (each tightening has its loosening
//! twin), the version rule, and the release notes as a golden file.

use dq_gate::Suite;
use dq_gate::suite::diff::{Verdict, diff};

use super::util::{dq, root};

const BASE: &str = "dq_suite: 1
name: s
version: 1
description: base
schema:
  mode: additive
  columns:
    - {name: id, type: int64, nullable: false}
    - {name: email, type: string, tags: [pii], share: token}
    - {name: amount, type: float64}
    - {name: code, type: string}
expectations:
  - {id: amount_range, expect: between, column: amount, min: 0, max: 100}
  - {id: code_set, expect: in_set, column: code, values: [A, B, C]}
  - {id: code_shape, expect: matches_regex, column: code, regex: '^[A-Z]$'}
  - {id: amount_mean, expect: metric, metric: mean, column: amount, min: 10, max: 50}
  - {id: id_unique, expect: unique, column: id, mostly: 0.9}
";

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn suite(text: &str) -> Suite {
    Suite::from_yaml(text, "s.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// (edit from, edit to, rule, verdict forward, verdict backward).
const CASES: &[(&str, &str, &str, Verdict, Verdict)] = &[
    (
        "min: 0, max: 100}",
        "min: 0, max: 90}",
        "bounds",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "min: 0, max: 100}",
        "min: 0, max: 100, strict_min: true}",
        "bounds",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "min: 10, max: 50}",
        "min: 5, max: 50}",
        "bounds",
        Verdict::Breaking,
        Verdict::Tightening,
    ),
    (
        "values: [A, B, C]",
        "values: [A, B]",
        "set",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "values: [A, B, C]",
        "values: [A, B, D]",
        "set",
        Verdict::Breaking,
        Verdict::Breaking,
    ),
    (
        "regex: '^[A-Z]$'",
        "regex: '^[A-Z]{1,2}$'",
        "regex",
        Verdict::Breaking,
        Verdict::Breaking,
    ),
    (
        "mostly: 0.9",
        "mostly: 0.95",
        "mostly",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "min: 0, max: 100}",
        "min: 0, max: 100, on_fail: warn}",
        "on_fail",
        Verdict::Breaking,
        Verdict::Tightening,
    ),
    (
        "{name: amount, type: float64}",
        "{name: amount, type: float64, nullable: false}",
        "column_required",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "{name: amount, type: float64}",
        "{name: amount, type: int64}",
        "column_type_changed",
        Verdict::Breaking,
        Verdict::Breaking,
    ),
    (
        "{name: email, type: string, tags: [pii], share: token}",
        "{name: email, type: string}",
        "pii_removed",
        Verdict::Breaking,
        Verdict::Breaking,
    ),
    (
        "    - {name: code, type: string}\n",
        "    - {name: code, type: string}\n    - {name: note, type: string}\n",
        "column_added",
        Verdict::Compatible,
        Verdict::Breaking,
    ),
    (
        "  - {id: id_unique, expect: unique, column: id, mostly: 0.9}\n",
        "  - {id: id_unique, expect: unique, column: id, mostly: 0.9}\n  - {id: code_nn, expect: not_null, column: code}\n",
        "expectation_added",
        Verdict::Tightening,
        Verdict::Breaking,
    ),
    (
        "mode: additive",
        "mode: strict",
        "mode_strict",
        Verdict::Tightening,
        Verdict::Compatible,
    ),
    (
        "description: base",
        "description: other",
        "wording",
        Verdict::Informational,
        Verdict::Informational,
    ),
    (
        "{id: amount_range, expect: between, column: amount,",
        "{id: amount_range, expect: between, column: code,",
        "parameters",
        Verdict::Breaking,
        Verdict::Breaking,
    ),
];

#[test]
fn every_change_class_in_both_directions() {
    let base = suite(BASE);
    assert!(diff(&base, &base, today()).is_empty());
    for (from, to, rule, forward, backward) in CASES {
        assert!(BASE.contains(from), "{from}");
        let changed = suite(&BASE.replace(from, to));
        let there = diff(&base, &changed, today());
        let back = diff(&changed, &base, today());
        let worst = |cs: &[dq_gate::suite::diff::Change]| cs.iter().map(|c| c.verdict).max();
        assert_eq!(worst(&there), Some(*forward), "{from} -> {to}: {there:?}");
        assert_eq!(worst(&back), Some(*backward), "{to} -> {from}: {back:?}");
        assert!(
            there.iter().chain(&back).any(|c| c.rule == *rule),
            "{rule} not given for {from} -> {to}: {there:?} / {back:?}"
        );
    }
}

#[test]
fn the_version_must_rise_and_breaking_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let old = write("old.yaml", BASE);
    // A compatible change with the version raised: exit 0.
    let added = BASE.replace("version: 1", "version: 2").replace(
        "    - {name: code, type: string}\n",
        "    - {name: code, type: string}\n    - {name: note, type: string}\n",
    );
    let o = dq(&["diff", &old, &write("v2.yaml", &added)], &root());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The same change without raising the version: exit 1, saying so.
    let same = added.replace("version: 2", "version: 1");
    let o = dq(&["diff", &old, &write("v1b.yaml", &same)], &root());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("version did not rise"));
    // A breaking change exits 1 whatever the version.
    let broken = BASE
        .replace("version: 1", "version: 9")
        .replace("max: 100}", "max: 200}");
    let o = dq(&["diff", &old, &write("v9.yaml", &broken)], &root());
    assert_eq!(o.status.code(), Some(1));
    // A bad suite is an error.
    let o = dq(
        &["diff", &old, &write("bad.yaml", "dq_suite: 1\n")],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
}

/// The release notes of the bundled claims suite's version 4, as partners read them.
#[test]
fn release_notes_golden() {
    let o = dq(
        &[
            "diff",
            "expectations/claims.yaml",
            "expectations/claims_v4.yaml",
            "--format",
            "md",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "case-insensitive codes relax a guarantee"
    );
    let got = String::from_utf8_lossy(&o.stdout).into_owned();
    let path = root().join("fixtures/golden/claims_v3_to_v4.md");
    if std::env::var_os("DQ_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        got, want,
        "set DQ_BLESS=1 to rewrite after a reviewed change"
    );
}

/// A deprecated column removed before its window ends is breaking; after it, announced. The
/// release notes list what is deprecated, and `lint` warns about windows past.
#[test]
fn deprecation_windows() {
    let deprecated = BASE.replace(
        "{name: code, type: string}",
        "{name: code, type: string, deprecated: {after: 2026-12-31, note: use code_v2}}",
    );
    let old = suite(&deprecated);
    // Announcing it is informational.
    let announced = diff(&suite(BASE), &old, today());
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0].rule, "deprecation");
    assert_eq!(announced[0].verdict, Verdict::Informational);
    // Shortening the window is breaking.
    let shorter = suite(&deprecated.replace("2026-12-31", "2026-12-15"));
    assert_eq!(
        diff(&old, &shorter, today())[0].rule,
        "deprecation_shortened"
    );
    // Removal of the column (and of the rules that read it).
    let removed = suite(
        &deprecated
            .replace(
                "    - {name: code, type: string, deprecated: {after: 2026-12-31, note: use code_v2}}\n",
                "",
            )
            .replace("  - {id: code_set, expect: in_set, column: code, values: [A, B, C]}\n", "")
            .replace("  - {id: code_shape, expect: matches_regex, column: code, regex: '^[A-Z]$'}\n", ""),
    );
    let col = |cs: &[dq_gate::suite::diff::Change]| {
        cs.iter()
            .find(|c| c.path == "schema.code")
            .cloned()
            .unwrap()
    };
    let early = diff(&old, &removed, today());
    assert_eq!(col(&early).rule, "column_removed_early");
    assert_eq!(col(&early).verdict, Verdict::Breaking);
    let after = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let on_time = diff(&old, &removed, after);
    assert_eq!(col(&on_time).rule, "column_removed_announced");
    assert_eq!(col(&on_time).verdict, Verdict::Compatible);

    // The notes list the deprecation; lint warns once the window is past.
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, BASE).unwrap();
    std::fs::write(&b, deprecated.replace("version: 1", "version: 2")).unwrap();
    let o = dq(
        &[
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "md",
        ],
        &root(),
    );
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("## Deprecated\n\n- `code` may be removed after 2026-12-31: use code_v2"),
        "{md}"
    );
    assert_eq!(o.status.code(), Some(0));
    let past = dir.path().join("past.yaml");
    std::fs::write(&past, deprecated.replace("2026-12-31", "2020-01-01")).unwrap();
    let o = dq(&["lint", past.to_str().unwrap()], &root());
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("column `code` was deprecated until 2020-01-01"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A bad date is an error at its key.
    let bad = suite_err(&deprecated.replace("2026-12-31", "31.12.2026"));
    assert!(
        bad.contains("deprecated.after") && bad.contains("is not a date"),
        "{bad}"
    );
}

fn suite_err(text: &str) -> String {
    Suite::from_yaml(text, "s.yaml").unwrap_err().to_string()
}

/// `--against`: the rows of a sample the new suite would treat differently, row by row.
#[test]
fn against_sample_data() {
    let o = dq(
        &[
            "diff",
            "expectations/claims.yaml",
            "expectations/claims_v4.yaml",
            "--against",
            "fixtures/claims",
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
        ],
        &root(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Version 4 accepts `hmo01`: one row of the fixtures passes that version 3 quarantined
    // (the other two rows with a lower-case code break other rules too).
    assert_eq!(v["against"]["rows"], 80);
    assert_eq!(v["against"]["newly_quarantined"], 0);
    assert_eq!(v["against"]["no_longer_quarantined"], 1);
    // And the reverse diff, the mirror.
    let o = dq(
        &[
            "diff",
            "expectations/claims_v4.yaml",
            "expectations/claims.yaml",
            "--against",
            "fixtures/claims",
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
        ],
        &root(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["against"]["newly_quarantined"], 1);
    assert_eq!(v["against"]["no_longer_quarantined"], 0);
}

/// `git:REV:path` reads a suite from the repository: the bundled suite at HEAD against its
/// version 4 file gives the same verdict as the two files.
#[test]
fn a_suite_from_git() {
    let o = dq(
        &[
            "diff",
            "git:HEAD:expectations/claims.yaml",
            "expectations/claims_v4.yaml",
        ],
        &root(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.starts_with("claims v3 -> claims v4: BREAKING"),
        "{text}"
    );
    let o = dq(
        &["diff", "git:no-such-rev:x.yaml", "expectations/claims.yaml"],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("git show no-such-rev:x.yaml failed"));
}
