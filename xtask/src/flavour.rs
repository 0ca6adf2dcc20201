//! Choosing the flavour: `--flavour auto` (the default) takes the upstream flavour where Docker
//! Hub's images can be had, and the offline one where they cannot, and says which and why.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::ValueEnum;
use xshell::Shell;

use crate::docker;
use crate::dockerfile::Dockerfile;

/// The environment variable behind `--flavour`: read by clap only, and set on the child
/// `cargo xtask` runs of the checks (see [`crate::ctx::Ctx::xtask`]) so that they run in the
/// flavour of their parent.
pub const FLAVOUR_VAR: &str = "XTASK_FLAVOUR";

/// Where the images come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Alpine and the official images from Docker Hub: what users get.
    Upstream,
    /// Debian bases built on this machine (`cargo xtask bases`): for machines without a registry.
    Offline,
}

impl Flavour {
    /// Its name on the command line, in the environment and in paths: `upstream`, `offline`
    /// (`redmine/.secrets/offline/`).
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Upstream => "upstream",
            Flavour::Offline => "offline",
        }
    }

    /// How the flavour is called in reports: `offline (local Debian base)`.
    pub fn display_name(self) -> &'static str {
        match self {
            Flavour::Upstream => "upstream (Alpine)",
            Flavour::Offline => "offline (local Debian base)",
        }
    }

    /// Suffix of image tags built in this flavour: `dockerlab/nginx:1.0.0-offline`.
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Flavour::Upstream => "",
            Flavour::Offline => "-offline",
        }
    }
}

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Choice {
    /// Upstream where its base images are here or the registry answers, else offline.
    Auto,
    /// Alpine and the official images from Docker Hub.
    Upstream,
    /// Debian bases built on this machine, for machines without a registry.
    Offline,
}

/// Where `auto` looks for a registry: Docker Hub's, or a stand-in given by the tests.
pub const PROBE_VAR: &str = "XTASK_REGISTRY_PROBE";
const DOCKER_HUB: &str = "registry-1.docker.io:443";
/// How long the probe may take: a registry that answers does so well within it.
const PROBE_LIMIT: Duration = Duration::from_secs(3);

/// The flavour to run with; for `auto`, also the line that says why.
pub fn resolve(sh: &Shell, choice: Choice, offline: bool) -> Result<(Flavour, Option<String>)> {
    match (choice, offline) {
        (Choice::Upstream, true) => {
            bail!("--offline (or XTASK_OFFLINE) and --flavour upstream contradict each other")
        }
        (Choice::Offline, _) | (Choice::Auto, true) => Ok((Flavour::Offline, None)),
        (Choice::Upstream, false) => Ok((Flavour::Upstream, None)),
        (Choice::Auto, false) => Ok(auto(sh)),
    }
}

fn auto(sh: &Shell) -> (Flavour, Option<String>) {
    if let Some(base) = upstream_base() {
        if docker::image_exists(sh, &base) {
            let why = format!("flavour: upstream ({base} is here)");
            return (Flavour::Upstream, Some(why));
        }
    }
    let target = sh.var(PROBE_VAR).unwrap_or_else(|_| DOCKER_HUB.into());
    match probe(&target) {
        Ok(()) => (
            Flavour::Upstream,
            Some(format!("flavour: upstream (the registry {target} answers)")),
        ),
        Err(why) => (
            Flavour::Offline,
            Some(format!(
                "flavour: offline (no registry reachable: {target}: {why}): building on the \
                 local Debian base; --flavour upstream to insist"
            )),
        ),
    }
}

/// Whether a TCP connection to `target` (HOST:PORT) opens within the limit.
fn probe(target: &str) -> Result<(), String> {
    let addrs = target
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve it ({err})"))?;
    let mut last = "no address".to_string();
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROBE_LIMIT) {
            Ok(_) => return Ok(()),
            Err(err) => last = err.to_string(),
        }
    }
    Err(last)
}

/// The image our nginx Dockerfile starts from in the upstream flavour: the default of its
/// `ARG BASE=…`, or its first `FROM`.
fn upstream_base() -> Option<String> {
    Dockerfile::read("nginx/Dockerfile").ok()?.upstream_base()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choices_need_no_probe() {
        let sh = Shell::new().unwrap();
        let offline = resolve(&sh, Choice::Offline, false).unwrap();
        assert_eq!(offline, (Flavour::Offline, None));
        assert_eq!(
            resolve(&sh, Choice::Auto, true).unwrap().0,
            Flavour::Offline
        );
        assert_eq!(
            resolve(&sh, Choice::Upstream, false).unwrap(),
            (Flavour::Upstream, None)
        );
        let err = resolve(&sh, Choice::Upstream, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("contradict"), "{err}");
    }

    #[test]
    fn a_closed_port_is_no_registry() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(probe(&format!("127.0.0.1:{port}")).is_err());
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(probe(&open.local_addr().unwrap().to_string()).is_ok());
        assert!(probe("no-such-host.invalid:443").is_err());
    }

    #[test]
    fn the_upstream_base_is_pinned() {
        let base = upstream_base().expect("nginx/Dockerfile names its base");
        assert!(base.contains(':') && !base.ends_with(":latest"), "{base}");
    }
}
