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
