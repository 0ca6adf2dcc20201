//! `cargo xtask nginx`: build our nginx image, run it, wait until it answers; or take it down.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Subcommand};
use xshell::{cmd, Shell};

use crate::docker::{self, Container, Flavour};
use crate::{bases, http, test::Suite};

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
        let image = build(sh)?;
        docker::remove_container(sh, CONTAINER);
        docker::port_free(self.port)?;
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

/// The build context of the image: configuration, page and both Dockerfiles.
pub const CONTEXT: &str = "nginx";

/// Builds the image of the current flavour (a warm rebuild is a cache hit) and returns its name.
pub fn build(sh: &Shell) -> Result<String> {
    let image = image(Flavour::of(sh));
    build_in(sh, &image, Path::new(CONTEXT), &[])?;
    Ok(image)
}

/// The base image of the current flavour (`FROM` of its Dockerfile).
pub fn base(sh: &Shell) -> Result<String> {
    match Flavour::of(sh) {
        Flavour::Upstream => {
            from_line(sh, &format!("{CONTEXT}/{}", Flavour::Upstream.dockerfile()))
        }
        Flavour::Offline => Ok(bases::BASE.to_string()),
    }
}

/// Builds the current flavour's Dockerfile of `context` (ours, or a copy of it) into `tag`, with
/// the build facts; `extra` goes to `docker build` as is (`--no-cache`). The benchmark builds
/// copies this way.
pub fn build_in(sh: &Shell, tag: &str, context: &Path, extra: &[&str]) -> Result<()> {
    let flavour = Flavour::of(sh);
    match flavour {
        Flavour::Upstream => docker::ensure_pulled(sh, &base(sh)?)?,
        Flavour::Offline => bases::ensure(sh, false)?,
    }
    let file = context.join(flavour.dockerfile());
    let version = format!("VERSION={}", env!("CARGO_PKG_VERSION"));
    let revision = format!("REVISION={}", docker::git_revision(sh));
    let created = format!("CREATED={}", docker::git_date(sh));
    cmd!(sh, "docker build --quiet {extra...} --file {file} --tag {tag} --build-arg {version} --build-arg {revision} --build-arg {created} {context}")
        .ignore_stdout()
        .run()
        .with_context(|| format!("building {tag} from {} failed (docker's output is above)", file.display()))?;
    Ok(())
}

/// The image a Dockerfile starts `FROM`.
pub fn from_line(sh: &Shell, file: &str) -> Result<String> {
    let text = sh.read_file(file)?;
    text.lines()
        .find_map(|line| line.strip_prefix("FROM "))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .with_context(|| format!("{file} has no FROM line"))
}

/// The checks of `cargo xtask test` for the nginx image.
pub fn tests(sh: &Shell, suite: &mut Suite) {
    let Some(image) = suite.check("nginx: image builds", || build(sh)) else {
        return;
    };
    let Some(web) = suite.check("nginx: container starts", || {
        Container::run(
            sh,
            "dockerlab-test-nginx",
            &["--publish", "127.0.0.1::8080", &image],
        )
    }) else {
        return;
    };
    let Some(base) = suite.check("nginx: serves on a published port", || {
        let base = format!("http://{}", web.published(8080)?);
        docker::wait_http(&format!("{base}/"), Duration::from_secs(20))?;
        Ok(base)
    }) else {
        return;
    };

    suite.check("nginx: GET / is our page, not nginx's default", || {
        let page = http::get(&format!("{base}/"))?;
        ensure!(page.status == 200, "status {}", page.status);
        ensure!(
            page.body.contains(r#"content="dockerlab-nginx""#),
            "our marker is missing"
        );
        for default in ["Welcome to nginx", "nginx.org", "Thank you for using nginx"] {
            ensure!(
                !page.body.contains(default),
                "nginx's default text {default:?} is on the page"
            );
        }
        let version = env!("CARGO_PKG_VERSION");
        ensure!(
            page.body.contains(&format!("<dd>{version}\n</dd>")),
            "the build facts (version {version}) are not on the page"
        );
        ensure!(
            !page.body.contains("an error occurred"),
            "an SSI include failed"
        );
        Ok(())
    });
    suite.check("nginx: unknown path is 404 with our page", || {
        let resp = http::get(&format!("{base}/no/such/page"))?;
        ensure!(resp.status == 404, "status {}", resp.status);
        ensure!(
            resp.body.contains("dockerlab-nginx-404"),
            "not our 404 page"
        );
        Ok(())
    });
    suite.check("nginx: Server header carries no version", || {
        let resp = http::get(&format!("{base}/"))?;
        let server = resp.header("Server").context("no Server header")?;
        ensure!(server == "nginx", "Server: {server}");
        Ok(())
    });
    suite.check("nginx: runs as a non-root uid", || {
        let name = &web.name;
        let uids = cmd!(sh, "docker top {name} -o pid,uid,comm").read()?;
        let workers: Vec<&str> = uids
            .lines()
            .skip(1)
            .filter(|l| l.contains("nginx"))
            .collect();
        ensure!(
            !workers.is_empty(),
            "no nginx process in `docker top`:\n{uids}"
        );
        ensure!(
            workers
                .iter()
                .all(|l| l.split_whitespace().nth(1) == Some("101")),
            "not all nginx processes run as uid 101:\n{uids}"
        );
        Ok(())
    });
    suite.check("nginx: healthcheck reaches healthy", || {
        for _ in 0..60 {
            match web.inspect("{{.State.Health.Status}}")?.as_str() {
                "healthy" => return Ok(()),
                "unhealthy" => bail!("the container turned unhealthy"),
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
        bail!("not healthy after 30 s")
    });
    suite.check(
        "nginx: serves read-only, without capabilities, no new privileges",
        || {
            let hard = Container::run(
                sh,
                "dockerlab-test-nginx-hardened",
                &[
                    "--read-only",
                    "--tmpfs",
                    "/tmp",
                    "--cap-drop",
                    "ALL",
                    "--security-opt",
                    "no-new-privileges",
                    "--publish",
                    "127.0.0.1::8080",
                    &image,
                ],
            )?;
            let url = format!("http://{}/", hard.published(8080)?);
            let page = docker::wait_http(&url, Duration::from_secs(20))?;
            ensure!(page.body.contains("dockerlab-nginx"), "not our page");
            Ok(())
        },
    );
    suite.check("nginx: docker stop ends it gracefully", || {
        let name = &web.name;
        cmd!(sh, "docker stop --time 10 {name}")
            .ignore_stdout()
            .run()?;
        let code = web.inspect("{{.State.ExitCode}}")?;
        ensure!(
            code == "0",
            "exit code {code} (137 would mean it had to be killed)"
        );
        Ok(())
    });
}
