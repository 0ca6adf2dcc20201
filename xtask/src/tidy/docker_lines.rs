//! Docker is reached through the handle ([`crate::docker::Docker`]): the command lines built
//! anywhere else are counted, and each one left is listed with its reason.

use super::source_texts;

/// The docker command lines a source builds itself (`cmd!(sh, "docker …")`, `sh.cmd("docker")`,
/// `duct::cmd("docker", …)`) instead of going through the handle ([`crate::docker::Docker`]).
fn docker_command_lines(text: &str) -> usize {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut count = 0;
    for (at, opener) in text.match_indices("cmd") {
        let rest = &text[at + opener.len()..];
        let (macro_, rest) = match rest.strip_prefix("!(") {
            Some(rest) => (true, rest),
            None => match rest.strip_prefix('(') {
                Some(rest) => (false, rest),
                None => continue,
            },
        };
        let rest = rest.trim_start();
        let program = if rest.starts_with('"') || !macro_ {
            rest
        } else {
            // xshell: `cmd!(SHELL, "TEMPLATE")`.
            rest.split_once(',')
                .map_or("", |(_, template)| template.trim_start())
        };
        let Some(string) = program.strip_prefix('"') else {
            continue;
        };
        let words = string.split('"').next().unwrap_or_default();
        if words.split_whitespace().any(|word| word == "docker") {
            count += 1;
        }
    }
    count
}

/// Where a docker command line is still built outside the handle, and why (at most 12).
const DOCKER_LINES_ALLOWED: &[(&str, usize, &str)] = &[];

/// Commands reach Docker through the handle (docker/): it builds the command lines, types
/// what comes back and words the failures. The few lines elsewhere are listed with their
/// reason, and the list only shrinks.
#[test]
fn docker_is_reached_through_the_handle() {
    let allowed: usize = DOCKER_LINES_ALLOWED.iter().map(|(_, n, _)| n).sum();
    assert!(
        allowed <= 12,
        "at most 12 docker command lines outside the handle"
    );
    for (file, text) in source_texts() {
        if file.starts_with("docker/") || file.starts_with("tidy") {
            continue;
        }
        let found = docker_command_lines(&text);
        let listed = DOCKER_LINES_ALLOWED
            .iter()
            .find(|(f, _, _)| *f == file)
            .map_or(0, |(_, n, _)| *n);
        assert_eq!(
            found, listed,
            "{file} builds {found} docker command line(s) itself, {listed} listed: use \
             crate::docker::Docker (or update DOCKER_LINES_ALLOWED with the reason)"
        );
    }
}

#[test]
fn docker_command_lines_are_counted_in_every_form() {
    let text = "cmd!(sh, \"docker run {x}\")\ncmd!(\n    sh,\n    \"timeout 9 docker ps\"\n)\n\
                sh.cmd(\"docker\").arg(\"ps\")\nduct::cmd!(\"docker\", \"logs\")\n\
                duct::cmd(\"docker\", argv)\ncmd!(sh, \"git log\")\ncmd!(sh, \"apt-get install docker.io\")\n\
                Docker::local(sh).cmd(&[\"ps\"])";
    assert_eq!(docker_command_lines(text), 5);
}
