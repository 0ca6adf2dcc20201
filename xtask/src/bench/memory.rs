//! A container's memory as `docker stats` counts it (the cgroup's usage minus its inactive page
//! cache), sampled while something runs, to report its peak.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::docker::Container;

/// The memory cgroup files of one container.
pub struct Meter {
    usage: PathBuf,
    stat: PathBuf,
    /// The `memory.stat` key of the inactive page cache: v1 and v2 name it differently.
    inactive: &'static str,
}

impl Meter {
    pub fn of(container: &Container) -> Result<Meter> {
        let pid = container.inspect("{{.State.Pid}}")?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let meter = meter(&text)
            .with_context(|| format!("no memory cgroup in /proc/{pid}/cgroup:\n{text}"))?;
        meter.working_set().with_context(|| {
            format!(
                "reading {} and {}",
                meter.usage.display(),
                meter.stat.display()
            )
        })?;
        Ok(meter)
    }

    /// Bytes in use now, minus the page cache the kernel may reclaim at once.
    pub fn working_set(&self) -> Result<u64> {
        let usage: u64 = std::fs::read_to_string(&self.usage)?.trim().parse()?;
        let stat = std::fs::read_to_string(&self.stat)?;
        let inactive = stat
            .lines()
            .find_map(|line| line.strip_prefix(self.inactive)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or(0);
        Ok(usage.saturating_sub(inactive))
    }
}

/// The meter in a /proc/PID/cgroup text: the v1 `memory` controller's, else the v2 unified one.
fn meter(text: &str) -> Option<Meter> {
    let mut unified = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            let dir = Path::new("/sys/fs/cgroup/memory").join(path);
            return Some(Meter {
                usage: dir.join("memory.usage_in_bytes"),
                stat: dir.join("memory.stat"),
                inactive: "total_inactive_file",
            });
        }
        if controllers.is_empty() {
            let dir = Path::new("/sys/fs/cgroup").join(path);
            unified = Some(Meter {
                usage: dir.join("memory.current"),
                stat: dir.join("memory.stat"),
                inactive: "inactive_file",
            });
        }
    }
    unified
}

/// Runs `f` while sampling every meter every 200 ms; returns what `f` returned and each meter's
/// peak in MB.
pub fn peaks_while<T>(meters: &[Meter], f: impl FnOnce() -> T) -> (T, Vec<f64>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peaks = vec![0u64; meters.len()];
            loop {
                for (peak, meter) in peaks.iter_mut().zip(meters) {
                    if let Ok(bytes) = meter.working_set() {
                        *peak = (*peak).max(bytes);
                    }
                }
                if done.load(Ordering::Relaxed) {
                    break peaks;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let value = f();
        done.store(true, Ordering::Relaxed);
        let peaks = sampler.join().expect("the sampler does not panic");
        (value, peaks.into_iter().map(|b| b as f64 / 1e6).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_memory_cgroup() {
        let v1 = meter("12:pids:/docker/abc\n9:memory:/docker/abc\n0::/\n").unwrap();
        assert_eq!(
            v1.usage,
            Path::new("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes")
        );
        assert_eq!(v1.inactive, "total_inactive_file");
        let v2 = meter("0::/system.slice/docker-abc.scope\n").unwrap();
        assert_eq!(
            v2.stat,
            Path::new("/sys/fs/cgroup/system.slice/docker-abc.scope/memory.stat")
        );
        assert_eq!(v2.inactive, "inactive_file");
        assert!(meter("4:cpu:/docker/abc\n").is_none());
    }

    #[test]
    fn working_set_leaves_out_the_inactive_cache() {
        let dir = crate::scratch::Scratch::temp("meter").unwrap();
        std::fs::write(dir.join("usage"), "1000\n").unwrap();
        std::fs::write(
            dir.join("stat"),
            "inactive_file 1\ntotal_inactive_file 300\ntotal_rss 5\n",
        )
        .unwrap();
        let meter = Meter {
            usage: dir.join("usage"),
            stat: dir.join("stat"),
            inactive: "total_inactive_file",
        };
        assert_eq!(meter.working_set().unwrap(), 700);
    }
}
