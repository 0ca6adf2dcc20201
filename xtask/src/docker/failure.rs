//! Docker's reason for a failed call, as one line: what every error that quotes Docker uses.

use std::process::Output;

use anyhow::{bail, Result};

/// The one line that says why a docker or compose call failed, from its standard error: the
/// last non-empty line (Docker ends with its error; compose's progress comes before), without
/// Docker's `Error response from daemon: ` and `Error: ` prefixes.
pub fn reason(stderr: &str) -> String {
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("no reason given");
    let mut reason = last;
    for prefix in ["Error response from daemon: ", "Error: ", "error: "] {
        reason = reason.strip_prefix(prefix).unwrap_or(reason);
    }
    reason.to_string()
}

/// [`reason`] of an [`Output`]'s standard error.
pub fn reason_of(out: &Output) -> String {
    reason(&String::from_utf8_lossy(&out.stderr))
}

/// The output of a finished call, or an error `WHAT failed: REASON` when it failed.
pub fn checked(out: Output, what: &str) -> Result<Output> {
    if !out.status.success() {
        bail!("{what} failed: {}", reason_of(&out));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker 20.10's and compose v2's own words, as seen here.
    #[test]
    fn the_reason_is_the_last_line_without_prefixes() {
        let pull = "Error response from daemon: manifest for x:nope not found: manifest unknown\n";
        assert_eq!(
            reason(pull),
            "manifest for x:nope not found: manifest unknown"
        );
        let compose = " Container a  Creating\n Container a  Error\nError response from daemon: \
                       driver failed programming external connectivity\n\n";
        assert_eq!(
            reason(compose),
            "driver failed programming external connectivity"
        );
        assert_eq!(
            reason("Error: No such object: nope\n"),
            "No such object: nope"
        );
        assert_eq!(reason(""), "no reason given");
    }
}
