//! The Redmine stack on the local Swarm: cluster up (3 nodes) → all Ready, `redmine deploy` →
//! converged and 200, and a rolling update under a client loop (its duration and failed
//! requests). Minutes per run: full runs only; a quick run says so in its rows.

use std::time::Duration;

use anyhow::{ensure, Context, Result};

use super::local::LABEL;
use crate::bench::report::{Table, Target};
use crate::bench::shared::{time, Ctx};
use crate::docker::Docker;
use crate::testkit::load::Load;

/// A Redmine image that differs from the deployed one by a label: a new digest to roll out.
const ROLLING: &str = "dockerlab-swarm/redmine:bench";

pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let figures = [
        "local Swarm up, 3 nodes, images built → all Ready",
        "`cargo xtask redmine deploy` → converged and 200",
        "rolling update of Redmine (2 tasks) → converged",
        "rolling update: failed requests of a client every 100 ms",
    ];
    let run = |args: &[&str]| -> Result<()> {
        ctx.run
            .xtask(args)?
            .run()
            .with_context(|| format!("cargo xtask {} failed", args.join(" ")))
    };
    let mut ups = Vec::new();
    for _ in 0..ctx.plan.slow_runs {
        run(&["swarm", "down"])?;
        ups.push(time(|| run(&["swarm", "up"]))?.0);
    }
    t.median(figures[0], &ups, "s")
        .target(Target::AtMost(120.0))
        .note("after `cargo xtask swarm down` (which removes the node and registry images too)");
    let result = deploy_and_roll(ctx, t, &figures[1..], &run);
    let _ = run(&["swarm", "down"]);
    result
}

fn deploy_and_roll(
    ctx: &Ctx,
    t: &mut Table,
    figures: &[&str],
    run: &dyn Fn(&[&str]) -> Result<()>,
) -> Result<()> {
    let sh = &ctx.run.sh;
    let (deploy, ()) = time(|| run(&["redmine", "deploy", "--replicas", "2"]))?;
    t.measured(figures[0], deploy, "s", 1).note(
        "new cluster: images built already, pushed, pulled by the nodes; one Redmine task \
         migrates the new database, then the second starts",
    );
    let redmine = crate::redmine::user_stack(ctx.run, 3000)?;
    let current = super::stack::compose_config(sh, &redmine)?["services"]["redmine"]["image"]
        .as_str()
        .map(str::to_string)
        .context("compose.yaml names no Redmine image")?;
    let label = format!("{LABEL}=image");
    let dockerfile = format!(
        "FROM {current}\nLABEL dockerlab.bench.rolling={}\n",
        std::process::id()
    );
    let build = ["build", "--quiet", "--label", &label, "--tag", ROLLING, "-"];
    Docker::local(sh)
        .cmd(&build)
        .stdin(dockerfile)
        .quiet()
        .ignore_stdout()
        .run()?;
    let url = format!(
        "http://{}:3000/",
        super::local::address(sh, &super::local::node_name(1))?
    );
    let load = Load::start(&url, Duration::from_secs(420));
    let rolled = time(|| run(&["redmine", "deploy", "--redmine-image", ROLLING]));
    let report = load.stop();
    let (rolling, ()) = rolled?;
    t.measured(figures[1], rolling, "s", 1).note(
        "`redmine deploy` of an image that differs by a label: one task at a time, start-first",
    );
    t.measured(figures[2], report.failures.len() as f64, "requests", 1)
        .target(Target::AtMost(0.0))
        .note(format!("{} requests in all", report.requests));
    ensure!(report.requests > 0, "the client sent nothing");
    Ok(())
}
