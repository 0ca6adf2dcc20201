//! Where a service's tasks run, as the manager tells: node, container, addresses. The checks
//! reach a task's container through its node's engine.

use anyhow::Result;
use xshell::Shell;

pub use crate::swarm::local::Task;
use crate::swarm::local::{self as cluster, on};

/// `docker …` on the manager of the local cluster.
pub fn manager<'a>(sh: &'a Shell, args: &[&str]) -> xshell::Cmd<'a> {
    cluster::manager(sh).cmd(args).quiet()
}

/// The tasks of `service` that should run now and do, on the local cluster.
pub fn running(sh: &Shell, service: &str) -> Result<Vec<Task>> {
    cluster::running_tasks(&cluster::manager(sh), service)
}

/// `docker exec` in a task's container, through its node's engine; returns its output.
pub fn exec(sh: &Shell, task: &Task, args: &[&str]) -> Result<String> {
    let mut argv = vec!["exec", task.container.as_str()];
    argv.extend(args);
    Ok(on(sh, &task.node, &argv).read()?)
}

/// `docker kill` of a task's container, through its node's engine.
pub fn kill(sh: &Shell, task: &Task) -> Result<()> {
    on(sh, &task.node, &["kill", &task.container])
        .ignore_stdout()
        .run()?;
    Ok(())
}
