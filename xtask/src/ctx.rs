//! What a run of `cargo xtask` chose once, in `main`, and hands down to every command and check:
//! the shell (at the project root), the flavour and `--verbose`.

use anyhow::{Context, Result};
use xshell::{cmd, Cmd, Shell};

use crate::flavour::{Flavour, FLAVOUR_VAR};
use crate::progress::VERBOSE_VAR;

/// The run-wide choices, passed down as a value (never read back from the environment).
pub struct Ctx {
    /// At the project root, whatever directory `cargo xtask` was started from.
    pub sh: Shell,
    pub flavour: Flavour,
    /// Show the inside of every long step as it happens.
    pub verbose: bool,
}

impl Ctx {
    /// This very xtask binary (not cargo again) with `args`, as a child that runs with the same
    /// flavour and `--verbose`: the one place they go into an environment.
    pub fn xtask<'a>(&'a self, args: &[&str]) -> Result<Cmd<'a>> {
        let exe = std::env::current_exe().context("finding the xtask binary")?;
        let sh = &self.sh;
        let verbose = if self.verbose { "1" } else { "0" };
        Ok(cmd!(sh, "{exe} {args...}")
            .env(FLAVOUR_VAR, self.flavour.name())
            .env(VERBOSE_VAR, verbose))
    }
}
