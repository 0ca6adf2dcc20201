//! The `answers` group of `cargo xtask test`: every demonstration of answers.md, in order, each
//! with its facts and the comparison with its quote.

use super::demos::DEMOS;
use super::quoted::{self, Doc, Quote};
use super::{per_demo, same_commands, Session};
use crate::ctx::Ctx;
use crate::harness::Suite;

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let Some(quotes) = suite.check("answers: the texts quote the demonstrated commands", || {
        let quotes = Doc::ALL
            .iter()
            .map(|doc| Ok(quoted::quotes(&doc.read()?)))
            .collect::<anyhow::Result<Vec<Vec<Quote>>>>()?;
        same_commands(&quotes)?;
        Ok(quotes)
    }) else {
        return;
    };
    let Some(session) = suite.check("answers: the images build, a registry starts", || {
        Session::start(ctx)
    }) else {
        return;
    };
    println!("{}", session.shown());
    // In order: some use the containers an earlier one started.
    for (demo, mine) in DEMOS.iter().zip(per_demo(&quotes)) {
        suite.check(&format!("answers: {}", demo.claim), || {
            session.show(demo, mine, true).result
        });
    }
}
