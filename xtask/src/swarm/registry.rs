//! The cluster's network and its registry (swarm/registry/: the official `registry` image
//! upstream, Debian's docker-registry offline), plain HTTP on the cluster network for the nodes and on the
//! host's loopback for pushes from this machine.

use std::path::Path;

use anyhow::{Context, Result};
use xshell::Shell;

use super::local::{self as cluster, LABEL, PREFIX, REGISTRY};
use crate::build;
use crate::ctx::Ctx;
use crate::docker::{self, Docker};

/// The registry image, built from swarm/registry/ on the flavour's base.
const IMAGE: &str = "dockerlab-swarm/registry:1";

/// Creates the cluster network unless it exists.
pub fn network(sh: &Shell) -> Result<()> {
    Docker::local(sh)
        .ensure_network(PREFIX, &format!("{LABEL}=network"))
        .context("creating the cluster network")
}

/// Starts the registry unless it runs: its storage on a volume of its own, port 5000 published
/// on a free loopback port.
pub fn up(ctx: &Ctx) -> Result<()> {
    let sh = &ctx.sh;
    if cluster::running(sh, REGISTRY) {
        return Ok(());
    }
    if docker::container_exists(sh, REGISTRY) {
        Docker::local(sh).read(&["start", REGISTRY])?;
        return Ok(());
    }
    let image = format!("{IMAGE}{}", ctx.flavour.tag_suffix());
    let label = format!("{LABEL}=image");
    build::build(
        ctx,
        Path::new("swarm/registry"),
        &image,
        &["--label", &label],
    )
    .context("building the registry image from swarm/registry/Dockerfile")?;
    let docker = Docker::local(sh);
    docker.create_volume(REGISTRY, &format!("{LABEL}=volume"))?;
    let volume = format!("{REGISTRY}:/var/lib/registry");
    let label = format!("{LABEL}=registry");
    #[rustfmt::skip]
    let run = [
        "run", "--detach", "--name", REGISTRY, "--label", &label, "--network", PREFIX,
        "--publish", "127.0.0.1::5000", "--volume", &volume, "--restart", "unless-stopped", &image,
    ];
    docker
        .read(&run)
        .context("starting the cluster's registry")?;
    Ok(())
}
