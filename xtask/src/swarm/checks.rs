//! The `swarm` test group: a 3-node local Swarm, the Redmine stack deployed on it, data through
//! the front door, a rolling update and failures under a bounded client loop, bad input, and a
//! `swarm down` that leaves nothing behind.

use std::time::Instant;

use anyhow::{ensure, Result};
use xshell::{cmd, Shell};

use super::tasks::manager;
use crate::docker;
use crate::harness::{one_error_line, xtask, Got, Suite};
use crate::local_swarm::{self as cluster, node_name, PREFIX};
use crate::redmine::swarm_stack::NAME;

/// A container on a bridge network of the host engine, made before the cluster: its name must
/// still resolve afterwards (leaving a Swarm once broke that on Docker 20.10).
const PROBE: &str = "dockerlab-swarm-probe";
pub(super) const REDMINE: &str = "dockerlab-redmine_redmine";
pub(super) const WEB: &str = "dockerlab-redmine_web";
pub(super) const PORT: u16 = 3000;
/// A Redmine image with a changed theme, for the rolling update.
pub(super) const ROLLING: &str = "dockerlab-swarm/redmine:rolling";
pub(super) const STYLESHEET: &str = "themes/harbour/stylesheets/application.css";

pub fn run(sh: &Shell, suite: &mut Suite) {
    let probe = suite.check("swarm: a probe container on a host bridge network", || {
        Probe::start(sh)
    });
    let host_state = swarm_state(sh);
    let _ = suite.check("swarm: deploy without a cluster fails clearly", || {
        let _ = xtask(sh, &["swarm", "down"], &[])?;
        let out = xtask(sh, &["redmine", "deploy"], &[])?;
        let line = one_error_line(&out)?;
        ensure!(line.contains("cargo xtask swarm up"), "unclear: {line}");
        Ok(())
    });
    let up = suite.after(
        probe.as_ref(),
        "swarm: `swarm up` makes 3 nodes, all Ready",
        |_| {
            let start = Instant::now();
            let out = xtask(sh, &["swarm", "up"], &[])?;
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
            let out = xtask(sh, &["swarm", "up"], &[])?;
            ensure!(out.status.success(), "a second swarm up failed");
            let after = manager(sh, &["node", "ls", "--quiet"]).read()?;
            ensure!(before == after, "the nodes changed: {before} → {after}");
            Ok(())
        },
    );
    bad_input(sh, suite, up.as_ref());
    let deployed = suite.after(
        up.as_ref(),
        "swarm: `redmine deploy` converges, front door answers",
        |_| {
            let start = Instant::now();
            let out = xtask(sh, &["redmine", "deploy", "--replicas", "2"], &[])?;
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
    super::stack_checks::run(sh, suite, deployed.as_ref());
    routing_mesh(sh, suite, deployed.as_ref());
    let _ = suite.after(
        up.as_ref(),
        "swarm: `redmine deploy --remove` keeps the database volume",
        |_| {
            let out = xtask(sh, &["redmine", "deploy", "--remove"], &[])?;
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
            let out = xtask(sh, &["redmine", "deploy", "--remove", "--volumes"], &[])?;
            ensure!(out.status.success(), "deploy --remove --volumes failed");
            for node in cluster::nodes(sh)? {
                let host = cluster::host(&node);
                let format = "{{.Name}}";
                let volumes = cmd!(sh, "docker --host {host} volume ls --format {format}")
                    .quiet()
                    .read()?;
                let left: Vec<&str> = volumes
                    .lines()
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
    teardown(sh, suite, probe, pushed);
}

/// `redmine deploy --routing-mesh`: the ingress publishes the front door on every node, the
/// workers' included, and Swarm's virtual IPs route to a Redmine task. It needs IPVS, which
/// some kernels (this machine's) lack; there `bad_input` checks the clear error instead.
fn routing_mesh(sh: &Shell, suite: &mut Suite, deployed: Got<&()>) {
    const NAME: &str =
        "swarm: --routing-mesh serves the front door through the ingress on every node";
    if !cluster::has_ipvs() {
        suite.skip(NAME, "no IPVS in this kernel");
        return;
    }
    let _ = suite.after(deployed, NAME, |_| {
        let out = xtask(sh, &["redmine", "deploy", "--remove"], &[])?;
        ensure!(out.status.success(), "deploy --remove failed");
        let out = xtask(sh, &["redmine", "deploy", "--routing-mesh"], &[])?;
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

fn bad_input(sh: &Shell, suite: &mut Suite, up: Got<&()>) {
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
                let out = xtask(sh, args, &[])?;
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
                sh,
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
                let out = xtask(sh, &["redmine", "deploy", "--routing-mesh"], &[])?;
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
            let out = xtask(sh, &["redmine", "deploy", "--registry", &registry], &[])?;
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

/// The front door's URL: the manager's address on the cluster network.
pub(super) fn front_door(sh: &Shell) -> Result<String> {
    Ok(format!(
        "http://{}:{PORT}/",
        cluster::address(sh, &node_name(1))?
    ))
}

pub(super) fn admin_password(sh: &Shell) -> Result<String> {
    crate::redmine::user_stack(sh, PORT)?.admin_password()
}

/// `swarm down`, and then nothing of the cluster's is left on the engine or in the cgroups.
fn teardown(sh: &Shell, suite: &mut Suite, probe: Got<Probe>, pushed: Option<String>) {
    let host_state = swarm_state(sh);
    let _ = suite.after(
        probe.as_ref(),
        "swarm: `swarm down` leaves nothing of its own; twice is fine",
        |probe| {
            let out = xtask(sh, &["swarm", "down"], &[])?;
            ensure!(out.status.success(), "swarm down failed");
            host_untouched(sh, &host_state, probe)?;
            let out = xtask(sh, &["swarm", "down"], &[])?;
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
        let out = cmd!(sh, "docker {kind} ls --format {format}")
            .quiet()
            .args(if kind == "container" {
                vec!["--all"]
            } else {
                vec![]
            })
            .read()?;
        left.extend(
            out.lines()
                .filter(|n| n.starts_with(PREFIX) && *n != probe.0 && *n != probe.network())
                .map(|n| format!("{kind} {n}")),
        );
    }
    let format = "{{.Repository}}:{{.Tag}}";
    let images = cmd!(sh, "docker image ls --format {format}")
        .quiet()
        .read()
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
    cmd!(sh, "docker info --format {format}")
        .quiet()
        .read()
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
        let _ = cmd!(sh, "docker network rm {network}")
            .quiet()
            .ignore_stderr()
            .ignore_stdout()
            .run();
        cmd!(sh, "docker network create {network}")
            .quiet()
            .ignore_stdout()
            .run()?;
        let base = crate::bases::BASE;
        cmd!(
            sh,
            "docker run --detach --name {PROBE} --network {network} --network-alias probe {base} sleep 900"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
        probe.resolves(sh)?;
        Ok(probe)
    }

    /// Docker's embedded DNS answers for its network alias, inside it.
    fn resolves(&self, sh: &Shell) -> Result<()> {
        let name = &self.0;
        let out = cmd!(sh, "docker exec {name} getent hosts probe")
            .quiet()
            .read();
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
            let _ = cmd!(sh, "docker network rm {network}")
                .quiet()
                .ignore_stderr()
                .ignore_stdout()
                .run();
        }
    }
}
