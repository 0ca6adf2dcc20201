//! One source for figures: every measurement-like figure (a number and a unit: ms, s, min, kB,
//! MB, MiB, GiB, req/s, ×, %) in the prose of README.md, docs/*.md and the comments of the compose
//! and stack files carries its source after it, in the same paragraph, in one of two forms:
//!
//! - `(measured: cargo xtask COMMAND, COMMIT)`: the run that produced it, at a commit of this
//!   repository;
//! - `(set in PATH)`: a setting, not a measurement; PATH is a file of the repository that holds
//!   the number.
//!
//! Code blocks, code spans and the table `cargo xtask bench --write-docs` writes between its
//! markers are not read: that table is written from one run.

use super::{is_fence, markdown_files, read, without_code_spans};
use crate::docker::project_root;

const UNITS: &[&str] = &[
    "ms", "s", "seconds", "second", "min", "minutes", "minute", "kB", "KiB", "MB", "MiB", "GB",
    "GiB", "req/s", "×", "%",
];

/// The bench's own table (bench/docs.rs writes between these).
const BEGIN: &str = "<!-- bench table: begin -->";
const END: &str = "<!-- bench table: end -->";

/// A figure found: its number and the whole of it as written.
#[derive(Debug, PartialEq)]
struct Figure {
    number: String,
    text: String,
    at: usize,
}

/// The figures of a text: a number (digits, `.` or `,` inside) that no letter, digit or `.`
/// precedes, then at most one space, then a unit that no letter follows.
fn figures(text: &str) -> Vec<Figure> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let before = i.checked_sub(1).map(|j| chars[j].1);
        if !c.is_ascii_digit()
            || before.is_some_and(|b| b.is_alphanumeric() || b == '.' || b == '_')
        {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len()
            && (chars[j].1.is_ascii_digit()
                || (matches!(chars[j].1, '.' | ',')
                    && chars.get(j + 1).is_some_and(|n| n.1.is_ascii_digit())))
        {
            j += 1;
        }
        let end_number = chars.get(j).map_or(text.len(), |c| c.0);
        let mut k = j;
        if chars.get(k).is_some_and(|c| c.1 == ' ' || c.1 == '\u{a0}') {
            k += 1;
        }
        let rest = &text[chars.get(k).map_or(text.len(), |c| c.0)..];
        let unit = UNITS.iter().filter(|unit| {
            rest.strip_prefix(**unit).is_some_and(|after| {
                !after.starts_with(|c: char| c.is_alphanumeric() || c == '/' || c == '_')
            })
        });
        if let Some(unit) = unit.max_by_key(|u| u.len()) {
            let end = text.len() - rest.len() + unit.len();
            found.push(Figure {
                number: text[start..end_number].to_string(),
                text: text[start..end].to_string(),
                at: start,
            });
        }
        i = j.max(i + 1);
    }
    found
}

/// Why a figure at byte `at` of `paragraph` has no source after it, or None when it has one.
fn unsourced(paragraph: &str, figure: &Figure, git: &dyn Fn(&str) -> bool) -> Option<String> {
    let after = &paragraph[figure.at..];
    let mut reasons = Vec::new();
    for (at, _) in after.match_indices("(measured: ") {
        let tag = &after[at + 1..];
        let Some(end) = tag.find(')') else { continue };
        let tag = &tag["measured: ".len()..end];
        let Some((command, commit)) = tag.rsplit_once(", ") else {
            reasons.push(format!("({tag}) is not \"(measured: COMMAND, COMMIT)\""));
            continue;
        };
        if !command.starts_with("cargo xtask ") {
            reasons.push(format!("{command:?} is not a cargo xtask command"));
        } else if commit.len() < 7 || !commit.chars().all(|c| c.is_ascii_hexdigit()) || !git(commit)
        {
            reasons.push(format!("{commit:?} is not a commit of this repository"));
        } else {
            return None;
        }
    }
    for (at, _) in after.match_indices("(set in ") {
        let tag = &after[at + "(set in ".len()..];
        let Some(end) = tag.find(')') else { continue };
        let path = &tag[..end];
        match std::fs::read_to_string(project_root().join(path)) {
            Ok(text) if text.contains(&figure.number) => return None,
            Ok(_) => reasons.push(format!("{path} does not hold {}", figure.number)),
            Err(_) => reasons.push(format!("no file {path}")),
        }
    }
    Some(if reasons.is_empty() {
        "no (measured: …) or (set in …) after it".into()
    } else {
        reasons.join("; ")
    })
}

