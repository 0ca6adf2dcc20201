//! The `answers` group of `cargo xtask test`: every demonstration of answers.md, in order.

use xshell::Shell;

use super::{show, Cleanup, Vars, DEMOS};
use crate::harness::Suite;
use crate::{kernel, nginx};

pub fn run(sh: &Shell, suite: &mut Suite) {
    let Some(image) = suite.check("answers: our nginx image builds", || nginx::build(sh)) else {
        return;
    };
    // The kernel builder image, and what it built (User-mode Linux runs in a demonstration).
    let Some(built) = suite.check("answers: the kernel builds in its builder image", || {
        kernel::build(sh, false)
    }) else {
        return;
    };
    let vars = Vars::new(image, &built);
    let _cleanup = Cleanup::new(sh);
    println!("{}", vars.shown());
    // In order: some use the containers an earlier one started.
    for demo in DEMOS {
        suite.check(&format!("answers: {}", demo.claim), || show(demo, &vars));
    }
}
