//! The demonstrations of answers.md: one table, [`DEMOS`], of the shell commands exactly as
//! answers.md quotes them after `$ ` in its ```console blocks (a hermetic test keeps the two in
//! step, both ways and in order), each with the check of the facts their output must show (in
//! [`super::facts`]). Outputs are also compared with their quotes, outside the marked parts
//! ([`super::output`]).

use anyhow::Result;

use super::output::Output;
use super::quoted::Doc;
use super::{facts, kernel_facts};

/// One claim of answers.md and the commands that show it.
pub struct Demo {
    /// What it shows, as the check's name.
    pub claim: &'static str,
    /// Where it is quoted: the commands of all demonstrations quoted in one text are its
    /// quoted commands in order.
    pub doc: Doc,
    /// Run in order by `sh -c` in the project's root, with the session's variables set:
    /// `$IMAGE` (our nginx image), `$BASE` (its base), `$BUILDER` (the kernel builder image),
    /// `$KERNEL` (an empty directory for the kernel), `$PROFILE` (the seccomp profile of
    /// User-mode Linux), `$REGISTRY` (a registry of this run, HOST:PORT).
    pub commands: &'static [&'static str],
    /// The commands (by index) whose whole output depends on the CPU: quoted marked.
    pub cpu: &'static [usize],
    /// The facts the outputs must show; one output per command.
    pub check: fn(&[Output]) -> Result<()>,
}

/// User-mode Linux booting our /init in the builder: the options answers.md explains.
macro_rules! uml {
    ($seccomp:literal, $grep:literal) => {
        concat!(
            "docker run --rm --user 65534 --cap-drop ALL ",
            $seccomp,
            "--env TMPDIR=/tmp --volume \"$KERNEL:/kernel:ro\" \"$BUILDER\" timeout -s KILL 60 /kernel/linux mem=32M initrd=/kernel/init.cpio uml_dir=/tmp con=null con0=null,fd:1 poweroff 2>&1 | ",
            $grep
        )
    };
}

