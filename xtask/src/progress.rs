//! Long steps of the user commands (builds, starts, a kernel compile): what is being done and for
//! how long — a spinner with the elapsed time on a terminal, one plain line at the start and one
//! at the end elsewhere (CI logs). The inside of the step (docker's build output, compose's
//! progress) is kept out of sight and shown only when the step fails, or with `--verbose`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// Environment variable behind the global `--verbose` flag: read by clap only, and set on the
/// child `cargo xtask` runs ([`crate::ctx::Ctx::xtask`]).
pub const VERBOSE_VAR: &str = "XTASK_VERBOSE";
/// `--verbose`, set once by `main` (from [`crate::ctx::Ctx::verbose`]) before any step starts:
/// steps start deep inside commands, where passing it down would add a parameter to every
/// function on the way.
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Lines of a failed step's output shown with its error.
const TAIL: usize = 30;

/// Whether `--verbose` was given: show the inside of every step as it happens.
pub fn verbose() -> bool {
    VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets [`verbose`] for the run (`main` only).
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, std::sync::atomic::Ordering::Relaxed);
}

/// One step under way; ends with [`Step::done`] (or on drop, when it failed).
pub struct Step {
    what: String,
    start: Instant,
    spinner: Option<ProgressBar>,
}

impl Step {
    pub fn start(what: &str) -> Step {
        let terminal = std::io::stderr().is_terminal() && !verbose();
        let spinner = terminal.then(|| {
            let spinner = ProgressBar::new_spinner().with_message(what.to_string());
            let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("a valid template");
            spinner.set_style(style);
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        if spinner.is_none() {
            eprintln!("… {what}");
        }
        Step {
            what: what.to_string(),
            start: Instant::now(),
            spinner,
        }
    }

    pub fn done(mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
        let secs = self.start.elapsed().as_secs_f64();
        eprintln!("✓ {} ({secs:.1} s)", self.what);
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }
}

/// Runs `cmd` as a step called `what`: echoed as `$ …`, its output kept in
/// target/logs/steps/NAME.log and shown (the last lines) only if it fails; with `--verbose` it
/// streams.
pub fn run(cmd: xshell::Cmd<'_>, what: &str, name: &str) -> Result<()> {
    eprintln!("$ {cmd}");
    if verbose() {
        return Ok(cmd.quiet().run()?);
    }
    let step = Step::start(what);
    let out = cmd
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("{what}: could not run the command"))?;
    let text = plain(&format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    let dir = crate::docker::project_root().join("target/logs/steps");
    let log = dir.join(format!("{name}.log"));
    let kept = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&log, &text));
    if !out.status.success() {
        drop(step);
        show_tail(&text);
        let full = match kept {
            Ok(()) => format!("all of it in {}", log.display()),
            Err(_) => "its last lines are above".into(),
        };
        bail!("{what} failed ({}; {full})", out.status);
    }
    step.done();
    Ok(())
}

/// The end of a failed step's output, on standard error.
pub fn show_tail(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(TAIL)..] {
        eprintln!("  | {}", plain(line));
    }
}

/// Text without terminal escapes (colours, cursor moves, titles) and without the carriage
/// returns of progress lines, so that logs read the same in an editor and in CI.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters up to a final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // two-byte sequences (ESC c, ESC 7, …)
                _ => {}
            },
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn plain_text_loses_escapes() {
        let raw = "\u{1b}[1m\u{1b}[33mDon't run Bundler as root\u{1b}[0m\r\n\u{1b}]0;title\u{7}ok\u{1b}c 50%\r100%\n";
        assert_eq!(plain(raw), "Don't run Bundler as root\nok 50%\n100%\n");
        assert_eq!(plain("plain\n"), "plain\n");
    }
}
