//! `cargo xtask`: the one entry point of the Docker lab.
//!
//! Each command lives in its own module with a short `run`; this file only parses and dispatches.

mod answers;
mod bases;
mod bench;
mod build;
mod ctx;
mod docker;
mod dockerfile;
mod flavour;
mod harness;
mod http;
mod kernel;
mod lint;
mod nginx;
mod pins;
mod progress;
mod push;
mod redmine;
mod registry;
mod scratch;
mod swarm;
mod test;
mod testkit;
#[cfg(test)]
mod tidy;

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};
use xshell::Shell;

use ctx::Ctx;

/// Build, run, test and publish the Docker lab: nginx on Alpine and Redmine with our theme.
#[derive(Parser)]
#[command(name = "cargo xtask", version)]
pub struct Cli {
    /// Where the images come from: Docker Hub's official images (upstream), Debian bases built
    /// on this machine (offline), or whichever this machine can have (auto).
    #[arg(long, global = true, env = flavour::FLAVOUR_VAR, value_enum, default_value_t = flavour::Choice::Auto)]
    flavour: flavour::Choice,
    /// Short for `--flavour offline` (for machines without a registry).
    #[arg(long, global = true, env = "XTASK_OFFLINE", value_parser = BoolishValueParser::new())]
    offline: bool,
    /// Show the inside of every long step (docker's build output, compose's progress, the
    /// kernel's compile) as it happens, instead of a spinner and the last lines on failure.
    #[arg(long, short, global = true, env = progress::VERBOSE_VAR, value_parser = BoolishValueParser::new())]
    verbose: bool,
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
    Pins(pins::Pins),
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
    progress::set_verbose(cli.verbose);
    let sh = Shell::new()?;
    sh.change_dir(docker::project_root());
    // The flavour is chosen once, here, and passed down as a value.
    let (flavour, why) = flavour::resolve(&sh, cli.flavour, cli.offline)?;
    if let Some(why) = why {
        println!("{why}");
    }
    let ctx = Ctx {
        sh,
        flavour,
        verbose: cli.verbose,
    };
    match cli.command {
        Command::Nginx(cmd) => cmd.run(&ctx),
        Command::Bases(cmd) => cmd.run(&ctx),
        Command::Push(cmd) => cmd.run(&ctx),
        Command::Redmine(cmd) => cmd.run(&ctx),
        Command::Swarm(cmd) => cmd.run(&ctx),
        Command::Answers(cmd) => cmd.run(&ctx),
        Command::Kernel(cmd) => cmd.run(&ctx),
        Command::Bench(cmd) => cmd.run(&ctx),
        Command::Pins(cmd) => cmd.run(&ctx),
        Command::Test(cmd) => cmd.run(&ctx),
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

    /// The only test that sets these variables: clap reads them from the process's environment.
    #[test]
    fn flavour_flags_are_global_and_backed_by_the_environment() {
        use flavour::Choice;
        // `cargo xtask test` runs `cargo test` with the chosen flavour in its environment.
        std::env::remove_var("XTASK_OFFLINE");
        std::env::remove_var(flavour::FLAVOUR_VAR);
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap();
        let cli = parse(&["xtask", "nginx"]);
        assert_eq!((cli.flavour, cli.offline), (Choice::Auto, false));
        assert!(parse(&["xtask", "nginx", "--offline"]).offline);
        assert!(parse(&["xtask", "--offline", "nginx", "down"]).offline);
        let cli = parse(&["xtask", "nginx", "--flavour", "upstream"]);
        assert_eq!(cli.flavour, Choice::Upstream);
        assert!(Cli::try_parse_from(["xtask", "nginx", "--flavour", "alpine"]).is_err());

        std::env::set_var("XTASK_OFFLINE", "1");
        std::env::set_var(flavour::FLAVOUR_VAR, "upstream");
        let cli = parse(&["xtask", "nginx"]);
        std::env::remove_var("XTASK_OFFLINE");
        std::env::remove_var(flavour::FLAVOUR_VAR);
        assert_eq!((cli.flavour, cli.offline), (Choice::Upstream, true));
    }
}
