//! The `swarm` group's checks of the deployed stack: settings, spread, data through the front
//! door, backups, a rolling update and failures under a bounded client loop.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;
use xshell::{cmd, Shell};

use super::local::{self as cluster, node_name, LABEL};
use crate::ctx::Ctx;
use crate::docker::Docker;
use crate::harness::{xtask, Got, Suite};
use crate::scratch::{random_hex, Scratch};
use crate::testkit::load::Load;
use crate::testkit::tasks::{self, manager, Task};
use crate::testkit::web::{self, between, Api};

pub(super) const REDMINE: &str = "dockerlab-redmine_redmine";
pub(super) const WEB: &str = "dockerlab-redmine_web";
pub(super) const PORT: u16 = 3000;
/// A Redmine image with a changed theme, for the rolling update.
pub(super) const ROLLING: &str = "dockerlab-swarm/redmine:rolling";
const STYLESHEET: &str = "themes/harbour/stylesheets/application.css";

/// The front door's URL: the manager's address on the cluster network.
pub(super) fn front_door(sh: &Shell) -> Result<String> {
    Ok(format!(
        "http://{}:{PORT}/",
        cluster::address(sh, &node_name(1))?
    ))
}

pub(super) fn admin_password(ctx: &Ctx) -> Result<String> {
    crate::redmine::user_stack(ctx, PORT)?.admin_password()
}

/// Everything that needs the stack running.
pub fn run(ctx: &Ctx, suite: &mut Suite, deployed: Got<&()>) {
    let sh = &ctx.sh;
    let _ = suite.after(
        deployed.clone(),
        "swarm: services carry compose.yaml's settings and stack.yaml's Swarm ones",
        |_| settings_merged(ctx),
    );
    let _ = suite.after(
        deployed.clone(),
        "swarm: Redmine tasks run on two nodes; each served requests",
        |_| {
            let redmine = tasks::running(sh, REDMINE)?;
            let nodes: BTreeSet<&str> = redmine.iter().map(|t| t.node.as_str()).collect();
            ensure!(redmine.len() == 2 && nodes.len() == 2, "tasks: {redmine:?}");
            served_by_each(sh, &redmine)
        },
    );
    let fixture = suite.after(
        deployed.clone(),
        "swarm: project, issue and attachment through the front door",
        |_| {
            let password = admin_password(ctx)?;
            let fixture = create_fixture(sh, &front_door(sh)?, &password)?;
            Ok((password, fixture))
        },
    );
    let _ = suite.after(
        fixture.as_ref(),
        "swarm: the attachment downloads through every Redmine task",
        |(password, fixture)| attachment_everywhere(sh, password, fixture),
    );
    let _ = suite.after(
        fixture.as_ref(),
        "swarm: `redmine backup --swarm` holds the database dump and the attachment",
        |(_, fixture)| backup(ctx, fixture),
    );
    let _ = suite.after(
        deployed.clone(),
        "swarm: rolling update to a new theme: no failed request, new CSS served",
        |_| rolling_update(ctx),
    );
    let _ = suite.after(
        deployed.clone(),
        "swarm: a killed Redmine task is replaced; short error window",
        |_| {
            let victim = tasks::running(sh, REDMINE)?
                .into_iter()
                .next()
                .context("no Redmine task")?;
            under_load(
                sh,
                "kill",
                || tasks::kill(sh, &victim),
                |running| running.iter().all(|t| t.id != victim.id),
            )
        },
    );
    let _ = suite.after(
        deployed.clone(),
        "swarm: draining a worker moves its tasks; short error window",
        |_| {
            let worker = tasks::running(sh, REDMINE)?
                .into_iter()
                .map(|t| t.node)
                .find(|n| *n != node_name(1))
                .context("no Redmine task on a worker")?;
            let result = under_load(
                sh,
                "drain",
                || {
                    manager(sh, &["node", "update", "--availability", "drain", &worker])
                        .ignore_stdout()
                        .run()?;
                    Ok(())
                },
                |running| running.iter().all(|t| t.node != worker),
            );
            manager(sh, &["node", "update", "--availability", "active", &worker])
                .ignore_stdout()
                .run()?;
            result?;
            let moved = tasks::running(sh, REDMINE)?;
            ensure!(
                moved.iter().all(|t| t.node != worker),
                "a task still runs on the drained {worker}"
            );
            Ok(())
        },
    );
    let _ = suite.after(
        fixture.as_ref(),
        "swarm: after the failures, nothing is lost",
        |(password, fixture)| {
            let running = tasks::running(sh, REDMINE)?;
            ensure!(running.len() == 2, "Redmine runs {} tasks", running.len());
            let base = front_door(sh)?;
            let api = Api::new(&base, "admin", password);
            let issue = api.get(&format!("/issues/{}.json", fixture.issue))?;
            ensure!(issue.status == 200, "the issue: status {}", issue.status);
            attachment_everywhere(sh, password, fixture)
        },
    );
}

