//! Problems found in a suite file, reported together like a compiler's diagnostics.

use std::fmt;

use super::yaml::Pos;

/// One problem: where, under which key, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteProblem {
    /// Line and column in the file.
    pub pos: Pos,
    /// Key path, e.g. `expectations[3].values` (empty for the document itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one suite file, sorted by position.
#[derive(Debug, Clone)]
pub struct SuiteProblems {
    file: String,
    problems: Vec<SuiteProblem>,
}

impl SuiteProblems {
    pub(crate) fn new(file: &str, mut problems: Vec<SuiteProblem>) -> Self {
        problems.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.path.cmp(&b.path)));
        problems.dedup();
        SuiteProblems {
            file: file.to_string(),
            problems,
        }
    }

    /// The file name as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The problems, in file order.
    pub fn problems(&self) -> &[SuiteProblem] {
        &self.problems
    }
}

impl fmt::Display for SuiteProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid suite {} ({n} problem{})",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}:{}:{}: ", self.file, p.pos.line, p.pos.col)?;
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteProblems {}
