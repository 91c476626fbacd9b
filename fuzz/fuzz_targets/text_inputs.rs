//! Any bytes as a CSV file and as an NDJSON file read with a contract: a report or an input
//! error naming the file, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

const SUITE: &str = "dq_suite: 1
name: f
version: 1
schema:
  mode: additive
  columns:
    - {name: id, type: int64, nullable: false, tags: [key]}
    - {name: code, type: string, tags: [pii]}
    - {name: amount, type: 'decimal(10,2)'}
    - {name: day, type: date32}
    - {name: at, type: 'timestamp(us, UTC)'}
    - {name: ok, type: bool}
    - {name: score, type: float64}
expectations:
  - {id: code_known, expect: in_set, column: code, values: [A, B]}
  - {id: unique_id, expect: unique, column: id}
  - {id: amount_mean, expect: metric, metric: mean, column: amount, min: 0}
";

fn validator() -> &'static dq_gate::Validator {
    static V: OnceLock<dq_gate::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let suite = dq_gate::CompiledSuite::from_yaml(SUITE, "f.yaml").expect("the suite loads");
        dq_gate::Validator::builder(Arc::new(suite)).build()
    })
}

fn dir() -> &'static std::path::Path {
    static D: OnceLock<std::path::PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("dq-gate-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    for name in ["in.csv", "in.ndjson"] {
        let path = dir().join(name);
        std::fs::write(&path, data).expect("the input is written");
        let _ = validator().validate_paths(&[&path]);
    }
});
