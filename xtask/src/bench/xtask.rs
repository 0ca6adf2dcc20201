//! The xtask itself: its cold compile and the cost of an invocation that does nothing.

use anyhow::Result;
use xshell::cmd;

use super::report::Table;
use super::shared::{time, Ctx};

/// The xtask itself: cold compile and the cost of an invocation that does nothing.
pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let target = ctx.dir.join("xtask-cold");
    let mut secs = Vec::new();
    for _ in 0..ctx.plan.slow_runs {
        let _ = std::fs::remove_dir_all(&target);
        let build = cmd!(sh, "cargo build --quiet --locked --package xtask")
            .env("CARGO_TARGET_DIR", &target);
        secs.push(time(|| build.run().map_err(Into::into))?.0);
    }
    let _ = std::fs::remove_dir_all(&target);
    t.median(
        "cold compile of the xtask crate (dependencies cached)",
        &secs,
        "s",
    )
    .note("`cargo build -p xtask` into an empty target directory");

    let exe = std::env::current_exe()?;
    let mut ms = Vec::new();
    for _ in 0..ctx.plan.fast_runs {
        let help = cmd!(sh, "{exe} --help").quiet().ignore_stdout();
        ms.push(time(|| help.run().map_err(Into::into))?.0 * 1e3);
    }
    t.median("no-op invocation: the binary, `--help`", &ms, "ms");
    let mut ms = Vec::new();
    for _ in 0..ctx.plan.fast_runs.div_ceil(4) {
        let help = cmd!(sh, "cargo xtask --help").quiet().ignore_stdout();
        ms.push(time(|| help.run().map_err(Into::into))?.0 * 1e3);
    }
    t.median("no-op invocation: `cargo xtask --help`", &ms, "ms")
        .note("adds cargo's start and freshness check");
    Ok(())
}
