//! Tidy checks over the repository's files (hermetic, part of `cargo test`).

use crate::docker::project_root;
use crate::lint::dockerfiles;

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
    for file in dockerfiles().unwrap() {
        let text = read(&file);
        for line in text.lines().filter(|l| l.starts_with("FROM ")) {
            let image = line.split_whitespace().nth(1).unwrap();
            let image = if image == "${BASE}" {
                crate::build::arg_base(&text).unwrap_or_else(|| {
                    panic!("{file}: FROM ${{BASE}} without an ARG BASE= default")
                })
            } else {
                image.to_string()
            };
            assert!(
                pinned(&image),
                "{file}: `{line}` ({image}) is not pinned to a tag"
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
    for file in dockerfiles().unwrap() {
        assert!(!read(&file).contains(":latest"), "{file} uses :latest");
    }
}

/// One Dockerfile per image: the images of both flavours build from it (`ARG BASE`), so there
/// is no twin to keep in sync. The stand-ins for official images (`redmine/offline/`) are
/// offline-only and start from the base `cargo xtask bases` builds (so builds make it first);
/// every other Dockerfile starts `FROM ${BASE}` with a registry image as its default.
#[test]
fn one_dockerfile_per_image_and_the_stand_ins_on_the_local_base() {
    for file in dockerfiles().unwrap() {
        assert!(
            file.ends_with("/Dockerfile"),
            "{file}: one Dockerfile per image, no twins"
        );
        let text = read(&file);
        // The image, without a stage name (`FROM ${BASE} AS page`).
        let from = text
            .lines()
            .find_map(|l| l.strip_prefix("FROM "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{file} has no FROM"));
        if file.starts_with("redmine/offline/") {
            assert_eq!(from, crate::bases::BASE, "{file}");
        } else {
            assert_eq!(from, "${BASE}", "{file}");
            let base = crate::build::arg_base(&text).unwrap();
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

/// The top-level modules a file names with `crate::…` (in `use` lines and paths alike).
fn crate_imports(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let name = item.trim().split("::").next().unwrap_or_default();
                    names.insert(name.to_string());
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

/// The top-level module a source file belongs to: `nginx/checks.rs` → `nginx`.
fn module_of(file: &str) -> String {
    file.split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_string()
}

/// Commands never import the test harness: only the checks (`*/checks.rs`), the harness itself
/// and `cargo xtask test` (with its groups) do.
#[test]
fn only_checks_import_the_harness() {
    for file in sources() {
        let allowed = file.ends_with("checks.rs")
            || file.starts_with("harness/")
            || file.starts_with("test/")
            || file == "lint.rs";
        let text = read(&format!("xtask/src/{file}"));
        assert!(
            allowed || !crate_imports(&text).contains("harness"),
            "{file} imports the test harness: move its checks into a checks.rs beside it"
        );
    }
}

/// No two top-level modules import each other, directly or around a loop. The checks files
/// count with their command's folder, except for the harness edge they are allowed.
#[test]
fn the_module_graph_has_no_cycle() {
    use std::collections::{BTreeMap, BTreeSet};
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources() {
        let from = module_of(&file);
        let text = read(&format!("xtask/src/{file}"));
        for to in crate_imports(&text) {
            // The checks of a command are run by `test`, which lists them: that edge and the
            // checks' use of the harness are the test side, not the command's.
            let checks_side = file.ends_with("checks.rs") && to == "harness";
            if to != from && !checks_side {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|n| n == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn imports_are_read_from_use_lines_and_paths() {
    let text = "use crate::docker::{self, Flavour};\nuse crate::{bases, progress};\n\
                // crate::nothing\nlet x = crate::http::get(url);";
    let names: Vec<String> = crate_imports(text).into_iter().collect();
    assert_eq!(names, ["bases", "docker", "http", "progress"]);
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
    let mirror = read(".github/base-images/Dockerfile");
    let mut watched: Vec<(String, String)> = mirror
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|rest| {
            let (image, stage) = rest.split_once(" AS ").expect("FROM IMAGE AS DIRECTORY");
            (
                format!("{}/Dockerfile", stage.trim()),
                image.trim().to_string(),
            )
        })
        .collect();
    let mut pinned: Vec<(String, String)> = dockerfiles()
        .unwrap()
        .into_iter()
        .filter_map(|file| crate::build::arg_base(&read(&file)).map(|base| (file, base)))
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
