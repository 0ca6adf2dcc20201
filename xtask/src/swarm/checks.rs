//! The `swarm` test group: a 3-node local Swarm, the Redmine stack deployed on it, data through
//! the front door, a rolling update and failures under a bounded client loop, bad input, and a
//! `swarm down` that leaves nothing behind.

use std::time::Instant;

use anyhow::{ensure, Result};
use xshell::Shell;

use super::local::{self as cluster, PREFIX};
use super::stack::NAME;
use super::stack_checks::{front_door, PORT};
use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::harness::{one_error_line, xtask, Got, Suite};
use crate::testkit::tasks::manager;

/// A container on a bridge network of the host engine, made before the cluster: its name must
/// still resolve afterwards (leaving a Swarm once broke that on Docker 20.10).
const PROBE: &str = "dockerlab-swarm-probe";

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let probe = suite.check("swarm: a probe container on a host bridge network", || {
        Probe::start(sh)
    });
    let host_state = swarm_state(sh);
    let _ = suite.check("swarm: deploy without a cluster fails clearly", || {
        let _ = xtask(ctx, &["swarm", "down"], &[])?;
        let out = xtask(ctx, &["redmine", "deploy"], &[])?;
        let line = one_error_line(&out)?;
        ensure!(line.contains("cargo xtask swarm up"), "unclear: {line}");
        Ok(())
    });
    let up = suite.after(
        probe.as_ref(),
        "swarm: `swarm up` makes 3 nodes, all Ready",
        |_| {
            let start = Instant::now();
            let out = xtask(ctx, &["swarm", "up"], &[])?;
            ensure!(out.status.success(), "swarm up failed");
            println!("cluster up: {:.1} s", start.elapsed().as_secs_f64());
            let nodes =
                manager(sh, &["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]).read()?;
            let ready: Vec<&str> = nodes.lines().filter(|l| l.ends_with(" Ready")).collect();
            ensure!(ready.len() == 3, "nodes: {nodes}");
            Ok(())
        },
    );
    // Where this machine pushed: no tag of that registry may stay on the host engine.
    let pushed = up
        .as_ref()
        .ok()
        .and_then(|()| cluster::registry_push(sh).ok());
    let _ = suite.after(
        up.as_ref().and(probe.as_ref()),
        "swarm: the host engine's Swarm state is unchanged and its networks resolve names",
        |(_, probe)| host_untouched(sh, &host_state, probe),
    );
    let _ = suite.after(
        up.as_ref(),
        "swarm: `swarm up` again changes nothing",
        |_| {
            let before = manager(sh, &["node", "ls", "--quiet"]).read()?;
            let out = xtask(ctx, &["swarm", "up"], &[])?;
            ensure!(out.status.success(), "a second swarm up failed");
            let after = manager(sh, &["node", "ls", "--quiet"]).read()?;
            ensure!(before == after, "the nodes changed: {before} → {after}");
            Ok(())
        },
    );
    bad_input(ctx, suite, up.as_ref());
    let deployed = suite.after(
        up.as_ref(),
        "swarm: `redmine deploy` converges, front door answers",
        |_| {
            let start = Instant::now();
            let out = xtask(ctx, &["redmine", "deploy", "--replicas", "2"], &[])?;
            ensure!(out.status.success(), "redmine deploy failed");
            println!(
                "deploy → converged and 200: {:.1} s",
                start.elapsed().as_secs_f64()
            );
            let resp = crate::http::get(&front_door(sh)?)?;
            ensure!(resp.status == 200, "the front door answers {}", resp.status);
            Ok(())
        },
    );
    super::stack_checks::run(ctx, suite, deployed.as_ref());
    routing_mesh(ctx, suite, deployed.as_ref());
    let _ = suite.after(
        up.as_ref(),
        "swarm: `redmine deploy --remove` keeps the database volume",
        |_| {
            let out = xtask(ctx, &["redmine", "deploy", "--remove"], &[])?;
            ensure!(out.status.success(), "deploy --remove failed");
            let services = manager(sh, &["service", "ls", "--quiet"]).read()?;
            ensure!(services.is_empty(), "services left: {services}");
            let volumes = manager(sh, &["volume", "ls", "--format", "{{.Name}}"]).read()?;
            ensure!(
                volumes.lines().any(|v| v == format!("{NAME}_db")),
                "the database volume is gone: {volumes}"
            );
            Ok(())
        },
    );
    let _ = suite.after(
        up.as_ref(),
        "swarm: `redmine deploy --remove --volumes` deletes the volumes and attachments",
        |_| {
            let out = xtask(ctx, &["redmine", "deploy", "--remove", "--volumes"], &[])?;
            ensure!(out.status.success(), "deploy --remove --volumes failed");
            for node in cluster::nodes(sh)? {
                let volumes =
                    cluster::engine(sh, &node).list("volume", &["--format", "{{.Name}}"])?;
                let left: Vec<&String> = volumes
                    .iter()
                    .filter(|v| v.starts_with(&format!("{NAME}_")))
                    .collect();
                ensure!(left.is_empty(), "volumes left on {node}: {left:?}");
            }
            let files = std::fs::read_dir(cluster::files_dir())?.count();
            ensure!(
                files == 0,
                "{files} entries left in the attachments directory"
            );
            Ok(())
        },
    );
    teardown(ctx, suite, probe, pushed);
}

/// `redmine deploy --routing-mesh`: the ingress publishes the front door on every node, the
/// workers' included, and Swarm's virtual IPs route to a Redmine task. It needs IPVS, which
/// some kernels (this machine's) lack; there `bad_input` checks the clear error instead.
fn routing_mesh(ctx: &Ctx, suite: &mut Suite, deployed: Got<&()>) {
    let sh = &ctx.sh;
    const NAME: &str =
        "swarm: --routing-mesh serves the front door through the ingress on every node";
    if !cluster::has_ipvs() {
        suite.skip(NAME, "no IPVS in this kernel");
        return;
    }
    let _ = suite.after(deployed, NAME, |_| {
        let out = xtask(ctx, &["redmine", "deploy", "--remove"], &[])?;
        ensure!(out.status.success(), "deploy --remove failed");
        let out = xtask(ctx, &["redmine", "deploy", "--routing-mesh"], &[])?;
        ensure!(out.status.success(), "redmine deploy --routing-mesh failed");
        for node in cluster::nodes(sh)? {
            let url = format!("http://{}:{PORT}/", cluster::address(sh, &node)?);
            let resp = docker::wait_http(&url, std::time::Duration::from_secs(120))?;
            ensure!(
                resp.status == 200,
                "{url} (node {node}): status {}",
                resp.status
            );
        }
        Ok(())
    });
}

fn bad_input(ctx: &Ctx, suite: &mut Suite, up: Got<&()>) {
    let sh = &ctx.sh;
    for (args, needle) in [
        (&["redmine", "deploy", "--replicas", "0"][..], "--replicas"),
        (
            &["redmine", "deploy", "--replicas", "lots"][..],
            "--replicas",
        ),
        (&["swarm", "up", "--nodes", "0"][..], "--nodes"),
    ] {
        let _ = suite.after(
            up.clone(),
            &format!("swarm: `{}` is refused", args.join(" ")),
            |_| {
                let out = xtask(ctx, args, &[])?;
                ensure!(!out.status.success(), "it succeeded");
                let stderr = String::from_utf8_lossy(&out.stderr);
                let errors: Vec<&str> =
                    stderr.lines().filter(|l| l.starts_with("error:")).collect();
                ensure!(
                    errors.len() == 1 && errors[0].contains(needle),
                    "not one clear line: {stderr}"
                );
                nothing_deployed(sh)
            },
        );
    }
    let _ = suite.after(
        up.clone(),
        "swarm: deploy to an engine that is no Swarm manager fails clearly",
        |_| {
            let out = xtask(
                ctx,
                &["redmine", "deploy"],
                &[("DOCKER_HOST", "unix:///var/run/docker.sock")],
            )?;
            let line = one_error_line(&out)?;
            ensure!(line.contains("not a Swarm manager"), "unclear: {line}");
            nothing_deployed(sh)
        },
    );
    if !cluster::has_ipvs() {
        let _ = suite.after(
            up.clone(),
            "swarm: --routing-mesh on a kernel without IPVS fails clearly",
            |_| {
                let out = xtask(ctx, &["redmine", "deploy", "--routing-mesh"], &[])?;
                let line = one_error_line(&out)?;
                ensure!(line.contains("IPVS"), "unclear: {line}");
                nothing_deployed(sh)
            },
        );
    }
    let _ = suite.after(
        up,
        "swarm: deploy with a registry the nodes cannot reach fails clearly",
        |_| {
            // The cluster's registry as this machine reaches it: 127.0.0.1 is each node's own loopback.
            let registry = cluster::registry_push(sh)?;
            let out = xtask(ctx, &["redmine", "deploy", "--registry", &registry], &[])?;
            let line = one_error_line(&out)?;
            ensure!(line.contains("cannot pull"), "unclear: {line}");
            nothing_deployed(sh)
        },
    );
}

fn nothing_deployed(sh: &Shell) -> Result<()> {
    let services = manager(sh, &["service", "ls", "--quiet"]).read()?;
    ensure!(services.is_empty(), "services were deployed: {services}");
    Ok(())
}

/// `swarm down`, and then nothing of the cluster's is left on the engine or in the cgroups.
fn teardown(ctx: &Ctx, suite: &mut Suite, probe: Got<Probe>, pushed: Option<String>) {
    let sh = &ctx.sh;
    let host_state = swarm_state(sh);
    let _ = suite.after(
        probe.as_ref(),
        "swarm: `swarm down` leaves nothing of its own; twice is fine",
        |probe| {
            let out = xtask(ctx, &["swarm", "down"], &[])?;
            ensure!(out.status.success(), "swarm down failed");
            host_untouched(sh, &host_state, probe)?;
            let out = xtask(ctx, &["swarm", "down"], &[])?;
            ensure!(out.status.success(), "a second swarm down failed");
            leftovers(sh, probe, pushed.as_deref())
        },
    );
    drop(probe);
}

/// The cluster's containers, volumes, networks, image tags and cgroups still around.
fn leftovers(sh: &Shell, probe: &Probe, pushed: Option<&str>) -> Result<()> {
    let mut left = Vec::new();
    for (kind, format) in [
        ("container", "{{.Names}}"),
        ("volume", "{{.Name}}"),
        ("network", "{{.Name}}"),
    ] {
        let all: &[&str] = if kind == "container" { &["--all"] } else { &[] };
        let out = Docker::local(sh).read(&[&[kind, "ls", "--format", format], all].concat())?;
        left.extend(
            out.lines()
                .filter(|n| n.starts_with(PREFIX) && *n != probe.0 && *n != probe.network())
                .map(|n| format!("{kind} {n}")),
        );
    }
    let format = "{{.Repository}}:{{.Tag}}";
    let images = Docker::local(sh)
        .read(&["image", "ls", "--format", format])
        .unwrap_or_default();
    let pushed = pushed.map(|registry| format!("{registry}/"));
    left.extend(
        images
            .lines()
            .filter(|i| i.starts_with(PREFIX) || pushed.as_ref().is_some_and(|p| i.starts_with(p)))
            .map(|i| format!("image {i}")),
    );
    left.extend(
        super::nodes::cgroups()?
            .iter()
            .map(|cgroup| format!("cgroup {}", cgroup.display())),
    );
    ensure!(left.is_empty(), "left behind: {}", left.join(", "));
    Ok(())
}

fn swarm_state(sh: &Shell) -> String {
    let format = "{{.Swarm.LocalNodeState}}";
    Docker::local(sh)
        .read(&["info", "--format", format])
        .unwrap_or_default()
}

fn host_untouched(sh: &Shell, before: &str, probe: &Probe) -> Result<()> {
    let now = swarm_state(sh);
    ensure!(
        now == before,
        "the host engine's Swarm state went from {before} to {now}"
    );
    probe.resolves(sh)
}

/// A container on a bridge network of its own on the host engine, removed when dropped.
struct Probe(String);

impl Probe {
    fn network(&self) -> String {
        format!("{}-net", self.0)
    }

    fn start(sh: &Shell) -> Result<Probe> {
        let probe = Probe(PROBE.into());
        let network = probe.network();
        docker::remove_container(sh, PROBE);
        let docker = Docker::local(sh);
        docker.succeeds(&["network", "rm", &network]);
        docker.read(&["network", "create", &network])?;
        let base = crate::bases::BASE;
        #[rustfmt::skip]
        let run = ["run", "--detach", "--name", PROBE, "--network", &network,
                   "--network-alias", "probe", base, "sleep", "900"];
        docker.read(&run)?;
        probe.resolves(sh)?;
        Ok(probe)
    }

    /// Docker's embedded DNS answers for its network alias, inside it.
    fn resolves(&self, sh: &Shell) -> Result<()> {
        let name = &self.0;
        let out = Docker::local(sh).read(&["exec", name, "getent", "hosts", "probe"]);
        ensure!(
            out.as_ref().is_ok_and(|o| !o.is_empty()),
            "the name `probe` does not resolve on the host's bridge network: {out:?}"
        );
        Ok(())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let network = self.network();
        let name = &self.0;
        let sh = Shell::new();
        if let Ok(sh) = sh {
            docker::remove_container(&sh, name);
            Docker::local(&sh).succeeds(&["network", "rm", &network]);
        }
    }
}
