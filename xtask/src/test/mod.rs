//! `cargo xtask test`: every check of the project, hermetic and against a real Docker engine,
//! ending with the line `N passed, N failed, N skipped`.

use anyhow::{Context, Result};
use clap::Args;
use xshell::cmd;

mod checks;
mod meta;

use crate::ctx::Ctx;
use crate::harness::Suite;
use crate::{answers, bench, docker, kernel, lint, nginx, push, redmine, swarm};

/// Run every test: `cargo test`, linters, and the checks against a real Docker engine.
#[derive(Args)]
pub struct Test {
    /// Run only this group (unit, lint, report, meta, nginx, flavour, push, redmine, swarm,
    /// answers, kernel, bench).
    #[arg(long, value_name = "GROUP")]
    only: Option<String>,
}

/// A group of checks: its name and what it runs.
type Group = (&'static str, fn(&Ctx, &mut Suite));

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
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        let selected = select(self.only.as_deref())?;
        let mut suite = Suite::new(ctx.verbose)?;
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
            group(ctx, &mut suite);
        }
        suite.finish()
    }
}

/// The groups `--only` names (exactly), or all of them.
fn select(only: Option<&str>) -> Result<Vec<&'static Group>> {
    let Some(only) = only else {
        return Ok(GROUPS.iter().collect());
    };
    match GROUPS.iter().find(|(name, _)| *name == only) {
        Some(group) => Ok(vec![group]),
        None => {
            let names: Vec<&str> = GROUPS.iter().map(|(name, _)| *name).collect();
            anyhow::bail!(
                "no test group `{only}`: --only takes one of {}",
                names.join(", ")
            )
        }
    }
}

/// The hermetic tests, so that one command runs everything.
fn unit(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    suite.check("cargo test (hermetic)", || {
        cmd!(sh, "cargo test --workspace --quiet")
            .run()
            .context("cargo test failed")
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_takes_a_group_name_exactly() {
        assert_eq!(select(None).unwrap().len(), GROUPS.len());
        assert_eq!(select(Some("nginx")).unwrap()[0].0, "nginx");
        let err = select(Some("ngin")).unwrap_err().to_string();
        assert!(
            err.starts_with("no test group `ngin`: --only takes one of unit, lint,")
                && !err.contains('\n'),
            "{err}"
        );
    }
}
