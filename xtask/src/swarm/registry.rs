//! The cluster's network and its registry: Debian's docker-registry (offline) or the official
//! `registry` image (upstream), plain HTTP on the cluster network for the nodes and on the
//! host's loopback for pushes from this machine.

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::bases;
use crate::build::ensure_pulled;
use crate::docker::{self, Flavour};
use crate::local_swarm::{self as cluster, LABEL, PREFIX, REGISTRY};

/// The offline flavour's registry image, built from swarm/registry/Dockerfile.offline.
const OFFLINE_IMAGE: &str = "dockerlab-swarm/registry:offline";
/// The upstream flavour runs the official image as it is (docker-library/official-images,
/// library/registry).
const UPSTREAM_IMAGE: &str = "registry:3.1.1";

/// Creates the cluster network unless it exists.
pub fn network(sh: &Shell) -> Result<()> {
    let exists = cmd!(sh, "docker network inspect {PREFIX}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok();
    if !exists {
        cmd!(sh, "docker network create --label {LABEL}=network {PREFIX}")
            .quiet()
            .ignore_stdout()
            .run()
            .context("creating the cluster network")?;
    }
    Ok(())
}

/// Starts the registry unless it runs: its storage on a volume of its own, port 5000 published
/// on a free loopback port.
pub fn up(sh: &Shell) -> Result<()> {
    if cluster::running(sh, REGISTRY) {
        return Ok(());
    }
    if docker::container_exists(sh, REGISTRY) {
        cmd!(sh, "docker start {REGISTRY}")
            .quiet()
            .ignore_stdout()
            .run()?;
        return Ok(());
    }
    let (image, storage) = match Flavour::of(sh) {
        Flavour::Offline => {
            bases::ensure(sh, false)?;
            cmd!(
                sh,
                "docker build --quiet --label {LABEL}=image --tag {OFFLINE_IMAGE}
                    --file swarm/registry/Dockerfile.offline swarm/registry"
            )
            .ignore_stdout()
            .run()
            .context("building the registry image from swarm/registry/Dockerfile.offline failed")?;
            (OFFLINE_IMAGE, "/var/lib/docker-registry")
        }
        Flavour::Upstream => {
            ensure_pulled(sh, UPSTREAM_IMAGE)?;
            (UPSTREAM_IMAGE, "/var/lib/registry")
        }
    };
    cmd!(sh, "docker volume create --label {LABEL}=volume {REGISTRY}")
        .quiet()
        .ignore_stdout()
        .run()?;
    let volume = format!("{REGISTRY}:{storage}");
    let label = format!("{LABEL}=registry");
    cmd!(
        sh,
        "docker run --detach --name {REGISTRY} --label {label} --network {PREFIX}
            --publish 127.0.0.1::5000 --volume {volume} --restart unless-stopped {image}"
    )
    .quiet()
    .ignore_stdout()
    .run()
    .context("starting the cluster's registry")?;
    Ok(())
}
