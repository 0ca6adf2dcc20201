//! Redmine serving: requests/s, p50 and p99 at 1 and at 8 concurrent clients on three pages
//! (anonymous /projects, a logged-in issue list, an issue with an attachment), for our image as
//! it runs by default (tuned: puma in cluster mode, see redmine/puma.rb) and for the same image
//! in the official image's configuration (one puma process), side by side in every round; and
//! each Redmine container's peak memory.
//!
//! The stack is a compose project of its own. Once it is set up and the fixtures made, its
//! Redmine container is stopped and copies of it (same image, environment, secrets, volumes,
//! network, confinement and limits, read from `docker inspect`; only the environment variable
//! under test differs) serve the same database.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value as Json;
use xshell::Shell;

use super::fixtures::Fixtures;
use super::memory::{peaks_while, Meter};
use super::report::{number, Table, Target};
use super::shared::{Ctx, PREFIX};
use super::throughput::{ratio_rows, wrk_rows, Round};
use super::wrk::Load;
use crate::docker::{self, Container, Docker};
use crate::redmine::Stack;

/// A configuration of the same image, by its environment.
struct Config {
    /// In container names.
    key: &'static str,
    /// In the table.
    name: &'static str,
    env: &'static [&'static str],
}

/// What the official image runs: one puma process (`rails server` without a puma config), here
/// with five threads (puma.rb's default for a single process).
const SINGLE: Config = Config {
    key: "single",
    name: "single process",
    env: &["WEB_CONCURRENCY=0"],
};

/// Our image as it runs by default: a worker per CPU, one thread each (redmine/puma.rb).
const TUNED: Config = Config {
    key: "tuned",
    name: "tuned",
    env: &[],
};

/// The image with one setting changed at a time, measured on /projects at 8 clients against the
/// tuned default in the same round: what each tuning brings (or would).
const VARIANTS: &[Config] = &[
    // The workers as they were first tuned, with five threads each.
    Config {
        key: "threads",
        name: "with 5 threads per worker",
        env: &["RAILS_MAX_THREADS=5"],
    },
    Config {
        key: "arenas",
        name: "with MALLOC_ARENA_MAX=2",
        env: &["MALLOC_ARENA_MAX=2"],
    },
];

/// The concurrent clients of each load.
const CLIENTS: [u32; 2] = [1, 8];

pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let stack = Stack::scratch(
        ctx.run,
        &format!("{PREFIX}-serving"),
        docker::free_port()?,
        &ctx.dir.join("serving"),
    );
    stack.up(sh)?;
    let issues = if ctx.plan.quick { 20 } else { 300 };
    println!("creating {issues} issues through the REST API (not timed)");
    let fixtures = Fixtures::create(&stack, issues)?;
    let stacked = stack.container(sh, "redmine")?;
    let template = Template::of(sh, &stacked)?;
    stack.compose(sh, &["stop", "redmine"]).run()?;

    let configs: Vec<&Config> = [&SINGLE, &TUNED].into_iter().chain(VARIANTS).collect();
    let mut servers = Vec::new();
    for config in &configs {
        servers.push(Server::start(sh, &template, config)?);
    }
    let pages = fixtures.pages();
    for server in &servers {
        docker::wait_http(&format!("{}/login", server.url), Duration::from_secs(300))
            .with_context(|| format!("see `docker logs {}`", server.container.name))?;
        for page in &pages {
            fixtures.check(&server.url, page)?;
        }
    }
    let load = |clients: u32, secs: u32, logged_in: bool| {
        let mut load = Load::clients(clients, secs);
        if logged_in {
            load.headers.push(format!("Cookie: {}", fixtures.cookie));
        }
        load
    };
    let meters = servers
        .iter()
        .map(|server| Meter::of(&server.container))
        .collect::<Result<Vec<_>>>()?;
    // Quick runs too load long enough for a slow page on a busy machine to finish some requests
    // (wrk counts none that are still in flight when it stops): a logged-in page takes seconds.
    let secs = if ctx.plan.quick { 3 } else { 8 };
    let (rounds, peaks) = peaks_while(&meters, || -> Result<Vec<Round>> {
        // Warm-up: every page on every server, so that no round pays for first requests (and
        // YJIT has compiled what the loads run).
        // What a warm-up answered does not matter (the loads measured after it report any
        // error): on a busy machine a slow page may finish no request in it.
        for server in &servers {
            for page in &pages {
                let _ = load(2, 3, page.logged_in).run(sh, &server.url(page));
            }
        }
        let mut rounds = Vec::new();
        for _ in 0..ctx.plan.slow_runs {
            let mut round = Round::default();
            for page in &pages {
                for clients in CLIENTS {
                    let load = load(clients, secs, page.logged_in);
                    for server in &servers {
                        // The variants run on the headline figure only.
                        if !server.headline() && (page.logged_in || clients == 1) {
                            continue;
                        }
                        let key = cell(page.name, clients, server.config.name);
                        // At most 1 % of error answers (a busy machine may time one out);
                        // more, or no request completed, fails the section.
                        let wrk = load
                            .run(sh, &server.url(page))
                            .and_then(|wrk| wrk.within(1))
                            .with_context(|| format!("{}: {}", page.path, server.state()))?;
                        round.push(key, wrk);
                    }
                }
            }
            rounds.push(round);
        }
        Ok(rounds)
    });
    let rounds = rounds?;

    for page in &pages {
        for clients in CLIENTS {
            let described = load(clients, secs, page.logged_in).describe();
            wrk_rows(
                t,
                &cell(page.name, clients, TUNED.name),
                &rounds,
                &described,
            );
            ratio_rows(
                t,
                &cell(page.name, clients, TUNED.name),
                &cell(page.name, clients, SINGLE.name),
                SINGLE.name,
                &rounds,
                "ratio within each round, same image with WEB_CONCURRENCY=0 (one process, five threads)",
            );
            if page.path == "/projects" && clients == 8 {
                // The targets: ≥ 1.6× the single process, p99 ≤ 400 ms.
                let tuned = cell(page.name, clients, TUNED.name);
                t.find(&format!("{tuned} ÷ {}: requests/s", SINGLE.name))
                    .context("no ratio row")?
                    .target(Target::AtLeast(1.6));
                t.find(&format!("{tuned}: latency p99"))
                    .context("no p99 row")?
                    .target(Target::AtMost(400.0));
                wrk_rows(
                    t,
                    &cell(page.name, clients, SINGLE.name),
                    &rounds,
                    &described,
                );
                for config in VARIANTS {
                    ratio_rows(
                        t,
                        &tuned,
                        &cell(page.name, clients, config.name),
                        &format!("tuned {}", config.name),
                        &rounds,
                        &format!(
                            "ratio within each round; the same image with {}",
                            config.env.join(" ")
                        ),
                    );
                }
            }
        }
    }
    for (server, peak) in servers.iter().zip(peaks) {
        let row = t.measured(
            format!("Redmine container peak memory, {}", server.config.name),
            peak.working_set as f64 / 1e6,
            "MB",
            1,
        );
        if server.config.key == TUNED.key {
            row.target(Target::AtMost(600.0));
        }
        row.note(format!(
            "usage minus inactive page cache (as `docker stats` counts), sampled every 200 ms \
             through the warm-up and the loads; its processes' own (anonymous) memory peaked at \
             {} MB; {} issues",
            number(peak.anon as f64 / 1e6),
            fixtures.issues
        ));
    }
    drop(servers);
    Ok(())
}

/// The name of one load in the rounds: `anonymous /projects, 8 clients, tuned`.
fn cell(page: &str, clients: u32, config: &str) -> String {
    let s = if clients == 1 { "" } else { "s" };
    format!("{page}, {clients} client{s}, {config}")
}

/// How the stack runs its Redmine container: what a copy needs.
struct Template {
    image: String,
    user: String,
    network: String,
    env: Vec<String>,
    /// `-v` arguments: its volumes and its secrets (bind mounts).
    mounts: Vec<String>,
    /// How it is confined: `--read-only`, `--tmpfs`, capabilities, security options and its
    /// CPU, memory and process limits, as `docker run` arguments.
    confinement: Vec<String>,
}

