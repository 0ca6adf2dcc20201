//! `cargo xtask nginx`: build our nginx image, run it, wait until it answers; or take it down.

pub mod checks;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use xshell::{cmd, Shell};

use crate::build;
use crate::docker::{self, Flavour};

/// Name of the container `cargo xtask nginx` runs.
pub const CONTAINER: &str = "dockerlab-nginx";
/// The hardened way to run it: nothing in the image can change, no capabilities.
pub const HARDENED: &[&str] = &[
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
];
/// The repository our nginx image is built into.
pub const REPOSITORY: &str = "dockerlab/nginx";

/// Build our nginx image, run it and wait until it serves our page.
#[derive(Args)]
pub struct Nginx {
    #[command(subcommand)]
    action: Option<Action>,
    /// Host port to publish the page on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Build, (re)start the container and wait for the page (the default).
    Up,
    /// Stop and remove the container.
    Down,
}

impl Nginx {
    pub fn run(self, sh: &Shell) -> Result<()> {
        docker::engine(sh)?;
        if self.action == Some(Action::Down) {
            docker::remove_container(sh, CONTAINER);
            println!("{CONTAINER} is removed");
            return Ok(());
        }
        // The port is checked first (our own container may hold it), so a taken one fails fast.
        docker::remove_container(sh, CONTAINER);
        docker::port_free(self.port)?;
        let image = build(sh)?;
        let publish = format!("{}:8080", self.port);
        cmd!(
            sh,
            "docker run --detach --name {CONTAINER} --publish {publish} {HARDENED...} {image}"
        )
        .ignore_stdout()
        .run()
        .context("starting the nginx container")?;
        let url = format!("http://localhost:{}/", self.port);
        docker::wait_http(
            &format!("http://127.0.0.1:{}/", self.port),
            Duration::from_secs(30),
        )
        .with_context(|| format!("waiting for our page; see `docker logs {CONTAINER}`"))?;
        println!("our page is served at {url} (stop it with `cargo xtask nginx down`)");
        Ok(())
    }
}

/// The image reference of the current flavour: `dockerlab/nginx:1.0.0` or `…:1.0.0-offline`.
pub fn image(flavour: Flavour) -> String {
    format!(
        "{REPOSITORY}:{}{}",
        env!("CARGO_PKG_VERSION"),
        flavour.tag_suffix()
    )
}

/// The build context of the image: configuration, page and the one Dockerfile of both flavours.
pub const CONTEXT: &str = "nginx";

/// Builds the image of the current flavour (a warm rebuild is a cache hit) and returns its name.
pub fn build(sh: &Shell) -> Result<String> {
    let image = image(Flavour::of(sh));
    build_in(sh, &image, Path::new(CONTEXT), &[])?;
    Ok(image)
}

/// The base image of the current flavour (what its Dockerfile's `FROM ${BASE}` becomes).
pub fn base(sh: &Shell) -> Result<String> {
    build::base(sh, Path::new(CONTEXT))
}

/// Builds the Dockerfile of `context` on the current flavour's base (ours, or a copy of it) into `tag`, with
/// the build facts; `extra` goes to `docker build` as is (`--no-cache`). The benchmark builds
/// copies this way.
pub fn build_in(sh: &Shell, tag: &str, context: &Path, extra: &[&str]) -> Result<()> {
    let version = format!("VERSION={}", env!("CARGO_PKG_VERSION"));
    let revision = format!("REVISION={}", docker::git_revision(sh));
    let created = format!("CREATED={}", docker::git_date(sh));
    let mut args = extra.to_vec();
    for arg in [&version, &revision, &created] {
        args.extend(["--build-arg", arg]);
    }
    build::build(sh, context, tag, &args)
}
