//! One compose project of the Redmine stack: bringing it up and down, its secrets, and its
//! backups.

use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use xshell::Shell;

use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::flavour::Flavour;
use crate::scratch::random_hex;
use crate::{bases, progress};

/// The database's user and name, as compose.yaml sets them.
pub const DB: &str = "redmine";
/// Where Redmine keeps attachments in both flavours' images.
pub const FILES: &str = "/usr/src/redmine/files";

/// Secrets of a stack made before the flavours had folders of their own lie flat in
/// `redmine/.secrets/`, and belong to the project `dockerlab-redmine`, now the upstream one's:
/// they move into `upstream/`, once, so that its database keeps its password.
pub fn adopt_flat_secrets(secrets: &Path) -> Result<()> {
    let upstream = secrets.join(Flavour::Upstream.name());
    for name in SECRETS.map(|(name, _)| name) {
        let flat = secrets.join(name);
        if flat.is_file() && !upstream.join(name).exists() {
            std::fs::create_dir_all(&upstream)?;
            std::fs::rename(&flat, upstream.join(name)).with_context(|| {
                format!("moving {} into {}", flat.display(), upstream.display())
            })?;
        }
    }
    Ok(())
}

/// The secrets compose.yaml mounts, and how many random bytes each gets.
const SECRETS: [(&str, usize); 3] = [
    ("db_password", 24),
    ("admin_password", 18),
    ("secret_key_base", 64),
];

/// A throwaway stack of the tests or the benchmark ([`Stack::scratch`]): taken down with its
/// volumes, and its generated secrets removed, when dropped, whatever happened.
pub struct ScratchStack<'a> {
    sh: &'a Shell,
    stack: Stack,
}

impl Deref for ScratchStack<'_> {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl Drop for ScratchStack<'_> {
    fn drop(&mut self) {
        let _ = self.stack.down(self.sh, true);
        let _ = std::fs::remove_dir_all(&self.stack.secrets);
    }
}

/// One compose project of the Redmine stack: the user's, or the tests' own.
#[derive(Clone)]
pub struct Stack {
    pub project: String,
    /// Which compose files, and so which images, the project runs.
    pub flavour: Flavour,
    pub port: u16,
    /// Where the generated secrets live (gitignored; compose reads them from here).
    pub secrets: PathBuf,
    pub backups: PathBuf,
    /// The folder of redmine/ whose plugins the image is built with: `plugins`, or the tests'
    /// `test-plugins`.
    pub plugins: &'static str,
}

impl Stack {
    /// The stack called `name` in `flavour`: project `name` upstream and `name-offline` offline,
    /// so that the two flavours never share containers or volumes (PostgreSQL 17 would refuse a
    /// 15 data directory, Redmine 6 a 5.0 schema); secrets in `secrets/<flavour>/`.
    pub fn new(name: &str, flavour: Flavour, port: u16, secrets: &Path, backups: PathBuf) -> Stack {
        Stack {
            project: format!("{name}{}", flavour.tag_suffix()),
            flavour,
            port,
            secrets: secrets.join(flavour.name()),
            backups,
            plugins: "plugins",
        }
    }

