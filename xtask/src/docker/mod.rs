//! What every command needs around Docker: the project root, the flavour, the engine, images,
//! containers, ports and waiting for a page.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use xshell::{cmd, Shell};

use crate::http;

mod failure;
mod handle;
mod inspect;

pub use failure::{reason, reason_of};
pub use handle::Docker;
pub use inspect::ContainerInfo;

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Fails with advice when no Docker engine answers.
pub fn engine(sh: &Shell) -> Result<()> {
    let format = "{{.Server.Version}}";
    let out = Docker::local(sh)
        .cmd(&["version", "--format", format])
        .quiet()
        .ignore_status()
        .output()
        .context(
            "running `docker`: install the Docker client (Debian: apt-get install docker.io)",
        )?;
    if !out.status.success() {
        bail!(
            "no Docker engine is reachable ({}): start one with `sudo systemctl start docker` \
             (or `sudo dockerd &`), then check `docker version`",
            reason_of(&out)
        );
    }
    Ok(())
}

/// The image's id (`sha256:…`): what a name points to now, which a rebuild can change.
pub fn image_id(sh: &Shell, image: &str) -> Result<String> {
    Ok(Docker::local(sh).image(image)?.id)
}

/// Whether `text` is a content digest as Docker prints them: `sha256:` and 64 lowercase hex digits
/// (image ids, manifest digests).
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub fn image_exists(sh: &Shell, image: &str) -> bool {
    image_id(sh, image).is_ok()
}

pub fn container_exists(sh: &Shell, name: &str) -> bool {
    Docker::local(sh).succeeds(&["container", "inspect", name])
}

/// The git revision the images are built from (`unknown` outside a git checkout).
pub fn git_revision(sh: &Shell) -> String {
    cmd!(sh, "git rev-parse --short=12 HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_else(|_| "unknown".into())
}

/// The commit date, used as the image's creation date so that rebuilds of one commit hit the
/// cache (a wall-clock date would change every build).
pub fn git_date(sh: &Shell) -> String {
    cmd!(sh, "git log -1 --format=%cI")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .filter(|date| !date.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Removes a container if it exists, quietly.
pub fn remove_container(sh: &Shell, name: &str) {
    Docker::local(sh).remove_container(name);
}

/// A container that is removed when the value goes out of scope (tests, benchmarks).
pub struct Container<'a> {
    sh: &'a Shell,
    pub name: String,
}

impl<'a> Container<'a> {
    /// `docker run --detach --name NAME ARGS…`, removing a leftover of the same name first.
    pub fn run(sh: &'a Shell, name: &str, args: &[&str]) -> Result<Container<'a>> {
        let docker = Docker::local(sh);
        docker.remove_container(name);
        let run = [&["run", "--detach", "--name", name], args].concat();
        docker
            .run(&run)
            .with_context(|| format!("starting container {name}"))?;
        Ok(Container {
            sh,
            name: name.into(),
        })
    }

    /// `docker inspect --format FORMAT` of this container.
    pub fn inspect(&self, format: &str) -> Result<String> {
        let name = &self.name;
        Docker::local(self.sh).read(&["inspect", "--format", format, name])
    }
}

impl Container<'_> {
    /// The last lines it logged.
    pub fn logs_tail(&self, lines: usize) -> String {
        Docker::local(self.sh).logs_tail(&self.name, lines)
    }

    /// What Docker says of it, typed.
    pub fn info(&self) -> Result<ContainerInfo> {
        Docker::local(self.sh).container(&self.name)
    }

    /// Its address on its network (the default bridge, unless it was run on another one).
    pub fn ip(&self) -> Result<String> {
        let info = self.info()?;
        let ip = info.addresses().first().map(|ip| ip.to_string());
        ip.with_context(|| format!("{} has no address", self.name))
    }

    /// The host address a container port is published on: `127.0.0.1:32768`.
    pub fn published(&self, port: u16) -> Result<String> {
        let name = &self.name;
        let spec = format!("{port}/tcp");
        let out = Docker::local(self.sh).read(&["port", name, &spec])?;
        out.lines()
            .next()
            .map(|addr| addr.replace("0.0.0.0:", "127.0.0.1:"))
            .with_context(|| format!("port {port} of {name} is not published"))
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        remove_container(self.sh, &self.name);
    }
}

/// Fails with a hint when something already listens on the host port.
pub fn port_free(port: u16) -> Result<()> {
    TcpListener::bind(("0.0.0.0", port))
        .map(drop)
        .map_err(|err| {
            anyhow!("port {port} is already taken ({err}): pick another one with --port")
        })
}

/// A loopback port that is free now (for tests and benchmarks).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .context("finding a free port on 127.0.0.1")?
        .port())
}

/// Polls `url` until it answers 200, for at most `limit`.
pub fn wait_http(url: &str, limit: Duration) -> Result<http::Response> {
    wait_http_every(url, limit, Duration::from_millis(100))
}

/// [`wait_http`] polling `every` so often (the benchmark polls finely).
pub fn wait_http_every(url: &str, limit: Duration, every: Duration) -> Result<http::Response> {
    let start = Instant::now();
    loop {
        let last = match http::get(url) {
            Ok(resp) if resp.status == 200 => return Ok(resp),
            Ok(resp) => format!("status {}", resp.status),
            Err(err) => format!("{err:#}"),
        };
        if start.elapsed() > limit {
            bail!("{url} did not answer 200 within {limit:?} (last: {last})");
        }
        std::thread::sleep(every);
    }
}
