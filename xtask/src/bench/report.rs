//! The benchmark's table: its rows, the machine it was measured on, the Markdown and JSON it is
//! written as, and the checks that a written table is complete.

use std::fmt::Write as _;

use anyhow::{bail, ensure, Result};
use xshell::{cmd, Shell};

use super::{median, name, Plan};
use crate::docker::{self, Flavour};

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
    /// `("<", 2.0)`: the figure should be below 2 (in its unit).
    pub target: Option<(&'static str, f64)>,
    pub note: String,
}

impl Row {
    /// Target: `op` (`<`, `≤` or `=`) `bound`, in the figure's unit.
    pub fn target(&mut self, op: &'static str, bound: f64) -> &mut Row {
        self.target = Some((op, bound));
        self
    }

    pub fn below(&mut self, max: f64) -> &mut Row {
        self.target("<", max)
    }

    pub fn exactly(&mut self, value: f64) -> &mut Row {
        self.target("=", value)
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Row {
        self.note = note.into();
        self
    }

    /// `Some(true)` when the figure meets its target.
    pub fn met(&self) -> Option<bool> {
        let (Value::Measured { value, .. }, Some((op, bound))) = (&self.value, self.target) else {
            return None;
        };
        Some(match op {
            "<" => *value < bound,
            "≤" => *value <= bound,
            _ => (*value - bound).abs() < 1e-9,
        })
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
    pub fn here(sh: &Shell) -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let format = "{{.Server.Version}}";
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
            docker: cmd!(sh, "docker version --format {format}")
                .quiet()
                .read()
                .unwrap_or_else(|_| "unknown".into()),
            load: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .unwrap_or("unknown")
                .to_string(),
            revision: docker::git_revision(sh),
            flavour: Flavour::of(sh),
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
        name(m.flavour),
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
            (Some((op, bound)), Value::Measured { unit, .. }) => {
                let verdict = if row.met() == Some(true) {
                    "met"
                } else {
                    "MISSED"
                };
                format!("{op} {} {unit}: {verdict}", number(bound))
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

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out + "\""
}

pub fn json(m: &Machine, plan: Plan, table: &Table) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"date\": {},", quote(&m.date));
    let _ = writeln!(
        out,
        "  \"machine\": {{\"cpus\": {}, \"cpu\": {}, \"memory_gib\": {:.1}, \"kernel\": {}, \"docker\": {}, \"load\": {}}},",
        m.cpus,
        quote(&m.cpu),
        m.memory_gib,
        quote(&m.kernel),
        quote(&m.docker),
        quote(&m.load)
    );
    let _ = writeln!(out, "  \"revision\": {},", quote(&m.revision));
    let _ = writeln!(out, "  \"flavour\": {},", quote(name(m.flavour)));
    let _ = writeln!(out, "  \"quick\": {},", plan.quick);
    out += "  \"rows\": [\n";
    for (i, row) in table.rows.iter().enumerate() {
        let mut fields = vec![
            format!("\"section\": {}", quote(&row.section)),
            format!("\"figure\": {}", quote(&row.figure)),
        ];
        match &row.value {
            Value::Measured { value, unit, runs } => {
                fields.push(format!("\"value\": {value}"));
                fields.push(format!("\"unit\": {}", quote(unit)));
                fields.push(format!("\"runs\": {runs}"));
            }
            Value::NotMeasured(reason) => {
                fields.push("\"value\": null".into());
                fields.push(format!("\"not_measured\": {}", quote(reason)));
            }
        }
        if let Some((op, bound)) = row.target {
            fields.push(format!("\"target\": {}", quote(&format!("{op} {bound}"))));
            if let Some(met) = row.met() {
                fields.push(format!("\"met\": {met}"));
            }
        }
        if !row.note.is_empty() {
            fields.push(format!("\"note\": {}", quote(&row.note)));
        }
        let comma = if i + 1 < table.rows.len() { "," } else { "" };
        let _ = writeln!(out, "    {{{}}}{comma}", fields.join(", "));
    }
    out += "  ]\n}\n";
    out
}

// ---------------------------------------------------------------------------------------------
// Checks of the outputs (used by `cargo xtask test` on a quick run).

/// Every row of bench.md has a number or "not measured: <reason>"; returns the number of rows.
pub fn check_markdown(md: &str) -> Result<usize> {
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Section |"))
        .collect();
    ensure!(!rows.is_empty(), "no rows in the table");
    for row in &rows {
        let cells: Vec<&str> = row.split(" | ").collect();
        ensure!(cells.len() == 6, "not 6 cells: {row}");
        let value = cells[2];
        let number = value
            .split([' ', '×'])
            .next()
            .is_some_and(|n| n.parse::<f64>().is_ok_and(f64::is_finite));
        let reason = value
            .strip_prefix("not measured: ")
            .is_some_and(|r| !r.trim().is_empty());
        ensure!(number || reason, "neither a number nor a reason: {row}");
    }
    ensure!(
        md.contains("median of its runs"),
        "the number of runs is not said"
    );
    Ok(rows.len())
}

/// bench.json is well-formed JSON whose rows each carry a number or a reason; returns their count.
pub fn check_json(json: &str) -> Result<usize> {
    let mut parser = JsonCheck {
        text: json.as_bytes(),
        at: 0,
    };
    parser.value()?;
    parser.space();
    ensure!(
        parser.at == json.len(),
        "trailing text at byte {}",
        parser.at
    );
    let rows = json.matches("\"figure\": ").count();
    let numbers = json.matches("\"value\": ").count() - json.matches("\"value\": null").count();
    let reasons = json.matches("\"not_measured\": \"").count();
    ensure!(
        rows > 0 && numbers + reasons == rows,
        "{rows} rows but {numbers} numbers and {reasons} reasons"
    );
    Ok(rows)
}

/// A JSON syntax check, small enough to need no dependency.
struct JsonCheck<'a> {
    text: &'a [u8],
    at: usize,
}

