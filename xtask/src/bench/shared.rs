//! What the sections of the benchmark share: the plan of runs, the context they measure with,
//! the prefix of what they create, and the measuring helpers.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use xshell::Shell;

use crate::docker::Docker;

/// Prefix of every container and image the benchmark creates.
pub const PREFIX: &str = "dockerlab-bench";

/// How many runs each kind of figure gets, and how long the load lasts.
#[derive(Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    /// Runs of most figures: their median is reported.
    pub runs: usize,
    /// Runs of the slow figures (cold builds, Redmine's starts: seconds to tens of seconds each).
    pub slow_runs: usize,
    /// Runs of the figures of a few milliseconds (invocations).
    pub fast_runs: usize,
    /// Seconds of each wrk load.
    pub load_secs: u32,
}

impl Plan {
    pub const FULL: Plan = Plan {
        quick: false,
        runs: 5,
        slow_runs: 3,
        fast_runs: 20,
        load_secs: 5,
    };
    pub const QUICK: Plan = Plan {
        quick: true,
        runs: 1,
        slow_runs: 1,
        fast_runs: 3,
        load_secs: 1,
    };
}

/// What every section measures with.
pub struct Ctx<'a> {
    /// The run's choices: its shell and flavour.
    pub run: &'a crate::ctx::Ctx,
    pub plan: Plan,
    /// target/bench: the outputs and the scratch space.
    pub dir: PathBuf,
    /// Id of our nginx image, just built (the tag is shared with other checkouts).
    pub image: String,
}

/// How a serving container is, and its log's last lines (its last errors, when it logged any):
/// what a failed load shows.
pub fn server_state(container: &crate::docker::Container) -> String {
    let state = match container.info() {
        Ok(info) => format!(
            "{} {}, OOM-killed: {}, restarted {} times",
            info.state.status, info.state.exit_code, info.state.oom_killed, info.restart_count
        ),
        Err(err) => format!("no state: {err:#}"),
    };
    let logs = container.logs_tail(500);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("Completed 4") || l.contains("Completed 5") || l.contains("rror"))
        .collect();
    let (what, shown) = if errors.is_empty() {
        ("lines", &lines)
    } else {
        ("errors", &errors)
    };
    format!(
        "{} {state}; its log's last {what}: {}",
        container.name,
        shown[shown.len().saturating_sub(3)..].join(" | ")
    )
}

/// Runs `f`, returning how long it took in seconds.
pub fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed().as_secs_f64(), value))
}

/// The median of the samples (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The uncompressed size of an image in MB.
pub fn image_mb(sh: &Shell, image: &str) -> Result<f64> {
    Ok(Docker::local(sh).image(image)?.size as f64 / 1e6)
}

/// Removes an image the benchmark created (never forced: a tag or container of someone else
/// keeps it).
pub fn remove_image(sh: &Shell, image: &str) {
    Docker::local(sh).remove_image(image);
}

/// The layer digests of an image, bottom first.
pub fn layers(sh: &Shell, image: &str) -> Result<Vec<String>> {
    Ok(Docker::local(sh).image(image)?.root_fs.layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }
}
