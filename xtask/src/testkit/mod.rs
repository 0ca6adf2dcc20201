//! What the checks (and the benchmark, which drives the same clients) use and no user command
//! does: the browser and Redmine API driver, a load client, and the lookup of a Swarm
//! service's tasks. (The scratch registry is not here: `cargo xtask answers` runs one.) Commands never reach it (tidy: `commands_never_reach_the_test_side`).

pub mod load;
pub mod tasks;
pub mod web;
