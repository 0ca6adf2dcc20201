//! The `answers` group of `cargo xtask test`: every demonstration of answers.md, in order, each
//! with its facts and the comparison with its quote.

use super::demos::DEMOS;
use super::quoted::{self, Doc, Quote};
use super::{per_demo, same_commands, Session};
use crate::ctx::Ctx;
use crate::harness::Suite;

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let quotes = suite.check("answers: the texts quote the demonstrated commands", || {
        let quotes = Doc::ALL
            .iter()
            .map(|doc| Ok(quoted::quotes(&doc.read()?)))
            .collect::<anyhow::Result<Vec<Vec<Quote>>>>()?;
        same_commands(&quotes)?;
        Ok(quotes)
    });
    let session = suite.after(
        quotes.as_ref(),
        "answers: the images build, a registry starts",
        |_| Session::start(ctx),
    );
    if let Some(session) = session.as_ref().ok() {
        println!("{}", session.shown());
    }
    let mine = quotes.as_ref().ok().map(|quotes| per_demo(quotes));
    // In order: some use the containers an earlier one started.
    for (at, demo) in DEMOS.iter().enumerate() {
        let mine = mine.as_ref().map_or(&[][..], |mine| mine[at]);
        let _ = suite.after(
            session.as_ref(),
            &format!("answers: {}", demo.claim),
            |session| session.show(demo, mine, true).result,
        );
    }
}
