//! The checks of `cargo xtask test` for `cargo xtask bench` (group `bench`): one quick run, and
//! its outputs are complete.

use anyhow::ensure;

use super::shape::{check_json, check_markdown, full_run_measured, left_out_for_want};
use super::{Bench, SECTIONS};
use crate::ctx::Ctx;
use crate::docker;
use crate::harness::Suite;

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let dir = docker::project_root().join("target/bench");
    let sections: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
    let _ = suite.check(
        "bench: the last full run, in docs/bench.md, measured every section",
        || {
            let md = std::fs::read_to_string(docker::project_root().join("docs/bench.md"))?;
            full_run_measured(&md, &sections)
        },
    );
    let ran = suite.check(
        "bench: a quick run measures every section, leaving figures out only for want of a tool \
         or resource",
        || {
            for file in ["bench.md", "bench.json"] {
                let _ = std::fs::remove_file(dir.join(file));
            }
            Bench {
                quick: true,
                write_docs: false,
                only: None,
            }
            .run(ctx)?;
            let json = std::fs::read_to_string(dir.join("bench.json"))?;
            left_out_for_want(&json, &sections)
        },
    );
    let rows = suite.after(
        ran,
        "bench: bench.md has a number or a reason in every row",
        |()| check_markdown(&std::fs::read_to_string(dir.join("bench.md"))?),
    );
    let _ = suite.after(
        rows,
        "bench: bench.json is well-formed, with the same rows",
        |rows| {
            let json_rows = check_json(&std::fs::read_to_string(dir.join("bench.json"))?)?;
            ensure!(
                json_rows == rows,
                "{json_rows} rows in JSON, {rows} in Markdown"
            );
            Ok(())
        },
    );
}