/// The paragraphs of a Markdown text's prose, each with its first line's number: blank lines,
/// list items and table rows start a new one; code blocks and the bench's table are left out.
fn markdown_paragraphs(markdown: &str) -> Vec<(usize, String)> {
    let mut paragraphs: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    let (mut code, mut table) = (false, false);
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if is_fence(line) {
            code = !code;
            open = false;
            continue;
        }
        if line.contains(BEGIN) {
            table = true;
        }
        if line.contains(END) {
            table = false;
            open = false;
            continue;
        }
        if code || table || trimmed.is_empty() {
            open = false;
            continue;
        }
        let starts_item = trimmed.starts_with("- ")
            || trimmed.starts_with("* ")
            || trimmed.starts_with('|')
            || trimmed.starts_with('#')
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let prose = without_code_spans(line);
        match paragraphs.last_mut() {
            Some((_, text)) if open && !starts_item => {
                text.push(' ');
                text.push_str(prose.trim());
            }
            _ => paragraphs.push((n + 1, prose.trim().to_string())),
        }
        // A table row is a paragraph of its own.
        open = !trimmed.starts_with('|');
    }
    paragraphs
}

/// The comments of a YAML file, one paragraph per run of comment lines.
fn comment_paragraphs(yaml: &str) -> Vec<(usize, String)> {
    let mut paragraphs: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (n, line) in yaml.lines().enumerate() {
        let comment = line
            .trim_start()
            .strip_prefix('#')
            .or_else(|| line.split_once(" # ").map(|(_, c)| c));
        match comment {
            Some(text) => {
                let text = without_code_spans(text.trim());
                match paragraphs.last_mut() {
                    Some((_, para)) if open => {
                        para.push(' ');
                        para.push_str(&text);
                    }
                    _ => paragraphs.push((n + 1, text)),
                }
                open = true;
            }
            None => open = false,
        }
    }
    paragraphs
}

fn is_commit(commit: &str) -> bool {
    std::process::Command::new("git")
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .current_dir(project_root())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn every_figure_has_its_source() {
    // README.md and docs/*.md; answers.md (issue 24's) quotes outputs, not figures of ours.
    let files: Vec<String> = markdown_files()
        .into_iter()
        .filter(|file| file != "answers.md")
        .collect();
    let mut missing = Vec::new();
    let mut paragraphs = Vec::new();
    for file in &files {
        let text = read(file);
        paragraphs.extend(markdown_paragraphs(&text).into_iter().map(|p| (file, p)));
    }
    let yaml = [
        "redmine/compose.yaml".to_string(),
        "redmine/stack.yaml".to_string(),
    ];
    for file in &yaml {
        let text = read(file);
        paragraphs.extend(comment_paragraphs(&text).into_iter().map(|p| (file, p)));
    }
    for (file, (line, paragraph)) in paragraphs {
        for figure in figures(&paragraph) {
            if let Some(why) = unsourced(&paragraph, &figure, &is_commit) {
                missing.push(format!("{file}:{line}: {}: {why}", figure.text));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "figures without a source ({} of them):\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn figures_are_numbers_with_a_unit() {
    let found: Vec<String> = figures("p99 288 ms, 1.25× the plain way, 366 MiB, 15% of a CPU, 3 s")
        .into_iter()
        .map(|f| f.text)
        .collect();
    assert_eq!(found, ["288 ms", "1.25×", "366 MiB", "15%", "3 s"]);
    let none = figures("Debian 13, Puma 7 fixed it, 2 cores, v5.6.5, x86_64, ip_vs2 s, 3 steps");
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(figures("23 600 req/s")[0].text, "600 req/s");
}

#[test]
fn a_source_follows_its_figure() {
    let yes = |_: &str| true;
    let no = |_: &str| false;
    let text = "44.7 req/s (measured: cargo xtask bench --write-docs, 7e64162)";
    let figure = &figures(text)[0];
    assert_eq!(unsourced(text, figure, &yes), None);
    assert!(unsourced(text, figure, &no)
        .unwrap()
        .contains("not a commit"));
    let before = "(measured: cargo xtask bench, 7e64162) then 44.7 req/s";
    assert!(unsourced(before, &figures(before)[0], &yes).is_some());
    let by_hand = "288 ms (measured: wrk by hand, 7e64162)";
    assert!(unsourced(by_hand, &figures(by_hand)[0], &yes).is_some());
    let set = "a limit of 768 MiB (set in redmine/compose.yaml)";
    assert_eq!(unsourced(set, &figures(set)[0], &no), None);
    let wrong = "a limit of 769 MiB (set in redmine/compose.yaml)";
    assert!(unsourced(wrong, &figures(wrong)[0], &no).is_some());
}

#[test]
fn paragraphs_leave_out_code_and_the_bench_table() {
    let md = format!(
        "a 1 s\nb\n\n```\n2 s\n```\n- c 3 s\n- d\n| 4 s |\n| 5 s |\n{BEGIN}\n6 s\n{END}\n`7 s` e\n"
    );
    let paras: Vec<String> = markdown_paragraphs(&md).into_iter().map(|p| p.1).collect();
    assert_eq!(
        paras,
        ["a 1 s b", "- c 3 s", "- d", "| 4 s |", "| 5 s |", "e"]
    );
    let yaml = "# a 1 s\n# b\nx: 1 # c 2 s\ny: 2\n# d\n";
    let paras: Vec<String> = comment_paragraphs(yaml).into_iter().map(|p| p.1).collect();
    assert_eq!(paras, ["a 1 s b c 2 s", "d"]);
}
