//! The test harness of `cargo xtask test`: counting checks, running this very xtask, and the
//! promises every command keeps on bad input. Only the checks (`*/checks.rs`) use it; the
//! commands themselves never do.

mod capture;
pub mod confinement;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use crate::ctx::Ctx;
use crate::progress::plain;
use anyhow::{bail, ensure, Context, Result};
use capture::Capture;

/// Counts checks and reports each one as it ends: one line each, with its duration. What a
/// check prints, and everything the commands it runs print, goes to its own log under
/// target/logs/GROUP/; a failed check's line is followed by the end of its log and its path.
pub struct Suite {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// None with `--verbose`: everything streams to the terminal as it comes.
    capture: Option<Capture>,
    color: bool,
    group: String,
    logs: PathBuf,
    index: usize,
    /// Where the suite's own lines go instead of the terminal ([`Suite::reporting_to`]).
    report: Option<std::fs::File>,
}

/// Lines of a failed check's log shown under its FAIL line.
const TAIL: usize = 20;

impl Suite {
    pub fn new(verbose: bool) -> Result<Suite> {
        let capture = if verbose {
            None
        } else {
            Some(Capture::start()?)
        };
        let terminal = match &capture {
            Some(capture) => capture.is_terminal(),
            None => std::io::stdout().is_terminal(),
        };
        Ok(Suite {
            passed: 0,
            failed: 0,
            skipped: 0,
            capture,
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            group: String::new(),
            logs: crate::docker::project_root().join("target/logs"),
            index: 0,
            report: None,
        })
    }

    /// A suite whose own lines (PASS, FAIL, SKIP, the total) go to the file `report`, without
    /// colours: the `meta` group runs one inside a check and reads what it said.
    pub fn reporting_to(report: &Path) -> Result<Suite> {
        let file = std::fs::File::create(report)
            .with_context(|| format!("creating {}", report.display()))?;
        let mut suite = Suite::new(false)?;
        suite.report = Some(file);
        suite.color = false;
        Ok(suite)
    }

    /// Starts a group of checks: its header, and a fresh directory for its logs. What runs
    /// between its checks (teardowns) goes to its `group.log`.
    pub fn group(&mut self, name: &str) -> Result<()> {
        self.end_group();
        self.group = name.to_string();
        self.index = 0;
        let dir = self.logs.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.say(&format!("== {name}"));
        if let Some(capture) = &self.capture {
            capture.to(&dir.join("group.log"))?;
        }
        Ok(())
    }

    /// Runs one check. Its value is handed on only when it passed; the checks that need it
    /// ([`Suite::after`]) are otherwise reported as skipped, "needs NAME", and counted.
    pub fn check<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Got<T> {
        self.index += 1;
        let log = self.log_path(name);
        let logged = match &self.capture {
            Some(capture) => capture.to(&log).map(|()| true).unwrap_or(false),
            None => false,
        };
        let start = Instant::now();
        let result = f();
        let took = format!("({:.1} s)", start.elapsed().as_secs_f64());
        if let Some(capture) = &self.capture {
            let _ = capture.to(&self.logs.join(&self.group).join("group.log"));
        }
        let text = logged
            .then(|| std::fs::read_to_string(&log).ok())
            .flatten()
            .map(|raw| plain(&raw));
        if let Some(text) = &text {
            let _ = std::fs::write(&log, text);
        }
        match result {
            Ok(value) => {
                self.passed += 1;
                self.say(&format!("{} {name} {took}", self.paint("PASS", "32")));
                Got(Ok(value))
            }
            Err(err) => {
                self.failed += 1;
                let err = plain(&format!("{err:#}"));
                self.say(&format!(
                    "{} {name} {took}: {err}",
                    self.paint("FAIL", "31")
                ));
                if let Some(text) = &text {
                    let lines: Vec<&str> = text.lines().collect();
                    for line in &lines[lines.len().saturating_sub(TAIL)..] {
                        self.say(&format!("    | {line}"));
                    }
                    let shown = log
                        .strip_prefix(crate::docker::project_root())
                        .unwrap_or(&log);
                    self.say(&format!("    log: {}", shown.display()));
                }
                Got(Err(Needs(name.to_string())))
            }
        }
    }

