//! The hardening checks of the `redmine` group: how the stack's containers are confined, read
//! back from `docker inspect`, and a Redmine that outgrows its memory limit (on a compose project
//! of its own, `dockerlab-redmine-oom[-offline]`): killed, restarted by its restart policy, data
//! kept.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xshell::Shell;

use super::web;
use super::Stack;
use crate::docker;
use crate::harness::confinement::Confinement;
use crate::harness::{Got, Suite};

/// The container of `service` in the stack (running or not).
fn container(sh: &Shell, stack: &Stack, service: &str) -> Result<String> {
    let id = stack
        .compose(sh, &["ps", "--all", "--quiet", service])
        .quiet()
        .read()?;
    ensure!(
        !id.is_empty(),
        "no {service} container in {}",
        stack.project
    );
    Ok(id)
}

/// Both services of a running stack, each as `docker inspect` shows it.
pub fn confined(sh: &Shell, suite: &mut Suite, stack: Got<&Stack>) {
    for service in ["db", "redmine"] {
        let _ = suite.after(
            stack.clone(),
            &format!(
                "redmine: {service} runs as its own user, limited (memory, CPU, PIDs), read-only, \
                 with no capability, no new privileges, healthcheck in the image"
            ),
            |stack| {
                let found = Confinement::of(sh, &container(sh, stack, service)?)?;
                found.hardened(sh, None)?;
                if service == "redmine" {
                    ensure!(
                        found.host_ips() == ["127.0.0.1"],
                        "published on {:?}",
                        found.host_ips()
                    );
                }
                Ok(())
            },
        );
    }
}

/// A memory limit Redmine cannot start under (it needs ~170 MiB), so that it is killed at once.
const TINY: &str = "\
services:
  redmine:
    deploy:
      resources:
        limits:
          memory: 64M
";

/// A project is created; Redmine gets a memory limit too small for it and is killed by the
/// kernel, again and again, each time restarted by its restart policy; back at its own limit,
/// it serves the project. Bounded: a cold start, ~10 s to the first kill, a warm start.
pub fn oom(sh: &Shell, suite: &mut Suite) {
    let work = docker::project_root().join("target/dockerlab-redmine-oom");
    let port = suite.check("redmine oom: a free port for its stack", docker::free_port);
    let stack = port
        .as_ref()
        .map(|&port| Stack::scratch(sh, "dockerlab-redmine-oom", port, &work));
    let api = suite.after(
        stack.as_ref(),
        "redmine oom: its stack comes up and a project is created",
        |stack| {
            let base = stack.url();
            stack.up(sh)?;
            let password = stack.admin_password()?;
            let (_, api) = web::admin_api(&base, &password)?;
            api.create(
                "/projects.json",
                "application/json",
                r#"{"project":{"name":"Outlives the OOM killer","identifier":"oom-survivor"}}"#,
            )?;
            ensure!(
                api.get("/projects/oom-survivor.json")?.status == 200,
                "the project is not there right after its creation"
            );
            Ok(api)
        },
    );
    let killed = suite.after(
        stack.as_ref().and(api.as_ref()),
        "redmine oom: over its memory limit it is OOM-killed and restarted by its restart policy",
        |(stack, _)| {
            let tiny = work.join("tiny-memory.yaml");
            std::fs::write(&tiny, TINY)?;
            let tiny = tiny.display().to_string();
            stack
                .compose(
                    sh,
                    &["--file", &tiny, "up", "--detach", "--no-deps", "redmine"],
                )
                .run()?;
            let id = container(sh, stack, "redmine")?;
            let limit = Confinement::of(sh, &id)?.memory();
            ensure!(
                limit == 64 << 20,
                "the container's memory limit is {limit}, not the test's 64 MiB"
            );
            let start = Instant::now();
            loop {
                let found = Confinement::of(sh, &id)?;
                if found.get("oom_killed") == "true" && found.restarts() >= 1 {
                    println!(
                        "OOM-killed, restarted {} time(s) in {:.0?}",
                        found.restarts(),
                        start.elapsed()
                    );
                    return Ok(());
                }
                if start.elapsed() > Duration::from_secs(120) {
                    bail!(
                        "after 120 s: OOMKilled={}, restarts {}",
                        found.get("oom_killed"),
                        found.restarts()
                    );
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        },
    );
    let _ = suite.after(
        stack.as_ref().and(api.as_ref()).and(killed),
        "redmine oom: back at its own limit, the project created before is there",
        |((stack, api), ())| {
            // compose itself: Stack::up would see the port held (docker-proxy keeps it while the
            // container restarts) and refuse
            stack
                .compose(sh, &["up", "--detach", "--wait", "--wait-timeout", "300"])
                .run()
                .context("bringing it back at its own limit")?;
            let limit = Confinement::of(sh, &container(sh, stack, "redmine")?)?.memory();
            ensure!(
                limit > 64 << 20,
                "still at the test's limit ({limit} bytes)"
            );
            let project = api.get("/projects/oom-survivor.json")?;
            ensure!(
                project.status == 200 && project.body.contains("Outlives the OOM killer"),
                "the project is gone: status {}",
                project.status
            );
            Ok(())
        },
    );
}