    /// A throwaway stack of the tests or the benchmark, in the run's flavour: project `name`,
    /// its secrets and backups under `dir`, its image built with the tests' plugins. It is taken
    /// down with its volumes first (whatever an interrupted run left of it) and again when
    /// dropped.
    pub fn scratch<'a>(ctx: &'a Ctx, name: &str, port: u16, dir: &Path) -> ScratchStack<'a> {
        let sh = &ctx.sh;
        let stack = Stack {
            plugins: "test-plugins",
            ..Stack::new(
                name,
                ctx.flavour,
                port,
                &dir.join("secrets"),
                dir.join("backups"),
            )
        };
        let _ = stack.down(sh, true);
        ScratchStack { sh, stack }
    }

    /// `docker compose` on this project, with the flavour's files and our variables.
    pub fn compose<'a>(&self, sh: &'a Shell, args: &[&str]) -> xshell::Cmd<'a> {
        let argv = self.compose_argv(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        Docker::local(sh).cmd(&argv).envs(self.compose_env(sh))
    }

    /// The same for commands whose input or output is binary (dumps, archives): duct, echoed
    /// like xshell does.
    pub fn compose_bytes(&self, sh: &Shell, args: &[&str]) -> duct::Expression {
        let argv = self.compose_argv(args);
        println!("$ docker {}", argv.join(" "));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.compose_env(sh)
            .into_iter()
            .fold(Docker::local(sh).duct(&argv), |cmd, (name, value)| {
                cmd.env(name, value)
            })
    }

    fn compose_argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![
            "compose".into(),
            "--project-name".into(),
            self.project.clone(),
        ];
        argv.push("--file".into());
        argv.push("redmine/compose.yaml".into());
        if self.flavour == Flavour::Offline {
            argv.push("--file".into());
            argv.push("redmine/compose.offline.yaml".into());
        }
        argv.extend(args.iter().map(|arg| arg.to_string()));
        argv
    }

    /// What compose.yaml reads from the environment: the port, the secrets, the git revision,
    /// the plugins.
    fn compose_env(&self, sh: &Shell) -> [(&'static str, String); 4] {
        [
            ("REDMINE_PORT", self.port.to_string()),
            ("REDMINE_PLUGINS", self.plugins.to_string()),
            ("REDMINE_SECRETS", self.secrets.display().to_string()),
            ("REDMINE_REVISION", docker::git_revision(sh)),
        ]
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes sure the images our Redmine and PostgreSQL images are built on are here. Offline
    /// those are the stand-ins for the official images, built on the local Debian base: compose
    /// builds services side by side, so they come first. Upstream, compose pulls the official
    /// images itself.
    pub fn bases(&self, sh: &Shell) -> Result<()> {
        if self.flavour == Flavour::Offline {
            bases::ensure(sh, false)?;
            self.compose(sh, &["build", "--quiet", "redmine-standin", "db-standin"])
                .run()
                .context(
                    "building the offline stand-ins for the redmine and postgres images failed \
                     (see above)",
                )?;
        }
        Ok(())
    }

    /// Builds (cache hits when nothing changed), starts and waits until both services are healthy.
    pub fn up(&self, sh: &Shell) -> Result<()> {
        if !self.running(sh)?.iter().any(|s| s == "redmine") {
            docker::port_free(self.port)?;
        }
        self.bases(sh)?;
        self.ensure_secrets()?;
        let up = self.compose(
            sh,
            &[
                "up",
                "--build",
                "--quiet-build",
                "--wait",
                "--wait-timeout",
                "300",
            ],
        );
        let what = format!(
            "building and starting the Redmine stack (project {}; a first start migrates the database)",
            self.project
        );
        progress::run(up, &what, &self.project).context(
            "the Redmine stack did not come up (`cargo xtask redmine logs` shows its output)",
        )
    }

    pub fn down(&self, sh: &Shell, volumes: bool) -> Result<()> {
        let volumes = volumes.then_some("--volumes");
        self.compose(sh, &["down"]).args(volumes).run()?;
        Ok(())
    }

    /// The image our Redmine image is built `FROM` in this project: the `BASE` build argument
    /// the compose files give (the offline stand-in), else the Dockerfile's pinned default.
    pub fn base(&self, sh: &Shell) -> Result<String> {
        let config = self
            .compose(sh, &["config", "--format", "json"])
            .quiet()
            .read()?;
        let config: serde_json::Value =
            serde_json::from_str(&config).context("reading `docker compose config`")?;
        if let Some(base) = config["services"]["redmine"]["build"]["args"]["BASE"].as_str() {
            return Ok(base.to_string());
        }
        crate::dockerfile::Dockerfile::read("redmine/Dockerfile")?.require_arg_base()
    }

    /// The id of the image the Redmine container runs.
    pub fn image(&self, sh: &Shell) -> Result<String> {
        self.service_image(sh, "redmine")
    }

    /// The id of the image a service's container runs.
    pub fn service_image(&self, sh: &Shell, service: &str) -> Result<String> {
        let id = self.container(sh, service)?;
        Ok(Docker::local(sh).container(&id)?.image)
    }

    /// `psql` in the db container, as the stack's role, on `database`, stopping at the first
    /// error: `sql` is one command; its rows come back bare (no header, no alignment).
    pub fn psql<'a>(&self, sh: &'a Shell, database: &str, sql: &str) -> xshell::Cmd<'a> {
        let user = format!("--username={DB}");
        let database = format!("--dbname={database}");
        self.compose(sh, &["exec", "-T", "db", "psql", &user, &database])
            .args([
                "--set=ON_ERROR_STOP=1",
                "--tuples-only",
                "--no-align",
                "--quiet",
            ])
            .args(["--command", sql])
    }

    /// The id of `service`'s container in this project.
    pub fn container(&self, sh: &Shell, service: &str) -> Result<String> {
        let id = self.compose(sh, &["ps", "--quiet", service]).read()?;
        ensure!(
            !id.is_empty(),
            "no {service} container in project {}",
            self.project
        );
        Ok(id)
    }

    /// Who owns `path` in the Redmine container (`uid:gid`). What writes a volume there runs as
    /// that user: root in the container has no CAP_DAC_OVERRIDE (compose.yaml drops it), so it
    /// may not write the redmine user's directories.
    pub fn owner(&self, sh: &Shell, path: &str) -> Result<String> {
        self.compose(sh, &["exec", "-T", "redmine", "stat", "-c", "%u:%g", path])
            .quiet()
            .read()
            .with_context(|| format!("finding the owner of {path} in the Redmine container"))
    }

    /// The services that are running now.
    pub fn running(&self, sh: &Shell) -> Result<Vec<String>> {
        let out = self
            .compose(sh, &["ps", "--status", "running", "--services"])
            .quiet()
            .ignore_stderr()
            .read()
            .unwrap_or_default();
        Ok(out.lines().map(str::to_string).collect())
    }

    pub(super) fn ensure_running(&self, sh: &Shell) -> Result<()> {
        let running = self.running(sh)?;
        ensure!(
            ["db", "redmine"]
                .iter()
                .all(|s| running.iter().any(|r| r == s)),
            "the Redmine stack is not running: start it with `cargo xtask redmine up`"
        );
        Ok(())
    }

    pub fn admin_password(&self) -> Result<String> {
        let path = self.secrets.join("admin_password");
        std::fs::read_to_string(&path)
            .map(|p| p.trim().to_string())
            .with_context(|| {
                format!(
                    "reading {}: run `cargo xtask redmine up` first",
                    path.display()
                )
            })
    }

    /// Generates the secrets compose.yaml mounts, once: random hex, in a directory only we may
    /// enter (the files themselves are readable, as the containers' users must read the mounts).
    pub fn ensure_secrets(&self) -> Result<()> {
        std::fs::create_dir_all(&self.secrets)?;
        std::fs::set_permissions(&self.secrets, std::fs::Permissions::from_mode(0o700))?;
        for (name, bytes) in SECRETS {
            let path = self.secrets.join(name);
            if path.exists() {
                continue;
            }
            std::fs::write(&path, random_hex(bytes)?)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    }
}
