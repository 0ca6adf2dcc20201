//! Building an image of the current flavour: its Dockerfile in a build context, with its base
//! made sure of first (built on this machine for the offline flavour, pulled for the upstream).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::docker::{image_exists, Flavour};
use crate::{bases, progress};

/// Makes sure the image a Dockerfile starts `FROM` is here: pulls it if needed, and says what to
/// do when no registry can be reached.
pub fn ensure_pulled(sh: &Shell, image: &str) -> Result<()> {
    if image_exists(sh, image) {
        return Ok(());
    }
    cmd!(sh, "docker pull --quiet {image}")
        .run()
        .with_context(|| {
            format!(
                "base image {image} is not here and could not be pulled (no registry reachable?): \
             use --offline to build on a local Debian base instead"
            )
        })
}

/// The Dockerfile of the current flavour in a build context: `Dockerfile`, or
/// `Dockerfile.offline` (the same image on the local Debian base).
pub fn dockerfile(sh: &Shell, context: &Path) -> PathBuf {
    context.join(Flavour::of(sh).dockerfile())
}

/// The image the current flavour's Dockerfile in `context` starts `FROM`.
pub fn base(sh: &Shell, context: &Path) -> Result<String> {
    let file = dockerfile(sh, context);
    let text = sh.read_file(&file)?;
    text.lines()
        .find_map(|line| line.strip_prefix("FROM "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .with_context(|| format!("{} has no FROM line", file.display()))
}

/// Builds the current flavour's Dockerfile of `context` into `tag` (`args` go to `docker build`
/// as they are), first making sure its base is here: built on this machine for the offline
/// flavour, pulled for the upstream one.
pub fn build(sh: &Shell, context: &Path, tag: &str, args: &[&str]) -> Result<()> {
    let base = base(sh, context)?;
    if base == bases::BASE {
        bases::ensure(sh, false)?;
    } else {
        ensure_pulled(sh, &base)?;
    }
    let file = dockerfile(sh, context);
    let build = cmd!(
        sh,
        "docker build {args...} --file {file} --tag {tag} {context}"
    );
    let name = tag.replace(['/', ':'], "-");
    progress::run(build, &format!("building {tag}"), &format!("build-{name}"))
}
