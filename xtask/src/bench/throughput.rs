//! Throughput: wrk against our container (published port, and its own address), the same
//! configuration run by the host's nginx, and the plain way (the distribution's nginx with its
//! default configuration, hardened alike), round by round.

use std::time::Duration;

use anyhow::{Context, Result};

use super::host_nginx::{cgroup_beside, HostNginx};
use super::plain;
use super::report::{Table, Target as Goal};
use super::shared::{remove_image, Ctx, PREFIX};
use super::wrk::{Load, Wrk};
use crate::docker::{self, Container, Docker};
use crate::nginx::HARDENED;

/// One URL the load goes to, and what it is called in the table.
struct Target {
    name: &'static str,
    url: String,
}

pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let port = docker::free_port()?;
    let publish = format!("127.0.0.1:{port}:8080");
    let mut args = vec!["--publish", &publish];
    args.extend(HARDENED);
    args.push(&ctx.image);
    let web = Container::run(sh, &format!("{PREFIX}-wrk"), &args)?;
    let published = format!("http://127.0.0.1:{port}/");
    docker::wait_http(&published, Duration::from_secs(30))?;
    let ip = web.ip()?;
    // The reference: the same nginx, configuration and page, without the container. On a shared
    // machine Docker's cgroup gets one CPU weight for all containers, so the reference runs in a
    // cgroup beside the container's to compete alike; a second one runs as any host process.
    let beside = cgroup_beside(sh, &web, &format!("{PREFIX}-host"))?;
    let host = HostNginx::start(ctx, &web, "host-nginx", Some(beside))?;
    let bare = HostNginx::start(ctx, &web, "host-nginx-bare", None)?;
    // The plain way, from the same base, with our run flags and what it needs on top of them.
    let plain_image = plain::build(ctx)?;
    let mut args = HARDENED.to_vec();
    args.extend(plain::run_flags(ctx.run.flavour));
    args.push(&plain_image);
    let plain = Container::run(sh, &format!("{PREFIX}-plain"), &args)?;
    let plain_ip = plain.ip()?;
    let containers = [
        Target {
            name: "container, published port",
            url: published,
        },
        Target {
            name: "container, its own address",
            url: format!("http://{ip}:8080/"),
        },
    ];
    let reference = Target {
        name: "host nginx, cgroup beside the container's",
        url: host.url.clone(),
    };
    let outside = Target {
        name: "host nginx, outside Docker's cgroup",
        url: bare.url.clone(),
    };
    let plain_way = Target {
        name: "plain nginx (distribution defaults), its own address",
        url: format!("http://{plain_ip}:{}/", plain::PORT),
    };
    // The order of the table: the containers, the reference, the host process outside, the
    // plain way.
    let targets: Vec<&Target> = containers
        .iter()
        .chain([&reference, &outside, &plain_way])
        .collect();
    let load = Load::nginx(ctx.plan.load_secs);
    for target in &targets {
        docker::wait_http(&target.url, Duration::from_secs(10))?;
        if !ctx.plan.quick {
            Load::nginx(1).run(sh, &target.url)?; // warm-up: connections, caches, CPU frequency
        }
    }
    // One wrk report per target and round: the targets take turns, so that noise hits them alike.
    let mut rounds: Vec<Round> = Vec::new();
    for _ in 0..ctx.plan.runs {
        let mut round = Round::default();
        for target in &targets {
            let wrk = load.run(sh, &target.url).and_then(|wrk| wrk.within(0));
            let wrk = wrk.with_context(|| {
                format!(
                    "{}: {}; {}",
                    target.name,
                    super::shared::server_state(&web),
                    super::shared::server_state(&plain)
                )
            })?;
            round.push(target.name, wrk);
        }
        rounds.push(round);
    }
    for target in &targets {
        wrk_rows(t, target.name, &rounds, &load.describe());
    }
    for target in &containers {
        ratio_rows(
            t,
            target.name,
            reference.name,
            "host beside it",
            &rounds,
            "ratio within each round",
        );
    }
    ratio_rows(
        t,
        containers[1].name,
        plain_way.name,
        "plain nginx",
        &rounds,
        "ratio within each round: our configuration against the distribution's defaults, the \
         same page, both containers hardened",
    );
    t.find(&format!("{} ÷ plain nginx: requests/s", containers[1].name))
        .context("no ratio row")?
        .target(Goal::AtLeast(1.0));
    drop(plain);
    remove_image(sh, &plain_image);
    let version = |out: std::process::Output| {
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("nginx version: ")
            .to_string()
    };
    let inside = version(
        Docker::local(sh)
            .duct(&["exec", &web.name, "nginx", "-v"])
            .stderr_capture()
            .unchecked()
            .run()?,
    );
    let outside = version(
        duct::cmd!("nginx", "-v")
            .stderr_capture()
            .unchecked()
            .run()?,
    );
    t.note_last(format!("{inside} in the container, {outside} on the host"));
    Ok(())
}

/// The wrk reports of one round, by target name.
#[derive(Default)]
pub struct Round(Vec<(String, Wrk)>);

impl Round {
    pub fn push(&mut self, target: impl Into<String>, wrk: Wrk) {
        self.0.push((target.into(), wrk));
    }

    /// The report on `target` (every round measures every target).
    pub fn of(&self, target: &str) -> Wrk {
        self.0
            .iter()
            .find(|(name, _)| *name == target)
            .map(|(_, wrk)| *wrk)
            .unwrap_or_else(|| panic!("no wrk report on {target} in this round"))
    }
}

/// The rows of one target: median requests/s, p50 and p99 over the rounds.
pub fn wrk_rows(t: &mut Table, target: &str, rounds: &[Round], load: &str) {
    let column = |f: fn(&Wrk) -> f64| rounds.iter().map(|r| f(&r.of(target))).collect::<Vec<_>>();
    // Error answers are reported, not hidden: a server that fails some requests under load is a
    // finding (the bench's own pages never answer errors when idle: they are checked first).
    let errors: u64 = rounds.iter().map(|r| r.of(target).errors).sum();
    let note = match errors {
        0 => load.to_string(),
        n => {
            let all: u64 = rounds.iter().map(|r| r.of(target).requests).sum();
            format!("{load}; {n} of {all} answers were errors (4xx, 5xx)")
        }
    };
    t.median(format!("{target}: requests/s"), &column(|w| w.rps), "req/s")
        .note(note);
    t.median(
        format!("{target}: latency p50"),
        &column(|w| w.p50_ms),
        "ms",
    );
    t.median(
        format!("{target}: latency p99"),
        &column(|w| w.p99_ms),
        "ms",
    );
}

/// The ratios of `target` to `reference` (called `called` in the figure), requests/s and p99,
/// taken within each round.
pub fn ratio_rows(
    t: &mut Table,
    target: &str,
    reference: &str,
    called: &str,
    rounds: &[Round],
    note: &str,
) {
    let ratio = |f: fn(&Wrk) -> f64| {
        rounds
            .iter()
            .map(|r| f(&r.of(target)) / f(&r.of(reference)))
            .collect::<Vec<_>>()
    };
    t.median(
        format!("{target} ÷ {called}: requests/s"),
        &ratio(|w| w.rps),
        "×",
    )
    .note(note);
    t.median(
        format!("{target} ÷ {called}: latency p99"),
        &ratio(|w| w.p99_ms),
        "×",
    );
}