/// The running Redmine service has compose.yaml's environment and healthcheck (as `docker
/// compose config` reads it) and stack.yaml's update policy, resources and image by digest.
fn settings_merged(ctx: &Ctx) -> Result<()> {
    let sh = &ctx.sh;
    let stack = crate::redmine::user_stack(ctx, PORT)?;
    let compose = super::stack::compose_config(sh, &stack)?;
    let spec = manager(
        sh,
        &["service", "inspect", "--format", "{{json .Spec}}", REDMINE],
    )
    .read()?;
    let spec: serde_json::Value = serde_json::from_str(&spec)?;
    let container = &spec["TaskTemplate"]["ContainerSpec"];
    let env: Vec<&str> = container["Env"]
        .as_array()
        .context("no Env")?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for (key, value) in compose["services"]["redmine"]["environment"]
        .as_object()
        .context("compose gave no environment")?
    {
        let pair = format!("{key}={}", value.as_str().unwrap_or_default());
        ensure!(
            env.contains(&pair.as_str()),
            "{pair} is not in the service: {env:?}"
        );
    }
    ensure!(
        container["Healthcheck"]["Test"] == compose["services"]["redmine"]["healthcheck"]["test"],
        "healthcheck differs: {} vs {}",
        container["Healthcheck"]["Test"],
        compose["services"]["redmine"]["healthcheck"]["test"]
    );
    let update = &spec["UpdateConfig"];
    ensure!(
        update["Order"] == "start-first" && update["FailureAction"] == "rollback",
        "update policy: {update}"
    );
    ensure!(
        spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"].as_u64() > Some(0),
        "no memory limit"
    );
    ensure!(
        container["Image"]
            .as_str()
            .is_some_and(|i| i.contains("@sha256:")),
        "not by digest: {}",
        container["Image"]
    );
    ensure!(
        spec["EndpointSpec"]["Mode"] == "dnsrr",
        "endpoint: {}",
        spec["EndpointSpec"]
    );
    Ok(())
}

/// 40 requests through the front door; its log names the task that answered each (nginx's
/// $upstream_addr): every Redmine task must have answered some.
fn served_by_each(sh: &Shell, redmine: &[Task]) -> Result<()> {
    let url = front_door(sh)?;
    let since = cmd!(sh, "date -u +%Y-%m-%dT%H:%M:%SZ").quiet().read()?;
    for _ in 0..40 {
        let resp = crate::http::get(&url)?;
        ensure!(resp.status == 200, "status {}", resp.status);
    }
    // nginx flushes its buffered log every second.
    std::thread::sleep(Duration::from_secs(2));
    let out = manager(sh, &["service", "logs", "--raw", "--since", &since, WEB]).output()?;
    let log = String::from_utf8_lossy(&out.stdout);
    let mut counts = Vec::new();
    for task in redmine {
        let n = log
            .lines()
            .filter(|l| {
                task.addresses
                    .iter()
                    .any(|a| l.contains(&format!("upstream={a}:3000")))
            })
            .count();
        counts.push(format!("{} on {}: {n}", &task.id[..12], task.node));
        ensure!(
            n > 0,
            "task {} ({:?}) served nothing: {log}",
            task.id,
            task.addresses
        );
    }
    println!("requests per task: {}", counts.join(", "));
    Ok(())
}

struct Fixture {
    issue: u64,
    path: String,
    sha256: String,
}

/// Turns the REST API and our theme on, then a project, an issue and its attachment, all through
/// the front door.
fn create_fixture(sh: &Shell, base: &str, password: &str) -> Result<Fixture> {
    let base = base.trim_end_matches('/');
    let (mut admin, api) = web::admin_api(base, password)?;
    web::set_settings(
        &mut admin,
        base,
        "display",
        &[("settings[ui_theme]", "harbour")],
    )?;
    let project = format!("swarm-{}", random_hex(4)?);
    api.create(
        "/projects.json",
        "application/json",
        &json!({"project": {"name": "Swarm lab", "identifier": project}}).to_string(),
    )?;
    let content = format!("Shared by every node {}\n", random_hex(8)?);
    let attached = api.issue_with_attachment(&project, "On a Swarm", "swarm.txt", &content)?;
    Ok(Fixture {
        issue: attached.issue,
        path: attached.path,
        sha256: web::sha256(sh, &content)?,
    })
}

