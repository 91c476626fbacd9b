//! Suite files: every problem reported at once with line, column and key path; fingerprints.

use dq_gate::{Error, Suite};

fn problems(text: &str) -> Vec<String> {
    match dq_gate::CompiledSuite::from_yaml(text, "s.yaml") {
        Ok(_) => panic!("expected problems"),
        Err(Error::Suite(p)) => p
            .problems()
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.pos.line, p.pos.col, p.path, p.message))
            .collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

const BROKEN: &str = r#"dq_suite: 1
name: claims
version: 0
colour: blue
schema:
  columns:
    - name: claim_id
      type: int64
    - name: plan_code
      type: strng
expectations:
  - id: a
    expect: in_set
    column: plan_code
    values: HMO01
  - id: a
    expect: between
    column: claim_id
    min: 1
    mostly: 1.5
  - id: rate
    expect: metric
    metric: null_fraction
    column: plan_code
    max: 0.1
    mostly: 0.9
  - id: npi
    expect: matches_regex
    column: provider_npi
    regex: '(?<=A)[0-9]+'
"#;

#[test]
fn every_problem_at_once_with_line_column_and_path() {
    let p = problems(BROKEN);
    let expected = [
        "3:10 version: expected an integer >= 1, found an integer `0`",
        "4:1 colour: unknown key `colour`",
        "10:13 schema.columns[1].type: unknown type `strng`",
        "15:13 expectations[0].values: expected a list of values, found a string",
        "16:9 expectations[1].id: duplicate expectation id `a`",
        "20:13 expectations[1].mostly: expected a number from 0 to 1, found a number `1.5`",
        "26:13 expectations[2].mostly: `mostly` applies to row-level kinds only",
        "30:12 expectations[3].regex: regex `(?<=A)[0-9]+` uses look-around",
    ];
    for e in expected {
        assert!(
            p.iter().any(|got| got.starts_with(e)),
            "missing {e:?} in\n{}",
            p.join("\n")
        );
    }
    assert_eq!(p.len(), expected.len(), "{}", p.join("\n"));
}

#[test]
fn the_message_reads_like_a_compiler() {
    let e = Suite::from_yaml(BROKEN, "suites/claims.yaml").unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("invalid suite suites/claims.yaml (8 problems)"),
        "{text}"
    );
    assert!(
        text.contains("\n  suites/claims.yaml:15:13: expectations[0].values: "),
        "{text}"
    );
}

#[test]
fn wrong_parameter_types_and_unknown_keys() {
    let p = problems(
        r#"dq_suite: 1
name: t
version: 1
expectations:
  - id: x
    expect: between
    column: a
    min: [1]
    stirct_max: true
  - id: y
    expect: length_between
    column: a
    max: -3
  - id: z
    expect: not_null
    column: a
    nulls: fail
  - id: w
    expect: freshness
    column: a
    max_age: 3 days
  - id: v
    expect: metric
    metric: row_count
    min: 1
    on_fail: quarantine_rows
  - id: Bad-Id
    expect: wobble
"#,
    );
    let want = [
        "8:10 expectations[0].min: expected a single value, found a list",
        "9:5 expectations[0].stirct_max: unknown key `stirct_max` for `between`",
        "13:10 expectations[1].max: expected a non-negative integer",
        "17:12 expectations[2].nulls: `nulls` does not apply to `not_null`",
        "21:14 expectations[3].max_age: `3 days` is not a duration",
        "26:14 expectations[4].on_fail: `metric` gives one verdict per batch",
        "27:9 expectations[5].id: expectation id `Bad-Id` must match",
        "28:13 expectations[5].expect: unknown kind `wobble`",
    ];
    for e in want {
        assert!(
            p.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in\n{}",
            p.join("\n")
        );
    }
    assert_eq!(p.len(), want.len(), "{}", p.join("\n"));
}

