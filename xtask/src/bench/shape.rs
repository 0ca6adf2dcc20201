//! The checks that a written table is complete (bench.md, bench.json, the copy in
//! docs/bench.md): used by `cargo xtask test` on a quick run and by the tidy test of the docs.

use anyhow::{ensure, Context, Result};

use super::report::MISSING;
use serde_json::Value as Json;

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

/// bench.json is JSON of the shape [`json`] writes, each row with a number or a reason; returns
/// the number of rows.
pub fn check_json(text: &str) -> Result<usize> {
    let doc: Json = serde_json::from_str(text).context("bench.json is not JSON")?;
    for key in ["date", "revision", "flavour"] {
        ensure!(doc[key].is_string(), "no {key:?} string");
    }
    ensure!(doc["quick"].is_boolean(), "no \"quick\" flag");
    ensure!(
        doc["machine"]["cpus"].is_u64(),
        "no \"machine\" with its \"cpus\""
    );
    let rows = doc["rows"].as_array().context("no \"rows\" list")?;
    ensure!(!rows.is_empty(), "no rows");
    for row in rows {
        ensure!(
            row["section"].is_string() && row["figure"].is_string(),
            "a row without section or figure: {row}"
        );
        let number = row["value"].as_f64().is_some_and(f64::is_finite)
            && row["unit"].is_string()
            && row["runs"].as_u64().is_some_and(|n| n > 0);
        let reason = row["value"].is_null()
            && row["not_measured"]
                .as_str()
                .is_some_and(|r| !r.trim().is_empty());
        ensure!(number || reason, "neither a number nor a reason: {row}");
    }
    Ok(rows.len())
}

/// A quick run's bench.json: every section has a measured figure, and every figure left out is
/// left out for want of a tool or resource (its reason starts "no ").
pub fn left_out_for_want(text: &str, sections: &[&str]) -> Result<()> {
    let doc: Json = serde_json::from_str(text).context("bench.json is not JSON")?;
    let rows = doc["rows"].as_array().context("no \"rows\" list")?;
    for section in sections {
        ensure!(
            rows.iter()
                .any(|r| r["section"] == *section && r["value"].is_number()),
            "section {section} measured nothing"
        );
    }
    for row in rows {
        if let Some(reason) = row["not_measured"].as_str() {
            ensure!(
                reason.starts_with(MISSING),
                "{} / {} was left out, not for want of a tool or resource: {reason}",
                row["section"],
                row["figure"]
            );
        }
    }
    Ok(())
}

/// The table of docs/bench.md is a full run's (not a quick one's), and it measured a figure in
/// every section.
pub fn full_run_measured(md: &str, sections: &[&str]) -> Result<()> {
    ensure!(
        !md.contains("QUICK run"),
        "the table in the docs is a quick run's"
    );
    for section in sections {
        let measured = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {section} | ")))
            .any(|row| {
                row.split(" | ")
                    .nth(2)
                    .and_then(|v| v.split([' ', '×']).next())
                    .is_some_and(|n| n.parse::<f64>().is_ok())
            });
        ensure!(
            measured,
            "the full run in the docs measured nothing of {section}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{json, markdown, tests::sample};
    use crate::bench::Plan;

    #[test]
    fn sections_left_out_only_for_want() {
        let json = |reason: &str| {
            serde_json::json!({"rows": [
                {"section": "A", "figure": "a", "value": 1.0},
                {"section": "B", "figure": "b", "value": 2.0},
                {"section": "B", "figure": "c", "value": null, "not_measured": reason},
            ]})
            .to_string()
        };
        assert!(left_out_for_want(&json("no registry here"), &["A", "B"]).is_ok());
        assert!(left_out_for_want(&json("full runs only"), &["A", "B"]).is_err());
        assert!(left_out_for_want(&json("no registry here"), &["A", "B", "C"]).is_err());
        let md = "| A | a | 1.5 s | 5 |  |  |\n| B | b | not measured: no x | – |  |  |\n";
        assert!(full_run_measured(md, &["A"]).is_ok());
        assert!(full_run_measured(md, &["A", "B"]).is_err());
        let quick = format!("QUICK run (figures are not representative)\n{md}");
        assert!(full_run_measured(&quick, &["A"]).is_err());
    }

    #[test]
    fn output_checks_catch_bad_rows() {
        let (m, mut t) = sample();
        t.not_measured("x", "");
        assert!(check_markdown(&markdown(&m, Plan::QUICK, &t)).is_err());
        assert!(check_json(&json(&m, Plan::QUICK, &t)).is_err());
        let good = json(&m, Plan::QUICK, &sample().1);
        assert_eq!(check_json(&good).unwrap(), 3);
        assert!(check_json(&good[..good.len() - 3]).is_err(), "cut short");
        assert!(check_json(&good.replace("\"rows\"", "\"lines\"")).is_err());
        assert!(check_json(&good.replace("\"runs\": 3", "\"runs\": 0")).is_err());
        assert!(check_json(&good.replace("\"quick\": true", "\"quick\": 1")).is_err());
    }
}
