//! The `answers` group of `cargo xtask test`: every demonstration of answers.md, in order.

use xshell::Shell;

use super::{show, Cleanup, DEMOS};
use crate::harness::Suite;
use crate::{kernel, nginx};

pub fn run(sh: &Shell, suite: &mut Suite) {
    let Some(image) = suite.check("answers: our nginx image builds", || nginx::build(sh)) else {
        return;
    };
    let Some(builder) = suite.check("answers: the kernel builder image builds", || {
        kernel::builder(sh)
    }) else {
        return;
    };
    let _cleanup = Cleanup::new(sh);
    println!("IMAGE={image} BUILDER={builder}");
    // In order: some use the containers an earlier one started.
    for demo in DEMOS {
        suite.check(&format!("answers: {}", demo.claim), || {
            show(demo, &image, &builder)
        });
    }
}
