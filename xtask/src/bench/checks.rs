//! The checks of `cargo xtask test` for `cargo xtask bench` (group `bench`): one quick run, and
//! its outputs are complete.

use anyhow::ensure;
use xshell::Shell;

use super::shape::{check_json, check_markdown};
use super::Bench;
use crate::docker;
use crate::harness::Suite;

pub fn run(sh: &Shell, suite: &mut Suite) {
    let dir = docker::project_root().join("target/bench");
    let ran = suite.check("bench: a quick run measures every section", || {
        for file in ["bench.md", "bench.json"] {
            let _ = std::fs::remove_file(dir.join(file));
        }
        Bench {
            quick: true,
            write_docs: false,
            only: None,
        }
        .run(sh)
    });
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
