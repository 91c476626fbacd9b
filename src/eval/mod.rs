//! Evaluation: a suite bound to a schema, run over the chunks of a batch.
//!
//! [`CompiledSuite`] turns a [`Suite`] into rules (its expectations plus the contract's implicit
//! `schema.<column>.not_null` and `schema.<column>.type`). Binding to a concrete Arrow schema
//! resolves columns, types literals, compiles regexes, hash sets and SQL once, and is cached per
//! schema. [`batch::BatchRun`] then evaluates a batch chunk by chunk: row-level kinds give a
//! null-free failing-row mask per rule, aggregates update mergeable states, and uniqueness is
//! settled once the whole batch has been seen. Evaluation never does I/O.

pub mod batch;
mod bind;
mod chunk;
pub mod drive;
pub mod history;
pub(crate) mod kernels;
pub mod literal;
pub mod mask;
pub(crate) mod nulls;
mod settle;
mod spill;
mod unread;
mod verdict;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;

use crate::conform::Conformer;
use crate::error::{Error, Result, SuiteProblems};
use crate::suite::{NullPolicy, OnFail, Suite};

pub(crate) use bind::Bound;
use history::History;

/// Where a rule comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleSource {
    /// The suite's expectation at this index.
    Expectation(usize),
    /// `schema.<column>.not_null` for a `nullable: false` contract column (its index).
    NotNull(usize),
    /// `schema.<column>.type`: cells of a contract column that did not convert.
    Type(usize),
    /// A CHECK constraint of the target table (`delta.constraints.<name>`): its SQL.
    TableCheck(String),
    /// A `NOT NULL` column of the target table the contract does not already require.
    TableNotNull(String),
}

/// The target table's own rules, evaluated before a write with Delta's semantics: a CHECK
/// constraint that is FALSE or NULL, or a null in a `NOT NULL` column, quarantines the row
/// instead of failing the commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRules {
    /// CHECK constraints: name and SQL.
    pub checks: Vec<(String, String)>,
    /// `NOT NULL` columns.
    pub not_null: Vec<String>,
}

/// One rule the evaluator runs: an expectation or an implicit contract check.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub expect: &'static str,
    pub columns: Vec<String>,
    pub on_fail: OnFail,
    pub mostly: f64,
    pub nulls: NullPolicy,
    pub aggregate: bool,
    pub source: RuleSource,
    /// The message written into `_dq_violations` for a failing row.
    pub message: String,
}

/// A suite ready to evaluate: rules derived once, bindings cached per input schema.
#[derive(Debug)]
pub struct CompiledSuite {
    suite: Arc<Suite>,
    rules: Vec<Rule>,
    conformer: Option<Conformer>,
    bindings: Mutex<HashMap<SchemaRef, Arc<Bound>>>,
    /// What `history:` checks read; grows by a point per judged batch.
    history: Mutex<History>,
}

impl Clone for CompiledSuite {
    /// A copy with its own (empty) cache of bindings and its own copy of the history.
    fn clone(&self) -> Self {
        CompiledSuite {
            suite: self.suite.clone(),
            rules: self.rules.clone(),
            conformer: self.conformer.clone(),
            bindings: Mutex::new(HashMap::new()),
            history: Mutex::new(self.history.lock().expect("not poisoned").clone()),
        }
    }
}

impl CompiledSuite {
    /// Compiles a suite: binds its expectations to its schema contract (column types, typed
    /// bounds and sets, regexes, SQL) and derives its rules. Every problem is reported in one
    /// [`Error::Suite`] with its line, column and key path.
    pub fn new(suite: Suite) -> Result<Self> {
        let problems = bind::contract_problems(&suite, |_| true);
        if !problems.is_empty() {
            return Err(Error::Suite(SuiteProblems::new(suite.source(), problems)));
        }
        Ok(Self::bound(suite))
    }