impl Template {
    fn of(sh: &Shell, container: &str) -> Result<Template> {
        let out = Docker::local(sh).read(&["inspect", container])?;
        let inspect: Json = serde_json::from_str(&out).context("docker inspect's answer")?;
        let c = &inspect[0];
        let strings = |value: &Json| -> Vec<String> {
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut mounts = Vec::new();
        let mut confinement = Vec::new();
        for mount in c["Mounts"].as_array().context("no Mounts")? {
            if mount["Type"] == "tmpfs" {
                let target = mount["Destination"].as_str().context("no Destination")?;
                confinement.extend(["--tmpfs".to_string(), target.to_string()]);
                continue;
            }
            let source = match mount["Type"].as_str() {
                Some("volume") => mount["Name"].as_str(),
                Some("bind") => mount["Source"].as_str(),
                _ => None,
            }
            .with_context(|| format!("a mount of another kind: {mount}"))?;
            let destination = mount["Destination"].as_str().context("no Destination")?;
            let mode = if mount["RW"].as_bool() == Some(true) {
                "rw"
            } else {
                "ro"
            };
            mounts.push(format!("{source}:{destination}:{mode}"));
        }
        let host = &c["HostConfig"];
        if host["ReadonlyRootfs"] == true {
            confinement.push("--read-only".into());
        }
        for target in host["Tmpfs"].as_object().into_iter().flat_map(|t| t.keys()) {
            confinement.extend(["--tmpfs".to_string(), target.clone()]);
        }
        for (key, flag) in [
            ("CapDrop", "--cap-drop"),
            ("CapAdd", "--cap-add"),
            ("SecurityOpt", "--security-opt"),
        ] {
            for value in strings(&host[key]) {
                confinement.extend([flag.to_string(), value]);
            }
        }
        if let Some(nanos) = host["NanoCpus"].as_u64().filter(|n| *n > 0) {
            confinement.extend(["--cpus".into(), format!("{}", nanos as f64 / 1e9)]);
        }
        if let Some(bytes) = host["Memory"].as_u64().filter(|n| *n > 0) {
            confinement.extend(["--memory".into(), format!("{bytes}b")]);
        }
        if let Some(pids) = host["PidsLimit"].as_i64().filter(|n| *n > 0) {
            confinement.extend(["--pids-limit".into(), pids.to_string()]);
        }
        let network = c["NetworkSettings"]["Networks"]
            .as_object()
            .and_then(|networks| networks.keys().next().cloned())
            .context("the container is on no network")?;
        Ok(Template {
            image: c["Image"].as_str().context("no Image")?.to_string(),
            user: c["Config"]["User"].as_str().unwrap_or_default().to_string(),
            network,
            env: strings(&c["Config"]["Env"]),
            mounts,
            confinement,
        })
    }
}

/// A copy of the stack's Redmine container in one configuration, on a loopback port; removed
/// when dropped.
struct Server<'a> {
    config: &'a Config,
    container: Container<'a>,
    url: String,
}

impl<'a> Server<'a> {
    /// How its container is, and its log's last lines: what a failed load shows.
    fn state(&self) -> String {
        super::shared::server_state(&self.container)
    }

    fn start(sh: &'a Shell, template: &Template, config: &'a Config) -> Result<Server<'a>> {
        let port = docker::free_port()?;
        let mut args: Vec<String> = vec![
            "--network".into(),
            template.network.clone(),
            "--publish".into(),
            format!("127.0.0.1:{port}:3000"),
        ];
        if !template.user.is_empty() {
            args.extend(["--user".into(), template.user.clone()]);
        }
        let overridden = |var: &str| {
            let name = var.split('=').next().unwrap_or_default();
            config.env.iter().any(|e| e.split('=').next() == Some(name))
        };
        for var in template.env.iter().filter(|v| !overridden(v)) {
            args.extend(["--env".into(), var.clone()]);
        }
        for var in config.env {
            args.extend(["--env".into(), var.to_string()]);
        }
        for mount in &template.mounts {
            args.extend(["--volume".into(), mount.clone()]);
        }
        args.extend(template.confinement.iter().cloned());
        args.push(template.image.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let container = Container::run(sh, &format!("{PREFIX}-serving-{}", config.key), &args)?;
        Ok(Server {
            config,
            container,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn url(&self, page: &super::fixtures::Page) -> String {
        format!("{}{}", self.url, page.path)
    }

    /// The two configurations every page and load is measured on.
    fn headline(&self) -> bool {
        self.config.key == SINGLE.key || self.config.key == TUNED.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_load() {
        assert_eq!(
            cell("anonymous /projects", 1, "tuned"),
            "anonymous /projects, 1 client, tuned"
        );
        assert_eq!(
            cell("x", 8, "single process"),
            "x, 8 clients, single process"
        );
    }
}
