//! The hardening checks of the `redmine` group: how the stack's containers are confined, read
//! back from `docker inspect`, and each service past its own memory limit (on a compose project
//! of its own, `dockerlab-redmine-oom[-offline]`): OOM-killed by the kernel, restarted by its
//! restart policy, the data in PostgreSQL kept.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use super::Stack;
use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::harness::confinement::Confinement;
use crate::harness::{Got, Suite};
use crate::testkit::web;

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

/// A project is created through Redmine, so its data is in PostgreSQL. Then each service in
/// turn outgrows its own memory limit, the one compose.yaml sets (no override): an allocation
/// inside its cgroup ([`oom_kill`]) makes the kernel's OOM killer kill the server, and its restart
/// policy brings it back. Redmine goes through it twice; then PostgreSQL, which holds the data,
/// and the project must still be served. Bounded: a cold start, then at most 300 s per kill.
pub fn oom(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let work = docker::project_root().join("target/dockerlab-redmine-oom");
    let port = suite.check("redmine oom: a free port for its stack", docker::free_port);
    let stack = port
        .as_ref()
        .map(|&port| Stack::scratch(ctx, "dockerlab-redmine-oom", port, &work));
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
    let ready = stack.as_ref().and(api.as_ref());
    let killed = suite.after(
        ready.clone(),
        "redmine oom: Redmine past its own memory limit is OOM-killed by the kernel and restarted \
         by its restart policy, twice",
        |(stack, _)| {
            for _ in 0..2 {
                oom_kill(sh, stack, "redmine")?;
            }
            Ok(())
        },
    );
    let _ = suite.after(
        ready.and(killed),
        "redmine oom: PostgreSQL past its own memory limit is OOM-killed and restarted; the \
         project created before is served again",
        |((stack, api), ())| {
            oom_kill(sh, stack, "db")?;
            // Redmine reconnects to the restarted database on a later request.
            let start = Instant::now();
            loop {
                let project = api.get("/projects/oom-survivor.json");
                match project {
                    Ok(p) if p.status == 200 && p.body.contains("Outlives the OOM killer") => {
                        return Ok(())
                    }
                    _ if start.elapsed() > Duration::from_secs(60) => {
                        bail!("the project is not served after the database's restart: {project:?}")
                    }
                    _ => std::thread::sleep(Duration::from_secs(1)),
                }
            }
        },
    );
}

/// Makes the kernel OOM-kill `service`'s server at the container's own memory limit, and waits
/// for its restart policy to bring it back healthy. The server's main process (PID 1, whose end
/// ends the container) is put first in the OOM killer's line by raising its `oom_score_adj`,
/// which its own user may do; then `dd` fills one buffer bigger than the limit and Docker's
/// default swap allowance (as much again) inside the same cgroup. The engine's own record is
/// asserted: an `oom` event and a `die` of the container, one more restart, healthy again.
fn oom_kill(sh: &Shell, stack: &Stack, service: &str) -> Result<()> {
    let id = container(sh, stack, service)?;
    let before = Confinement::of(sh, &id)?;
    let limit = before.memory();
    ensure!(limit > 0, "{service} has no memory limit");
    let restarts = before.restarts();
    let since = cmd!(sh, "date +%s").quiet().read()?;
    let docker = Docker::local(sh);
    let owner = docker.read(&["exec", &id, "stat", "-c", "%u", "/proc/1"])?;
    docker
        .run(&[
            "exec",
            "--user",
            &owner,
            &id,
            "sh",
            "-c",
            "echo 1000 > /proc/1/oom_score_adj",
        ])
        .with_context(|| format!("putting {service}'s PID 1 first in the OOM killer's line"))?;
    let buffer = format!("bs={}M", ((2 * limit) >> 20) + 64);
    // It is killed with the container: its failure is the expected end.
    let _ = docker
        .cmd(&[
            "exec",
            &id,
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            &buffer,
            "count=1",
        ])
        .ignore_status()
        .run();
    let start = Instant::now();
    loop {
        let now = Confinement::of(sh, &id)?;
        let health_format = "{{.State.Health.Status}}";
        let health = docker.read(&["inspect", "--format", health_format, &id])?;
        if now.restarts() > restarts && health == "healthy" {
            ensure!(
                now.restarts() == restarts + 1,
                "{service} restarted {} times, not once",
                now.restarts() - restarts
            );
            break;
        }
        if start.elapsed() > Duration::from_secs(300) {
            bail!(
                "{service} after 300 s: restarts {} (before {restarts}), health {health}",
                now.restarts()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let until = cmd!(sh, "date +%s").quiet().read()?;
    let format = "{{.Status}}";
    let filter = format!("container={id}");
    let events = docker.read(&[
        "events", "--since", &since, "--until", &until, "--filter", &filter, "--format", format,
    ])?;
    let events: Vec<&str> = events.lines().collect();
    ensure!(
        events.contains(&"oom") && events.contains(&"die"),
        "no oom and die events of {service} (limit {limit} bytes): {events:?}"
    );
    println!(
        "{service}: OOM-killed at its {} MiB limit, restarted, healthy in {:.0?}",
        limit >> 20,
        start.elapsed()
    );
    Ok(())
}