impl JsonCheck<'_> {
    fn space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.text.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self) -> Result<()> {
        self.space();
        let rest = &self.text[self.at..];
        match rest.first() {
            Some(b'{') => self.sequence(b'}', true),
            Some(b'[') => self.sequence(b']', false),
            Some(b'"') => self.string(),
            _ => {
                for word in ["true", "false", "null"] {
                    if rest.starts_with(word.as_bytes()) {
                        self.at += word.len();
                        return Ok(());
                    }
                }
                let len = rest
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                    .count();
                let text = std::str::from_utf8(&rest[..len])?;
                ensure!(
                    len > 0 && text.parse::<f64>().is_ok_and(f64::is_finite),
                    "no JSON value at byte {}",
                    self.at
                );
                self.at += len;
                Ok(())
            }
        }
    }

    fn sequence(&mut self, close: u8, object: bool) -> Result<()> {
        self.at += 1;
        if self.eat(close) {
            return Ok(());
        }
        loop {
            if object {
                self.space();
                self.string()?;
                ensure!(self.eat(b':'), "no ':' at byte {}", self.at);
            }
            self.value()?;
            if self.eat(close) {
                return Ok(());
            }
            ensure!(self.eat(b','), "no ',' at byte {}", self.at);
        }
    }

    fn string(&mut self) -> Result<()> {
        ensure!(self.eat(b'"'), "no string at byte {}", self.at);
        while let Some(&byte) = self.text.get(self.at) {
            self.at += 1;
            match byte {
                b'"' => return Ok(()),
                b'\\' => self.at += 1,
                0..=0x1f => bail!("raw control character in a string at byte {}", self.at),
                _ => {}
            }
        }
        bail!("unterminated string")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Machine, Table) {
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
        t.median("warm | rebuild", &[1.0, 3.0, 2.0], "s").below(2.0);
        t.median("ratio", &[0.9], "×").note("a\nb").target("≤", 1.0);
        t.not_measured("compressed", "no registry");
        (machine, t)
    }

    #[test]
    fn markdown_and_json_hold_every_row() {
        let (m, t) = sample();
        let md = markdown(&m, Plan::FULL, &t);
        assert!(md.contains("| Build | warm \\| rebuild | 2 s | 3 | < 2 s: MISSED |  |"));
        assert!(md.contains("| 0.90× | 1 |"));
        assert!(md.contains("| not measured: no registry | – |"));
        assert_eq!(check_markdown(&md).unwrap(), 3);
        let json = json(&m, Plan::FULL, &t);
        assert_eq!(check_json(&json).unwrap(), 3);
        assert!(json.contains(r#""cpu": "Some \"CPU\"""#));
        assert!(json.contains(r#""met": false"#));
    }

    #[test]
    fn output_checks_catch_bad_rows() {
        let (m, mut t) = sample();
        t.not_measured("x", "");
        assert!(check_markdown(&markdown(&m, Plan::QUICK, &t)).is_err());
        assert!(check_json(r#"{"rows": [{"figure": "a", "value": 1}"#).is_err());
        assert!(check_json(r#"{"a": 1,}"#).is_err());
        assert!(check_json(r#"{"figure": "a", "value": null}"#).is_err());
        assert_eq!(
            check_json(r#"{"r": [{"figure": "a", "value": -1.5e3, "b": [true, null]}]}"#).unwrap(),
            1
        );
    }

    #[test]
    fn quotes_json_strings() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }
}
