//! How a running container is confined, read back from `docker inspect` (what
//! the engine applied, not what our files ask for), and the promise every container of the
//! project keeps (docs/hardening.md).

use std::collections::BTreeMap;

use crate::docker::Docker;
use anyhow::{ensure, Context, Result};
use xshell::Shell;

/// One `docker inspect` of a container, its fields by name.
pub struct Confinement {
    fields: BTreeMap<String, String>,
    pub name: String,
}

/// The fields read, one line each (`name=value`); lists end every item with a comma.
const FORMAT: &str = "\
running={{.State.Running}}
user={{.Config.User}}
memory={{.HostConfig.Memory}}
nano_cpus={{.HostConfig.NanoCpus}}
pids_limit={{.HostConfig.PidsLimit}}
read_only={{.HostConfig.ReadonlyRootfs}}
cap_drop={{range .HostConfig.CapDrop}}{{.}},{{end}}
cap_add={{range .HostConfig.CapAdd}}{{.}},{{end}}
security_opt={{range .HostConfig.SecurityOpt}}{{.}},{{end}}
host_ips={{range $port, $bindings := .HostConfig.PortBindings}}{{range $bindings}}[{{.HostIp}}]{{end}}{{end}}
image={{.Image}}
oom_killed={{.State.OOMKilled}}
restarts={{.RestartCount}}
restart_policy={{.HostConfig.RestartPolicy.Name}}
started={{.State.StartedAt}}";

impl Confinement {
    pub fn of(sh: &Shell, container: &str) -> Result<Confinement> {
        let out = Docker::local(sh)
            .read(&["container", "inspect", "--format", FORMAT, container])
            .with_context(|| format!("inspecting container {container}: is it running?"))?;
        let fields = out
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Confinement {
            fields,
            name: container.into(),
        })
    }

    pub fn get(&self, field: &str) -> &str {
        self.fields.get(field).map(String::as_str).unwrap_or("")
    }

    fn number(&self, field: &str) -> i64 {
        self.get(field).parse().unwrap_or(0)
    }

    /// The memory limit in bytes (0: none).
    pub fn memory(&self) -> i64 {
        self.number("memory")
    }

    pub fn restarts(&self) -> i64 {
        self.number("restarts")
    }

    /// The host addresses its ports are published on (an empty one is every interface: 0.0.0.0).
    pub fn host_ips(&self) -> Vec<&str> {
        let bindings = self.get("host_ips").split(']');
        bindings
            .filter_map(|b| b.strip_prefix('['))
            .map(|ip| if ip.is_empty() { "0.0.0.0" } else { ip })
            .collect()
    }

    fn list(&self, field: &str) -> Vec<&str> {
        self.get(field)
            .split(',')
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Every property of docs/hardening.md: running; as a user other than root (the CIS Docker
    /// Benchmark's check 4.1 reads `.Config.User`); memory, CPU and PIDs limited; read-only root
    /// file system; every capability dropped and none added back; `no-new-privileges`;
    /// published, if at all, on the loopback only (unless `open` names the address it was opened
    /// on); and a healthcheck in its image.
    pub fn hardened(&self, sh: &Shell, open: Option<&str>) -> Result<()> {
        let name = &self.name;
        ensure!(self.get("running") == "true", "{name} is not running");
        let user = self.get("user");
        let uid = user.split(':').next().unwrap_or("");
        ensure!(
            !matches!(uid, "" | "0" | "root"),
            "{name}: runs as root (Config.User {user:?})"
        );
        ensure!(self.memory() > 0, "{name}: no memory limit");
        ensure!(self.number("nano_cpus") > 0, "{name}: no CPU limit");
        ensure!(self.number("pids_limit") > 0, "{name}: no PIDs limit");
        ensure!(
            self.get("read_only") == "true",
            "{name}: the root file system is writable"
        );
        ensure!(
            self.list("cap_drop")
                .iter()
                .any(|c| c.eq_ignore_ascii_case("ALL")),
            "{name}: not every capability is dropped (CapDrop: {})",
            self.get("cap_drop")
        );
        ensure!(
            self.list("cap_add").is_empty(),
            "{name}: capabilities added back: {}",
            self.get("cap_add")
        );
        ensure!(
            self.list("security_opt")
                .iter()
                .any(|o| *o == "no-new-privileges" || *o == "no-new-privileges:true"),
            "{name}: no-new-privileges is not set (SecurityOpt: {})",
            self.get("security_opt")
        );
        for ip in self.host_ips() {
            let allowed = ip == "127.0.0.1" || ip == "::1" || Some(ip) == open;
            ensure!(allowed, "{name}: published on {ip:?}, not the loopback");
        }
        let image = self.get("image");
        let format = "{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test \" \"}}{{end}}";
        let test = Docker::local(sh).read(&["image", "inspect", "--format", format, image])?;
        ensure!(
            test.starts_with("CMD"),
            "{name}: its image {image} has no HEALTHCHECK ({test:?})"
        );
        Ok(())
    }
}
