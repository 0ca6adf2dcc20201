//! The checks that a written table is complete (bench.md, bench.json, the copy in
//! docs/bench.md): used by `cargo xtask test` on a quick run and by the tidy test of the docs.

use anyhow::{ensure, Context, Result};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{json, markdown, tests::sample};
    use crate::bench::Plan;

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
