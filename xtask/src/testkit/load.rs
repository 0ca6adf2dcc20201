//! A client that keeps requesting one page while the checks change the cluster under it: bounded
//! in requests and in time, it stops by itself, and it reports every failure with its moment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http;

/// At most this many requests, whatever happens.
const MAX_REQUESTS: usize = 6000;
/// Pause between two requests.
const EVERY: Duration = Duration::from_millis(100);

pub struct Load {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Report>,
}

/// What the client saw.
#[derive(Debug, Default)]
pub struct Report {
    pub requests: usize,
    /// Each failed request: when (from the start) and what.
    pub failures: Vec<(Duration, String)>,
    pub took: Duration,
}

impl Report {
    /// From the first failed request to the end of the last one (zero without failures).
    pub fn error_window(&self) -> Duration {
        match (self.failures.first(), self.failures.last()) {
            (Some((first, _)), Some((last, _))) => *last - *first,
            _ => Duration::ZERO,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} requests in {:.1} s, {} failed, error window {:.1} s{}",
            self.requests,
            self.took.as_secs_f64(),
            self.failures.len(),
            self.error_window().as_secs_f64(),
            self.failures
                .first()
                .map(|(at, what)| format!(" (first at {:.1} s: {what})", at.as_secs_f64()))
                .unwrap_or_default()
        )
    }
}

impl Load {
    /// Starts requesting `url` (an address on this machine or on the cluster network) every
    /// 100 ms, for at most `limit`.
    pub fn start(url: &str, limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let url = url.to_string();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            let mut report = Report::default();
            while !flag.load(Ordering::Relaxed)
                && report.requests < MAX_REQUESTS
                && start.elapsed() < limit
            {
                let sent = start.elapsed();
                report.requests += 1;
                match http::get(&url) {
                    Ok(resp) if resp.status == 200 => {}
                    Ok(resp) => report
                        .failures
                        .push((sent, format!("status {}", resp.status))),
                    Err(err) => report.failures.push((sent, format!("{err:#}"))),
                }
                std::thread::sleep(EVERY);
            }
            report.took = start.elapsed();
            report
        });
        Load { stop, handle }
    }

    pub fn stop(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