    /// Parses and compiles a suite from YAML text, reporting the problems of both steps at
    /// once. `source` names the file in messages.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self> {
        let p = Suite::parse(text, source);
        let mut problems = p.problems;
        if let Some(s) = &p.suite {
            problems.extend(bind::contract_problems(s, |i| p.bindable[i]));
        }
        match p.suite {
            Some(s) if problems.is_empty() => Ok(Self::bound(s)),
            _ => Err(Error::Suite(SuiteProblems::new(source, problems))),
        }
    }

    /// Reads, parses and compiles a suite file (see [`CompiledSuite::from_yaml`]).
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(path, e))?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// A suite whose expectations bind to its contract.
    fn bound(suite: Suite) -> Self {
        let rules = rules_of(&suite);
        let conformer = suite.schema.clone().map(Conformer::new);
        CompiledSuite {
            suite: Arc::new(suite),
            rules,
            conformer,
            bindings: Mutex::new(HashMap::new()),
            history: Mutex::new(History::default()),
        }
    }

    /// The same suite judging its `history:` checks against `history` (points of earlier
    /// runs). Without it, they start from no history.
    pub fn with_history(self, history: History) -> Self {
        *self.history.lock().expect("not poisoned") = history;
        self
    }

    /// The history the `history:` checks read, with the points of the batches judged so far.
    pub fn history(&self) -> History {
        self.history.lock().expect("not poisoned").clone()
    }

    pub(crate) fn history_lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().expect("not poisoned")
    }

    /// The suite with a target table's own rules added as ordinary row rules (routing to
    /// quarantine, reported as `table_constraint`). `NOT NULL` columns the contract already
    /// requires are not checked twice. With a contract, every CHECK constraint must bind to it.
    pub(crate) fn with_table_rules(&self, table: &TableRules) -> Result<Self> {
        let mut rules = rules_of(&self.suite);
        let contract = self.suite.schema.as_ref();
        for (name, sql) in &table.checks {
            let id = format!("delta.constraints.{name}");
            if let Some(c) = contract {
                kernels::expr::BoolExpr::sql(sql, &c.arrow_schema()).map_err(|reason| {
                    Error::Bind {
                        expectation: id.clone(),
                        reason,
                    }
                })?;
            }
            rules.push(Rule {
                message: format!("CHECK constraint `{name}` ({sql}) is not true"),
                id,
                expect: "table_constraint",
                columns: Vec::new(),
                on_fail: OnFail::QuarantineRows,
                mostly: 1.0,
                // Delta's rule: NULL violates, as FALSE does.
                nulls: NullPolicy::Fail,
                aggregate: false,
                source: RuleSource::TableCheck(sql.clone()),
            });
        }
        for col in &table.not_null {
            let required = contract
                .and_then(|c| c.column(col))
                .is_some_and(|c| !c.nullable);
            if required {
                continue;
            }
            rules.push(Rule {
                id: format!("delta.not_null.{col}"),
                expect: "table_constraint",
                columns: vec![col.clone()],
                on_fail: OnFail::QuarantineRows,
                mostly: 1.0,
                nulls: NullPolicy::Ignore,
                aggregate: false,
                source: RuleSource::TableNotNull(col.clone()),
                message: format!("`{col}` is null but the table column is NOT NULL"),
            });
        }
        Ok(CompiledSuite {
            suite: self.suite.clone(),
            rules,
            conformer: self.conformer.clone(),
            bindings: Mutex::new(HashMap::new()),
            history: Mutex::new(self.history()),
        })
    }

    /// The suite.
    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(crate) fn conformer(&self) -> Option<&Conformer> {
        self.conformer.as_ref()
    }

    /// Binds to a (conformed) schema, reusing an earlier binding of an equal schema.
    pub(crate) fn bind(&self, schema: &SchemaRef) -> Result<Arc<Bound>> {
        if let Some(b) = self.bindings.lock().expect("not poisoned").get(schema) {
            return Ok(b.clone());
        }
        let bound =
            Bound::new(&self.suite, &self.rules, schema).map_err(|(expectation, reason)| {
                Error::Bind {
                    expectation,
                    reason,
                }
            })?;
        let bound = Arc::new(bound);
        self.bindings
            .lock()
            .expect("not poisoned")
            .insert(schema.clone(), bound.clone());
        Ok(bound)
    }
}

fn rules_of(suite: &Suite) -> Vec<Rule> {
    let mut rules = Vec::new();
    if let Some(c) = &suite.schema {
        for (i, col) in c.columns.iter().enumerate() {
            rules.push(Rule {
                id: format!("schema.{}.type", col.name),
                expect: "type",
                columns: vec![col.name.clone()],
                on_fail: OnFail::QuarantineRows,
                mostly: 1.0,
                nulls: NullPolicy::Ignore,
                aggregate: false,
                source: RuleSource::Type(i),
                message: format!("value does not parse as {}", col.ty),
            });
            if !col.nullable {
                rules.push(Rule {
                    id: format!("schema.{}.not_null", col.name),
                    expect: "not_null",
                    columns: vec![col.name.clone()],
                    on_fail: OnFail::QuarantineRows,
                    mostly: 1.0,
                    nulls: NullPolicy::Ignore,
                    aggregate: false,
                    source: RuleSource::NotNull(i),
                    message: format!(
                        "`{}` is null but the contract says nullable: false",
                        col.name
                    ),
                });
            }
        }
    }
    for (i, e) in suite.expectations.iter().enumerate() {
        rules.push(Rule {
            id: e.id.clone(),
            expect: e.kind.name(),
            columns: e.kind.columns().into_iter().map(String::from).collect(),
            on_fail: e.on_fail,
            mostly: e.mostly,
            nulls: e.nulls,
            aggregate: e.kind.is_aggregate(),
            source: RuleSource::Expectation(i),
            message: e.kind.violation_message(),
        });
    }
    rules
}
