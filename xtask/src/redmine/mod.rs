//! `cargo xtask redmine`: Redmine with PostgreSQL from redmine/compose.yaml, our theme baked into
//! the image; up, down, status, logs, backup and restore.

pub mod backup;
pub mod checks;
mod contract_checks;
mod hardening_checks;
pub mod stack;
mod upgrade_checks;

pub use stack::Stack;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::ctx::Ctx;
use crate::docker;

/// Run Redmine with our theme and PostgreSQL (redmine/compose.yaml), back it up and restore it.
#[derive(Args)]
pub struct Redmine {
    #[command(subcommand)]
    action: Option<Action>,
    /// Host port (on 127.0.0.1) to publish Redmine on (nginx's default is 8080).
    #[arg(long, default_value_t = 3000, global = true)]
    port: u16,
}

#[derive(Subcommand)]
enum Action {
    /// Build, start and wait until healthy, then print the URL and the admin login (the default).
    Up,
    /// Stop and remove the containers; the data stays in the volumes.
    Down {
        /// Also delete the volumes: the database and attachments are lost.
        #[arg(long)]
        volumes: bool,
    },
    /// Show the containers and their health.
    Status,
    /// Show the containers' output.
    Logs {
        /// Keep following the output.
        #[arg(long)]
        follow: bool,
    },
    /// Write a database dump and the attachments into backups/redmine-TIMESTAMP.tar.gz.
    Backup {
        /// Back up the stack deployed on a Swarm (`redmine deploy`) instead of the compose one.
        #[arg(long)]
        swarm: bool,
        /// With --swarm: the docker context of a Swarm manager (default: DOCKER_HOST, else the
        /// local cluster).
        #[arg(long, value_name = "NAME", requires = "swarm")]
        context: Option<String>,
    },
    /// Replace the database and attachments with those of a backup made by `backup`.
    Restore {
        /// The backup file (backups/redmine-….tar.gz).
        file: PathBuf,
    },
    /// Deploy the stack to a Docker Swarm instead (--port is the front door's), or take it down
    /// with --remove (docs/swarm.md).
    Deploy(crate::swarm::deploy::Deploy),
}

/// The user's stack: its project name, secrets and backups (the Swarm stack shares the secrets).
pub fn user_stack(ctx: &Ctx, port: u16) -> Result<Stack> {
    let root = docker::project_root();
    let secrets = root.join("redmine/.secrets");
    stack::adopt_flat_secrets(&secrets)?;
    Ok(Stack::new(
        "dockerlab-redmine",
        ctx.flavour,
        port,
        &secrets,
        root.join("backups"),
    ))
}

impl Redmine {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        let stack = user_stack(ctx, self.port)?;
        match self.action.unwrap_or(Action::Up) {
            Action::Up => {
                stack.up(sh)?;
                println!(
                    "Redmine is up at http://localhost:{}/ (theme: Administration › Settings › Display)\n\
                     admin user: admin\nadmin password: {}",
                    self.port,
                    stack.admin_password()?
                );
            }
            Action::Down { volumes } => stack.down(sh, volumes)?,
            Action::Deploy(deploy) => deploy.run(ctx, &stack)?,
            Action::Status => {
                stack.compose(sh, &["ps", "--all"]).run()?;
            }
            Action::Logs { follow } => {
                let follow = follow.then_some("--follow");
                stack
                    .compose(sh, &["logs", "--tail", "200"])
                    .args(follow)
                    .run()?;
            }
            Action::Backup { swarm, context } => {
                let file = if swarm {
                    crate::swarm::backup::backup(sh, &stack, context.as_deref())?
                } else {
                    stack.backup(sh)?
                };
                println!("backup written to {}", file.display());
            }
            Action::Restore { file } => {
                if stack.restore(sh, &file)? {
                    println!(
                        "the backup came from an older Redmine: its database was migrated to \
                         this one's"
                    );
                }
                println!("restored from {}", file.display());
            }
        }
        Ok(())
    }
}
