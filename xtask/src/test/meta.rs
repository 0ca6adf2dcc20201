//! The `meta` group: the suite's own test. It runs small suites of stand-in checks, one that must
//! fail among them, and reads what they report: a failure is counted and fails the run, the
//! check that needed it is skipped with "needs NAME" and counted, a group that runs no check and
//! a run of skips alone do not pass.

use anyhow::{bail, ensure, Context, Result};

use crate::harness::Suite;
use crate::scratch::Scratch;

pub fn run(_ctx: &crate::ctx::Ctx, suite: &mut Suite) {
    let _ = suite.check(
        "meta: a failing stand-in check is counted, its dependent skipped, and the run fails",
        || {
            let (ended, said) = inner(|inner| {
                inner.group("meta-stand-in")?;
                let _ = inner.check("stand-in: passes", || Ok(()));
                let failed = inner.check("stand-in: must fail", || -> Result<()> {
                    bail!("it fails on purpose")
                });
                let _ = inner.after(
                    failed,
                    "stand-in: needs the failed one",
                    |()| -> Result<()> { bail!("it ran although the check it needs failed") },
                );
                inner.skip("stand-in: cannot run here", "no such tool");
                Ok(())
            })?;
            ensure!(ended.is_err(), "the run ended successfully:\n{said}");
            let lines: Vec<&str> = said.lines().collect();
            for (prefix, suffix) in [
                ("PASS stand-in: passes (", " s)"),
                ("FAIL stand-in: must fail (", " s): it fails on purpose"),
                (
                    "SKIP stand-in: needs the failed one: needs stand-in: must fail",
                    "",
                ),
                ("SKIP stand-in: cannot run here: no such tool", ""),
            ] {
                ensure!(
                    lines
                        .iter()
                        .any(|l| l.starts_with(prefix) && l.ends_with(suffix)),
                    "no line {prefix}…{suffix} in:\n{said}"
                );
            }
            ensure!(
                !said.contains("it ran although"),
                "the dependent of the failed check ran:\n{said}"
            );
            closing(&said, "1 passed, 1 failed, 2 skipped")
        },
    );
    let _ = suite.check("meta: a group that runs no check fails the run", || {
        let (ended, said) = inner(|inner| {
            inner.group("meta-empty")?;
            inner.group("meta-one")?;
            let _ = inner.check("stand-in: passes", || Ok(()));
            Ok(())
        })?;
        ensure!(ended.is_err(), "the run ended successfully:\n{said}");
        ensure!(
            said.contains("FAIL group meta-empty: it ran no check"),
            "the empty group is not reported:\n{said}"
        );
        closing(&said, "1 passed, 1 failed, 0 skipped")
    });
    let _ = suite.check("meta: a run of skipped checks alone does not pass", || {
        let (ended, said) = inner(|inner| {
            inner.group("meta-skips")?;
            inner.skip("stand-in: cannot run here", "no such tool");
            Ok(())
        })?;
        let err = ended
            .err()
            .context(format!("the run ended successfully:\n{said}"))?;
        ensure!(
            format!("{err:#}").contains("no check passed"),
            "unclear: {err:#}"
        );
        closing(&said, "0 passed, 0 failed, 1 skipped")
    });
}

/// Runs `body` on a suite of its own; what its `finish` returned, and what it reported.
fn inner(body: impl FnOnce(&mut Suite) -> Result<()>) -> Result<(Result<()>, String)> {
    let dir = Scratch::temp("meta")?;
    let report = dir.join("report.txt");
    let mut suite = Suite::reporting_to(&report)?;
    body(&mut suite)?;
    let ended = suite.finish();
    let said = std::fs::read_to_string(&report).context("reading the stand-in suite's report")?;
    println!("{said}");
    Ok((ended, said))
}

fn closing(said: &str, expected: &str) -> Result<()> {
    let last = said.lines().last().unwrap_or_default();
    ensure!(last == expected, "closing line {last:?}, not {expected:?}");
    Ok(())
}
