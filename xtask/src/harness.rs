//! The test harness of `cargo xtask test`: counting checks, running this very xtask, and the
//! promises every command keeps on bad input. Only the checks (`*/checks.rs`) use it; the
//! commands themselves never do.

use std::process::Output;

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

/// Counts checks and reports each one as it ends.
#[derive(Default)]
pub struct Suite {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Suite {
    /// Runs one check; its value is handed on only when it passed, so that checks that depend
    /// on it are not run (the failure is already counted).
    pub fn check<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Option<T> {
        match f() {
            Ok(value) => {
                self.passed += 1;
                println!("PASS {name}");
                Some(value)
            }
            Err(err) => {
                self.failed += 1;
                println!("FAIL {name}: {err:#}");
                None
            }
        }
    }

    /// Says loudly that a check was not run, and why; it counts neither as passed nor as failed,
    /// and the last line says how many there were.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        println!("SKIP {name}: {why}");
    }

    pub fn finish(self) -> Result<()> {
        let skipped = match self.skipped {
            0 => String::new(),
            n => format!(" ({n} skipped: see SKIP above)"),
        };
        println!("{} passed, {} failed{skipped}", self.passed, self.failed);
        if self.failed > 0 || self.passed == 0 {
            bail!("{} checks failed", self.failed);
        }
        Ok(())
    }
}

/// Runs this very xtask binary (not cargo again) with `args`, echoing its output into the log.
pub fn xtask(sh: &Shell, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let mut run = cmd!(sh, "{exe} {args...}").ignore_status();
    for (name, value) in env {
        run = run.env(name, value);
    }
    let out = run.output()?;
    for text in [&out.stdout, &out.stderr] {
        for line in String::from_utf8_lossy(text).lines() {
            println!("    | {line}");
        }
    }
    Ok(out)
}

/// The promise every command keeps on bad input: it fails, and says why in one last line
/// `error: …` (returned).
pub fn one_error_line(out: &Output) -> Result<String> {
    ensure!(!out.status.success(), "it succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    ensure!(
        errors == 1 && last.starts_with("error:"),
        "the error is not one last line: {stderr:?}"
    );
    Ok(last.to_string())
}

/// The promise of a step given bad input: it fails, with one line that says `needle`.
pub fn fails_saying<T>(result: Result<T>, needle: &str) -> Result<()> {
    let Err(err) = result else {
        bail!("it succeeded");
    };
    let err = format!("{err:#}");
    ensure!(
        err.contains(needle) && !err.contains('\n'),
        "unclear error: {err}"
    );
    Ok(())
}
