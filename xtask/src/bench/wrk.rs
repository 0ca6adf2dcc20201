//! wrk: running a bounded load on one URL and reading its report.

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

/// What one wrk run reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wrk {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers in all, and those that were not 2xx or 3xx.
    pub requests: u64,
    pub errors: u64,
}

impl Wrk {
    /// Only a load that completed requests, with at most `percent` % of error answers: figures of
    /// error pages are not figures of our pages.
    pub fn within(self, percent: u64) -> Result<Wrk> {
        ensure!(self.requests > 0, "no request completed");
        ensure!(
            self.errors * 100 <= self.requests * percent,
            "{} of {} answers were errors (more than {percent} %): the figures would not be of \
             our page",
            self.errors,
            self.requests
        );
        Ok(self)
    }
}

/// A wrk load: threads, open connections (concurrent clients), seconds, and headers sent with
/// every request (a session cookie).
#[derive(Clone, Debug)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub secs: u32,
    /// A request not answered within this many seconds counts as a timeout.
    pub timeout_secs: u32,
    pub headers: Vec<String>,
}

impl Load {
    /// The load on nginx: 2 threads, 32 connections.
    pub fn nginx(secs: u32) -> Load {
        Load {
            threads: 2,
            connections: 32,
            secs,
            timeout_secs: 2,
            headers: Vec::new(),
        }
    }

    /// `clients` users at once (one thread each, at most 2: the machine's cores), of a slow
    /// application: 10 s before a request counts as a timeout.
    pub fn clients(clients: u32, secs: u32) -> Load {
        Load {
            threads: clients.clamp(1, 2),
            connections: clients,
            secs,
            timeout_secs: 10,
            headers: Vec::new(),
        }
    }

    /// How the table's notes describe it: `wrk -t2 -c32 -d5s`.
    pub fn describe(&self) -> String {
        format!(
            "wrk -t{} -c{} -d{}s",
            self.threads, self.connections, self.secs
        )
    }

    /// Runs it on `url`, bounded in time (`timeout`).
    pub fn run(&self, sh: &Shell, url: &str) -> Result<Wrk> {
        let threads = self.threads.to_string();
        let connections = self.connections.to_string();
        let duration = format!("{}s", self.secs);
        let timeout = format!("{}s", self.timeout_secs);
        let limit = (self.secs + 30).to_string();
        let headers = self.headers.iter().flat_map(|h| ["--header", h.as_str()]);
        let run = cmd!(sh, "timeout {limit} wrk --threads {threads} --connections {connections} --duration {duration} --timeout {timeout} --latency {headers...} {url}")
            .ignore_status()
            .output()
            .context("running wrk (Debian: apt-get install wrk)")?;
        let out = String::from_utf8_lossy(&run.stdout);
        if !run.status.success() {
            // wrk says why on either stream: "unable to connect to …" when the server is gone.
            let said = String::from_utf8_lossy(&run.stderr);
            let said = said
                .lines()
                .chain(out.lines())
                .find(|l| !l.trim().is_empty());
            bail!(
                "wrk on {url} failed ({}): {}",
                run.status,
                said.unwrap_or("it said nothing").trim()
            );
        }
        parse(&out).with_context(|| format!("wrk's report on {url}:\n{out}"))
    }
}

/// Reads requests/s, the 50 % / 99 % latencies and the count of error answers out of `wrk
/// --latency`'s report.
fn parse(out: &str) -> Result<Wrk> {
    let field = |label: &str| -> Result<&str> {
        out.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .map(str::trim)
            .with_context(|| format!("no {label:?} line"))
    };
    let rps = field("Requests/sec:")?.parse::<f64>()?;
    ensure!(rps > 0.0, "no requests were answered");
    // "122819 requests in 5.00s, 394.01MB read"
    let requests = out
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .context("no \"requests in\" line")?;
    let errors = field("Non-2xx or 3xx responses:").map_or(Ok(0), str::parse)?;
    Ok(Wrk {
        rps,
        p50_ms: millis(field("50%")?)?,
        p99_ms: millis(field("99%")?)?,
        requests,
        errors,
    })
}

/// wrk's durations (`870.00us`, `1.23ms`, `2.00s`) in milliseconds.
fn millis(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("bad number in {text:?}"))?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        _ => bail!("unknown unit in {text:?}"),
    };
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 5s test @ http://127.0.0.1:41234/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.37ms    1.02ms  21.53ms   91.84%
    Req/Sec    12.34k     1.10k   14.02k    71.00%
  Latency Distribution
     50%  870.00us
     75%    1.52ms
     90%    2.10ms
     99%    5.31ms
  122819 requests in 5.00s, 394.01MB read
Requests/sec:  24563.80
Transfer/sec:     78.80MB
";

    #[test]
    fn parses_wrk_report() {
        let w = parse(WRK).unwrap();
        assert_eq!(w.rps, 24563.80);
        assert_eq!((w.requests, w.errors), (122819, 0));
        assert!((w.p50_ms - 0.87).abs() < 1e-9);
        assert!((w.p99_ms - 5.31).abs() < 1e-9);
    }

    #[test]
    fn counts_error_answers_and_rejects_reports_of_nothing() {
        let errors = WRK.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        let w = parse(&errors).unwrap();
        assert_eq!((w.requests, w.errors), (122819, 12));
        // 12 of 122819 is 0.01 %: none allowed fails, 1 % allowed passes.
        assert!(w.within(0).is_err());
        assert!(w.within(1).is_ok());
        let many = Wrk { errors: 1229, ..w };
        assert!(many.within(1).is_err());
        let none = Wrk { requests: 0, ..w };
        assert!(none.within(1).is_err());
        assert!(parse(WRK).unwrap().within(0).is_ok());
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_err());
        assert!(parse(&WRK.replace("24563.80", "0.00")).is_err());
    }

    #[test]
    fn converts_wrk_durations() {
        assert_eq!(millis("870.00us").unwrap(), 0.87);
        assert_eq!(millis("1.5ms").unwrap(), 1.5);
        assert_eq!(millis("2.00s").unwrap(), 2000.0);
        assert!(millis("12").is_err());
        assert!(millis("1.0h").is_err());
    }

    #[test]
    fn describes_loads() {
        assert_eq!(Load::nginx(5).describe(), "wrk -t2 -c32 -d5s");
        assert_eq!(Load::clients(1, 8).describe(), "wrk -t1 -c1 -d8s");
        assert_eq!(Load::clients(8, 8).describe(), "wrk -t2 -c8 -d8s");
    }
}
