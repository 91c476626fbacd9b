//! Integration tests, one binary (one link of the whole stack).

mod cli;
mod eval;
mod expectations;
mod gate;
mod golden;
mod props;
mod suite_parse;
mod util;
