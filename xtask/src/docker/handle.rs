//! The handle to one Docker engine: the host engine, another through `--context`, or a Swarm
//! node's through `--host`. Every docker command line of the crate is built here ([`Docker::cmd`]);
//! what commands ask of Docker comes back typed.

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use xshell::{Cmd, Shell};

use super::failure::checked;
use super::inspect::{ContainerInfo, ImageInfo};

/// One Docker engine, reached with the shell's environment (DOCKER_HOST, DOCKER_CONFIG, …) and
/// the global options in `target`.
#[derive(Clone)]
pub struct Docker<'a> {
    sh: &'a Shell,
    /// `--context NAME`, `--host URL`, or nothing for the engine the environment names.
    target: Vec<String>,
    /// How the engine is called in errors: `the engine`, `context prod`, `node dockerlab-swarm-1`.
    shown: String,
}

impl<'a> Docker<'a> {
    /// The engine the environment names (DOCKER_HOST, else the local socket).
    pub fn local(sh: &'a Shell) -> Docker<'a> {
        Docker {
            sh,
            target: Vec::new(),
            shown: "the engine".into(),
        }
    }

    /// The engine at a URL (`unix:///…/docker.sock`, `tcp://…`), called `shown` in errors.
    pub fn host(sh: &'a Shell, url: &str, shown: &str) -> Docker<'a> {
        Docker {
            sh,
            target: vec!["--host".into(), url.into()],
            shown: shown.into(),
        }
    }

    /// The engine docker's global options `target` reach (`--host …`, `--context …`, or none).
    pub fn at(sh: &'a Shell, target: &[String], shown: &str) -> Docker<'a> {
        Docker {
            sh,
            target: target.to_vec(),
            shown: shown.into(),
        }
    }

    /// `docker [TARGET] ARGS…`: the one place a docker command line is built. Echoed like every
    /// xshell command; `.quiet()` it for questions.
    pub fn cmd(&self, args: &[&str]) -> Cmd<'a> {
        self.sh.cmd("docker").args(&self.target).args(args)
    }

    /// [`Docker::cmd`] under `timeout SECS`: killed when it takes longer.
    pub fn cmd_within(&self, secs: u32, args: &[&str]) -> Cmd<'a> {
        let secs = secs.to_string();
        self.sh
            .cmd("timeout")
            .arg(secs)
            .arg("docker")
            .args(&self.target)
            .args(args)
    }

    /// Runs `docker ARGS…` (echoed, output kept): on failure, one line with Docker's reason.
    pub fn run(&self, args: &[&str]) -> Result<()> {
        let out = self.cmd(args).ignore_status().output()?;
        checked(out, &self.what(args)).map(drop)
    }

    /// Asks `docker ARGS…` (not echoed) and returns its standard output, trimmed; on failure,
    /// one line with Docker's reason.
    pub fn read(&self, args: &[&str]) -> Result<String> {
        let out = self.cmd(args).quiet().ignore_status().output()?;
        let out = checked(out, &self.what(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Whether `docker ARGS…` succeeds (not echoed, its output dropped).
    pub fn succeeds(&self, args: &[&str]) -> bool {
        self.cmd(args)
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
    }

    /// `docker KIND inspect NAME`, typed.
    fn inspect<T: DeserializeOwned>(&self, kind: &str, name: &str) -> Result<T> {
        let json = self.read(&[kind, "inspect", name])?;
        let mut all: Vec<T> = serde_json::from_str(&json)
            .with_context(|| format!("reading `docker {kind} inspect {name}`"))?;
        all.pop()
            .with_context(|| format!("`docker {kind} inspect {name}` described nothing"))
    }

    /// A container, typed (`docker container inspect`).
    pub fn container(&self, name: &str) -> Result<ContainerInfo> {
        self.inspect("container", name)
    }

    /// An image, typed (`docker image inspect`).
    pub fn image(&self, name: &str) -> Result<ImageInfo> {
        self.inspect("image", name)
            .with_context(|| format!("inspecting image {name}: is it built?"))
    }

    /// Removes a container if it exists, with its anonymous volumes; quietly.
    pub fn remove_container(&self, name: &str) {
        let _ = self
            .cmd(&["rm", "--force", "--volumes", name])
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run();
    }

    /// `docker ARGS…` for duct (streams, binary input or output, background runs); not echoed.
    pub fn duct(&self, args: &[&str]) -> duct::Expression {
        let target = self.target.iter().map(String::as_str);
        duct::cmd(
            "docker",
            target.chain(args.iter().copied()).collect::<Vec<_>>(),
        )
    }

    /// `docker exec CONTAINER ARGS…`.
    pub fn exec(&self, container: &str, args: &[&str]) -> Cmd<'a> {
        self.cmd(&["exec", container]).args(args)
    }

    /// The last `lines` lines a container logged (its standard output and error), for errors;
    /// empty when there are none or it is gone.
    pub fn logs_tail(&self, container: &str, lines: usize) -> String {
        let lines = lines.to_string();
        let out = self
            .cmd(&["logs", "--tail", &lines, container])
            .quiet()
            .ignore_status()
            .output();
        out.map(|out| {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text += &String::from_utf8_lossy(&out.stderr);
            text.trim().to_string()
        })
        .unwrap_or_default()
    }

    /// The engine's version (`20.10.24`).
    pub fn version(&self) -> Result<String> {
        self.read(&["version", "--format", "{{.Server.Version}}"])
    }

    /// Removes an image if nothing else holds it (never forced); quietly.
    pub fn remove_image(&self, image: &str) {
        self.succeeds(&["image", "rm", image]);
    }

    /// Creates a network with a label (`KEY=VALUE`) unless it exists.
    pub fn ensure_network(&self, name: &str, label: &str) -> Result<()> {
        if self.succeeds(&["network", "inspect", name]) {
            return Ok(());
        }
        self.run(&["network", "create", "--label", label, name])
    }

    /// Creates a volume with a label (`KEY=VALUE`); an existing one is kept as it is.
    pub fn create_volume(&self, name: &str, label: &str) -> Result<()> {
        self.read(&["volume", "create", "--label", label, name])
            .map(drop)
    }

    /// The names (or ids) of the objects of a kind (`container`, `volume`, `network`, `image`)
    /// `docker KIND ls ARGS…` lists, one per line.
    pub fn list(&self, kind: &str, args: &[&str]) -> Result<Vec<String>> {
        let out = self.read(&[&[kind, "ls"], args].concat())?;
        Ok(out
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect())
    }

    fn what(&self, args: &[&str]) -> String {
        let verb: Vec<&str> = args
            .iter()
            .take_while(|arg| !arg.starts_with('-'))
            .take(2)
            .copied()
            .collect();
        match self.target.is_empty() {
            true => format!("docker {}", verb.join(" ")),
            false => format!("docker {} on {}", verb.join(" "), self.shown),
        }
    }
}
