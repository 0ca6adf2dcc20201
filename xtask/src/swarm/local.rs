//! The local Swarm of `cargo xtask swarm`: its names and places, and what `cargo xtask redmine
//! deploy` needs of it: the manager's socket, the registry's two addresses, the attachments'
//! directory. Also where a service's tasks run, on any Swarm.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::docker::{self, Docker};

/// The prefix of everything the local cluster creates on the engine, and its network's name.
pub const PREFIX: &str = "dockerlab-swarm";
/// The label on every container, volume and network of the cluster (value: what it is), so that
/// `swarm down` finds them all and nothing else.
pub const LABEL: &str = "dockerlab-swarm";
/// The registry container; the nodes pull from it by this name over the cluster network.
pub const REGISTRY: &str = "dockerlab-swarm-registry";
pub const REGISTRY_PULL: &str = "dockerlab-swarm-registry:5000";
/// Where every node sees the shared attachments directory (an NFS mount point in production).
pub const FILES_IN_NODE: &str = "/srv/dockerlab-swarm/files";
/// Where a node's engine puts the socket we reach it by (a host directory mounted there).
pub const SOCKET_IN_NODE: &str = "/dockerlab";
/// The node label that pins the database (its volume is local to that node).
pub const DB_LABEL: &str = "dockerlab.db=true";

/// `dockerlab-swarm-1` (the manager), `-2`, … (workers).
pub fn node_name(index: usize) -> String {
    format!("{PREFIX}-{index}")
}

/// The host directory of the cluster's state: the nodes' sockets and the attachments.
pub fn state_dir() -> PathBuf {
    docker::project_root().join("target/swarm")
}

/// The shared attachments directory on the host, mounted into every node at [`FILES_IN_NODE`].
pub fn files_dir() -> PathBuf {
    state_dir().join("files")
}

/// The directory a node's engine puts its socket in, on the host.
pub fn socket_dir(node: &str) -> PathBuf {
    state_dir().join(node)
}

/// The `--host` (DOCKER_HOST) of a node's engine, from this machine.
pub fn host(node: &str) -> String {
    format!("unix://{}/docker.sock", socket_dir(node).display())
}

/// The names of the node containers that exist now, in order.
pub fn nodes(sh: &Shell) -> Result<Vec<String>> {
    let filter = format!("label={LABEL}=node");
    let format = "{{.Names}}";
    let out = Docker::local(sh).read(&[
        "container",
        "ls",
        "--all",
        "--filter",
        &filter,
        "--format",
        format,
    ])?;
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort_by_key(|name| {
        name.rsplit('-')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    });
    Ok(names)
}

/// What `cargo xtask redmine deploy` needs of the local cluster.
pub struct Local {
    /// DOCKER_HOST of the manager.
    pub manager: String,
    /// The manager's address on the cluster network (the front door's address).
    pub manager_addr: String,
    /// Where this machine pushes (the registry's port published on the loopback).
    pub registry_push: String,
    /// Where the nodes pull from.
    pub registry_pull: String,
}

/// The local cluster, if `cargo xtask swarm up` made one and its manager answers.
pub fn local(sh: &Shell) -> Option<Local> {
    let manager = node_name(1);
    if !running(sh, &manager) || !running(sh, REGISTRY) {
        return None;
    }
    let host = host(&manager);
    engine_answers(sh, &host).then_some(())?;
    Some(Local {
        manager_addr: address(sh, &manager).ok()?,
        registry_push: registry_push(sh).ok()?,
        registry_pull: REGISTRY_PULL.into(),
        manager: host,
    })
}

pub fn running(sh: &Shell, container: &str) -> bool {
    Docker::local(sh)
        .container(container)
        .is_ok_and(|info| info.state.running)
}

/// A container's address on the cluster network.
pub fn address(sh: &Shell, container: &str) -> Result<String> {
    let info = Docker::local(sh)
        .container(container)
        .with_context(|| format!("{container} has no address on network {PREFIX}"))?;
    match info.network_settings.networks.get(PREFIX) {
        Some(net) if !net.ip_address.is_empty() => Ok(net.ip_address.clone()),
        _ => bail!("{container} has no address on network {PREFIX}: run `cargo xtask swarm up`"),
    }
}

