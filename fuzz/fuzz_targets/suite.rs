//! Any bytes as a suite file: parsing and binding end in a suite or a suite error, never a
//! panic, and a suite that loads is evaluated over a small batch without one.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(suite) = dq_gate::CompiledSuite::from_yaml(text, "fuzz.yaml") else {
        return;
    };
    let validator = dq_gate::Validator::builder(Arc::new(suite)).build();
    let _ = validator.validate_batch(&common::batch());
});
