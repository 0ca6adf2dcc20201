//! The ```console blocks of answers.md and of docs/answers-notes.md (where its long asides went,
//! with their demonstrations): each `$ command` line and the output quoted under it, read for
//! comparison and written back with `cargo xtask answers --write-docs`.

use std::path::PathBuf;

use anyhow::{ensure, Context, Result};

use super::output::normalised;
use crate::docker;

/// The texts that quote demonstrations.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Doc {
    Answers,
    Notes,
}

impl Doc {
    pub const ALL: [Doc; 2] = [Doc::Answers, Doc::Notes];

    /// Relative to the project's root.
    pub fn name(self) -> &'static str {
        match self {
            Doc::Answers => "answers.md",
            Doc::Notes => "docs/answers-notes.md",
        }
    }

    pub fn path(self) -> PathBuf {
        docker::project_root().join(self.name())
    }

    pub fn read(self) -> Result<String> {
        std::fs::read_to_string(self.path())
            .with_context(|| format!("reading {} in the project's root", self.name()))
    }
}

/// One command quoted in answers.md, with the output under it.
#[derive(Debug, PartialEq)]
pub struct Quote {
    pub command: String,
    pub output: Vec<String>,
}

/// Every quoted command in order. Blocks may sit indented in a list item; the indentation is
/// not part of a line.
pub fn quotes(markdown: &str) -> Vec<Quote> {
    let mut quotes: Vec<Quote> = Vec::new();
    let mut in_console = false;
    for line in markdown.lines().map(str::trim_start) {
        if line.starts_with("```") {
            in_console = !in_console && line.trim() == "```console";
        } else if in_console {
            if let Some(command) = line.strip_prefix("$ ") {
                quotes.push(Quote {
                    command: command.to_string(),
                    output: Vec::new(),
                });
            } else if let Some(quote) = quotes.last_mut() {
                quote.output.push(line.trim_end().to_string());
            }
        }
    }
    quotes
}

/// Whether `output` (already masked) is what `quote` shows, outside the marked parts.
pub fn matches(quote: &[String], output: &[String]) -> bool {
    normalised(quote) == normalised(output)
}

/// `markdown` with the output under the n-th quoted command replaced by `outputs[n]`, where
/// given; `None` keeps the quote (its command did not run).
pub fn rewrite(markdown: &str, outputs: &[Option<Vec<String>>]) -> Result<String> {
    let mut out = String::new();
    let mut in_console = false;
    // The quote whose output lines are being passed, and the number of the next one.
    let mut index: Option<usize> = None;
    let mut next = 0;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("```") {
            in_console = !in_console && trimmed.trim() == "```console";
            index = None;
        } else if in_console {
            if trimmed.starts_with("$ ") {
                let n = next;
                next += 1;
                index = Some(n);
                out.push_str(line);
                out.push('\n');
                if let Some(Some(new)) = outputs.get(n) {
                    for output in new {
                        out.push_str(indent);
                        out.push_str(output);
                        out.push('\n');
                    }
                }
                continue;
            }
            if let Some(n) = index {
                if matches!(outputs.get(n), Some(Some(_))) {
                    // Replaced above.
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    let written = quotes(&out).len();
    ensure!(
        written == quotes(markdown).len(),
        "rewriting lost quoted commands"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "$ not this\n```console\n$ echo 1\n1\n```\n```text\n$ nor this\n```\n\
                      - item\n\n  ```console\n  $ uname -r\n  ⟨6.1⟩\n  $ nproc\n  ```\n";

    #[test]
    fn quotes_come_only_from_console_blocks_with_their_outputs() {
        let q = quotes(MD);
        let commands: Vec<&str> = q.iter().map(|q| q.command.as_str()).collect();
        assert_eq!(commands, ["echo 1", "uname -r", "nproc"]);
        assert_eq!(q[1].output, ["⟨6.1⟩"]);
        assert!(q[2].output.is_empty());
    }

    #[test]
    fn rewriting_replaces_outputs_in_place_and_keeps_the_rest() {
        let new = [
            Some(vec!["2".to_string()]),
            None,
            Some(vec!["⟨4⟩".to_string(), "x".into()]),
        ];
        let md = rewrite(MD, &new).unwrap();
        assert_eq!(
            md,
            "$ not this\n```console\n$ echo 1\n2\n```\n```text\n$ nor this\n```\n\
             - item\n\n  ```console\n  $ uname -r\n  ⟨6.1⟩\n  $ nproc\n  ⟨4⟩\n  x\n  ```\n"
        );
        assert_eq!(rewrite(&md, &[]).unwrap(), md);
    }
}
