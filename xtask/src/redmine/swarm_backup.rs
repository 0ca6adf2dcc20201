//! `cargo xtask redmine backup --swarm`: the same archive as the compose stack's backup
//! (`db.dump` by pg_dump, `files.tar` of the attachments), taken from the stack on a Swarm by
//! `docker exec` in its tasks' containers, through the engine of the node each runs on.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::stack::Stack;
use super::stack::{write_backup, DB, FILES};
use super::swarm_stack::{Cluster, NAME};
use crate::local_swarm as cluster;

pub fn backup(sh: &Shell, stack: &Stack, context: Option<&str>) -> Result<PathBuf> {
    let cluster = Cluster::find(sh, context)?;
    let user = format!("--username={DB}");
    let mut dump = exec_argv(sh, &cluster, &format!("{NAME}_db"))?;
    dump.extend(["pg_dump", &user, "--format=custom", DB].map(String::from));
    let mut files = exec_argv(sh, &cluster, &format!("{NAME}_redmine"))?;
    files.extend(["tar", "-C", FILES, "-cf", "-", "."].map(String::from));
    write_backup(
        sh,
        &stack.backups,
        duct::cmd("docker", dump),
        duct::cmd("docker", files),
    )
}

/// docker's arguments for `exec` in a running task of `service`: through that node's engine
/// (each node's socket on the local cluster; elsewhere only when it is the manager we talk to).
fn exec_argv(sh: &Shell, cluster: &Cluster, service: &str) -> Result<Vec<String>> {
    let task = cluster::running_tasks(sh, &cluster.args, service)?
        .into_iter()
        .next()
        .with_context(|| format!("{service} runs no task"))?;
    let mut argv = if cluster.local.is_some() {
        vec!["--host".to_string(), cluster::host(&task.node)]
    } else {
        let here = cluster
            .docker(sh, &["info", "--format", "{{.Swarm.NodeID}}"])
            .quiet()
            .read()?;
        if here != task.node_id {
            bail!(
                "{service} runs on node {}, not on the manager this machine talks to: run the \
                 backup with --context (or DOCKER_HOST) pointing at that node's engine",
                task.node
            );
        }
        cluster.args.clone()
    };
    argv.extend(["exec".into(), task.container]);
    Ok(argv)
}
