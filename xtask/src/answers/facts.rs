//! What each demonstration of answers.md must show: one check per entry of [`super::DEMOS`],
//! given the outputs of its commands in order. Each asserts the facts the text states about that
//! output, not the output byte for byte.

use anyhow::{ensure, Context, Result};

use super::demos::Output;
use crate::docker::is_digest;

const CAP_SYS_MODULE: u64 = 1 << 16;
const CAP_SYS_BOOT: u64 = 1 << 22;
/// Docker's default capability set, the 14 bits answers.md names: CHOWN DAC_OVERRIDE FOWNER
/// FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
const DOCKER_DEFAULT_CAPS: u64 = 0xa804_25fb;

fn lines(out: &Output) -> Vec<&str> {
    out.text.lines().collect()
}

pub fn image_config(out: &[Output]) -> Result<()> {
    let config = out[0].text.trim();
    let expected = "user=101:101 ports=map[8080/tcp:{}] stop=SIGQUIT cmd=[nginx -e stderr]";
    ensure!(config == expected, "image config is `{config}`");
    Ok(())
}

pub fn unprivileged_ports(out: &[Output]) -> Result<()> {
    let (host, inside) = (out[0].text.trim(), out[1].text.trim());
    ensure!(
        host == "1024",
        "the host's ip_unprivileged_port_start is {host}, not the kernel's default 1024"
    );
    ensure!(
        inside == "0",
        "a container on the bridge network has {inside}, not 0"
    );
    Ok(())
}

pub fn layers(out: &[Output]) -> Result<()> {
    let mut layers = 0;
    let mut metadata = Vec::new();
    for line in lines(&out[0]) {
        let (size, by) = line.split_once('\t').unwrap_or((line, ""));
        // The classic builder marks instructions that run nothing with #(nop); of those, COPY
        // and ADD still write files.
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
            metadata
                .iter()
                .any(|by| by.contains(&format!(" {instruction} "))),
            "no {instruction} step without a layer in the history"
        );
    }
    ensure!(
        layers == 5,
        "{layers} layer-making steps in the history; answers.md says five"
    );
    Ok(())
}

pub fn image_id(out: &[Output]) -> Result<()> {
    let id = out[0].text.trim();
    ensure!(is_digest(id), "the image ID is {id}");
    ensure!(
        out[1].ok,
        "docker save | tar | sha256sum failed: {}",
        out[1].text
    );
    let digest = out[1].text.split_whitespace().next().unwrap_or_default();
    ensure!(
        id == format!("sha256:{digest}"),
        "the configuration's sha256 is {digest}, the image ID {id}"
    );
    Ok(())
}

fn started(out: &Output, name: &str) -> Result<()> {
    let id = out.text.trim();
    ensure!(
        out.ok && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "container {name} did not start: {id}"
    );
    Ok(())
}

pub fn copy_on_write(out: &[Output]) -> Result<()> {
    started(&out[0], "a")?;
    started(&out[1], "b")?;
    ensure!(out[2].ok, "changing b's files failed: {}", out[2].text);
    let b = lines(&out[3]);
    ensure!(
        b == ["C /etc", "C /etc/issue", "D /etc/motd"],
        "b's diff is not the changed issue and the deleted motd: {b:?}"
    );
    // In the upper layer: the copied-up issue, and motd as a whiteout (a 0/0 character device).
    let upper = lines(&out[4]);
    let entry = |name: &str| {
        upper
            .iter()
            .find(|l| l.ends_with(&format!(" {name}")))
            .copied()
    };
    let motd = entry("motd").context("no motd in b's upper layer")?;
    ensure!(
        motd.starts_with('c') && motd.contains(" 0, 0 "),
        "motd in the upper layer is not a whiteout: {motd}"
    );
    let issue = entry("issue").context("issue was not copied up")?;
    ensure!(
        issue.starts_with('-'),
        "issue in the upper layer is not a file: {issue}"
    );
    // Container a, from the same image, sees the image's files as they were; its PID 1 is nginx.
    ensure!(
        lines(&out[5]) == ["0", "/etc/motd", "nginx"],
        "a sees b's changes, or its PID 1 is not nginx (lines B in /etc/issue, /etc/motd, \
         /proc/1/comm): {}",
        out[5].text
    );
    Ok(())
}

pub fn processes(out: &[Output]) -> Result<()> {
    // What nginx's `auto` counts: the CPUs online on the host, as nproc tells the host.
    let cpus = std::thread::available_parallelism()?.get();
    let nginx: Vec<(u32, &str)> = lines(&out[0])
        .into_iter()
        .filter(|line| line.contains("nginx: "))
        .filter_map(|line| Some((line.split_whitespace().next()?.parse().ok()?, line)))
        .collect();
    ensure!(
        nginx
            .iter()
            .any(|(_, l)| l.contains("nginx: master process")),
        "no nginx master in docker top: {}",
        out[0].text
    );
    ensure!(
        nginx.iter().all(|&(pid, _)| pid != 1),
        "the host sees nginx as PID 1: {nginx:?}"
    );
    let workers = nginx
        .iter()
        .filter(|(_, l)| l.contains("nginx: worker process"))
        .count();
    ensure!(
        workers == cpus,
        "{workers} workers with --cpus 1 on a host of {cpus} CPUs"
    );
    Ok(())
}

