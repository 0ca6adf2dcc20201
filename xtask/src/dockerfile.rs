//! Reading our Dockerfiles, by one set of rules for everything that needs to (builds, the
//! flavour's choice, `pins`, tidy): which there are, their `FROM`s and the default of their
//! `ARG BASE=` (the pinned upstream base a `FROM ${BASE}` uses).

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::docker::project_root;

/// One Dockerfile's text, with where it was read from.
pub struct Dockerfile {
    /// As it was given: relative to the project root (`nginx/Dockerfile`), or absolute.
    pub path: String,
    text: String,
}

/// One `FROM` line: the image (`${BASE}` as written) and the stage it names (`AS page`).
#[derive(Debug, PartialEq, Eq)]
pub struct From {
    pub image: String,
    pub stage: Option<String>,
}

impl Dockerfile {
    /// The Dockerfile at `path`, relative to the project root.
    pub fn read(path: impl AsRef<Path>) -> Result<Dockerfile> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(project_root().join(path))
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Dockerfile::parse(&path.to_string_lossy(), &text))
    }

    /// The one Dockerfile of a build context (`nginx`, `kernel`): both flavours build it.
    pub fn of_context(context: &Path) -> Result<Dockerfile> {
        Dockerfile::read(context.join("Dockerfile"))
    }

    pub fn parse(path: &str, text: &str) -> Dockerfile {
        Dockerfile {
            path: path.to_string(),
            text: text.to_string(),
        }
    }

    /// Every `FROM`, in order.
    pub fn froms(&self) -> Vec<From> {
        self.text
            .lines()
            .filter_map(|line| line.strip_prefix("FROM "))
            .filter_map(|rest| {
                let mut words = rest.split_whitespace();
                let image = words.next()?.to_string();
                let stage = match (words.next(), words.next()) {
                    (Some(as_), Some(stage)) if as_.eq_ignore_ascii_case("AS") => {
                        Some(stage.to_string())
                    }
                    _ => None,
                };
                Some(From { image, stage })
            })
            .collect()
    }

    /// The default of `ARG BASE=…` before the first `FROM` (quotes left out).
    pub fn arg_base(&self) -> Option<String> {
        self.text
            .lines()
            .take_while(|line| !line.starts_with("FROM "))
            .find_map(|line| line.strip_prefix("ARG BASE="))
            .map(|image| image.trim().trim_matches('"').to_string())
    }

    /// The upstream image the Dockerfile starts from: its `ARG BASE=` default, or else its
    /// first `FROM` when that names an image outright.
    pub fn upstream_base(&self) -> Option<String> {
        self.arg_base().or_else(|| {
            self.froms()
                .into_iter()
                .next()
                .map(|from| from.image)
                .filter(|image| !image.contains('$'))
        })
    }

    /// [`Dockerfile::arg_base`], or an error that says what is missing.
    pub fn require_arg_base(&self) -> Result<String> {
        self.arg_base()
            .with_context(|| format!("{} has no `ARG BASE=` before its FROM", self.path))
    }
}

/// Every Dockerfile of the project (`Dockerfile`, `Dockerfile.*`), relative to the root, sorted.
pub fn all() -> Result<Vec<String>> {
    project_files(|name| name == "Dockerfile" || name.starts_with("Dockerfile."))
}

/// The project's files whose name `wanted` accepts, relative to the root, sorted; hidden
/// directories, target/ and backups/ are not searched.
pub fn project_files(wanted: fn(&str) -> bool) -> Result<Vec<String>> {
    let root = project_root();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_base_is_the_default_before_from() {
        let file = Dockerfile::parse(
            "x",
            "# c\nARG BASE=alpine:3.24.1\nFROM ${BASE}\nARG BASE=o:1\n",
        );
        assert_eq!(file.arg_base().as_deref(), Some("alpine:3.24.1"));
        assert_eq!(file.upstream_base().as_deref(), Some("alpine:3.24.1"));
        let file = Dockerfile::parse("y", "FROM x:1 AS one\nARG BASE=y:2\nFROM ${BASE}\n");
        assert_eq!(file.arg_base(), None);
        assert!(file
            .require_arg_base()
            .unwrap_err()
            .to_string()
            .contains("y has no"));
        assert_eq!(file.upstream_base().as_deref(), Some("x:1"));
        let stage = |image: &str, stage: Option<&str>| From {
            image: image.into(),
            stage: stage.map(str::to_string),
        };
        assert_eq!(
            file.froms(),
            [stage("x:1", Some("one")), stage("${BASE}", None)]
        );
    }

    #[test]
    fn every_dockerfile_is_found() {
        let files = all().unwrap();
        assert!(files.contains(&"nginx/Dockerfile".to_string()), "{files:?}");
        assert!(files.iter().all(|file| !file.starts_with(".github/")));
    }
}
