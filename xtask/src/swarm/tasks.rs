//! Where a service's tasks run, as the manager tells: node, container, addresses. The checks
//! reach a task's container through its node's engine.

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::local_swarm::{self as cluster, node_name};

/// One running task of a service.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    /// The node's hostname, which is its container's name: `dockerlab-swarm-2`.
    pub node: String,
    pub container: String,
    /// Its addresses on the stack's networks, without the prefix length.
    pub addresses: Vec<String>,
}

/// `docker …` on the manager of the local cluster.
pub fn manager<'a>(sh: &'a Shell, args: &[&str]) -> xshell::Cmd<'a> {
    let host = cluster::host(&node_name(1));
    cmd!(sh, "docker --host {host} {args...}").quiet()
}

/// The tasks of `service` that should run now and do.
pub fn running(sh: &Shell, service: &str) -> Result<Vec<Task>> {
    let ids = manager(
        sh,
        &[
            "service",
            "ps",
            "--quiet",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            service,
        ],
    )
    .read()?;
    let mut tasks = Vec::new();
    for id in ids.lines() {
        let format = "{{.Status.State}}|{{.NodeID}}|{{.Status.ContainerStatus.ContainerID}}|\
                      {{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}";
        let out = manager(sh, &["inspect", "--format", format, id]).read()?;
        let fields: Vec<&str> = out.splitn(4, '|').collect();
        if fields.len() < 4 || fields[0] != "running" {
            continue;
        }
        let node = manager(
            sh,
            &[
                "node",
                "inspect",
                "--format",
                "{{.Description.Hostname}}",
                fields[1],
            ],
        )
        .read()
        .with_context(|| format!("the node of task {id}"))?;
        tasks.push(Task {
            id: id.to_string(),
            node,
            container: fields[2].to_string(),
            addresses: fields[3]
                .split_whitespace()
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
        });
    }
    Ok(tasks)
}

/// `docker exec` in a task's container, through its node's engine; returns its output.
pub fn exec(sh: &Shell, task: &Task, args: &[&str]) -> Result<String> {
    let host = cluster::host(&task.node);
    let container = &task.container;
    Ok(cmd!(sh, "docker --host {host} exec {container} {args...}")
        .quiet()
        .read()?)
}

/// `docker kill` of a task's container, through its node's engine.
pub fn kill(sh: &Shell, task: &Task) -> Result<()> {
    let host = cluster::host(&task.node);
    let container = &task.container;
    cmd!(sh, "docker --host {host} kill {container}")
        .quiet()
        .ignore_stdout()
        .run()?;
    Ok(())
}