pub const DEMOS: &[Demo] = &[
    // Where the outputs come from.
    Demo {
        doc: Doc::Answers,
        claim: "the engine and the machine the outputs come from",
        commands: &[
            "docker version --format 'Docker Engine {{.Server.Version}}'",
            "echo \"$(uname -m), $(nproc) CPU,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)\"",
        ],
        cpu: &[1],
        check: facts::engine,
    },
    // 1. The nginx image.
    Demo {
        doc: Doc::Answers,
        claim: "our page answers on port 8080; the image weighs little more than its base",
        commands: &[
            "docker run --detach --name dockerlab-answers-web --publish 127.0.0.1::8080 \"$IMAGE\"",
            "curl -s --retry 10 --retry-connrefused --retry-delay 1 \"http://$(docker port dockerlab-answers-web 8080)/\" | grep -o '<title>.*</title>'",
            "docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \"$IMAGE\"; docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \"$BASE\"",
        ],
        cpu: &[],
        check: facts::page,
    },
    Demo {
        doc: Doc::Answers,
        claim: "the image runs nginx as uid 101 on port 8080, stops it with SIGQUIT",
        commands: &[
            "docker image inspect --format 'user={{.Config.User}} ports={{.Config.ExposedPorts}} stop={{.Config.StopSignal}} cmd={{.Config.Cmd}}' \"$IMAGE\"",
        ],
        cpu: &[],
        check: facts::image_config,
    },
    Demo {
        doc: Doc::Notes,
        claim: "an image is built for one architecture, the engine's",
        commands: &["docker image inspect --format '{{.Os}}/{{.Architecture}}' \"$IMAGE\"; docker version --format '{{.Server.Os}}/{{.Server.Arch}}'"],
        cpu: &[0],
        check: facts::architecture,
    },
    Demo {
        doc: Doc::Notes,
        claim: "on a bridge network any user may bind ports below 1024; with --network host not",
        commands: &[
            "for net in bridge host; do docker run --rm --network $net \"$IMAGE\" cat /proc/sys/net/ipv4/ip_unprivileged_port_start; done",
        ],
        cpu: &[],
        check: facts::unprivileged_ports,
    },
    // 2. Image, container, virtual machine.
    Demo {
        doc: Doc::Notes,
        claim: "our Dockerfile's RUN and COPY make one layer each, on the base's one",
        commands: &["docker image inspect --format '{{len .RootFS.Layers}}' \"$IMAGE\" \"$BASE\""],
        cpu: &[],
        check: facts::layers,
    },
    Demo {
        doc: Doc::Notes,
        claim: "the image ID is the digest of its configuration (classic image store)",
        commands: &[
            "docker image inspect --format '{{.Id}}' \"$IMAGE\"",
            "docker save \"$IMAGE\" | tar -xO \"$(docker image inspect --format '{{.Id}}' \"$IMAGE\" | cut -d: -f2).json\" | sha256sum",
        ],
        cpu: &[],
        check: facts::image_id,
    },
    Demo {
        doc: Doc::Answers,
        claim: "copy-on-write: b's changes stay in b's layer, a sees the image as it was; PID 1 inside is nginx",
        commands: &[
            "docker run --detach --name dockerlab-answers-a --cpus 1 \"$IMAGE\"",
            "docker run --detach --name dockerlab-answers-b \"$IMAGE\" sleep 600",
            "docker exec --user 0 dockerlab-answers-b sh -c 'echo B >> /etc/issue && rm /etc/motd'",
            "docker diff dockerlab-answers-b",
            "docker exec dockerlab-answers-a sh -c 'grep -c B /etc/issue; ls /etc/motd; cat /proc/1/comm'",
        ],
        cpu: &[],
        check: facts::copy_on_write,
    },
    Demo {
        doc: Doc::Notes,
        claim: "in the upper layer a changed file is a copy, a deleted one a 0/0 character device",
        commands: &[
            "ls -l --time-style=+ \"$(docker inspect --format '{{.GraphDriver.Data.UpperDir}}' dockerlab-answers-b)/etc\"",
        ],
        cpu: &[],
        check: facts::upper_layer,
    },
    Demo {
        doc: Doc::Notes,
        claim: "the host sees the container's PID 1 under its own number; worker_processes auto counts the host's CPUs, not --cpus",
        commands: &[
            "grep NSpid \"/proc/$(docker inspect --format '{{.State.Pid}}' dockerlab-answers-a)/status\"",
            "docker top dockerlab-answers-a -o pid,args | grep -c 'worker process'; nproc",
        ],
        cpu: &[1],
        check: facts::processes,
    },
    Demo {
        doc: Doc::Notes,
        claim: "docker stop: nginx leaves on SIGQUIT at once; a PID 1 without a handler is killed after 10 s; a stopped container keeps its layer",
        commands: &[
            "s=$(date +%s%3N); docker stop dockerlab-answers-a; echo \"$(($(date +%s%3N) - s)) ms\"",
            "s=$(date +%s%3N); docker stop dockerlab-answers-b; echo \"$(($(date +%s%3N) - s)) ms\"",
            "docker inspect --format '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' dockerlab-answers-a dockerlab-answers-b",
            "docker diff dockerlab-answers-b | grep motd",
        ],
        cpu: &[],
        check: facts::stop,
    },
    // 3. A kernel in a container.
    Demo {
        doc: Doc::Answers,
        claim: "a kernel compiles in a container, in minutes",
        commands: &[
            "s=$(date +%s); docker run --rm --user \"$(id -u):$(id -g)\" --volume \"$KERNEL:/out\" \"$BUILDER\" 2>&1 | grep '^==> built'; echo \"$(($(date +%s) - s)) s\"",
        ],
        cpu: &[],
        check: kernel_facts::kernel_build,
    },
    Demo {
        doc: Doc::Answers,
        claim: "a container runs on the host's kernel; User-mode Linux, built in the builder, runs as a process in one",
        commands: &[
            "uname -r; docker run --rm \"$BUILDER\" uname -r",
            uml!("--security-opt seccomp=\"$PROFILE\" ", "grep -oE 'Linux version [^ ]+ \\([^)]*\\)|Run /init.*|dockerlab init.*|Power down'"),
        ],
        cpu: &[],
        check: kernel_facts::user_mode_linux,
    },
    Demo {
        doc: Doc::Notes,
        claim: "Docker's default seccomp profile is not what stops User-mode Linux: it does the same without one",
        commands: &[
            uml!("", "grep -E 'Power down|errno|Kernel panic'"),
            uml!("--security-opt seccomp=unconfined ", "grep -E 'Power down|errno|Kernel panic'"),
        ],
        cpu: &[0, 1],
        check: kernel_facts::seccomp_irrelevant,
    },
    Demo {
        doc: Doc::Notes,
        claim: "the profile's one rule: ptrace(PTRACE_GETREGSET) of NT_X86_XSTATE fails with EIO, other register sets pass as under Docker's default",
        commands: &[
            "docker run --rm \"$BUILDER\" perl -e 'for $set (0x202, 1) { syscall(101, 0x4204, 1, $set, 0); print \"$!\\n\" }'",
            "docker run --rm --security-opt seccomp=\"$PROFILE\" \"$BUILDER\" perl -e 'for $set (0x202, 1) { syscall(101, 0x4204, 1, $set, 0); print \"$!\\n\" }'",
        ],
        cpu: &[],
        check: kernel_facts::ptrace_rule,
    },
    Demo {
        doc: Doc::Notes,
        claim: "Docker's default set is 14 capabilities without CAP_SYS_MODULE and CAP_SYS_BOOT; seccomp filters",
        commands: &[
            "docker run --rm --user 0 \"$IMAGE\" grep -E '^(CapEff|Seccomp):' /proc/self/status",
            "docker run --rm --user 0 --cap-add SYS_MODULE \"$IMAGE\" grep CapEff /proc/self/status",
        ],
        cpu: &[],
        check: kernel_facts::capabilities,
    },
    Demo {
        doc: Doc::Notes,
        claim: "seccomp refuses init_module before the kernel's capability check; with CAP_SYS_MODULE the kernel itself answers",
        commands: &[
            "docker run --rm \"$BUILDER\" insmod /etc/hostname",
            "docker run --rm --security-opt seccomp=unconfined \"$BUILDER\" insmod /etc/hostname",
            "docker run --rm --cap-add SYS_MODULE \"$BUILDER\" insmod /etc/hostname",
        ],
        cpu: &[],
        check: kernel_facts::insmod,
    },
    // 4. Publishing.
    Demo {
        doc: Doc::Answers,
        claim: "a name with capitals is refused locally; the registry serves the pushed digest, and a pull by it fetches the image",
        commands: &[
            "docker tag \"$IMAGE\" USER/nginx",
            "docker tag \"$IMAGE\" \"$REGISTRY/dockerlab/nginx:1.0.0\" && docker push \"$REGISTRY/dockerlab/nginx:1.0.0\" | tail -n 1",
            "curl -sI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \"http://$REGISTRY/v2/dockerlab/nginx/manifests/1.0.0\" | grep -i '^docker-content-digest'",
            "d=$(docker image inspect --format '{{index .RepoDigests 0}}' \"$REGISTRY/dockerlab/nginx:1.0.0\"); docker image rm \"$REGISTRY/dockerlab/nginx:1.0.0\" >/dev/null; docker pull \"$d\" | grep -E '^(Digest|Status):'",
        ],
        cpu: &[],
        check: facts::push,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU-dependent command is one of its demonstration's.
    #[test]
    fn cpu_marks_name_commands_that_exist() {
        for demo in DEMOS {
            assert!(
                demo.cpu.iter().all(|&i| i < demo.commands.len()),
                "{}",
                demo.claim
            );
        }
    }
}
