//! A registry of our own for one run: Debian's `docker-registry` (CNCF distribution) on a free
//! loopback port, optionally behind htpasswd auth; killed, and its storage removed, when dropped.
//! The benchmark pushes to one to read the compressed layer sizes; push's checks run one with a
//! login to test `cargo xtask push` against.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::docker;
use crate::http;
use crate::scratch::{random_hex, Scratch};

/// The media type of a Docker image manifest (schema 2).
pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A user and a password made for this run.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl Login {
    /// `user` with a random password.
    pub fn random(user: &str) -> Result<Login> {
        Ok(Login {
            user: user.into(),
            password: random_hex(16)?,
        })
    }
}

pub struct Registry {
    process: duct::Handle,
    /// `127.0.0.1:PORT`: the loopback is an insecure registry by default, no TLS needed.
    pub addr: String,
    login: Option<Login>,
    /// Field order matters: the process is killed (in `drop`) before its files go.
    files: Scratch,
}

impl Registry {
    /// Starts a registry; with a login, it demands it (htpasswd, realm `realm`).
    pub fn start(sh: &Shell, realm: &str, login: Option<&Login>) -> Result<Registry> {
        let files = Scratch::temp("registry")?;
        let addr = format!("127.0.0.1:{}", docker::free_port()?);
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {addr}\n",
            files.join("storage").display(),
        );
        if let Some(login) = login {
            let user = &login.user;
            // -i: the password comes on stdin, never on a command line.
            let htpasswd = cmd!(sh, "htpasswd -B -i -n {user}")
                .stdin(&login.password)
                .quiet()
                .read()
                .context("making the htpasswd file (Debian: apt-get install apache2-utils)")?;
            fs::write(files.join("htpasswd"), format!("{htpasswd}\n"))?;
            config += &format!(
                "auth:\n  htpasswd:\n    realm: {realm}\n    path: {}\n",
                files.join("htpasswd").display()
            );
        }
        let config_file = files.join("config.yml");
        fs::write(&config_file, config)?;
        println!("$ docker-registry serve {}", config_file.display());
        let process = duct::cmd!("docker-registry", "serve", &config_file)
            .stderr_to_stdout()
            .stdout_path(files.join("registry.log"))
            .start()
            .context("starting docker-registry (Debian: apt-get install docker-registry)")?;
        let registry = Registry {
            process,
            addr,
            login: login.cloned(),
            files,
        };
        // Any answer will do: with a login, /v2/ answers 401.
        let start = Instant::now();
        while http::get(&registry.url("/v2/")).is_err() {
            if start.elapsed() > Duration::from_secs(15) || registry.process.try_wait()?.is_some() {
                bail!(
                    "docker-registry did not answer on {}; its log:\n{}",
                    registry.addr,
                    fs::read_to_string(registry.files.join("registry.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(registry)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET, with this run's login when the registry has one.
    pub fn get(&self, path: &str, accept: &str) -> Result<http::Response> {
        let auth = self
            .login
            .as_ref()
            .map(|login| http::basic_auth(&login.user, &login.password));
        let mut headers = vec![("Accept", accept)];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        http::request("GET", &self.url(path), &headers, "")
    }

    /// The repositories the registry holds (its catalog), as JSON.
    pub fn catalog(&self) -> Result<serde_json::Value> {
        let resp = self.get("/v2/_catalog", "application/json")?;
        ensure!(resp.status == 200, "catalog: status {}", resp.status);
        resp.json().context("the catalog")
    }

    /// The manifest (schema 2) of `repository:reference`, parsed.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<serde_json::Value> {
        let path = format!("/v2/{repository}/manifests/{reference}");
        let resp = self.get(&path, MANIFEST_V2)?;
        ensure!(resp.status == 200, "{path}: status {}", resp.status);
        resp.json().with_context(|| format!("the manifest {path}"))
    }

    /// A fresh, empty docker client configuration (DOCKER_CONFIG) among the registry's files:
    /// no one's ~/.docker is used.
    pub fn docker_config(&self, name: &str) -> Result<PathBuf> {
        let dir = self.files.join(name);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(dir)
    }

    /// The registry's process id (to check it is gone after the drop).
    pub fn pid(&self) -> u32 {
        self.process.pids()[0]
    }

    /// The directory of its configuration and storage (removed on drop).
    pub fn files(&self) -> &Path {
        self.files.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
    }
}
