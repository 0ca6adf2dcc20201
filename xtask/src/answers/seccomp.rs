//! The seccomp profile User-mode Linux runs under in answers.md: Docker's default profile
//! (fixtures/moby-default-seccomp.json, see fixtures/README.md) with one rule of ours.

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

/// Docker's default profile, as the engine of the demonstrations (20.10.24) builds it in.
const DOCKER_DEFAULT: &str = include_str!("fixtures/moby-default-seccomp.json");

/// ptrace's request that reads a register set, and the set of the x86 extended (XSAVE) state.
const PTRACE_GETREGSET: u64 = 0x4204;
const NT_X86_XSTATE: u64 = 0x202;
const EIO: u64 = 5;

/// Docker's default profile with our rule: `ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, …)`
/// fails with EIO, every other ptrace request stays allowed. User-mode Linux then takes the
/// XSAVE state as missing and saves its processes' FPU registers in the FXSAVE format.
///
/// In libseccomp a conditional rule for a syscall that also has an unconditional one is not
/// reliably applied, so ptrace's unconditional allow makes way for two conditional ones that
/// together allow exactly the other requests.
pub fn uml_profile() -> Result<Value> {
    let mut profile: Value =
        serde_json::from_str(DOCKER_DEFAULT).context("parsing Docker's default profile")?;
    let rules = profile["syscalls"]
        .as_array_mut()
        .context("the profile has no syscalls")?;
    let before = rules.len();
    // The default allows ptrace unconditionally on kernels >= 4.8 (without CAP_SYS_PTRACE).
    rules.retain(|rule| {
        !(rule["names"] == json!(["ptrace"])
            && rule["action"] == "SCMP_ACT_ALLOW"
            && rule["includes"].get("caps").is_none())
    });
    ensure!(
        rules.len() + 1 == before,
        "Docker's default profile no longer has one unconditional rule allowing ptrace"
    );
    let arg = |index: u64, op: &str, value: u64| json!({"index": index, "op": op, "value": value});
    rules.extend([
        json!({"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
               "args": [arg(0, "SCMP_CMP_NE", PTRACE_GETREGSET)]}),
        json!({"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
               "args": [arg(2, "SCMP_CMP_NE", NT_X86_XSTATE)]}),
        json!({"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": EIO,
               "comment": "dockerlab: User-mode Linux uses FXSAVE instead of XSAVE",
               "args": [arg(0, "SCMP_CMP_EQ", PTRACE_GETREGSET),
                        arg(2, "SCMP_CMP_EQ", NT_X86_XSTATE)]}),
    ]);
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile is Docker's default but for ptrace: nothing else is loosened.
    #[test]
    fn the_profile_is_dockers_default_plus_the_ptrace_rule() {
        let default: Value = serde_json::from_str(DOCKER_DEFAULT).unwrap();
        let ours = uml_profile().unwrap();
        assert_eq!(ours["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(ours["defaultAction"], default["defaultAction"]);
        assert_eq!(ours["archMap"], default["archMap"]);
        let not_ptrace = |p: &Value| -> Vec<Value> {
            p["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["names"] != json!(["ptrace"]))
                .cloned()
                .collect()
        };
        assert_eq!(not_ptrace(&ours), not_ptrace(&default));
        let ptrace: Vec<&Value> = ours["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"] == json!(["ptrace"]))
            .collect();
        assert_eq!(ptrace.len(), 3);
        assert!(ptrace.iter().all(|r| r["args"].is_array()));
    }
}
