//! Integration tests, one binary (one link of the whole stack).

mod alerts;
mod audit;
mod cli;
mod delta_input;
mod diff;
#[cfg(feature = "distributed")]
mod distributed;
mod eval;
mod expectations;
mod export;
mod facts;
mod faults;
mod gate;
mod golden;
mod history;
mod house;
mod html;
mod import;
mod parquet_read;
mod props;
mod release;
mod roundtrip;
#[cfg(feature = "s3")]
mod s3;
mod spill;
mod stage;
mod status;
mod suggest;
mod suite_parse;
mod trust;
mod util;
