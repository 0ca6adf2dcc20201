//! `cargo xtask swarm`: a local Docker Swarm for trying and testing the Redmine stack on several
//! nodes: Docker engines in containers (Docker-in-Docker) on a network of their own, with a
//! registry they all pull from. The host engine's own Swarm state is never touched.

pub mod backup;
pub mod bench;
pub mod checks;
pub mod deploy;
pub mod local;
mod nodes;
mod registry;
pub mod stack;
mod stack_checks;
pub mod target;

use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use xshell::Shell;

use crate::ctx::Ctx;
use crate::docker::{self};
use local as cluster;

/// A local Swarm of Docker-in-Docker nodes with its own registry (docs/swarm.md).
#[derive(Args)]
pub struct Swarm {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Start the nodes (one manager, the rest workers) and the registry; print how to reach them.
    Up {
        /// How many nodes (Docker engines in containers), the first one the manager.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
        nodes: u8,
    },
    /// List the nodes and the services running on them.
    Status,
    /// Remove every node, volume, network, image, registry and cgroup the cluster made.
    Down,
}

impl Swarm {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        match self.action {
            Action::Up { nodes } => up(ctx, usize::from(nodes)),
            Action::Status => status(sh),
            Action::Down => {
                nodes::down(sh)?;
                println!("the local Swarm is gone (nodes, registry, volumes, network, cgroups)");
                Ok(())
            }
        }
    }
}

fn up(ctx: &Ctx, count: usize) -> Result<()> {
    let sh = &ctx.sh;
    let start = Instant::now();
    let existing = cluster::nodes(sh)?;
    if existing.len() > count {
        bail!(
            "a cluster of {} nodes exists already: `cargo xtask swarm down` first to change --nodes",
            existing.len()
        );
    }
    let image = nodes::build_image(ctx)?;
    registry::network(sh)?;
    registry::up(ctx)?;
    nodes::up(sh, &image, count)?;
    println!(
        "the local Swarm is up: {count} node(s), all Ready ({:.0} s)",
        start.elapsed().as_secs_f64()
    );
    status(sh)
}

fn status(sh: &Shell) -> Result<()> {
    let Some(local) = cluster::local(sh) else {
        bail!("no local Swarm is running: start one with `cargo xtask swarm up`");
    };
    let manager = &local.manager;
    let engine = cluster::manager(sh);
    engine.cmd(&["node", "ls"]).quiet().run()?;
    engine.cmd(&["service", "ls"]).quiet().run()?;
    println!(
        "\nmanager: {} on the cluster network {}\n\
         registry: {} for the nodes, {} from this machine (plain HTTP)\n\
         attachments shared by every node: {} (in each node: {})\n\
         routing mesh: {}\n\
         reach the manager with:\n  export DOCKER_HOST={manager}",
        local.manager_addr,
        cluster::PREFIX,
        local.registry_pull,
        local.registry_push,
        cluster::files_dir().display(),
        cluster::FILES_IN_NODE,
        if cluster::has_ipvs() {
            "available (this kernel has IPVS)"
        } else {
            "not available (this kernel has no IPVS): services use dnsrr and ports published on their node"
        }
    );
    Ok(())
}
