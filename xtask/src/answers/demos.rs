//! The demonstrations of answers.md: one table, [`DEMOS`], of the shell commands exactly as
//! answers.md quotes them after `$ ` in its ```console blocks (a hermetic test keeps the two in
//! step, both ways and in order), and a check of the facts their output must show. Outputs are
//! not compared byte for byte: ids, dates and process numbers change from run to run.

use anyhow::{ensure, Context, Result};

/// One claim of answers.md and the commands that show it.
pub struct Demo {
    /// What it shows, as the check's name.
    pub claim: &'static str,
    /// Run in order by `sh -c`, with `$IMAGE` (our nginx image) and `$BUILDER` (the kernel
    /// builder image) set.
    pub commands: &'static [&'static str],
    /// The facts the outputs must show; one output per command.
    pub check: fn(&[Output]) -> Result<()>,
}

/// What one command did: whether it succeeded, and its stdout and stderr together.
pub struct Output {
    pub ok: bool,
    pub text: String,
}

pub const DEMOS: &[Demo] = &[
    Demo {
        claim: "the image runs nginx as uid 101 on port 8080, stops it with SIGQUIT",
        commands: &[
            "docker image inspect --format 'user={{.Config.User}} ports={{.Config.ExposedPorts}} stop={{.Config.StopSignal}} cmd={{.Config.Cmd}}' \"$IMAGE\"",
            "docker run --rm \"$IMAGE\" id",
        ],
        check: |out| {
            let config = out[0].text.trim();
            let expected = "user=101:101 ports=map[8080/tcp:{}] stop=SIGQUIT cmd=[nginx -e stderr]";
            ensure!(config == expected, "image config is `{config}`");
            ensure!(out[1].text.starts_with("uid=101(nginx) gid=101(nginx)"), "id says {}", out[1].text);
            Ok(())
        },
    },
    Demo {
        claim: "RUN and COPY make layers, the other instructions only metadata",
        commands: &[
            "docker history --format '{{.Size}}\\t{{.CreatedBy}}' \"$IMAGE\"",
            "docker image inspect --format '{{range .RootFS.Layers}}{{println .}}{{end}}' \"$IMAGE\"",
        ],
        check: |out| {
            let mut layers = 0;
            let mut metadata = Vec::new();
            for line in out[0].text.lines() {
                let (size, by) = line.split_once('\t').unwrap_or((line, ""));
                // The classic builder marks instructions that run nothing with #(nop); of
                // those, COPY and ADD still write files.
                let writes = !by.contains("#(nop)") || by.contains("COPY") || by.contains("ADD");
                if writes {
                    layers += 1;
                } else {
                    ensure!(size == "0B", "metadata-only step has a size: {line}");
                    metadata.push(by);
                }
            }
            for instruction in ["USER", "EXPOSE", "CMD", "LABEL"] {
                ensure!(
                    metadata.iter().any(|by| by.contains(&format!(" {instruction} "))),
                    "no {instruction} step without a layer in the history"
                );
            }
            let diff_ids: Vec<&str> = out[1].text.split_whitespace().collect();
            ensure!(
                diff_ids.iter().all(|id| id.starts_with("sha256:") && id.len() == 71),
                "RootFS.Layers are not sha256 digests: {diff_ids:?}"
            );
            ensure!(
                diff_ids.len() == layers,
                "{} layers in RootFS, {layers} layer-making steps in the history",
                diff_ids.len()
            );
            Ok(())
        },
    },
    Demo {
        claim: "each container writes only its own layer; the image stays as it was",
        commands: &[
            "docker run --detach --name dockerlab-answers-a \"$IMAGE\"",
            "docker run --detach --name dockerlab-answers-b \"$IMAGE\"",
            "docker exec dockerlab-answers-a sh -c 'echo A > /tmp/a.txt'",
            "docker exec dockerlab-answers-b sh -c 'echo B > /tmp/b.txt'",
            "docker diff dockerlab-answers-a",
            "docker diff dockerlab-answers-b",
            "docker exec dockerlab-answers-b cat /tmp/a.txt",
            "docker run --rm \"$IMAGE\" ls -A /tmp",
        ],
        check: |out| {
            for (i, name) in [(0, "a"), (1, "b")] {
                let id = out[i].text.trim();
                ensure!(
                    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                    "container {name} did not start: {id}"
                );
            }
            let lines = |o: &Output| o.text.lines().map(str::to_owned).collect::<Vec<_>>();
            let (a, b) = (lines(&out[4]), lines(&out[5]));
            ensure!(a.contains(&"A /tmp/a.txt".into()), "a's diff lacks its file: {a:?}");
            ensure!(b.contains(&"A /tmp/b.txt".into()), "b's diff lacks its file: {b:?}");
            ensure!(!a.iter().any(|l| l.contains("b.txt")), "a's diff shows b's file");
            ensure!(!b.iter().any(|l| l.contains("a.txt")), "b's diff shows a's file");
            ensure!(
                !out[6].ok && out[6].text.contains("No such file"),
                "b sees a's file: {}",
                out[6].text
            );
            ensure!(
                out[7].ok && out[7].text.trim().is_empty(),
                "a new container's /tmp is not empty: {}",
                out[7].text
            );
            Ok(())
        },
    },
    Demo {
        claim: "a container is a process of the host in its own namespaces",
        commands: &[
            "docker exec dockerlab-answers-a cat /proc/1/comm",
            "docker top dockerlab-answers-a -o pid,uid,comm",
            "docker rm --force dockerlab-answers-a dockerlab-answers-b",
        ],
        check: |out| {
            ensure!(out[0].text.trim() == "nginx", "PID 1 inside is {}", out[0].text);
            let pids: Vec<u32> = out[1]
                .text
                .lines()
                .filter(|line| line.ends_with(" nginx"))
                .filter_map(|line| line.split_whitespace().next()?.parse().ok())
                .collect();
            ensure!(!pids.is_empty(), "no nginx in docker top: {}", out[1].text);
            ensure!(
                pids.iter().all(|&pid| pid != 1),
                "the host sees nginx as PID 1: {pids:?}"
            );
            ensure!(out[2].ok, "removing the containers failed: {}", out[2].text);
            Ok(())
        },
    },
    Demo {
        claim: "a container runs on the host's kernel",
        commands: &[
            "uname -r",
            "docker run --rm \"$IMAGE\" uname -r",
            "docker run --rm \"$IMAGE\" sh -c 'echo $$'",
        ],
        check: |out| {
            let (host, inside) = (out[0].text.trim(), out[1].text.trim());
            ensure!(!host.is_empty() && host == inside, "host {host}, container {inside}");
            ensure!(out[2].text.trim() == "1", "the shell's PID is {}", out[2].text);
            Ok(())
        },
    },
    Demo {
        claim: "Docker's default set lacks CAP_SYS_MODULE and CAP_SYS_BOOT; seccomp filters",
        commands: &[
            "docker run --rm --user 0 \"$IMAGE\" grep -E '^(CapEff|Seccomp):' /proc/self/status",
            "docker run --rm --user 0 --cap-add SYS_MODULE \"$IMAGE\" grep CapEff /proc/self/status",
        ],
        check: |out| {
            let default = cap_eff(&out[0].text)?;
            ensure!(default & 1 != 0, "root lacks even CAP_CHOWN: {default:#x}");
            ensure!(default & CAP_SYS_MODULE == 0, "CAP_SYS_MODULE is in the default set");
            ensure!(default & CAP_SYS_BOOT == 0, "CAP_SYS_BOOT is in the default set");
            ensure!(out[0].text.contains("Seccomp:\t2"), "no seccomp filter: {}", out[0].text);
            let added = cap_eff(&out[1].text)?;
            ensure!(added == default | CAP_SYS_MODULE, "--cap-add gives {added:#x}");
            Ok(())
        },
    },
    Demo {
        claim: "loading a module needs CAP_SYS_MODULE",
        commands: &[
            "docker run --rm \"$BUILDER\" insmod /etc/hostname",
            "docker run --rm --cap-add SYS_MODULE \"$BUILDER\" insmod /etc/hostname",
        ],
        check: |out| {
            ensure!(
                !out[0].ok && out[0].text.contains("Operation not permitted"),
                "insmod was not refused: {}",
                out[0].text
            );
            // With the capability the request reaches the kernel, which refuses a text file for
            // its own reasons (not a module; or, as here, no module support at all). Refused
            // for permission still would mean the host forbids modules (modules_disabled=1).
            ensure!(!out[1].ok, "the host's kernel took /etc/hostname as a module");
            ensure!(
                !out[1].text.contains("Operation not permitted"),
                "still refused for permission: {}",
                out[1].text
            );
            Ok(())
        },
    },
];

