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

#[test]
fn every_from_is_pinned() {
    for file in dockerfiles().unwrap() {
        for line in read(&file).lines().filter(|l| l.starts_with("FROM ")) {
            let image = line.split_whitespace().nth(1).unwrap();
            let tag = image.rsplit_once(':').map(|(_, tag)| tag);
            assert!(
                image.contains('@') || tag.is_some_and(|t| t != "latest" && !t.contains('/')),
                "{file}: `{line}` is not pinned to a tag"
            );
        }
    }
}

#[test]
fn no_latest_tags_anywhere() {
    for file in dockerfiles().unwrap() {
        assert!(!read(&file).contains(":latest"), "{file} uses :latest");
    }
}

/// The offline Dockerfile must stay the upstream one with another base and package.
#[test]
fn nginx_flavours_differ_only_before_the_configuration() {
    let tail = |file: &str| {
        let text = read(file);
        let at = text
            .find("\nCOPY nginx.conf")
            .expect("COPY nginx.conf line");
        text[at..].to_string()
    };
    assert_eq!(tail("nginx/Dockerfile"), tail("nginx/Dockerfile.offline"));
}

/// Every offline Dockerfile starts from the base `cargo xtask bases` builds (so builds make it
/// when missing), and every upstream one from a registry image.
#[test]
fn offline_dockerfiles_start_from_the_local_base() {
    for file in dockerfiles().unwrap() {
        let from = read(&file)
            .lines()
            .find_map(|l| l.strip_prefix("FROM ").map(str::to_string))
            .unwrap_or_else(|| panic!("{file} has no FROM"));
        let local = from.starts_with(crate::bases::BASE);
        assert_eq!(local, file.ends_with(".offline"), "{file}: FROM {from}");
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
