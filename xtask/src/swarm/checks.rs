//! The `swarm` test group.

use xshell::Shell;

use crate::harness::Suite;

pub fn run(_sh: &Shell, _suite: &mut Suite) {}
