//! `cargo xtask test`: every check of the project, hermetic and against a real Docker engine,
//! ending with the line `N passed, N failed, N skipped`.

use anyhow::{Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

mod checks;
mod meta;

use crate::harness::Suite;
use crate::{answers, bench, docker, kernel, lint, nginx, push, redmine, swarm};

/// Run every test: `cargo test`, linters, and the checks against a real Docker engine.
#[derive(Args)]
pub struct Test {
    /// Run only the groups whose name contains this text (unit, lint, nginx, answers, kernel, …).
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
}

/// A group of checks: its name and what it runs.
type Group = (&'static str, fn(&Shell, &mut Suite));

/// The groups that need no Docker engine.
const HERMETIC: &[&str] = &["unit", "lint", "report", "meta"];

const GROUPS: &[Group] = &[
    ("unit", unit),
    ("lint", lint::run),
    ("report", checks::run),
    ("meta", meta::run),
    ("nginx", nginx::checks::run),
    ("flavour", nginx::checks::flavour_choice),
    ("push", push::checks::run),
    ("redmine", redmine::checks::run),
    ("swarm", swarm::checks::run),
    ("answers", answers::checks::run),
    ("kernel", kernel::checks::run),
    ("bench", bench::checks::run),
];

impl Test {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let mut suite = Suite::new(crate::progress::verbose())?;
        let selected = GROUPS
            .iter()
            .filter(|(name, _)| self.only.as_deref().is_none_or(|only| name.contains(only)));
        let mut engine = None;
        for (name, group) in selected {
            // The hermetic groups come first and need no engine.
            if !HERMETIC.contains(name) {
                // Without an engine every later check would fail for the same reason: say it
                // once, loudly, and each group that needed it is skipped with that reason.
                let engine = engine.get_or_insert_with(|| {
                    suite.check("docker engine is reachable", || docker::engine(sh))
                });
                if let Some(needs) = engine.needs() {
                    suite.skip(&format!("group {name}"), &needs);
                    continue;
                }
            }
            suite.group(name)?;
            group(sh, &mut suite);
        }
        suite.finish()
    }
}

/// The hermetic tests, so that one command runs everything.
fn unit(sh: &Shell, suite: &mut Suite) {
    suite.check("cargo test (hermetic)", || {
        cmd!(sh, "cargo test --workspace --quiet")
            .run()
            .context("cargo test failed")
    });
}
