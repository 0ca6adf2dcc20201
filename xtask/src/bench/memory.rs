//! A container's memory as `docker stats` counts it (the cgroup's usage minus its inactive page
//! cache), sampled while something runs, to report its peak.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use super::cgroup::{self, Cgroup};
use crate::docker::Container;

/// The memory cgroup files of one container.
pub struct Meter {
    usage: PathBuf,
    stat: PathBuf,
    /// The `memory.stat` keys of the inactive page cache and of anonymous memory (the processes'
    /// own): v1 and v2 name them differently.
    inactive: &'static str,
    anon: &'static str,
}

/// One sample, in bytes.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Sample {
    /// Usage minus the inactive page cache: what `docker stats` shows.
    pub working_set: u64,
    /// The processes' anonymous memory (heaps, stacks), without any page cache.
    pub anon: u64,
}

impl Meter {
    pub fn of(container: &Container) -> Result<Meter> {
        let pid = container.inspect("{{.State.Pid}}")?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let meter = meter(&text)
            .with_context(|| format!("no memory cgroup in /proc/{pid}/cgroup:\n{text}"))?;
        meter.sample().with_context(|| {
            format!(
                "reading {} and {}",
                meter.usage.display(),
                meter.stat.display()
            )
        })?;
        Ok(meter)
    }

    /// Bytes in use now.
    pub fn sample(&self) -> Result<Sample> {
        let usage: u64 = std::fs::read_to_string(&self.usage)?.trim().parse()?;
        let stat = std::fs::read_to_string(&self.stat)?;
        let field = |key: &str| {
            stat.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Sample {
            working_set: usage.saturating_sub(field(self.inactive)),
            anon: field(self.anon),
        })
    }
}

/// The meter in a /proc/PID/cgroup text: the v1 `memory` controller's, else the v2 unified one.
fn meter(text: &str) -> Option<Meter> {
    Some(match cgroup::of(text, "memory")? {
        Cgroup::V1(dir) => Meter {
            usage: dir.join("memory.usage_in_bytes"),
            stat: dir.join("memory.stat"),
            inactive: "total_inactive_file",
            anon: "total_rss",
        },
        Cgroup::V2(dir) => Meter {
            usage: dir.join("memory.current"),
            stat: dir.join("memory.stat"),
            inactive: "inactive_file",
            anon: "anon",
        },
    })
}

/// Runs `f` while sampling every meter every 200 ms; returns what `f` returned and each meter's
/// peaks.
pub fn peaks_while<T>(meters: &[Meter], f: impl FnOnce() -> T) -> (T, Vec<Sample>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peaks = vec![Sample::default(); meters.len()];
            loop {
                for (peak, meter) in peaks.iter_mut().zip(meters) {
                    if let Ok(now) = meter.sample() {
                        peak.working_set = peak.working_set.max(now.working_set);
                        peak.anon = peak.anon.max(now.anon);
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
        (value, peaks)
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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
    fn samples_leave_out_the_inactive_cache() {
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
            anon: "total_rss",
        };
        let sample = meter.sample().unwrap();
        assert_eq!(sample.working_set, 700);
        assert_eq!(sample.anon, 5);
    }
}