    /// Runs a check that needs what `dep` handed on; when `dep` failed (or was skipped), it is
    /// reported as skipped with "needs NAME" of the check that failed, and counted.
    pub fn after<D, T>(
        &mut self,
        dep: Got<D>,
        name: &str,
        f: impl FnOnce(D) -> Result<T>,
    ) -> Got<T> {
        match dep.0 {
            Ok(value) => self.check(name, || f(value)),
            Err(needs) => {
                self.skip(name, &needs.reason());
                Got(Err(needs))
            }
        }
    }

    /// A check that cannot run here: `SKIP name: reason`, counted.
    pub fn skip(&mut self, name: &str, reason: &str) {
        self.index += 1;
        self.skipped += 1;
        self.say(&format!("{} {name}: {reason}", self.paint("SKIP", "33")));
    }

    /// A group that reported no check at all (none passed, failed or was skipped) is a failure:
    /// no group passes without running.
    fn end_group(&mut self) {
        if !self.group.is_empty() && self.index == 0 {
            self.failed += 1;
            let group = self.group.clone();
            self.say(&format!(
                "{} group {group}: it ran no check",
                self.paint("FAIL", "31")
            ));
        }
    }

    pub fn finish(mut self) -> Result<()> {
        self.end_group();
        // Plain on purpose, even on a terminal: CI and the `report` group read this line.
        self.say(&format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        ));
        // Back to the terminal for the error below, and whatever comes after.
        self.capture = None;
        ensure!(self.failed == 0, "{} checks failed", self.failed);
        ensure!(self.passed > 0, "no check passed");
        Ok(())
    }

    /// `target/logs/GROUP/NN-name-of-the-check.log`.
    fn log_path(&self, name: &str) -> PathBuf {
        let slug: String = name
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join("-")
            .chars()
            .take(60)
            .collect();
        let group = if self.group.is_empty() {
            "run"
        } else {
            &self.group
        };
        let dir = self.logs.join(group);
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!("{:02}-{slug}.log", self.index))
    }

    fn say(&self, line: &str) {
        if let Some(mut report) = self.report.as_ref() {
            use std::io::Write;
            let _ = writeln!(report, "{line}");
            return;
        }
        match &self.capture {
            Some(capture) => capture.say(line),
            None => println!("{line}"),
        }
    }

    /// `word` in an ANSI colour, on a terminal without NO_COLOR only.
    fn paint(&self, word: &str, color: &str) -> String {
        if self.color {
            format!("\x1b[{color}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }
}

/// What a check hands on to the checks that need it: its value when it passed, else the name of
/// the check that failed, the reason its dependents are skipped.
#[derive(Clone)]
pub struct Got<T>(std::result::Result<T, Needs>);

/// The name of the failed check a skipped one needed.
#[derive(Clone, Debug)]
pub struct Needs(String);

impl Needs {
    fn reason(&self) -> String {
        format!("needs {}", self.0)
    }
}

impl<T> Got<T> {
    /// The value, when the check passed.
    pub fn ok(self) -> Option<T> {
        self.0.ok()
    }

    /// "needs NAME" when the check failed or was skipped.
    pub fn needs(&self) -> Option<String> {
        self.0.as_ref().err().map(Needs::reason)
    }

    pub fn as_ref(&self) -> Got<&T> {
        Got(self.0.as_ref().map_err(Needs::clone))
    }

    /// What is made from the value, for the checks after; a failure carries over.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Got<U> {
        Got(self.0.map(f))
    }

    /// Both values, for a check that needs two; the first failure carries over.
    pub fn and<U>(self, other: Got<U>) -> Got<(T, U)> {
        Got(self.0.and_then(|a| other.0.map(|b| (a, b))))
    }
}

/// Runs this very xtask binary (not cargo again) with `args` in the run's flavour (`env` may
/// override it), echoing its output into the log.
pub fn xtask(ctx: &Ctx, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let mut run = ctx.xtask(args)?.ignore_status();
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

/// A stand-in for a program, `dir/name`, running `body` with `/bin/sh`: put `dir` first on PATH
/// to make a command meet a tool that fails as the check wants.
pub fn stand_in(dir: &std::path::Path, name: &str, body: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}
