//! What the demonstrations of answers.md's section 3 (a kernel and a container) must show; the
//! sections' other checks are in [`super::facts`].

use anyhow::{ensure, Context, Result};

use super::output::{lines, Output};
use super::quoted;

const CAP_SYS_MODULE: u64 = 1 << 16;
const CAP_SYS_BOOT: u64 = 1 << 22;
/// Docker's default capability set, the 14 bits answers.md names: CHOWN DAC_OVERRIDE FOWNER
/// FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
const DOCKER_DEFAULT_CAPS: u64 = 0xa804_25fb;
/// "Minutes, not hours": a tinyconfig kernel and User-mode Linux on two shared cores.
const BUILD_LIMIT_S: u64 = 30 * 60;

/// `6.1` of `6.1.192`.
fn series(release: &str) -> String {
    release.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Whether `text` names `source` as a whole: `linux-source-6.1` is not named by `…-6.12`.
fn names(text: &str, source: &str) -> bool {
    text.match_indices(source).any(|(at, _)| {
        !text[at + source.len()..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
    })
}

pub fn kernel_build(out: &[Output]) -> Result<()> {
    let built = lines(&out[0]);
    // `==> built Linux 6.1.192: N bytes of bzImage`, then the same for User-mode Linux.
    let release = |prefix: &str| -> Result<String> {
        let line = built
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .with_context(|| format!("no `{prefix}` line: the build failed:\n{}", out[0].text))?;
        Ok(line.split(':').next().unwrap_or_default().to_string())
    };
    let (bzimage, uml) = (
        release("==> built Linux ")?,
        release("==> built User-mode Linux ")?,
    );
    ensure!(
        bzimage == uml && bzimage.split('.').count() >= 3,
        "bzImage is {bzimage}, User-mode Linux {uml}"
    );
    let took: u64 = built
        .last()
        .and_then(|l| l.strip_suffix(" s"))
        .and_then(|n| n.parse().ok())
        .context("no build time")?;
    ensure!(took < BUILD_LIMIT_S, "the build took {took} s, not minutes");
    // The text names the sources it built: after a move to other sources it must be rewritten.
    let source = format!("linux-source-{}", series(&bzimage));
    ensure!(
        names(&quoted::Doc::Answers.read()?, &source),
        "the builder compiled {bzimage}, and answers.md does not name {source}: rewrite its section \
         3 for that kernel"
    );
    Ok(())
}

pub fn user_mode_linux(out: &[Output]) -> Result<()> {
    let releases = lines(&out[0]);
    let [host, inside] = releases[..] else {
        anyhow::bail!("not two releases: {}", out[0].text);
    };
    ensure!(
        !host.is_empty() && host == inside,
        "host {host}, container {inside}"
    );
    let console = &out[1].text;
    let banner = console
        .lines()
        .find(|l| l.starts_with("Linux version "))
        .with_context(|| format!("no banner from User-mode Linux: {console}"))?;
    let version = crate::kernel::banner_version(banner).context("no version in the banner")?;
    ensure!(
        banner.contains("(dockerlab@kernel-builder)"),
        "not our kernel: {banner}"
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
        console.contains("Power down"),
        "the kernel did not halt: {console}"
    );
    Ok(())
}

/// User-mode Linux under Docker's default profile does what it does without seccomp: whatever
/// stops it there, it is not the profile.
pub fn seccomp_irrelevant(out: &[Output]) -> Result<()> {
    let (default, unconfined) = (out[0].text.trim(), out[1].text.trim());
    ensure!(
        !default.is_empty(),
        "User-mode Linux printed neither a halt nor an error"
    );
    ensure!(
        default == unconfined,
        "Docker's default profile changes what User-mode Linux does: with it\n{default}\nwithout \
         seccomp\n{unconfined}"
    );
    Ok(())
}

/// ptrace(PTRACE_GETREGSET, 1, set, NULL) for NT_X86_XSTATE and NT_PRSTATUS from a process that
/// traces nothing: the kernel answers ESRCH; our rule answers EIO for the XSAVE set alone.
pub fn ptrace_rule(out: &[Output]) -> Result<()> {
    const ESRCH: &str = "No such process";
    const EIO: &str = "Input/output error";
    let (default, ours) = (lines(&out[0]), lines(&out[1]));
    ensure!(
        default == [ESRCH, ESRCH],
        "under Docker's default profile the kernel should answer both requests: {default:?}"
    );
    ensure!(
        ours == [EIO, ESRCH],
        "under our profile only the XSAVE set should fail with EIO: {ours:?}"
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

const EPERM: &str = "Operation not permitted";
const ENOSYS: &str = "Function not implemented";
/// What a kernel answers a text file offered as a module, once the caller may load modules:
/// no module support, not a module, a signature required and missing.
const KERNEL_REFUSALS: [&str; 3] = [ENOSYS, "Invalid module format", "Key was rejected"];

/// Which errno insmod reported.
fn refusal(out: &Output) -> Result<&'static str> {
    ensure!(!out.ok, "insmod loaded /etc/hostname: {}", out.text);
    [EPERM, ENOSYS, KERNEL_REFUSALS[1], KERNEL_REFUSALS[2]]
        .into_iter()
        .find(|e| out.text.contains(e))
        .with_context(|| format!("an unexpected refusal: {}", out.text))
}

pub fn insmod(out: &[Output]) -> Result<()> {
    let (default, unconfined, capable) = (refusal(&out[0])?, refusal(&out[1])?, refusal(&out[2])?);
    ensure!(
        default == EPERM,
        "under the defaults insmod got `{default}`, not `{EPERM}`"
    );
    ensure!(
        KERNEL_REFUSALS.contains(&capable),
        "with CAP_SYS_MODULE the refusal is still `{capable}`: the host forbids modules (lockdown, \
         modules_disabled)"
    );
    // A kernel without modules answers ENOSYS before it checks any capability: then the EPERM
    // under the defaults can only be seccomp's. A kernel with modules checks the capability
    // first, and without seccomp the answer is its EPERM.
    let expected = if capable == ENOSYS { ENOSYS } else { EPERM };
    ensure!(
        unconfined == expected,
        "without seccomp and CAP_SYS_MODULE insmod got `{unconfined}`; with the capability \
         `{capable}`, so `{expected}` was expected"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::output::testing::{out, refused};
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
    fn insmod_tells_seccomp_from_the_capability_check() {
        let e = |what: &str| {
            out(
                false,
                &format!("insmod: ERROR: could not insert module: {what}"),
            )
        };
        // Here: no modules in the kernel.
        insmod(&[e(EPERM), e(ENOSYS), e(ENOSYS)]).unwrap();
        // A usual host: the capability check, then the module's format.
        insmod(&[e(EPERM), e(EPERM), e("Invalid module format")]).unwrap();
        // Inconsistent: seccomp gone and still EPERM on a kernel without modules.
        assert!(insmod(&[e(EPERM), e(EPERM), e(ENOSYS)]).is_err());
        // Refused for permission even with the capability.
        assert!(insmod(&[e(EPERM), e(EPERM), e(EPERM)]).is_err());
        assert!(insmod(&[out(true, ""), e(ENOSYS), e(ENOSYS)]).is_err());
    }

    #[test]
    fn wrong_outputs_fail_the_kernel_checks() {
        let ok = |text: &str| out(true, text);
        let built = |release: &str, took: &str| {
            ok(&format!(
                "==> built Linux {release}: 816128 bytes of bzImage\n\
                 ==> built User-mode Linux {release}: 2589920 bytes of linux\n{took} s\n"
            ))
        };
        kernel_build(&[built("6.12.57", "476")]).unwrap();
        // After a move to other sources the text must be rewritten; hours are not minutes.
        refused(kernel_build, &[built("6.1.192", "476")]);
        refused(kernel_build, &[built("6.12.57", "4000")]);
        let halted = "reboot: Power down\n";
        let panic = "ptrace set fp regs failed, errno = 14\nKernel panic - not syncing\n";
        refused(seccomp_irrelevant, &[ok(panic), ok(halted)]);
        // The rule not applied (libseccomp dropping it beside an unconditional allow).
        refused(
            ptrace_rule,
            &[
                ok("No such process\nNo such process\n"),
                ok("No such process\nNo such process\n"),
            ],
        );
        // The rule catching every register set.
        refused(
            ptrace_rule,
            &[
                ok("No such process\nNo such process\n"),
                ok("Input/output error\nInput/output error\n"),
            ],
        );
        ptrace_rule(&[
            ok("No such process\nNo such process\n"),
            ok("Input/output error\nNo such process\n"),
        ])
        .unwrap();
    }

    #[test]
    fn a_series_is_named_whole() {
        assert!(names(
            "Debian и `linux-source-6.12`) за",
            "linux-source-6.12"
        ));
        assert!(!names(
            "Debian и `linux-source-6.12`) за",
            "linux-source-6.1"
        ));
        assert!(names("linux-source-6.1", "linux-source-6.1"));
    }

    #[test]
    fn series_of_a_release() {
        assert_eq!(series("6.1.192"), "6.1");
        assert_eq!(series("6.12.57+deb13-amd64"), "6.12");
    }
}
