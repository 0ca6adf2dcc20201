//! Building an image of the current flavour: the one Dockerfile of a build context, on the base
//! of the flavour (`--build-arg BASE=…`), with that base made sure of first (built on this
//! machine for the offline flavour, pulled for the upstream one).

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::ctx::Ctx;
use crate::docker::{self, image_exists, Docker};
use crate::dockerfile::Dockerfile;
use crate::flavour::Flavour;
use crate::{bases, progress};

/// Makes sure the image a Dockerfile starts `FROM` is here: pulls it if needed. When the pull
/// fails, the one error line carries Docker's own reason, and says what to do about the two
/// usual ones: a tag the registry does not have, a registry that cannot be reached.
pub fn ensure_pulled(sh: &Shell, image: &str) -> Result<()> {
    if image_exists(sh, image) {
        return Ok(());
    }
    let out = Docker::local(sh)
        .cmd(&["pull", "--quiet", image])
        .ignore_status()
        .output()
        .context("running `docker pull`")?;
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{}",
        pull_failure(image, &String::from_utf8_lossy(&out.stderr))
    )
}

/// The one line for a failed pull of `image`, from `docker pull`'s standard error.
fn pull_failure(image: &str, stderr: &str) -> String {
    let reason = docker::reason(stderr);
    let lower = reason.to_lowercase();
    let advice = if ["manifest unknown", "not found", "does not exist"]
        .iter()
        .any(|missing| lower.contains(missing))
    {
        "the registry has no such image or tag: fix the pin (the Dockerfile's ARG BASE, or the compose file's image)"
    } else if [
        "dial tcp",
        "lookup ",
        "no such host",
        "timeout",
        "connection refused",
        "network is unreachable",
        "tls handshake",
    ]
    .iter()
    .any(|unreachable| lower.contains(unreachable))
    {
        "the registry cannot be reached: use --offline to build on a local Debian base instead"
    } else {
        "check the name and `docker login`, or use --offline to build on a local Debian base"
    };
    format!("base image {image} is not here and could not be pulled ({reason}): {advice}")
}

/// The image the `flavour`'s build of `context` starts `FROM`: the Dockerfile's pinned
/// `ARG BASE` upstream, the local Debian base offline.
pub fn base(flavour: Flavour, context: &Path) -> Result<String> {
    if flavour == Flavour::Offline {
        return Ok(bases::BASE.into());
    }
    Dockerfile::of_context(context)?.require_arg_base()
}

/// Builds the Dockerfile of `context` into `tag` on the current flavour's base (`args` go to
/// `docker build` as they are), first making sure that base is here.
pub fn build(ctx: &Ctx, context: &Path, tag: &str, args: &[&str]) -> Result<()> {
    let sh = &ctx.sh;
    let base = base(ctx.flavour, context)?;
    if base == bases::BASE {
        bases::ensure(sh, false)?;
    } else {
        ensure_pulled(sh, &base)?;
    }
    let file = context.join("Dockerfile");
    let base_arg = format!("BASE={base}");
    let build = Docker::local(sh)
        .cmd(&["build", "--build-arg", &base_arg])
        .args(args)
        .arg("--file")
        .arg(file)
        .args(["--tag", tag])
        .arg(context);
    let name = tag.replace(['/', ':'], "-");
    progress::run(build, &format!("building {tag}"), &format!("build-{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker 20.10's own words for the two cases (seen here and against a local registry).
    #[test]
    fn pull_failures_say_which_problem() {
        let missing = pull_failure(
            "127.0.0.1:5000/x:nope",
            "Error response from daemon: manifest for 127.0.0.1:5000/x:nope not found: manifest unknown: manifest unknown\n",
        );
        assert!(
            missing.contains("manifest unknown") && missing.contains("has no such image or tag"),
            "{missing}"
        );
        let unreachable = pull_failure(
            "alpine:3.24.1",
            "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host\n",
        );
        assert!(
            unreachable.contains("no such host") && unreachable.contains("cannot be reached"),
            "{unreachable}"
        );
        assert!(!unreachable.contains('\n'));
    }
}
