//! What each demonstration of answers.md about images and containers (the engine, sections 1,
//! 2 and 4) must show: one check per entry of [`super::demos::DEMOS`], given the outputs of its
//! commands in order. Each asserts the facts the text states about that output; the comparison
//! with the quote is separate. Section 3's are in [`super::kernel_facts`].

use anyhow::{ensure, Context, Result};

use super::output::{lines, Output};
use crate::docker::{self, is_digest};

pub fn engine(out: &[Output]) -> Result<()> {
    let version = out[0].text.trim();
    ensure!(
        out[0].ok && version.starts_with("Docker Engine ") && version.len() > 14,
        "no engine version: {version}"
    );
    ensure!(
        out[1].ok && out[1].text.contains(" CPU,"),
        "no machine: {}",
        out[1].text
    );
    Ok(())
}

/// `144MB` in bytes, as docker prints sizes (powers of 1000).
fn bytes(size: &str) -> Result<f64> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &size[digits.len()..] {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => anyhow::bail!("unknown size unit {other} in {size}"),
    };
    Ok(digits
        .parse::<f64>()
        .with_context(|| format!("size {size}"))?
        * unit)
}

pub fn page(out: &[Output]) -> Result<()> {
    started(&out[0], "web")?;
    let index = std::fs::read_to_string(docker::project_root().join("nginx/html/index.html"))?;
    let title = out[1].text.trim();
    ensure!(
        !title.is_empty() && index.contains(title),
        "the page's title is `{title}`, not our index.html's"
    );
    let sizes: Vec<f64> = lines(&out[2])
        .iter()
        .map(|l| bytes(l.rsplit(' ').next().unwrap_or_default()))
        .collect::<Result<_>>()?;
    let [image, base] = sizes[..] else {
        anyhow::bail!("not two sizes: {}", out[2].text);
    };
    // answers.md: nearly all of it is the base; nginx and our files add a few tens of MB.
    ensure!(
        image > base && image - base < 50e6,
        "the image weighs {image} bytes, its base {base}"
    );
    Ok(())
}

pub fn image_config(out: &[Output]) -> Result<()> {
    let config = out[0].text.trim();
    let expected = "user=101:101 ports=map[8080/tcp:{}] stop=SIGQUIT cmd=[nginx -e stderr]";
    ensure!(config == expected, "image config is `{config}`");
    Ok(())
}

pub fn unprivileged_ports(out: &[Output]) -> Result<()> {
    let values = lines(&out[0]);
    let [bridge, host] = values[..] else {
        anyhow::bail!("not two values: {}", out[0].text);
    };
    ensure!(
        bridge == "0",
        "a container on the bridge network has {bridge}, not 0"
    );
    // The host's own value, read here: --network host must show it, and it must be the
    // kernel's default the text names.
    let here = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")?;
    ensure!(
        host == here.trim() && host == "1024",
        "with --network host the container has {host}; the host has {}",
        here.trim()
    );
    Ok(())
}

/// Instructions of the Dockerfile's last stage that write files, so make layers.
fn layer_instructions(dockerfile: &str) -> usize {
    let last = dockerfile.rfind("\nFROM ").unwrap_or(0);
    dockerfile[last..]
        .lines()
        .filter(|l| ["RUN ", "COPY ", "ADD "].iter().any(|i| l.starts_with(i)))
        .count()
}

