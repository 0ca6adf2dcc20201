//! `cargo xtask redmine backup --swarm`: the same archive as the compose stack's backup
//! (`db.dump` by pg_dump, `files.tar` of the attachments), taken from the stack on a Swarm by
//! `docker exec` in its tasks' containers, through the engine of the node each runs on.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::local as cluster;
use super::stack::NAME;
use super::target::Cluster;
use crate::docker::Docker;
use crate::redmine::backup::write_backup;
use crate::redmine::stack::Stack;
use crate::redmine::stack::{DB, FILES};

pub fn backup(sh: &Shell, stack: &Stack, context: Option<&str>) -> Result<PathBuf> {
    let cluster = Cluster::find(sh, context)?;
    let user = format!("--username={DB}");
    let (db_node, db) = task(sh, &cluster, &format!("{NAME}_db"))?;
    let dump = ["exec", &db, "pg_dump", &user, "--format=custom", DB];
    let (redmine_node, redmine) = task(sh, &cluster, &format!("{NAME}_redmine"))?;
    let files = ["exec", &redmine, "tar", "-C", FILES, "-cf", "-", "."];
    write_backup(
        sh,
        &stack.backups,
        db_node.duct(&dump),
        redmine_node.duct(&files),
    )
}

/// The engine a running task of `service` is reached through, and the task's container: that
/// node's (each node's socket on the local cluster; elsewhere only when it is the manager we
/// talk to).
fn task<'a>(sh: &'a Shell, cluster: &Cluster, service: &str) -> Result<(Docker<'a>, String)> {
    let task = cluster::running_tasks(&cluster.engine(sh), service)?
        .into_iter()
        .next()
        .with_context(|| format!("{service} runs no task"))?;
    let engine = if cluster.local.is_some() {
        cluster::engine(sh, &task.node)
    } else {
        let manager = cluster.engine(sh);
        let here = manager.read(&["info", "--format", "{{.Swarm.NodeID}}"])?;
        if here != task.node_id {
            bail!(
                "{service} runs on node {}, not on the manager this machine talks to: run the \
                 backup with --context (or DOCKER_HOST) pointing at that node's engine",
                task.node
            );
        }
        manager
    };
    Ok((engine, task.container))
}
