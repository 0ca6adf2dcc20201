//! The demonstrations of answers.md: one table, [`DEMOS`], of the shell commands exactly as
//! answers.md quotes them after `$ ` in its ```console blocks (a hermetic test keeps the two in
//! step, both ways and in order), each with the check of the facts their output must show
//! (in [`super::facts`]). Outputs are not compared byte for byte: ids, dates, process numbers
//! and sizes change from run to run.

use anyhow::Result;

use super::facts;

/// One claim of answers.md and the commands that show it.
pub struct Demo {
    /// What it shows, as the check's name.
    pub claim: &'static str,
    /// Run in order by `sh -c` in the project's root, with `$IMAGE` (our nginx image),
    /// `$BUILDER` (the kernel builder image) and `$KERNEL` (target/kernel/, what
    /// `cargo xtask kernel` built) set.
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
    // 1. The nginx image.
    Demo {
        claim: "the image runs nginx as uid 101 on port 8080, stops it with SIGQUIT",
        commands: &[
            "docker image inspect --format 'user={{.Config.User}} ports={{.Config.ExposedPorts}} stop={{.Config.StopSignal}} cmd={{.Config.Cmd}}' \"$IMAGE\"",
        ],
        check: facts::image_config,
    },
    Demo {
        claim: "an image is built for one architecture, the builder's",
        commands: &["docker image inspect --format '{{.Os}}/{{.Architecture}}' \"$IMAGE\""],
        check: facts::architecture,
    },
    Demo {
        claim: "on a bridge network any user may bind ports below 1024; on the host not",
        commands: &[
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start",
            "docker run --rm \"$IMAGE\" cat /proc/sys/net/ipv4/ip_unprivileged_port_start",
        ],
        check: facts::unprivileged_ports,
    },
    // 2. Image, container, virtual machine.
    Demo {
        claim: "RUN and COPY make layers, the other instructions only metadata",
        commands: &[
            "docker history --format '{{.Size}}\\t{{.CreatedBy}}' \"$IMAGE\"",
        ],
        check: facts::layers,
    },
    Demo {
        claim: "the image ID is the digest of its configuration",
        commands: &[
            "docker image inspect --format '{{.Id}}' \"$IMAGE\"",
            "docker save \"$IMAGE\" | tar -xO \"$(docker image inspect --format '{{.Id}}' \"$IMAGE\" | cut -d: -f2).json\" | sha256sum",
        ],
        check: facts::image_id,
    },
    Demo {
        claim: "copy-on-write: a changed file of the image is copied up, a deleted one leaves a whiteout; the image stays as it was; PID 1 inside is nginx",
        commands: &[
            "docker run --detach --name dockerlab-answers-a --cpus 1 \"$IMAGE\"",
            "docker run --detach --name dockerlab-answers-b \"$IMAGE\" sleep 600",
            "docker exec --user 0 dockerlab-answers-b sh -c 'echo B >> /etc/issue && rm /etc/motd'",
            "docker diff dockerlab-answers-b",
            "ls -l \"$(docker inspect --format '{{.GraphDriver.Data.UpperDir}}' dockerlab-answers-b)/etc\"",
            "docker exec dockerlab-answers-a sh -c 'grep -c B /etc/issue; ls /etc/motd; cat /proc/1/comm'",
        ],
        check: facts::copy_on_write,
    },
    Demo {
        claim: "the host sees the container's nginx under its own PIDs; worker_processes auto counts the host's CPUs, not --cpus",
        commands: &[
            "docker top dockerlab-answers-a -o pid,uid,args",
        ],
        check: facts::processes,
    },
    Demo {
        claim: "docker stop: nginx leaves on SIGQUIT at once; a PID 1 without a handler is killed after 10 s; a stopped container keeps its layer",
        commands: &[
            "s=$(date +%s%3N); docker stop dockerlab-answers-a; echo \"$(($(date +%s%3N) - s)) ms\"",
            "s=$(date +%s%3N); docker stop dockerlab-answers-b; echo \"$(($(date +%s%3N) - s)) ms\"",
            "docker inspect --format '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' dockerlab-answers-a dockerlab-answers-b",
            "docker diff dockerlab-answers-b | grep motd",
            "docker rm dockerlab-answers-a dockerlab-answers-b",
        ],
        check: facts::stop,
    },
    // 3. A kernel in a container.
    Demo {
        claim: "a container runs on the host's kernel; User-mode Linux 6.1, built in the builder, runs as a process in one",
        commands: &[
            "uname -r",
            "docker run --rm \"$BUILDER\" uname -r",
            "docker run --rm --user 65534 --cap-drop ALL --security-opt seccomp=kernel/uml-seccomp.json --env TMPDIR=/tmp --volume \"$KERNEL:/kernel:ro\" \"$BUILDER\" timeout -s KILL 60 /kernel/linux mem=32M initrd=/kernel/init.cpio uml_dir=/tmp con=null con0=null,fd:1 poweroff 2>&1 | grep -E 'Linux version|Run /init|dockerlab init|halted'",
        ],
        check: facts::user_mode_linux,
    },
    Demo {
        claim: "Docker's default set is 14 capabilities without CAP_SYS_MODULE and CAP_SYS_BOOT; seccomp filters",
        commands: &[
            "docker run --rm --user 0 \"$IMAGE\" grep -E '^(CapEff|Seccomp):' /proc/self/status",
            "docker run --rm --user 0 --cap-add SYS_MODULE \"$IMAGE\" grep CapEff /proc/self/status",
        ],
        check: facts::capabilities,
    },
    Demo {
        claim: "loading a module needs CAP_SYS_MODULE",
        commands: &[
            "docker run --rm \"$BUILDER\" insmod /etc/hostname",
            "docker run --rm --cap-add SYS_MODULE \"$BUILDER\" insmod /etc/hostname",
        ],
        check: facts::insmod,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker;

    /// The `$ ` lines of answers.md's ```console blocks, in order.
    fn quoted_commands(markdown: &str) -> Vec<&str> {
        let mut commands = Vec::new();
        let mut in_console = false;
        // Blocks may sit indented in a list item.
        for line in markdown.lines().map(str::trim_start) {
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
        let md = "$ not this\n```console\n$ echo 1\n1\n```\n```text\n$ nor this\n```\n```console\n$ uname -r\n```\n- item\n\n  ```console\n  $ nproc\n  ```\n";
        assert_eq!(quoted_commands(md), ["echo 1", "uname -r", "nproc"]);
    }

    /// The demonstrations start and remove only the containers the cleanup knows about.
    #[test]
    fn demonstrations_name_only_their_own_containers() {
        for command in DEMOS.iter().flat_map(|d| d.commands.iter()) {
            let names = command.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
            for word in names {
                if word.starts_with("dockerlab-answers-") {
                    assert!(
                        super::super::CONTAINERS.contains(&word),
                        "{word} is not removed by the cleanup"
                    );
                }
            }
        }
    }
}
