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
        let from = text
            .lines()
            .find_map(|l| l.strip_prefix("FROM "))
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
