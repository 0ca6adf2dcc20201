//! The benchmark's table: its rows, the machine it was measured on, and the Markdown and JSON it
//! is written as.

use std::fmt::Write as _;

use serde_json::{json, Map, Value as Json};
use xshell::cmd;

use super::shared::{median, Plan};
use crate::docker::{self, Docker};
use crate::flavour::Flavour;

/// What a figure should be, in its unit. Reported as met or missed, never failed on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Below(f64),
    AtMost(f64),
    Exactly(f64),
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::Below(bound) => value < bound,
            Target::AtMost(bound) => value <= bound,
            Target::Exactly(bound) => (value - bound).abs() < 1e-9,
            Target::AtLeast(bound) => value >= bound,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Target::Below(_) => "<",
            Target::AtMost(_) => "≤",
            Target::Exactly(_) => "=",
            Target::AtLeast(_) => "≥",
        }
    }

    fn bound(self) -> f64 {
        match self {
            Target::Below(bound)
            | Target::AtMost(bound)
            | Target::Exactly(bound)
            | Target::AtLeast(bound) => bound,
        }
    }
}

/// How the reason of a figure left out for want of a tool or resource starts.
pub const MISSING: &str = "no ";

/// One figure: a measured median, or why it was not measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Measured {
        value: f64,
        unit: &'static str,
        runs: usize,
    },
    NotMeasured(String),
}

#[derive(Debug, Clone)]
pub struct Row {
    pub section: String,
    pub figure: String,
    pub value: Value,
    pub target: Option<Target>,
    pub note: String,
}

impl Row {
    /// What the figure should be, in its unit.
    pub fn target(&mut self, target: Target) -> &mut Row {
        self.target = Some(target);
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Row {
        self.note = note.into();
        self
    }

    /// `Some(true)` when the figure meets its target.
    pub fn met(&self) -> Option<bool> {
        let (Value::Measured { value, .. }, Some(target)) = (&self.value, self.target) else {
            return None;
        };
        Some(target.met(*value))
    }
}

/// The rows, in the order they were added; each belongs to the section current when added.
#[derive(Default)]
pub struct Table {
    pub section: String,
    pub rows: Vec<Row>,
}

impl Table {
    fn push(&mut self, figure: String, value: Value) -> &mut Row {
        self.rows.push(Row {
            section: self.section.clone(),
            figure,
            value,
            target: None,
            note: String::new(),
        });
        self.rows.last_mut().expect("just pushed")
    }

    pub fn measured(
        &mut self,
        figure: impl Into<String>,
        value: f64,
        unit: &'static str,
        runs: usize,
    ) -> &mut Row {
        self.push(figure.into(), Value::Measured { value, unit, runs })
    }

    /// The median of the samples (one per run).
    pub fn median(
        &mut self,
        figure: impl Into<String>,
        samples: &[f64],
        unit: &'static str,
    ) -> &mut Row {
        match median(samples) {
            Some(value) => self.measured(figure, value, unit, samples.len()),
            None => self.not_measured(figure, "no run"),
        }
    }

    pub fn not_measured(
        &mut self,
        figure: impl Into<String>,
        reason: impl Into<String>,
    ) -> &mut Row {
        self.push(figure.into(), Value::NotMeasured(reason.into()))
    }

    /// A figure left out for want of a tool or resource: "no WHAT", the only reason a quick run
    /// of `cargo xtask test` accepts ([`super::shape::left_out_for_want`]).
    pub fn missing(&mut self, figure: impl Into<String>, what: impl AsRef<str>) -> &mut Row {
        self.not_measured(figure, format!("{MISSING}{}", what.as_ref()))
    }

    /// The row of that figure.
    pub fn find(&mut self, figure: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|row| row.figure == figure)
    }

    /// Adds to the note of the last row.
    pub fn note_last(&mut self, note: String) {
        if let Some(row) = self.rows.last_mut() {
            row.note = if row.note.is_empty() {
                note
            } else {
                format!("{}; {note}", row.note)
            };
        }
    }
}

/// Where and when the figures were measured.
pub struct Machine {
    date: String,
    cpus: usize,
    cpu: String,
    memory_gib: f64,
    kernel: String,
    docker: String,
    /// The load average over the minute before the run: how busy the shared machine was.
    load: String,
    revision: String,
    flavour: Flavour,
}

impl Machine {
    pub fn here(run: &crate::ctx::Ctx) -> Machine {
        let sh = &run.sh;
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        Machine {
            date: cmd!(sh, "date -u +%Y-%m-%dT%H:%MZ")
                .quiet()
                .read()
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map_or("unknown".into(), |(_, model)| model.trim().to_string()),
            memory_gib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0 / 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            docker: Docker::local(sh)
                .version()
                .unwrap_or_else(|_| "unknown".into()),
            load: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .unwrap_or("unknown")
                .to_string(),
            revision: docker::git_revision(sh),
            flavour: run.flavour,
        }
    }
}