/// The `N ms` a timed `docker stop` printed last.
fn millis(out: &Output) -> Result<u64> {
    let last = out.text.lines().last().unwrap_or_default();
    last.strip_suffix(" ms")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no duration in {}", out.text))
}

pub fn stop(out: &[Output]) -> Result<()> {
    let (nginx, sleep) = (millis(&out[0])?, millis(&out[1])?);
    ensure!(
        nginx < 9_000,
        "stopping nginx took {nginx} ms: it waited for the timeout"
    );
    ensure!(
        (9_500..30_000).contains(&sleep),
        "stopping the sleep took {sleep} ms, not the 10 s timeout"
    );
    ensure!(
        lines(&out[2])
            == [
                "/dockerlab-answers-a exited 0",
                "/dockerlab-answers-b exited 137"
            ],
        "states and exit codes: {}",
        out[2].text
    );
    ensure!(
        lines(&out[3]) == ["D /etc/motd"],
        "the stopped container lost its layer: {}",
        out[3].text
    );
    ensure!(out[4].ok, "removing the containers failed: {}", out[4].text);
    Ok(())
}

pub fn user_mode_linux(out: &[Output]) -> Result<()> {
    let (host, inside) = (out[0].text.trim(), out[1].text.trim());
    ensure!(
        !host.is_empty() && host == inside,
        "host {host}, container {inside}"
    );
    let console = &out[2].text;
    let banner = console
        .lines()
        .find_map(|l| l.find("Linux version ").map(|at| &l[at..]))
        .with_context(|| format!("no banner from User-mode Linux: {console}"))?;
    let version = crate::kernel::banner_version(banner).context("no version in the banner")?;
    ensure!(
        version.starts_with("6.1.") && banner.contains("(dockerlab@kernel-builder)"),
        "not our 6.1 kernel: {banner}"
    );
    ensure!(
        version != host,
        "User-mode Linux says {version}, as the host does"
    );
    let seen = console
        .lines()
        .find_map(|l| {
            l.split_once(crate::kernel::INIT_LINE)
                .map(|(_, r)| r.trim())
        })
        .context("our /init did not run")?;
    ensure!(
        seen == version,
        "/init saw uname -r {seen}, the banner says {version}"
    );
    ensure!(
        console.contains("System halted"),
        "the kernel did not halt: {console}"
    );
    Ok(())
}

/// The effective capability set in /proc/self/status.
fn cap_eff(status: &str) -> Result<u64> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .context("no CapEff line")?;
    u64::from_str_radix(hex.trim(), 16).with_context(|| format!("CapEff {hex}"))
}

pub fn capabilities(out: &[Output]) -> Result<()> {
    let default = cap_eff(&out[0].text)?;
    ensure!(
        default == DOCKER_DEFAULT_CAPS && default.count_ones() == 14,
        "the default set is {default:#x}, not the 14 capabilities answers.md lists"
    );
    ensure!(
        default & CAP_SYS_MODULE == 0,
        "CAP_SYS_MODULE is in the default set"
    );
    ensure!(
        default & CAP_SYS_BOOT == 0,
        "CAP_SYS_BOOT is in the default set"
    );
    ensure!(
        out[0].text.contains("Seccomp:\t2"),
        "no seccomp filter: {}",
        out[0].text
    );
    let added = cap_eff(&out[1].text)?;
    ensure!(
        added == default | CAP_SYS_MODULE,
        "--cap-add gives {added:#x}"
    );
    Ok(())
}

pub fn insmod(out: &[Output]) -> Result<()> {
    ensure!(
        !out[0].ok && out[0].text.contains("Operation not permitted"),
        "insmod was not refused: {}",
        out[0].text
    );
    // With the capability the request reaches the kernel, which refuses a text file for its
    // own reasons (not a module, no module support, a required signature missing). Refused for
    // permission still would mean the host forbids modules (lockdown, modules_disabled=1).
    ensure!(
        !out[1].ok,
        "the host's kernel took /etc/hostname as a module"
    );
    ensure!(
        !out[1].text.contains("Operation not permitted"),
        "still refused for permission: {}",
        out[1].text
    );
    Ok(())
}

pub fn architecture(out: &[Output]) -> Result<()> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let platform = out[0].text.trim();
    ensure!(
        platform == format!("linux/{arch}"),
        "the image is {platform}, built on linux/{arch}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_reads_the_hex_mask() {
        let status = "CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n";
        let caps = cap_eff(status).unwrap();
        assert_eq!(caps, DOCKER_DEFAULT_CAPS);
        assert_eq!(caps.count_ones(), 14);
        assert_eq!(caps & CAP_SYS_MODULE, 0);
        assert!(cap_eff("Seccomp: 2").is_err());
    }

    #[test]
    fn a_timed_stop_reads_its_last_line() {
        let out = |text: &str| Output {
            ok: true,
            text: text.into(),
        };
        assert_eq!(millis(&out("dockerlab-answers-a\n137 ms\n")).unwrap(), 137);
        assert!(millis(&out("dockerlab-answers-a\n")).is_err());
    }
}
