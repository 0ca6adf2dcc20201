//! The `report` group: what `cargo xtask test` itself shows — a header per group, one line per
//! check, the total — and how a failing check shows the end of its log. It runs the lint group
//! in a child xtask (no engine needed), once as it is and once with a hadolint that fails.

use anyhow::{ensure, Context};

use crate::ctx::Ctx;
use crate::docker;
use crate::harness::{one_error_line, stand_in, xtask, Suite};
use crate::scratch::Scratch;

/// What the stand-in hadolint prints before it fails.
const SAID: &str = "stand-in hadolint: DL9999 a deliberate failure";

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    suite.check(
        "report: a group prints its header, one line per check and the total",
        || {
            let out = xtask(ctx, &["test", "--only", "lint"], &[])?;
            ensure!(out.status.success(), "the lint group failed");
            let stdout = String::from_utf8(out.stdout)?;
            let lines: Vec<&str> = stdout.lines().collect();
            ensure!(
                lines.first() == Some(&"== lint"),
                "no header first: {stdout}"
            );
            let total = lines.last().context("no output")?;
            ensure!(
                total.ends_with(" passed, 0 failed, 0 skipped"),
                "no total last: {total}"
            );
            for line in &lines[1..lines.len() - 1] {
                ensure!(is_check_line(line, "PASS"), "not a check line: {line:?}");
            }
            ensure!(!stdout.contains('\u{1b}'), "terminal escapes in a pipe");
            Ok(())
        },
    );
    suite.check(
        "report: a failing check shows the end of its log and the log's path",
        || {
            let bin = Scratch::temp("report")?;
            stand_in(bin.path(), "hadolint", &format!("echo '{SAID}'\nexit 1\n"))?;
            let path = format!("{}:{}", bin.path().display(), std::env::var("PATH")?);
            let out = xtask(ctx, &["test", "--only", "lint"], &[("PATH", &path)])?;
            one_error_line(&out)?;
            let stdout = String::from_utf8(out.stdout)?;
            let lines: Vec<&str> = stdout.lines().collect();
            let fail = lines
                .iter()
                .position(|l| is_check_line(l, "FAIL"))
                .context("no FAIL line")?;
            let shown: Vec<&str> = lines[fail + 1..]
                .iter()
                .take_while(|l| l.starts_with("    "))
                .copied()
                .collect();
            ensure!(
                shown.contains(&format!("    | {SAID}").as_str()),
                "the log's tail is not shown under the FAIL line: {stdout}"
            );
            let log = shown
                .last()
                .and_then(|l| l.strip_prefix("    log: "))
                .context("no log path under the FAIL line")?;
            let text = std::fs::read_to_string(docker::project_root().join(log))
                .with_context(|| format!("reading {log}"))?;
            ensure!(text.contains(SAID), "{log} does not hold the output");
            let total = lines.last().context("no output")?;
            let (_, counts) = total
                .split_once(" passed, ")
                .with_context(|| format!("no total last: {total}"))?;
            ensure!(
                counts.ends_with(" skipped") && !counts.starts_with("0 failed"),
                "the total does not count the failure: {total}"
            );
            Ok(())
        },
    );
}

/// `PASS name (1.2 s)` or `FAIL name (1.2 s): why`.
fn is_check_line(line: &str, word: &str) -> bool {
    let Some(rest) = line.strip_prefix(word).and_then(|r| r.strip_prefix(' ')) else {
        return false;
    };
    rest.match_indices(" (").any(|(at, _)| {
        let after = &rest[at + 2..];
        after.split_once(" s)").is_some_and(|(secs, tail)| {
            secs.parse::<f64>().is_ok() && (tail.is_empty() || tail.starts_with(": "))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::is_check_line;

    #[test]
    fn check_lines_are_recognised() {
        assert!(is_check_line("PASS nginx: image builds (2.3 s)", "PASS"));
        assert!(is_check_line(
            "FAIL a (b) (0.0 s): it broke (badly)",
            "FAIL"
        ));
        assert!(!is_check_line("PASS nginx: image builds", "PASS"));
        assert!(!is_check_line("$ docker build", "PASS"));
        assert!(is_check_line("FAIL x (0.0 s): y (pip install z)", "FAIL"));
    }
}
