//! `cargo xtask nginx`: build our nginx image, run it, wait until it answers; or take it down.

pub mod checks;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};

use crate::build;
use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::flavour::Flavour;

/// Name of the container `cargo xtask nginx` runs.
pub const CONTAINER: &str = "dockerlab-nginx";
/// The hardened way to run it (`cargo xtask nginx`, its tests and the benchmark): nothing in the
/// image can change, no capabilities, no privilege gained through setuid files, and bounded
/// resources. What each flag protects against: docs/hardening.md.
pub const HARDENED: &[&str] = &[
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    // Measured: 5.5 MiB at most (the cgroup's memory.max_usage_in_bytes) over three bounded
    // loads, `wrk -t2 -c32 -d5s` on the published port, `-t2 -c32` and `-t4 -c256` on the
    // container's address; 3.2-3.8 MiB in `docker stats` meanwhile, 2.7 MiB idle. 64 MiB is
    // ten times that: room for more workers on bigger hosts (one per CPU the host shows) and
    // for /tmp, a tmpfs charged to the same limit. No swap beyond it.
    "--memory",
    "64m",
    "--memory-swap",
    "64m",
    // Measured: up to 120% of a CPU under that load on 2 cores; one CPU costs no measurable
    // throughput here (the load generator and docker-proxy share the same 2 cores) and leaves
    // the other core to the rest of the host.
    "--cpus",
    "1",
    // Measured: 3 processes (the master and `worker_processes auto`, one worker per CPU the
    // host shows), plus the healthcheck's wget. 64 leaves room for hosts with ~60 CPUs and
    // still stops a fork bomb.
    "--pids-limit",
    "64",
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
    /// Host address to publish on: the loopback by default; 0.0.0.0 (or an interface's address)
    /// opens the page to the network on purpose (Docker's published ports bypass host firewalls
    /// such as ufw).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Build, (re)start the container and wait for the page (the default).
    Up,
    /// Stop and remove the container.
    Down,
}

impl Nginx {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        if self.action == Some(Action::Down) {
            docker::remove_container(sh, CONTAINER);
            println!("{CONTAINER} is removed");
            return Ok(());
        }
        std::net::TcpListener::bind((self.bind, 0)).map_err(|err| {
            anyhow!(
                "--bind {}: not an address of this host ({err}): use 127.0.0.1, 0.0.0.0 or one \
                 of `ip -brief address`",
                self.bind
            )
        })?;
        // The port is checked first (our own container may hold it), so a taken one fails fast.
        docker::remove_container(sh, CONTAINER);
        docker::port_free(self.port)?;
        let image = build(ctx)?;
        let publish = format!("{}:8080", socket(self.bind, self.port));
        // Back after a restart of the engine or the machine, as the Redmine stack is; gone after
        // `cargo xtask nginx down`.
        let run = [
            "run",
            "--detach",
            "--name",
            CONTAINER,
            "--restart",
            "unless-stopped",
            "--publish",
            &publish,
        ];
        Docker::local(sh)
            .run(&[&run[..], HARDENED, &[&image]].concat())
            .context("starting the nginx container")?;
        // An unspecified address (0.0.0.0, ::) is reached on the loopback.
        let reach = match self.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".parse()?,
            IpAddr::V6(ip) if ip.is_unspecified() => "::1".parse()?,
            ip => ip,
        };
        docker::wait_http(
            &format!("http://{}/", socket(reach, self.port)),
            Duration::from_secs(30),
        )
        .with_context(|| format!("waiting for our page; see `docker logs {CONTAINER}`"))?;
        let url = if self.bind.is_loopback() {
            format!("http://localhost:{}/", self.port)
        } else {
            format!("http://{}/", socket(reach, self.port))
        };
        println!("our page is served at {url} (stop it with `cargo xtask nginx down`)");
        if !self.bind.is_loopback() {
            println!(
                "note: it is open to the network on {} (--bind); Docker's published ports \
                 bypass host firewalls such as ufw",
                self.bind
            );
        }
        Ok(())
    }
}

/// `ADDR:PORT` as Docker's `--publish` and URLs write it: IPv6 addresses in brackets.
fn socket(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
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
pub fn build(ctx: &Ctx) -> Result<String> {
    let image = image(ctx.flavour);
    build_in(ctx, &image, Path::new(CONTEXT), &[])?;
    Ok(image)
}

/// The base image of a flavour (what its Dockerfile's `FROM ${BASE}` becomes).
pub fn base(flavour: Flavour) -> Result<String> {
    build::base(flavour, Path::new(CONTEXT))
}

/// Builds the Dockerfile of `context` on the current flavour's base (ours, or a copy of it) into `tag`, with
/// the build facts; `extra` goes to `docker build` as is (`--no-cache`). The benchmark builds
/// copies this way.
pub fn build_in(ctx: &Ctx, tag: &str, context: &Path, extra: &[&str]) -> Result<()> {
    let sh = &ctx.sh;
    let version = format!("VERSION={}", env!("CARGO_PKG_VERSION"));
    let revision = format!("REVISION={}", docker::git_revision(sh));
    let created = format!("CREATED={}", docker::git_date(sh));
    let mut args = extra.to_vec();
    for arg in [&version, &revision, &created] {
        args.extend(["--build-arg", arg]);
    }
    build::build(ctx, context, tag, &args)
}
