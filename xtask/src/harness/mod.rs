//! The test harness of `cargo xtask test`: counting checks, running this very xtask, and the
//! promises every command keeps on bad input. Only the checks (`*/checks.rs`) use it; the
//! commands themselves never do.

mod capture;
pub mod confinement;

use std::io::IsTerminal;
use std::path::PathBuf;
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
    /// None with `--verbose`: everything streams to the terminal as it comes.
    capture: Option<Capture>,
    color: bool,
    group: String,
    logs: PathBuf,
    index: usize,
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
            capture,
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            group: String::new(),
            logs: crate::docker::project_root().join("target/logs"),
            index: 0,
        })
    }

    /// Starts a group of checks: its header, and a fresh directory for its logs. What runs
    /// between its checks (teardowns) goes to its `group.log`.
    pub fn group(&mut self, name: &str) -> Result<()> {
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

    /// Runs one check; its value is handed on only when it passed, so that checks that depend
    /// on it are not run (the failure is already counted).
    pub fn check<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Option<T> {
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
                Some(value)
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
                None
            }
        }
    }

    pub fn finish(mut self) -> Result<()> {
        self.say(&format!("{} passed, {} failed", self.passed, self.failed));
        // Back to the terminal for the error below, and whatever comes after.
        self.capture = None;
        if self.failed > 0 || self.passed == 0 {
            bail!("{} checks failed", self.failed);
        }
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
