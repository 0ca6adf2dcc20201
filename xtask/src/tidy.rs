//! Tidy checks over the repository's files (hermetic, part of `cargo test`).

use crate::docker::project_root;
use crate::dockerfile::{self, Dockerfile};

mod docker_lines;
mod graph;

fn read(path: &str) -> String {
    std::fs::read_to_string(project_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_command_is_in_the_readme() {
    use clap::CommandFactory;
    let readme = read("README.md");
    for cmd in crate::Cli::command().get_subcommands() {
        let line = format!("cargo xtask {}", cmd.get_name());
        assert!(
            readme.contains(&line),
            "README.md does not mention `{line}`"
        );
    }
}

/// A reference names one image for good: a digest, or a tag other than `latest`.
fn pinned(image: &str) -> bool {
    let tag = image.rsplit_once(':').map(|(_, tag)| tag);
    image.contains('@') || tag.is_some_and(|t| t != "latest" && !t.contains('/'))
}

/// Every `FROM` names a pinned image, or is `FROM ${BASE}` with a pinned `ARG BASE=` default
/// before it (the upstream base; the offline flavour passes its own).
#[test]
fn every_from_is_pinned() {
    for file in dockerfile::all().unwrap() {
        let file = Dockerfile::read(file).unwrap();
        for from in file.froms() {
            let image = if from.image == "${BASE}" {
                file.arg_base().unwrap_or_else(|| {
                    panic!("{}: FROM ${{BASE}} without an ARG BASE= default", file.path)
                })
            } else {
                from.image.clone()
            };
            assert!(
                pinned(&image),
                "{}: `FROM {}` ({image}) is not pinned to a tag",
                file.path,
                from.image
            );
        }
    }
}

#[test]
fn pinned_means_a_tag_or_a_digest() {
    assert!(pinned("alpine:3.24.1") && pinned("redmine@sha256:ab") && pinned("a/b:local"));
    assert!(!pinned("alpine") && !pinned("alpine:latest") && !pinned("127.0.0.1:5000/x"));
}

#[test]
fn no_latest_tags_anywhere() {
    for file in dockerfile::all().unwrap() {
        assert!(!read(&file).contains(":latest"), "{file} uses :latest");
    }
}

/// One Dockerfile per image: the images of both flavours build from it (`ARG BASE`), so there
/// is no twin to keep in sync. The stand-ins for official images (`redmine/offline/`) are
/// offline-only and start from the base `cargo xtask bases` builds (so builds make it first);
/// every other Dockerfile starts `FROM ${BASE}` with a registry image as its default.
#[test]
fn one_dockerfile_per_image_and_the_stand_ins_on_the_local_base() {
    for file in dockerfile::all().unwrap() {
        assert!(
            file.ends_with("/Dockerfile"),
            "{file}: one Dockerfile per image, no twins"
        );
        let dockerfile = Dockerfile::read(&file).unwrap();
        let froms = dockerfile.froms();
        let from = &froms
            .first()
            .unwrap_or_else(|| panic!("{file} has no FROM"))
            .image;
        if file.starts_with("redmine/offline/") {
            assert_eq!(from, crate::bases::BASE, "{file}");
        } else {
            assert_eq!(from, "${BASE}", "{file}");
            let base = dockerfile.arg_base().unwrap();
            assert!(!base.starts_with("dockerlab/"), "{file}: ARG BASE={base}");
        }
    }
}

/// Every `.rs` file under xtask/src, relative to it.
fn sources() -> Vec<String> {
    let root = project_root().join("xtask/src");
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap();
                found.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// Every source file's path (relative to xtask/src) and text.
fn source_texts() -> Vec<(String, String)> {
    sources()
        .into_iter()
        .map(|file| {
            let text = read(&format!("xtask/src/{file}"));
            (file, text)
        })
        .collect()
}

/// The test side: the harness, the test support, `cargo xtask test` with its groups and lint,
/// the checks, and these tidy tests.
fn test_side(file: &str) -> bool {
    ["harness/", "testkit/", "test/", "tidy"]
        .iter()
        .any(|dir| file.starts_with(dir))
        || file.ends_with("checks.rs")
        || file == "lint.rs"
}

/// No command reaches the test side, by any path of imports: not the harness, and not the test
/// support (testkit/) either, except the benchmark, which drives Redmine, the load client and a
/// scratch registry with the checks' own clients. `main.rs` declares everything and
/// dispatches to `test`.
#[test]
fn commands_never_reach_the_test_side() {
    let graph = graph::edges(&source_texts());
    for file in graph.keys() {
        if test_side(file) || file == "main.rs" {
            continue;
        }
        // The benchmark: bench/, and the sections that live with what they measure (bench.rs).
        let bench = file.starts_with("bench/") || file.ends_with("/bench.rs");
        let forbidden = |to: &str| test_side(to) && !(bench && to.starts_with("testkit/"));
        if let Some(path) = graph::reaches(&graph, file, forbidden) {
            panic!(
                "{file} reaches the test side: {}; move what both need out of it, or the check \
                 into a checks.rs",
                path.join(" -> ")
            );
        }
    }
}

/// Import circles between files, each listed with why it is still here; the list only shrinks.
const KNOWN_CYCLES: &[(&[&str], &str)] = &[];

/// No import circles, file-level included, but the listed ones (which must still exist).
#[test]
fn no_import_cycles() {
    let found = graph::cycles(&graph::edges(&source_texts()));
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|(files, _)| files.iter().map(|f| f.to_string()).collect())
        .collect();
    let unknown: Vec<String> = found
        .iter()
        .filter(|cycle| !known.contains(cycle))
        .map(|cycle| cycle.join(" <-> "))
        .collect();
    assert!(
        unknown.is_empty(),
        "{} import circle(s): {}; move what they share into one of them or a third file",
        unknown.len(),
        unknown.join("; ")
    );
    for cycle in &known {
        assert!(
            found.contains(cycle),
            "{} no longer import each other: drop them from KNOWN_CYCLES",
            cycle.join(" <-> ")
        );
    }
}

/// The Markdown files whose links must resolve: README.md, answers.md and docs/*.md.
fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_string(), "answers.md".to_string()];
    let docs = std::fs::read_dir(project_root().join("docs")).expect("docs/");
    let mut pages: Vec<String> = docs
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

/// A line that opens or closes a fenced code block: backticks and an info string, nothing after
/// (a line that starts with a code span such as ```` ```console ```` is prose).
fn is_fence(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("```") && !line.trim_start_matches('`').contains('`')
}

/// The targets of the `[text](target)` and `![alt](target)` links of a Markdown text, outside
/// code blocks and code spans.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code_block = false;
    for line in markdown.lines() {
        if is_fence(line) {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        let prose = without_code_spans(line);
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            targets.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// A line with its code spans left out: a run of backticks opens one, the next run of the same
/// length closes it.
fn without_code_spans(line: &str) -> String {
    let mut prose = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('`') {
        prose.push_str(&rest[..open]);
        let run = rest[open..].len() - rest[open..].trim_start_matches('`').len();
        let fence = &rest[open..open + run];
        let after = &rest[open + run..];
        // The closing run: the same number of backticks, not part of a longer run.
        let close = after
            .match_indices(fence)
            .find(|(at, _)| !after[at + run..].starts_with('`') && !after[..*at].ends_with('`'));
        match close {
            Some((at, _)) => rest = &after[at + run..],
            None => return prose + &rest[open..],
        }
    }
    prose + rest
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code_block = false;
    let mut found = Vec::new();
    for line in markdown.lines() {
        if is_fence(line) {
            in_code_block = !in_code_block;
        } else if !in_code_block && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = project_root();
    for file in markdown_files() {
        let dir = std::path::Path::new(&file).parent().unwrap().to_path_buf();
        for target in link_targets(&read(&file)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path).to_string_lossy().into_owned()
            };
            assert!(
                root.join(&linked).exists(),
                "{file}: the link to `{target}` points to nothing"
            );
            if let (Some(fragment), true) = (fragment, linked.ends_with(".md")) {
                assert!(
                    anchors(&read(&linked)).iter().any(|a| a == fragment),
                    "{file}: `{target}`: {linked} has no heading with the anchor #{fragment}"
                );
            }
        }
    }
}

#[test]
fn links_are_read_outside_code_and_anchors_as_github_makes_them() {
    let md = "See [a](docs/a.md) and ![b](b.png#x).\n`[not](this)`\n```\n[nor](this)\n```\n\
              ```` ```sh ```` [c](c.md)\n";
    assert_eq!(link_targets(md), ["docs/a.md", "b.png#x", "c.md"]);
    assert_eq!(
        anchor(" Benchmark: `cargo xtask bench`"),
        "benchmark-cargo-xtask-bench"
    );
    assert_eq!(
        anchor("Two flavours, one compose file"),
        "two-flavours-one-compose-file"
    );
    assert_eq!(anchors("# A b\n```\n# not\n```\n## C, d\n"), ["a-b", "c-d"]);
}

/// Dependabot reads base images from FROM lines only, not from `ARG BASE=` defaults: the mirror
/// it watches (.github/base-images/Dockerfile, one stage per image) must name exactly the
/// defaults of our Dockerfiles, so that its proposals reach them.
#[test]
fn dependabot_watches_every_arg_base() {
    let mirror = Dockerfile::read(".github/base-images/Dockerfile").unwrap();
    let mut watched: Vec<(String, String)> = mirror
        .froms()
        .into_iter()
        .map(|from| {
            let stage = from.stage.expect("FROM IMAGE AS DIRECTORY");
            (format!("{stage}/Dockerfile"), from.image)
        })
        .collect();
    let mut pinned: Vec<(String, String)> = dockerfile::all()
        .unwrap()
        .into_iter()
        .filter_map(|file| {
            let base = Dockerfile::read(&file).unwrap().arg_base();
            base.map(|base| (file, base))
        })
        .collect();
    watched.sort();
    pinned.sort();
    assert_eq!(
        watched, pinned,
        "update each Dockerfile's ARG BASE= to its line in .github/base-images/Dockerfile \
         (or the line to the ARG)"
    );
}

mod figures;

/// The run-wide choices are values passed down from `main` ([`crate::ctx::Ctx`]): no source reads
/// their variables back from the environment (clap reads them, children get them set).
#[test]
fn run_wide_choices_are_not_read_from_the_environment() {
    let names = [
        "FLAVOUR_VAR",
        "XTASK_FLAVOUR",
        "VERBOSE_VAR",
        "XTASK_VERBOSE",
    ];
    for file in sources() {
        let text = read(&format!("xtask/src/{file}"));
        for line in text.lines() {
            let reads = [".var(", "env::var(", "env::var_os("]
                .iter()
                .any(|read| line.contains(read));
            assert!(
                !(reads && names.iter().any(|name| line.contains(name))),
                "{file} reads a run-wide choice from the environment: `{}`; take it from the Ctx",
                line.trim()
            );
        }
    }
}

/// Dockerfiles are read by one set of rules (dockerfile.rs): no other source parses `FROM` or
/// `ARG` lines itself.
#[test]
fn dockerfiles_are_read_in_one_place() {
    let parsing = ["(\"FROM", "(\"ARG ", "(\" AS "];
    let calls = ["strip_prefix", "starts_with", "split_once", "find"];
    for file in sources().into_iter().filter(|f| f != "dockerfile.rs") {
        let text = read(&format!("xtask/src/{file}"));
        for line in text.lines() {
            let parses = calls.iter().any(|call| {
                parsing
                    .iter()
                    .any(|arg| line.contains(&format!("{call}{arg}")))
            });
            assert!(
                !parses,
                "{file} parses a Dockerfile itself: `{}`; use crate::dockerfile::Dockerfile",
                line.trim()
            );
        }
    }
}
