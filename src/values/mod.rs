//! Column values: the ground floor every stage stands on.
//!
//! How a value of any Arrow layout is read, compared and parsed from text, with no notion of
//! suites, rules or tables. Kernels, metric states, the conforming of text inputs and the
//! rendering of samples all read values through here, so each of them dispatches on the Arrow
//! type once and runs a loop over native values, with validity attached afterwards.

pub(crate) mod access;
pub(crate) mod domain;
pub(crate) mod numeric;
pub(crate) mod parse;
pub(crate) mod show;

pub use domain::Typed;
