//! Kernel families, one file each. Every kernel takes an Arrow array and returns a
//! `BooleanArray` (`true` pass, null where the value was null); the null policy is applied in
//! [`super::nulls`], never here.

pub(crate) mod expr;
pub(crate) mod future;
pub(crate) mod range;
pub(crate) mod set;
pub(crate) mod strings;
pub(crate) mod unique;