pub fn layers(out: &[Output]) -> Result<()> {
    let counts: Vec<usize> = lines(&out[0])
        .iter()
        .map(|n| n.parse().with_context(|| format!("layer count {n}")))
        .collect::<Result<_>>()?;
    let [image, base] = counts[..] else {
        anyhow::bail!("not two layer counts: {}", out[0].text);
    };
    let dockerfile = std::fs::read_to_string(docker::project_root().join("nginx/Dockerfile"))?;
    let ours = layer_instructions(&dockerfile);
    ensure!(
        (image, base, ours) == (5, 1, 4),
        "{image} layers on a base of {base}, {ours} RUN/COPY/ADD in nginx/Dockerfile; answers.md \
         says 5 = 4 + the base's 1"
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
    // Container a, from the same image, sees the image's files as they were; its PID 1 is nginx.
    ensure!(
        lines(&out[4]) == ["0", "/etc/motd", "nginx"],
        "a sees b's changes, or its PID 1 is not nginx (lines B in /etc/issue, /etc/motd, \
         /proc/1/comm): {}",
        out[4].text
    );
    Ok(())
}

pub fn upper_layer(out: &[Output]) -> Result<()> {
    // In the upper layer: the copied-up issue, and motd as a whiteout (a 0/0 character device).
    let upper = lines(&out[0]);
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
    Ok(())
}

pub fn processes(out: &[Output]) -> Result<()> {
    // NSpid: the number in each PID namespace, the host's first, the container's last.
    let nspid: Vec<u32> = out[0]
        .text
        .trim()
        .strip_prefix("NSpid:")
        .context("no NSpid line")?
        .split_whitespace()
        .map(|n| n.parse().with_context(|| format!("NSpid {n}")))
        .collect::<Result<_>>()?;
    ensure!(
        nspid.len() == 2 && nspid[1] == 1 && nspid[0] != 1,
        "the container's PID 1 is {nspid:?} in the host's and its own namespace"
    );
    let counts = lines(&out[1]);
    ensure!(
        counts.len() == 2 && counts[0] == counts[1],
        "nginx workers, the host's CPUs: {counts:?}"
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
    Ok(())
}

pub fn architecture(out: &[Output]) -> Result<()> {
    let lines = lines(&out[0]);
    ensure!(
        lines.len() == 2 && lines[0] == lines[1] && lines[0].starts_with("linux/"),
        "image and engine platforms differ: {lines:?}"
    );
    Ok(())
}

pub fn push(out: &[Output]) -> Result<()> {
    ensure!(
        !out[0].ok && out[0].text.contains("repository name must be lowercase"),
        "a name with capitals was not refused: {}",
        out[0].text
    );
    let after = |text: &str, key: &str| -> Option<String> {
        let at = text.to_ascii_lowercase().find(key)? + key.len();
        Some(text[at..].split_whitespace().next()?.to_string())
    };
    let pushed = after(&out[1].text, "digest: ")
        .with_context(|| format!("tag and push printed no digest: {}", out[1].text))?;
    let served = after(&out[2].text, "docker-content-digest: ").context("no digest served")?;
    let pulled = after(&out[3].text, "digest: ").context("pull printed no digest")?;
    ensure!(
        is_digest(&pushed) && pushed == served && served == pulled,
        "pushed {pushed}, the registry serves {served}, pulled {pulled}"
    );
    ensure!(
        out[3].text.contains("Status: Downloaded newer image"),
        "the pull by digest fetched nothing: {}",
        out[3].text
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::output::testing::{out, refused};
    use super::*;

    #[test]
    fn wrong_outputs_fail_the_checks() {
        let ok = |text: &str| out(true, text);
        // The host's PID namespace alone: a process seen from the host, never from a container.
        refused(processes, &[ok("NSpid:\t6689\n"), ok("2\n2\n")]);
        // One worker under --cpus 1 on two CPUs: auto would count the quota.
        refused(processes, &[ok("NSpid:\t6689\t1\n"), ok("1\n2\n")]);
        processes(&[ok("NSpid:\t6689\t1\n"), ok("2\n2\n")]).unwrap();
        // BuildKit's history of an Alpine image counts 6 steps; the layers are what counts.
        refused(layers, &[ok("6\n1\n")]);
        layers(&[ok("5\n1\n")]).unwrap();
        // A container with --network host that saw 0: not the host's value.
        refused(unprivileged_ports, &[ok("0\n0\n")]);
        refused(architecture, &[ok("linux/arm64\nlinux/amd64\n")]);
        architecture(&[ok("linux/amd64\nlinux/amd64\n")]).unwrap();
        let refusal = "Error response from daemon: invalid reference format: repository name must be lowercase";
        let push_outputs = |served: &str, status: &str| {
            [
                out(false, refusal),
                ok("1.0.0: digest: sha256:229c5fc1742b3c7dbd2f0f1b4a4c6e0e1e6e3d0a8f1f7f0d7c2b1a0e9d8c7b6a size: 1364\n"),
                ok(&format!("Docker-Content-Digest: sha256:{served}\r\n")),
                ok(&format!("Digest: sha256:229c5fc1742b3c7dbd2f0f1b4a4c6e0e1e6e3d0a8f1f7f0d7c2b1a0e9d8c7b6a\nStatus: {status}\n")),
            ]
        };
        let pushed = "229c5fc1742b3c7dbd2f0f1b4a4c6e0e1e6e3d0a8f1f7f0d7c2b1a0e9d8c7b6a";
        let other = "0000000000000000000000000000000000000000000000000000000000000001";
        push(&push_outputs(pushed, "Downloaded newer image for x")).unwrap();
        refused(push, &push_outputs(other, "Downloaded newer image for x"));
        refused(push, &push_outputs(pushed, "Image is up to date for x"));
        let id = "ea9f0ca88a76c5c41b0ac0b7a7d3b5f1a2c3d4e5f60718293a4b5c6d7e8f9012\n";
        refused(
            page,
            &[
                ok(id),
                ok("<title>Welcome to nginx!</title>\n"),
                ok("a:1 144MB\nb:1 122MB\n"),
            ],
        );
        // An image that weighs more than its base by hundreds of MB: not "nearly all of it".
        refused(
            page,
            &[
                ok(id),
                ok("<title>dockerlab · our nginx image</title>\n"),
                ok("a:1 744MB\nb:1 122MB\n"),
            ],
        );
    }

    #[test]
    fn the_last_stage_of_a_dockerfile_counts() {
        let file = "FROM a AS page\nRUN x\nFROM b\nRUN set -eux; \\\n    RUN-not\nCOPY a b\nEXPOSE 1\nCOPY --from=page c d\n";
        assert_eq!(layer_instructions(file), 3);
        assert!((bytes("144MB").unwrap() - 144e6).abs() < 1.0);
        assert!(bytes("5.39kB").is_ok() && bytes("5 MiB").is_err());
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