/// Inside every Redmine task's container, its own Redmine (127.0.0.1:3000) serves the
/// attachment with the uploaded SHA-256.
fn attachment_everywhere(sh: &Shell, password: &str, fixture: &Fixture) -> Result<()> {
    let redmine = tasks::running(sh, REDMINE)?;
    ensure!(!redmine.is_empty(), "no Redmine task");
    let script = "u = URI(ARGV[0]); r = Net::HTTP::Get.new(u); r.basic_auth('admin', ARGV[1]); \
                  res = Net::HTTP.start(u.host, u.port) { |h| h.request(r) }; \
                  abort(res.code) unless res.code == '200'; puts Digest::SHA256.hexdigest(res.body)";
    let url = format!("http://127.0.0.1:3000{}", fixture.path);
    for task in &redmine {
        let sha = tasks::exec(
            sh,
            task,
            &[
                "ruby",
                "-rnet/http",
                "-rdigest",
                "-e",
                script,
                &url,
                password,
            ],
        )
        .with_context(|| format!("downloading in task {} on {}", task.id, task.node))?;
        ensure!(
            sha.trim() == fixture.sha256,
            "task on {} serves another file ({sha})",
            task.node
        );
    }
    println!(
        "the attachment downloads with the same SHA-256 in {} tasks",
        redmine.len()
    );
    Ok(())
}

