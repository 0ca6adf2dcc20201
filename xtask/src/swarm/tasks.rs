//! Where a service's tasks run, as the manager tells: node, container, addresses. The checks
//! reach a task's container through its node's engine.

use anyhow::Result;
use xshell::{cmd, Shell};

pub use crate::local_swarm::Task;
use crate::local_swarm::{self as cluster, node_name};

/// `docker …` on the manager of the local cluster.
pub fn manager<'a>(sh: &'a Shell, args: &[&str]) -> xshell::Cmd<'a> {
    let host = cluster::host(&node_name(1));
    cmd!(sh, "docker --host {host} {args...}").quiet()
}

/// The tasks of `service` that should run now and do, on the local cluster.
pub fn running(sh: &Shell, service: &str) -> Result<Vec<Task>> {
    let manager = ["--host".to_string(), cluster::host(&node_name(1))];
    cluster::running_tasks(sh, &manager, service)
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