#[test]
fn bindings_against_the_contract_are_checked_at_load() {
    let p = problems(
        r#"dq_suite: 1
name: t
version: 1
schema:
  columns:
    - {name: d, type: date32}
    - {name: n, type: int64}
    - {name: s, type: string}
expectations:
  - {id: a, expect: between, column: d, min: 'yesterday'}
  - {id: b, expect: in_set, column: n, values: [1, x]}
  - {id: c, expect: matches_regex, column: n, regex: '[0-9]+'}
  - {id: e, expect: sql, expr: 'n >'}
  - {id: f, expect: sql, expr: 'nope = 1'}
  - {id: g, expect: metric, metric: mean, column: s, max: 1}
  - {id: h, expect: compare, left: n, op: '<', right: s}
"#,
    );
    let want = [
        "10:46 expectations[0].min: `'yesterday'` is not an ISO date",
        "11:48 expectations[1].values: `'x'` is not an integer",
        "12:44 expectations[2].column: `matches_regex` needs a string column",
        "13:32 expectations[3].expr: SQL does not parse",
        "14:32 expectations[4].expr: SQL `nope = 1` cannot be bound: No field named nope. Valid fields are d, n, s.",
        "15:37 expectations[5].metric: metric `mean` cannot be computed over a column of type string",
        "16:55 expectations[6].right: cannot compare int64 with string",
    ];
    for e in want {
        assert!(
            p.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in\n{}",
            p.join("\n")
        );
    }
    assert_eq!(p.len(), want.len(), "{}", p.join("\n"));
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let p = problems("dq_suite: 1\nname: [t\nversion: 1\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("not valid YAML"), "{p:?}");
}

#[test]
fn fingerprint_is_stable_under_key_order_whitespace_and_defaults() {
    let a = Suite::from_yaml(
        "dq_suite: 1\nname: t\nversion: 1\nexpectations:\n  - id: x\n    expect: in_set\n    column: c\n    values: [A, B]\n",
        "a",
    )
    .unwrap();
    let b = Suite::from_yaml(
        "# comment\nversion: 1\nname: t\ndq_suite: 1\nexpectations:\n- values: [A,   B]\n  column: c\n  expect: in_set\n  on_fail: quarantine_rows\n  mostly: 1.0\n  id: x\n",
        "b",
    )
    .unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
    let c = Suite::from_yaml(
        "dq_suite: 1\nname: t\nversion: 1\nexpectations:\n  - id: x\n    expect: not_in_set\n    column: c\n    values: [A, B]\n",
        "c",
    )
    .unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    let d = Suite::from_yaml(
        "dq_suite: 1\nname: t\nversion: 1\nexpectations:\n  - id: x\n    expect: in_set\n    column: c\n    values: [A, C]\n",
        "d",
    )
    .unwrap();
    assert_ne!(a.fingerprint(), d.fingerprint());
}

#[test]
fn other_format_versions_are_refused() {
    let p = problems("dq_suite: 2\nname: t\nversion: 1\nexpectations: []\n");
    assert!(p[0].contains("unsupported suite format"), "{p:?}");
}

#[test]
fn a_word_outside_its_choices_names_every_choice() {
    let p = problems(
        r#"dq_suite: 1
name: t
version: 1
schema:
  mode: loose
  columns:
    - {name: n, type: int64}
expectations:
  - {id: a, expect: in_set, column: n, values: [1], on_fail: drop, nulls: skip}
  - {id: b, expect: compare, left: n, op: '=>', value: 1}
"#,
    );
    assert_eq!(
        p,
        vec![
            "5:9 schema.mode: expected one of strict, additive; found a string `loose`",
            "9:62 expectations[0].on_fail: expected one of warn, quarantine_rows, quarantine_batch, fail; found a string `drop`",
            "9:75 expectations[0].nulls: expected one of ignore, pass, fail; found a string `skip`",
            "10:43 expectations[1].op: expected one of <, <=, =, ==, !=, <>, >=, >; found a string `=>`",
        ]
    );
}
