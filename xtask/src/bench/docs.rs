//! The copy of the table in docs/bench.md, between two markers, written by
//! `cargo xtask bench --write-docs`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::docker;

/// The page the table is copied into by `--write-docs`.
pub const DOCS: &str = "docs/bench.md";
pub const BEGIN: &str = "<!-- bench table: begin -->";
pub const END: &str = "<!-- bench table: end -->";

/// What `--write-docs` puts in a docs/bench.md that does not exist yet.
const DOCS_INTRO: &str = "# Benchmark: `cargo xtask bench`\n\n\
`cargo xtask bench` measures what people choose images by (size, build speed, start-up, \
throughput), the xtask itself and the Redmine stack, and writes the table to \
`target/bench/bench.md` and `target/bench/bench.json`; `cargo xtask bench --write-docs` also \
writes it here, between the markers. Every figure is the median of its runs; every ratio is \
taken within one round.\n\n";

/// Writes the table `md` between the markers of docs/bench.md (made when missing); the rest of
/// the page stays as it is. Returns the page's path.
pub fn write_docs(md: &str) -> Result<PathBuf> {
    let path = docker::project_root().join(DOCS);
    let page = match std::fs::read_to_string(&path) {
        Ok(page) => page,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            format!("{DOCS_INTRO}## Latest table\n\n{BEGIN}\n{END}\n")
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let page = with_table(&page, md)
        .with_context(|| format!("{}: put the two markers back", path.display()))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `page` with `md` between its markers, in place of what was there.
fn with_table(page: &str, md: &str) -> Result<String> {
    let (before, rest) = page
        .split_once(BEGIN)
        .with_context(|| format!("no {BEGIN} marker"))?;
    let (_, after) = rest
        .split_once(END)
        .with_context(|| format!("no {END} marker after {BEGIN}"))?;
    Ok(format!("{before}{BEGIN}\n{}\n{END}{after}", md.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::shape::check_markdown;

    #[test]
    fn docs_table_goes_between_the_markers() {
        let page = format!("intro\n{BEGIN}\nold\n{END}\nafter\n");
        let new = with_table(&page, "| a |\n").unwrap();
        assert_eq!(new, format!("intro\n{BEGIN}\n| a |\n{END}\nafter\n"));
        assert_eq!(with_table(&new, "| b |").unwrap().matches(BEGIN).count(), 1);
        assert_eq!(table_in(&new).unwrap(), "\n| a |\n");
        assert!(with_table("no markers", "x").is_err());
        assert!(with_table(&format!("{END} {BEGIN}"), "x").is_err());
    }

    /// What is between the markers of a page.
    fn table_in(page: &str) -> Result<&str> {
        let (_, rest) = page
            .split_once(BEGIN)
            .with_context(|| format!("no {BEGIN} marker"))?;
        let (table, _) = rest
            .split_once(END)
            .with_context(|| format!("no {END} marker after {BEGIN}"))?;
        Ok(table)
    }

    /// docs/bench.md holds a table written by `cargo xtask bench --write-docs`, never one pasted
    /// by hand: between its markers, a table of the shape bench.md has.
    #[test]
    fn docs_bench_md_has_the_table_between_its_markers() {
        let path = docker::project_root().join(DOCS);
        let page = std::fs::read_to_string(&path).unwrap();
        let table = table_in(&page).unwrap();
        let rows = check_markdown(table).unwrap();
        assert!(rows > 10, "only {rows} rows in {DOCS}");
        assert!(
            !table.contains("QUICK run"),
            "{DOCS} holds a quick run's table"
        );
    }
}
