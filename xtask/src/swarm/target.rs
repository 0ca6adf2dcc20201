//! The Swarm that `redmine deploy` and `redmine backup --swarm` target: a manager reached through
//! `--context`, DOCKER_HOST or the local cluster, checked to be one.

use anyhow::{bail, ensure, Result};
use xshell::Shell;

use super::local::{self as cluster, Local};
use crate::docker::{self, Docker};

/// The Swarm manager that docker commands go to.
pub struct Cluster {
    /// docker's arguments that reach it: `--context NAME`, `--host unix://…`, or none (DOCKER_HOST).
    pub args: Vec<String>,
    /// It, in words.
    pub shown: String,
    /// The local cluster of `cargo xtask swarm up`, when that is the target.
    pub local: Option<Local>,
}

impl Cluster {
    /// `--context NAME`, else DOCKER_HOST, else the local cluster; checked to be a manager.
    pub fn find(sh: &Shell, context: Option<&str>) -> Result<Cluster> {
        let cluster = if let Some(name) = context {
            Cluster {
                args: vec!["--context".into(), name.into()],
                shown: format!("docker context {name}"),
                local: None,
            }
        } else if let Some(host) = sh.var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
            Cluster {
                args: Vec::new(),
                shown: host,
                local: None,
            }
        } else {
            let Some(local) = cluster::local(sh) else {
                bail!(
                    "no Swarm to deploy to: start the local one with `cargo xtask swarm up`, or \
                     point --context or DOCKER_HOST at a Swarm manager"
                );
            };
            Cluster {
                args: vec!["--host".into(), local.manager.clone()],
                shown: "the local Swarm".into(),
                local: Some(local),
            }
        };
        check_manager(sh, &cluster)?;
        Ok(cluster)
    }

    /// The manager's engine.
    pub fn engine<'a>(&self, sh: &'a Shell) -> Docker<'a> {
        Docker::at(sh, &self.args, &self.shown)
    }

    /// `docker …` on the manager.
    pub fn docker<'a>(&self, sh: &'a Shell, args: &[&str]) -> xshell::Cmd<'a> {
        self.engine(sh).cmd(args)
    }

    /// The address clients reach the front door at: the manager's (where it runs).
    pub fn address(&self, sh: &Shell) -> Result<String> {
        if let Some(local) = &self.local {
            return Ok(local.manager_addr.clone());
        }
        self.engine(sh)
            .read(&["info", "--format", "{{.Swarm.NodeAddr}}"])
    }
}

/// The manager's Swarm state, checked before anything is built or pushed.
pub fn check_manager(sh: &Shell, cluster: &Cluster) -> Result<()> {
    let format = "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}";
    let out = cluster
        .engine(sh)
        .cmd(&["info", "--format", format])
        .quiet()
        .ignore_status()
        .output()?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        bail!(
            "no Swarm manager answers at {} ({}): start the local cluster with `cargo xtask \
             swarm up`, or point --context or DOCKER_HOST at a manager",
            cluster.shown,
            docker::reason_of(&out)
        );
    }
    ensure!(
        said == "active true",
        "{} is not a Swarm manager (its Swarm state: {said}): point --context or DOCKER_HOST at a \
         manager, or use the local cluster (`cargo xtask swarm up`)",
        cluster.shown
    );
    Ok(())
}
