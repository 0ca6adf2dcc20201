//! The checks of `cargo xtask test` for `cargo xtask bench` (group `bench`): one quick run, and
//! its outputs are complete.

use anyhow::ensure;

use super::shape::{check_json, check_markdown};
use super::Bench;
use crate::ctx::Ctx;
use crate::docker;
use crate::harness::Suite;

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let dir = docker::project_root().join("target/bench");
    if suite
        .check("bench: a quick run measures every section", || {
            for file in ["bench.md", "bench.json"] {
                let _ = std::fs::remove_file(dir.join(file));
            }
            Bench {
                quick: true,
                write_docs: false,
                only: None,
            }
            .run(ctx)
        })
        .is_none()
    {
        return;
    }
    let Some(rows) = suite.check(
        "bench: bench.md has a number or a reason in every row",
        || check_markdown(&std::fs::read_to_string(dir.join("bench.md"))?),
    ) else {
        return;
    };
    suite.check(
        "bench: bench.json is well-formed, with the same rows",
        || {
            let json_rows = check_json(&std::fs::read_to_string(dir.join("bench.json"))?)?;
            ensure!(
                json_rows == rows,
                "{json_rows} rows in JSON, {rows} in Markdown"
            );
            Ok(())
        },
    );
}