/// `redmine backup --swarm`: its archive has a pg_dump archive and the uploaded attachment.
fn backup(ctx: &Ctx, fixture: &Fixture) -> Result<()> {
    let sh = &ctx.sh;
    let out = xtask(ctx, &["redmine", "backup", "--swarm"], &[])?;
    ensure!(out.status.success(), "redmine backup --swarm failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = stdout
        .lines()
        .find_map(|l| l.strip_prefix("backup written to "))
        .context("it did not say where the backup is")?
        .trim()
        .to_string();
    let work = Scratch::temp("swarm-backup")?;
    let dir = work.path();
    let checked = (|| -> Result<()> {
        cmd!(sh, "tar -C {dir} -xzf {file}").quiet().run()?;
        let dump = std::fs::read(dir.join("db.dump")).context("no db.dump in the archive")?;
        ensure!(
            dump.starts_with(b"PGDMP"),
            "db.dump is not a pg_dump archive"
        );
        let files = dir.join("files");
        std::fs::create_dir(&files)?;
        let tar = dir.join("files.tar");
        cmd!(sh, "tar -C {files} -xf {tar}").quiet().run()?;
        let found = cmd!(sh, "find {files} -type f -name *swarm.txt")
            .quiet()
            .read()?;
        let first = found
            .lines()
            .next()
            .context("the attachment is not in files.tar")?;
        let sha = cmd!(sh, "sha256sum {first}").quiet().read()?;
        ensure!(
            sha.split_whitespace().next() == Some(fixture.sha256.as_str()),
            "the attachment in the backup differs"
        );
        Ok(())
    })();
    let _ = std::fs::remove_file(&file);
    checked
}

/// Builds Redmine again with a marker added to the theme's stylesheet (compose.yaml's build, on
/// a copy of its context), deploys it under load, and checks the new stylesheet is served.
fn rolling_update(ctx: &Ctx) -> Result<()> {
    let sh = &ctx.sh;
    let marker = format!("dockerlab-rolling-{}", random_hex(6)?);
    let stack = crate::redmine::user_stack(ctx, PORT)?;
    let compose = super::stack::compose_config(sh, &stack)?;
    let build = &compose["services"]["redmine"]["build"];
    let context = build["context"].as_str().context("no build context")?;
    let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
    let copy = Scratch::temp("swarm-rolling")?;
    let dest = copy.path();
    cmd!(sh, "cp -a {context}/. {dest}").quiet().run()?;
    let _ = std::fs::remove_dir_all(dest.join(".secrets"));
    let css = dest.join(STYLESHEET);
    let mut text = std::fs::read_to_string(&css)?;
    text.push_str(&format!("\n/* {marker} */\n"));
    std::fs::write(&css, text)?;
    let mut args = Vec::new();
    if let Some(map) = build["args"].as_object() {
        for (key, value) in map {
            args.push("--build-arg".to_string());
            args.push(format!("{key}={}", value.as_str().unwrap_or_default()));
        }
    }
    let label = format!("{LABEL}=image");
    let file = dest.join(dockerfile);
    Docker::local(sh)
        .cmd(&["build", "--quiet"])
        .args(args)
        .args(["--label", &label, "--tag", ROLLING, "--file"])
        .arg(file)
        .arg(dest)
        .quiet()
        .ignore_stdout()
        .run()
        .context("building the changed Redmine")?;
    let url = front_door(sh)?;
    let load = Load::start(&url, Duration::from_secs(420));
    let start = Instant::now();
    let out = xtask(ctx, &["redmine", "deploy", "--redmine-image", ROLLING], &[]);
    let took = start.elapsed();
    let report = load.stop();
    println!(
        "rolling update: {:.1} s; client: {}",
        took.as_secs_f64(),
        report.summary()
    );
    ensure!(out?.status.success(), "the deploy of the new image failed");
    if !report.failures.is_empty() {
        // What Redmine and the front door logged of it: the error answers and errors.
        let mut logged = Vec::new();
        for service in [REDMINE, WEB] {
            let out = manager(sh, &["service", "logs", "--raw", "--tail", "300", service])
                .ignore_status()
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            logged.extend(
                text.lines()
                    .filter(|l| {
                        l.contains("Completed 5") || l.contains("rror") || l.contains("\" 5")
                    })
                    .map(str::to_string),
            );
        }
        bail!(
            "failed requests: {}; logged: {}",
            report.summary(),
            logged[logged.len().saturating_sub(6)..].join(" | ")
        );
    }
    let page = crate::http::get(&url)?;
    let href = page
        .body
        .split("<link ")
        .filter(|l| l.contains("stylesheet"))
        .find_map(|l| between(l, r#"href=""#, "\"").filter(|h| h.contains("harbour")))
        .context("the page links no stylesheet of our theme")?;
    let css = crate::http::get(&format!("{}{href}", url.trim_end_matches('/')))?;
    ensure!(
        css.status == 200 && css.body.contains(&marker),
        "{href} is not the new stylesheet (status {})",
        css.status
    );
    Ok(())
}

/// Runs `act` while the client loop runs, then waits until Redmine runs 2 healthy tasks again
/// that satisfy `replaced` (the killed one is not among them, none is on the drained node); the
/// loop's error window must stay short.
fn under_load(
    sh: &Shell,
    what: &str,
    act: impl FnOnce() -> Result<()>,
    replaced: impl Fn(&[Task]) -> bool,
) -> Result<()> {
    let url = front_door(sh)?;
    let load = Load::start(&url, Duration::from_secs(240));
    std::thread::sleep(Duration::from_secs(2));
    let start = Instant::now();
    let acted = act();
    let converged = acted.and_then(|()| wait_tasks(sh, 2, &replaced, Duration::from_secs(180)));
    let took = start.elapsed();
    // A few more seconds of requests after the new task is in.
    std::thread::sleep(Duration::from_secs(5));
    let report = load.stop();
    println!(
        "{what}: Redmine back to 2 tasks in {:.1} s; client: {}",
        took.as_secs_f64(),
        report.summary()
    );
    converged?;
    ensure!(
        report.error_window() <= Duration::from_secs(15) && report.failures.len() <= 150,
        "too long an outage: {}",
        report.summary()
    );
    Ok(())
}

/// Waits until Redmine runs `count` healthy tasks that satisfy `replaced`.
fn wait_tasks(
    sh: &Shell,
    count: usize,
    replaced: &impl Fn(&[Task]) -> bool,
    limit: Duration,
) -> Result<()> {
    let start = Instant::now();
    loop {
        let running = tasks::running(sh, REDMINE)?;
        let replicas = manager(
            sh,
            &[
                "service",
                "ls",
                "--filter",
                &format!("name={REDMINE}"),
                "--format",
                "{{.Replicas}}",
            ],
        )
        .read()?;
        // Swarm counts a task as running once its healthcheck passed.
        if replicas.starts_with(&format!("{count}/{count}"))
            && running.len() == count
            && replaced(&running)
        {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("Redmine is at {replicas} after {limit:?}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