const CAP_SYS_MODULE: u64 = 1 << 16;
const CAP_SYS_BOOT: u64 = 1 << 22;

/// The effective capability set in /proc/self/status.
fn cap_eff(status: &str) -> Result<u64> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .context("no CapEff line")?;
    u64::from_str_radix(hex.trim(), 16).with_context(|| format!("CapEff {hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker;

    /// The `$ ` lines of answers.md's ```console blocks, in order.
    fn quoted_commands(markdown: &str) -> Vec<&str> {
        let mut commands = Vec::new();
        let mut in_console = false;
        for line in markdown.lines() {
            if line.starts_with("```") {
                in_console = !in_console && line.trim() == "```console";
            } else if in_console {
                if let Some(command) = line.strip_prefix("$ ") {
                    commands.push(command);
                }
            }
        }
        commands
    }

    #[test]
    fn answers_md_quotes_exactly_the_checked_commands_in_order() {
        let path = docker::project_root().join("answers.md");
        let markdown = std::fs::read_to_string(&path).unwrap();
        let quoted = quoted_commands(&markdown);
        let checked: Vec<&str> = DEMOS
            .iter()
            .flat_map(|d| d.commands.iter().copied())
            .collect();
        assert_eq!(quoted, checked);
    }

    #[test]
    fn quoted_commands_come_only_from_console_blocks() {
        let md = "$ not this\n```console\n$ echo 1\n1\n```\n```text\n$ nor this\n```\n```console\n$ uname -r\n```\n";
        assert_eq!(quoted_commands(md), ["echo 1", "uname -r"]);
    }

    #[test]
    fn cap_eff_reads_the_hex_mask() {
        let status = "CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n";
        let caps = cap_eff(status).unwrap();
        assert_eq!(caps, 0xa804_25fb);
        assert_eq!(caps & CAP_SYS_MODULE, 0);
        assert!(cap_eff("Seccomp: 2").is_err());
    }
}
