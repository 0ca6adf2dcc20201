//! `cargo xtask`: the one entry point of the Docker lab.
//!
//! Each command lives in its own module with a short `run`; this file only parses and dispatches.

mod answers;
mod bases;
mod bench;
mod build;
mod docker;
mod harness;
mod http;
mod kernel;
mod lint;
mod nginx;
mod push;
mod redmine;
mod scratch;
mod swarm;
mod test;
#[cfg(test)]
mod tidy;

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};
use xshell::Shell;

/// Build, run, test and publish the Docker lab: nginx on Alpine and Redmine with our theme.
#[derive(Parser)]
#[command(name = "cargo xtask", version)]
pub struct Cli {
    /// Use locally built Debian bases instead of images from Docker Hub (for machines without a
    /// registry).
    #[arg(long, global = true, env = "XTASK_OFFLINE", value_parser = BoolishValueParser::new())]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Nginx(nginx::Nginx),
    Bases(bases::Bases),
    Push(push::Push),
    Redmine(redmine::Redmine),
    Swarm(swarm::Swarm),
    Answers(answers::Answers),
    Kernel(kernel::Kernel),
    Bench(bench::Bench),
    Test(test::Test),
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(docker::project_root());
    // The flavour travels in the environment, so every docker helper and every child
    // `cargo xtask` sees the same one.
    sh.set_var(
        docker::OFFLINE_VAR,
        if cli.offline { "true" } else { "false" },
    );
    match cli.command {
        Command::Nginx(cmd) => cmd.run(&sh),
        Command::Bases(cmd) => cmd.run(&sh),
        Command::Push(cmd) => cmd.run(&sh),
        Command::Redmine(cmd) => cmd.run(&sh),
        Command::Swarm(cmd) => cmd.run(&sh),
        Command::Answers(cmd) => cmd.run(&sh),
        Command::Kernel(cmd) => cmd.run(&sh),
        Command::Bench(cmd) => cmd.run(&sh),
        Command::Test(cmd) => cmd.run(&sh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn offline_flag_is_global_and_backed_by_the_environment() {
        let cli = Cli::try_parse_from(["xtask", "nginx", "--offline"]).unwrap();
        assert!(cli.offline);
        let cli = Cli::try_parse_from(["xtask", "--offline", "nginx", "down"]).unwrap();
        assert!(cli.offline);
    }
}
