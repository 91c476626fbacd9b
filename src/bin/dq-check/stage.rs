//! `dq-check commit-staged`: wiring only.

use std::collections::HashMap;

use dq_gate::stage::commit_staged;
use dq_gate::{Error, Suite};

use crate::args::{CommitStagedArgs, OutputFormat};

pub fn run(a: &CommitStagedArgs) -> Result<u8, Error> {
    let suite = a.suite.as_ref().map(Suite::from_path).transpose()?;
    let runs = crate::run_log(a.runs.as_ref(), a.target.as_ref(), suite.as_ref())?;
    let done =
        crate::runtime()?.block_on(commit_staged(&runs, &HashMap::new(), a.commit_attempts))?;
    match a.format {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&done).expect("serializes")
            )
        }
        OutputFormat::Text => {
            println!("{} staged run(s) in {runs}", done.runs.len());
            for c in &done.commits {
                match c.version {
                    Some(v) => println!(
                        "  {}: v{v}, {} run(s), {} rows",
                        c.uri,
                        c.runs.len(),
                        c.rows
                    ),
                    None => println!("  {}: nothing to add (every run is in it)", c.uri),
                }
            }
        }
    }
    Ok(0)
}