/// `22.4 MB`, `0.93×`, `1520 req/s`, `1 layer(s)`: three significant digits or so.
pub fn number(value: f64) -> String {
    let decimals = match value.abs() {
        v if v >= 100.0 || v.fract() == 0.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$}")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(m: &Machine, plan: Plan, table: &Table) -> String {
    let mut md = String::new();
    let _ =
        writeln!(
        md,
        "Measured {} on {} CPUs ({}), {:.1} GiB of memory, Linux {}, Docker {}, load average {} \
         at the start; revision {}, {} flavour{}.",
        m.date,
        m.cpus,
        m.cpu,
        m.memory_gib,
        m.kernel,
        m.docker,
        m.load,
        m.revision,
        m.flavour.display_name(),
        if plan.quick { ", QUICK run (figures are not representative)" } else { "" },
    );
    let _ = writeln!(
        md,
        "Each figure is the median of its runs (column Runs: {} for most, {} for cold builds and \
         Redmine's starts, {} for invocations); ratios are taken within each round, then their \
         median.\n",
        plan.runs, plan.slow_runs, plan.fast_runs
    );
    md += "| Section | Figure | Median | Runs | Target | Note |\n";
    md += "|---|---|---:|---:|---|---|\n";
    for row in &table.rows {
        let (value, runs) = match &row.value {
            Value::Measured { value, unit, runs } if *unit == "×" => {
                (format!("{}×", number(*value)), runs.to_string())
            }
            Value::Measured { value, unit, runs } => {
                (format!("{} {unit}", number(*value)), runs.to_string())
            }
            Value::NotMeasured(reason) => (format!("not measured: {reason}"), "–".into()),
        };
        let target = match (row.target, &row.value) {
            (Some(target), Value::Measured { unit, .. }) => {
                let verdict = if row.met() == Some(true) {
                    "met"
                } else {
                    "MISSED"
                };
                format!(
                    "{} {} {unit}: {verdict}",
                    target.symbol(),
                    number(target.bound())
                )
            }
            _ => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&row.section),
            cell(&row.figure),
            cell(&value),
            runs,
            cell(&target),
            cell(&row.note)
        );
    }
    md
}

pub fn json(m: &Machine, plan: Plan, table: &Table) -> String {
    let rows: Vec<Json> = table.rows.iter().map(row_json).collect();
    let doc = json!({
        "date": m.date,
        "machine": {
            "cpus": m.cpus,
            "cpu": m.cpu,
            "memory_gib": (m.memory_gib * 10.0).round() / 10.0,
            "kernel": m.kernel,
            "docker": m.docker,
            "load": m.load,
        },
        "revision": m.revision,
        "flavour": m.flavour.display_name(),
        "quick": plan.quick,
        "rows": rows,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value always serializes");
    text.push('\n');
    text
}

fn row_json(row: &Row) -> Json {
    let mut fields = Map::new();
    fields.insert("section".into(), row.section.clone().into());
    fields.insert("figure".into(), row.figure.clone().into());
    match &row.value {
        Value::Measured { value, unit, runs } => {
            fields.insert("value".into(), (*value).into());
            fields.insert("unit".into(), (*unit).into());
            fields.insert("runs".into(), (*runs).into());
        }
        Value::NotMeasured(reason) => {
            fields.insert("value".into(), Json::Null);
            fields.insert("not_measured".into(), reason.clone().into());
        }
    }
    if let Some(target) = row.target {
        let text = format!("{} {}", target.symbol(), target.bound());
        fields.insert("target".into(), text.into());
        if let Some(met) = row.met() {
            fields.insert("met".into(), met.into());
        }
    }
    if !row.note.is_empty() {
        fields.insert("note".into(), row.note.clone().into());
    }
    Json::Object(fields)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::bench::shape::{check_json, check_markdown};

    pub fn sample() -> (Machine, Table) {
        let machine = Machine {
            date: "2026-01-02T03:04Z".into(),
            cpus: 2,
            cpu: "Some \"CPU\"".into(),
            memory_gib: 23.4,
            kernel: "6.1".into(),
            docker: "20.10".into(),
            load: "1.5".into(),
            revision: "abc".into(),
            flavour: Flavour::Offline,
        };
        let mut t = Table {
            section: "Build".into(),
            ..Table::default()
        };
        t.median("warm | rebuild", &[1.0, 3.0, 2.0], "s")
            .target(Target::Below(2.0));
        t.median("ratio", &[0.9], "×")
            .note("a\nb")
            .target(Target::AtMost(1.0));
        t.not_measured("compressed", "no registry");
        (machine, t)
    }

    #[test]
    fn targets_are_met_or_missed() {
        assert!(Target::Below(2.0).met(1.9) && !Target::Below(2.0).met(2.0));
        assert!(Target::AtMost(2.0).met(2.0) && !Target::AtMost(2.0).met(2.1));
        assert!(Target::Exactly(1.0).met(1.0) && !Target::Exactly(1.0).met(2.0));
        assert!(Target::AtLeast(1.6).met(1.6) && !Target::AtLeast(1.6).met(1.5));
    }

    #[test]
    fn markdown_and_json_hold_every_row() {
        let (m, t) = sample();
        let md = markdown(&m, Plan::FULL, &t);
        assert!(md.contains("| Build | warm \\| rebuild | 2 s | 3 | < 2 s: MISSED |  |"));
        assert!(md.contains("| 0.90× | 1 | ≤ 1 ×: met |"));
        assert!(md.contains("| not measured: no registry | – |"));
        assert_eq!(check_markdown(&md).unwrap(), 3);
        let json = json(&m, Plan::FULL, &t);
        assert_eq!(check_json(&json).unwrap(), 3);
        let doc: Json = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["machine"]["cpu"], "Some \"CPU\"");
        assert_eq!(doc["rows"][0]["met"], false);
        assert_eq!(doc["rows"][0]["target"], "< 2");
        assert_eq!(doc["rows"][1]["note"], "a\nb");
        assert_eq!(doc["rows"][2]["not_measured"], "no registry");
    }
}