/// The registry as this machine reaches it: `127.0.0.1:PORT`.
pub fn registry_push(sh: &Shell) -> Result<String> {
    let out = Docker::local(sh)
        .read(&["port", REGISTRY, "5000/tcp"])
        .context("the cluster's registry publishes no port: run `cargo xtask swarm up`")?;
    out.lines()
        .find(|line| line.starts_with("127.0.0.1:"))
        .map(str::to_string)
        .context("the cluster's registry is not published on 127.0.0.1")
}

/// A node's engine (in its container, through the socket on the host).
pub fn engine<'a>(sh: &'a Shell, node: &str) -> Docker<'a> {
    Docker::host(sh, &host(node), &format!("node {node}"))
}

/// The local cluster's manager: its first node's engine.
pub fn manager(sh: &Shell) -> Docker<'_> {
    engine(sh, &node_name(1))
}

/// `docker --host NODE …` of a node's engine.
pub fn on<'a>(sh: &'a Shell, node: &str, args: &[&str]) -> xshell::Cmd<'a> {
    engine(sh, node).cmd(args).quiet()
}

/// Whether the engine at `host` answers.
pub fn engine_answers(sh: &Shell, host: &str) -> bool {
    Docker::host(sh, host, host).succeeds(&["version"])
}

/// Waits until the engine at `host` answers.
pub fn wait_engine(sh: &Shell, node: &str, limit: Duration) -> Result<()> {
    let host = host(node);
    let start = Instant::now();
    while !engine_answers(sh, &host) {
        if start.elapsed() > limit {
            let logs = Docker::local(sh)
                .cmd(&["logs", "--tail", "5", node])
                .quiet()
                .ignore_status()
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stderr)
                        .trim()
                        .replace('\n', " | ")
                })
                .unwrap_or_default();
            bail!(
                "the engine in node {node} did not answer within {limit:?} (its last lines: \
                 {logs}); see `docker logs {node}`"
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

/// Whether the kernel has IPVS, which Swarm's routing mesh and virtual IPs need: loaded, or a
/// module that can be. The nodes share this machine's kernel.
pub fn has_ipvs() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    [
        "/proc/net/ip_vs".to_string(),
        "/sys/module/ip_vs".to_string(),
        format!("/lib/modules/{}/kernel/net/netfilter/ipvs", release.trim()),
    ]
    .iter()
    .any(|path| std::path::Path::new(path).exists())
}

/// One running task of a service, as a Swarm manager tells.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub node_id: String,
    /// The node's hostname; on the local cluster, its container's name (`dockerlab-swarm-2`).
    pub node: String,
    pub container: String,
    /// Its addresses on the stack's networks, without the prefix length.
    pub addresses: Vec<String>,
}

/// The tasks of `service` that should run now and do, asked of a manager (the local
/// cluster's, or the one `redmine deploy` targets).
pub fn running_tasks(manager: &Docker, service: &str) -> Result<Vec<Task>> {
    let docker = |args: &[&str]| manager.read(args);
    let ids = docker(&[
        "service",
        "ps",
        "--quiet",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        service,
    ])
    .with_context(|| format!("no service {service}: is the stack deployed?"))?;
    let mut tasks = Vec::new();
    for id in ids.lines() {
        let format = "{{.Status.State}}|{{.NodeID}}|{{.Status.ContainerStatus.ContainerID}}|\
                      {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}";
        let out = docker(&["inspect", "--format", format, id])?;
        let [state, node_id, container, addresses] = out.splitn(4, '|').collect::<Vec<_>>()[..]
        else {
            continue;
        };
        if state != "running" || container.is_empty() {
            continue;
        }
        let format = "{{.Description.Hostname}}";
        let node = docker(&["node", "inspect", "--format", format, node_id])
            .with_context(|| format!("the node of task {id}"))?;
        tasks.push(Task {
            id: id.to_string(),
            node_id: node_id.to_string(),
            node,
            container: container.to_string(),
            addresses: addresses
                .split_whitespace()
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
        });
    }
    Ok(tasks)
}
