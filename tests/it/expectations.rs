//! Every suite in expectations/ parses, binds to its contract, and lints clean.

use dq_gate::CompiledSuite;

use super::util::root;

#[test]
fn every_example_suite_loads() {
    let dir = root().join("expectations");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let c = CompiledSuite::from_path(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let s = c.suite();
            assert!(!s.expectations.is_empty(), "{}", path.display());
            assert!(s.schema.is_some(), "{} has no contract", path.display());
            n += 1;
        }
    }
    assert!(n >= 2, "expected at least two example suites, found {n}");
}
