//! The `nginx` group of `cargo xtask test`: our image built, run, and checked from outside.

use std::time::Duration;

use anyhow::{bail, ensure, Context};

use super::{build, image, CONTAINER, HARDENED};
use crate::ctx::Ctx;
use crate::docker::{self, Container, Docker};
use crate::flavour::Flavour;
use crate::flavour::PROBE_VAR;
use crate::harness::confinement::Confinement;
use crate::harness::{one_error_line, xtask, Got, Suite};
use crate::http;
use crate::registry::Registry;

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let _ = suite.check("nginx: no engine reachable is one clear error", || {
        let out = xtask(
            ctx,
            &["nginx"],
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        )?;
        let error = one_error_line(&out)?;
        ensure!(
            error.contains("no Docker engine is reachable"),
            "unclear: {error}"
        );
        Ok(())
    });
    let _ = suite.check("nginx: a taken port is one clear error naming it", || {
        let taken = std::net::TcpListener::bind("0.0.0.0:0")?;
        let port = taken.local_addr()?.port().to_string();
        let out = xtask(ctx, &["nginx", "--port", &port], &[])?;
        let error = one_error_line(&out)?;
        ensure!(
            error.contains(&format!("port {port} is already taken")) && error.contains("--port"),
            "unclear: {error}"
        );
        Ok(())
    });
    let _ = suite.check(
        "nginx: --bind of an address not on this host is one clear error",
        || {
            let out = xtask(ctx, &["nginx", "--bind", "192.0.2.1"], &[])?;
            let error = one_error_line(&out)?;
            ensure!(
                error.contains("--bind 192.0.2.1: not an address of this host"),
                "unclear: {error}"
            );
            Ok(())
        },
    );
    let _ = suite.check(
        "nginx: a base that cannot be pulled is one line with Docker's reason (no registry vs no tag)",
        || {
            let unreachable = format!("127.0.0.1:{}/dockerlab-test/none:1", docker::free_port()?);
            let err = crate::build::ensure_pulled(sh, &unreachable)
                .err()
                .context("the pull from a closed port succeeded")?;
            let err = format!("{err:#}");
            ensure!(
                err.contains("connection refused")
                    && err.contains("cannot be reached")
                    && !err.contains('\n'),
                "unclear: {err}"
            );
            let registry = Registry::start(sh, "dockerlab-test", None)?;
            let missing = format!("{}/dockerlab-test/none:missing", registry.addr);
            let err = crate::build::ensure_pulled(sh, &missing)
                .err()
                .context("the pull of a missing tag succeeded")?;
            let err = format!("{err:#}");
            ensure!(
                err.contains("manifest unknown")
                    && err.contains("no such image or tag")
                    && !err.contains('\n'),
                "unclear: {err}"
            );
            Ok(())
        },
    );
    let image = suite.check("nginx: image builds", || build(ctx));
    confined(ctx, suite, image.as_ref());
    let web = suite.after(image.as_ref(), "nginx: container starts", |image| {
        Container::run(
            sh,
            "dockerlab-test-nginx",
            &["--publish", "127.0.0.1::8080", image],
        )
    });
    let base = suite.after(web.as_ref(), "nginx: serves on a published port", |web| {
        let base = format!("http://{}", web.published(8080)?);
        docker::wait_http(&format!("{base}/"), Duration::from_secs(20))?;
        Ok(base)
    });
    let serving = || web.as_ref().and(base.as_ref());

    let _ = suite.after(
        serving(),
        "nginx: GET / is our page, not nginx's default",
        |(_, base)| {
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
        },
    );
    let _ = suite.after(
        serving(),
        "nginx: unknown path is 404 with our page",
        |(_, base)| {
            let resp = http::get(&format!("{base}/no/such/page"))?;
            ensure!(resp.status == 404, "status {}", resp.status);
            ensure!(
                resp.body.contains("dockerlab-nginx-404"),
                "not our 404 page"
            );
            Ok(())
        },
    );
    let _ = suite.after(
        serving(),
        "nginx: Server header carries no version",
        |(_, base)| {
            let resp = http::get(&format!("{base}/"))?;
            let server = resp.header("Server").context("no Server header")?;
            ensure!(server == "nginx", "Server: {server}");
            Ok(())
        },
    );
    let _ = suite.after(serving(), "nginx: runs as a non-root uid", |(web, _)| {
        let name = &web.name;
        let uids = Docker::local(sh).read(&["top", name, "-o", "pid,uid,comm"])?;
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
    let _ = suite.after(
        serving(),
        "nginx: healthcheck reaches healthy",
        |(web, _)| {
            for _ in 0..60 {
                let health = web.info()?.state.health.map(|health| health.status);
                match health.as_deref().unwrap_or("none") {
                    "healthy" => return Ok(()),
                    "unhealthy" => bail!("the container turned unhealthy"),
                    _ => std::thread::sleep(Duration::from_millis(500)),
                }
            }
            bail!("not healthy after 30 s")
        },
    );
    let _ = suite.after(
        image.as_ref(),
        "nginx: serves read-only, without capabilities, no new privileges, within its limits",
        |image| {
            let hard = Container::run(
                sh,
                "dockerlab-test-nginx-hardened",
                &[HARDENED, &["--publish", "127.0.0.1::8080", image]].concat(),
            )?;
            let url = format!("http://{}/", hard.published(8080)?);
            let page = docker::wait_http(&url, Duration::from_secs(20))?;
            ensure!(page.body.contains("dockerlab-nginx"), "not our page");
            Ok(())
        },
    );
    let _ = suite.after(
        serving(),
        "nginx: docker stop ends it gracefully",
        |(web, _)| {
            let name = &web.name;
            Docker::local(sh).run(&["stop", "--time", "10", name])?;
            let code = web.info()?.state.exit_code;
            ensure!(
                code == 0,
                "exit code {code} (137 would mean it had to be killed)"
            );
            Ok(())
        },
    );
}

/// `cargo xtask nginx` itself (it takes the name dockerlab-nginx, as a user's run would, and is
/// taken down after): the container it starts, as `docker inspect` shows it.
fn confined(ctx: &Ctx, suite: &mut Suite, image: Got<&String>) {
    let sh = &ctx.sh;
    let start = |bind: Option<&str>| -> anyhow::Result<(String, String)> {
        let port = docker::free_port()?.to_string();
        let mut args = vec!["nginx", "--port", &port];
        args.extend(bind.iter().flat_map(|b| ["--bind", b]));
        let out = xtask(ctx, &args, &[])?;
        ensure!(out.status.success(), "`cargo xtask nginx` failed");
        Ok((port, String::from_utf8_lossy(&out.stdout).into_owned()))
    };
    let _ = suite.after(
        image.as_ref(),
        "nginx: `cargo xtask nginx` runs it limited (memory, CPU, PIDs), read-only, without \
         capabilities, no new privileges, on 127.0.0.1 only, healthcheck in the image, restarted \
         unless stopped",
        |_| {
            let (port, said) = start(None)?;
            let found = Confinement::of(sh, CONTAINER)?;
            found.hardened(sh, None)?;
            ensure!(
                found.get("restart_policy") == "unless-stopped",
                "restart policy {:?}: it would not come back after the engine restarts",
                found.get("restart_policy")
            );
            ensure!(
                found.host_ips() == ["127.0.0.1"],
                "published on {:?}",
                found.host_ips()
            );
            ensure!(!said.contains("open to the network"), "it says: {said}");
            let page = http::get(&format!("http://127.0.0.1:{port}/"))?;
            ensure!(page.status == 200, "status {}", page.status);
            Ok(())
        },
    );
    let _ = suite.after(
        image,
        "nginx: --bind 0.0.0.0 publishes on every interface on purpose, and says so",
        |_| {
            let (port, said) = start(Some("0.0.0.0"))?;
            let found = Confinement::of(sh, CONTAINER)?;
            found.hardened(sh, Some("0.0.0.0"))?;
            ensure!(
                found.host_ips() == ["0.0.0.0"],
                "published on {:?}",
                found.host_ips()
            );
            ensure!(
                said.contains("open to the network on 0.0.0.0"),
                "it does not say so: {said}"
            );
            let page = http::get(&format!("http://127.0.0.1:{port}/"))?;
            ensure!(page.status == 200, "status {}", page.status);
            Ok(())
        },
    );
    let _ = xtask(ctx, &["nginx", "down"], &[]);
}

/// `--flavour auto` (the default) and `--flavour upstream`, as a user without a registry meets
/// them: the registry probe is pointed at a closed loopback port for the first, Docker Hub's
/// own answer decides the second.
pub fn flavour_choice(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let auto = [
        (crate::flavour::FLAVOUR_VAR, "auto"),
        ("XTASK_OFFLINE", "false"),
    ];
    let _ = suite.check(
        "nginx: --flavour auto without a registry builds offline and says why",
        || {
            let closed = format!("127.0.0.1:{}", docker::free_port()?);
            let port = docker::free_port()?.to_string();
            let env = [auto.as_slice(), &[(PROBE_VAR, closed.as_str())]].concat();
            let base = upstream_base()?;
            // The one thing besides a registry that makes auto take upstream, read before.
            let upstream_here = docker::image_exists(sh, &base);
            let out = served(ctx, &["nginx", "--port", &port], &env, &port);
            let _ = xtask(ctx, &["nginx", "down"], &[]);
            let (out, page) = out?;
            ensure!(out.status.success(), "cargo xtask nginx failed");
            let stdout = String::from_utf8(out.stdout)?;
            let first = stdout.lines().next().unwrap_or_default();
            // Either way: the line says which and why, that flavour's image is the one built
            // and it serves our page.
            let flavour = if upstream_here {
                ensure!(
                    first == format!("flavour: upstream ({base} is here)"),
                    "first line: {first}"
                );
                Flavour::Upstream
            } else {
                ensure!(
                    first.starts_with("flavour: offline (no registry reachable: ")
                        && first.contains(&closed)
                        && first.ends_with("--flavour upstream to insist"),
                    "first line: {first}"
                );
                Flavour::Offline
            };
            let echoed = String::from_utf8_lossy(&out.stderr);
            ensure!(
                echoed.contains(&format!("--tag {}", image(flavour))),
                "{} was not the image built: {echoed}",
                image(flavour)
            );
            let page = page?;
            ensure!(page == image(flavour), "the page is served by {page:?}");
            Ok(())
        },
    );
    let _ = suite.check(
        "nginx: --flavour upstream without its base or a registry is one clear error",
        || {
            let port = docker::free_port()?.to_string();
            let args = ["--flavour", "upstream", "nginx", "--port", &port];
            let out = served(ctx, &args, &[("XTASK_OFFLINE", "false")], &port);
            let _ = xtask(ctx, &["nginx", "down"], &[]);
            let (out, page) = out?;
            let base = upstream_base()?;
            if out.status.success() {
                // Docker Hub answered (or the base was here): the upstream image was built on
                // that base, and it is what serves our page.
                let upstream = image(Flavour::Upstream);
                let echoed = String::from_utf8_lossy(&out.stderr);
                ensure!(
                    echoed.contains(&format!("--tag {upstream}")),
                    "{upstream} was not the image built: {echoed}"
                );
                ensure!(docker::image_exists(sh, &base), "built without {base}");
                let page = page?;
                ensure!(page == upstream, "the page is served by {page:?}");
                return Ok(());
            }
            let error = one_error_line(&out)?;
            ensure!(
                error.contains(&base) && error.contains("could not be pulled"),
                "unclear: {error}"
            );
            Ok(())
        },
    );
}

/// `cargo xtask ARGS` with `env`; when it succeeded, the image of the container that serves our
/// page on `port` (the caller takes it down).
fn served(
    ctx: &Ctx,
    args: &[&str],
    env: &[(&str, &str)],
    port: &str,
) -> anyhow::Result<(std::process::Output, anyhow::Result<String>)> {
    let out = xtask(ctx, args, env)?;
    if !out.status.success() {
        return Ok((out, Err(anyhow::anyhow!("it failed"))));
    }
    let page = http::get(&format!("http://127.0.0.1:{port}/")).and_then(|page| {
        ensure!(
            page.status == 200 && page.body.contains(r#"content="dockerlab-nginx""#),
            "not our page on port {port}: status {}",
            page.status
        );
        Docker::local(&ctx.sh).read(&["inspect", "--format", "{{.Config.Image}}", CONTAINER])
    });
    Ok((out, page))
}

/// The upstream flavour's base of our nginx image, as its Dockerfile names it.
fn upstream_base() -> anyhow::Result<String> {
    super::base(Flavour::Upstream)
}
