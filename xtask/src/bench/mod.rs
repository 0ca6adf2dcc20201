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

use anyhow::{bail, Context, Result};
use clap::Args;

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
pub mod report;
mod serving;
mod shape;
pub mod shared;
mod size;
mod startup;
mod throughput;
mod wrk;
mod xtask;

use report::{Machine, Table};
use shared::{Ctx, Plan};

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

impl Bench {
    pub fn run(self, run: &crate::ctx::Ctx) -> Result<()> {
        docker::engine(&run.sh)?;
        let plan = if self.quick { Plan::QUICK } else { Plan::FULL };
        measure(run, plan, self.only.as_deref(), self.write_docs)
    }
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
    ("Swarm", crate::swarm::bench::run),
];

fn measure(run: &crate::ctx::Ctx, plan: Plan, only: Option<&str>, write_docs: bool) -> Result<()> {
    let dir = docker::project_root().join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let sh = &run.sh;
    let tag = nginx::build(run)?;
    let image = docker::image_id(sh, &tag)?;
    let ctx = Ctx {
        run,
        plan,
        dir,
        image,
    };
    let machine = Machine::here(run);
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
