//! `cargo xtask bench`: what people choose images by (size, build speed, start-up, throughput),
//! measured against references and written as a table to target/bench/bench.md and bench.json
//! (and, with `--write-docs`, into docs/bench.md).
//!
//! The machines are shared and noisy: every figure is the median of several runs, and every
//! comparison is a ratio of two figures measured in the same round. It is a benchmark, not a
//! test: targets are reported as met or missed, never failed on.
//!
//! One file per section of the table; `report.rs` writes and checks the table, `checks.rs` holds
//! the checks `cargo xtask test` runs (group `bench`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::docker;
use crate::nginx;

mod build;
mod cgroup;
pub mod checks;
mod docs;
mod fixtures;
mod host_nginx;
mod memory;
mod plain;
mod redmine;
mod report;
mod serving;
mod shape;
mod size;
mod startup;
mod swarm;
mod throughput;
mod wrk;
mod xtask;

use report::{Machine, Table};

/// Measure image size, build speed, start-up and throughput against their references, and
/// write the table to target/bench/ (bench.md, bench.json).
#[derive(Args)]
pub struct Bench {
    /// Fewer runs and a shorter load: only checks that the benchmark still works.
    #[arg(long)]
    quick: bool,
    /// Also write the table into docs/bench.md, between its `bench table` markers.
    #[arg(long, conflicts_with = "only")]
    write_docs: bool,
    /// Run only the sections whose name contains this text (image, build, start-up, throughput,
    /// xtask, redmine, serving).
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
}

/// Prefix of every container and image the benchmark creates.
const PREFIX: &str = "dockerlab-bench";

impl Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        docker::engine(sh)?;
        let plan = if self.quick { Plan::QUICK } else { Plan::FULL };
        measure(sh, plan, self.only.as_deref(), self.write_docs)
    }
}

/// How many runs each kind of figure gets, and how long the load lasts.
#[derive(Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    /// Runs of most figures: their median is reported.
    pub runs: usize,
    /// Runs of the slow figures (cold builds, Redmine's starts: seconds to tens of seconds each).
    pub slow_runs: usize,
    /// Runs of the figures of a few milliseconds (invocations).
    pub fast_runs: usize,
    /// Seconds of each wrk load.
    pub load_secs: u32,
}

impl Plan {
    const FULL: Plan = Plan {
        quick: false,
        runs: 5,
        slow_runs: 3,
        fast_runs: 20,
        load_secs: 5,
    };
    const QUICK: Plan = Plan {
        quick: true,
        runs: 1,
        slow_runs: 1,
        fast_runs: 3,
        load_secs: 1,
    };
}

/// What every section measures with.
pub struct Ctx<'a> {
    pub sh: &'a Shell,
    pub plan: Plan,
    /// target/bench: the outputs and the scratch space.
    pub dir: PathBuf,
    /// Id of our nginx image, just built (the tag is shared with other checkouts).
    pub image: String,
}

/// A section of the table: it adds its rows, or fails (the rest of the sections still run).
type Section = (&'static str, fn(&Ctx, &mut Table) -> Result<()>);

/// The sections of the table, in order.
const SECTIONS: &[Section] = &[
    ("Image size", size::run),
    ("Build", build::run),
    ("Start-up", startup::run),
    ("Throughput", throughput::run),
    ("xtask", xtask::run),
    ("Redmine", redmine::run),
    ("Redmine serving", serving::run),
    ("Swarm", swarm::run),
];

fn measure(sh: &Shell, plan: Plan, only: Option<&str>, write_docs: bool) -> Result<()> {
    let dir = docker::project_root().join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tag = nginx::build(sh)?;
    let image = docker::image_id(sh, &tag)?;
    let ctx = Ctx {
        sh,
        plan,
        dir,
        image,
    };
    let machine = Machine::here(sh);
    let mut table = Table::default();
    let mut failed = Vec::new();
    let selected = SECTIONS.iter().filter(|(name, _)| {
        only.is_none_or(|only| name.to_lowercase().contains(&only.to_lowercase()))
    });
    for (name, section) in selected {
        println!("== bench: {name}");
        table.section = name.to_string();
        if let Err(err) = section(&ctx, &mut table) {
            table.not_measured(
                format!("{name}: the rest of the section"),
                format!("it failed: {err:#}"),
            );
            failed.push(*name);
        }
    }
    let md = report::markdown(&machine, plan, &table);
    let md_path = ctx.dir.join("bench.md");
    let json_path = ctx.dir.join("bench.json");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&json_path, report::json(&machine, plan, &table))
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!(
        "\n{md}\nwritten to {} and {}",
        md_path.display(),
        json_path.display()
    );
    if write_docs {
        let docs = docs::write_docs(&md)?;
        println!("and into {}", docs.display());
    }
    if !failed.is_empty() {
        bail!(
            "these sections failed (their error is in the table): {}",
            failed.join(", ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers the sections share.

/// How a serving container is (`exited 137, OOM-killed: true, restarted 0 times`) and the last
/// lines of its log (its last errors where it logged any): what a failed load shows.
fn server_state(container: &docker::Container) -> String {
    let format = "{{.State.Status}} {{.State.ExitCode}}, OOM-killed: {{.State.OOMKilled}}, \
                  restarted {{.RestartCount}} times";
    let state = container
        .inspect(format)
        .unwrap_or_else(|e| format!("no state: {e}"));
    let logs = duct::cmd!("docker", "logs", "--tail", "500", &container.name)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("Completed 4") || l.contains("Completed 5") || l.contains("rror"))
        .collect();
    let (what, shown) = if errors.is_empty() {
        ("lines", &lines)
    } else {
        ("errors", &errors)
    };
    format!(
        "{} {state}; its log's last {what}: {}",
        container.name,
        shown[shown.len().saturating_sub(3)..].join(" | ")
    )
}

/// Runs `f`, returning how long it took in seconds.
fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed().as_secs_f64(), value))
}

/// The median of the samples (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The uncompressed size of an image in MB.
fn image_mb(sh: &Shell, image: &str) -> Result<f64> {
    let bytes = docker::image_inspect(sh, image, "{{.Size}}")?;
    Ok(bytes.trim().parse::<f64>()? / 1e6)
}

/// Removes an image the benchmark created (never forced: a tag or container of someone else
/// keeps it).
fn remove_image(sh: &Shell, image: &str) {
    let _ = cmd!(sh, "docker image rm {image}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run();
}

/// The layer digests of an image, bottom first.
fn layers(sh: &Shell, image: &str) -> Result<Vec<String>> {
    let json = docker::image_inspect(sh, image, "{{json .RootFS.Layers}}")?;
    let layers: Vec<serde_json::Value> = serde_json::from_str(&json)
        .with_context(|| format!("the layers of {image} are not a JSON list: {json}"))?;
    layers
        .iter()
        .map(|layer| layer.as_str().map(String::from))
        .collect::<Option<_>>()
        .with_context(|| format!("a layer of {image} is not a digest: {json}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }
}
