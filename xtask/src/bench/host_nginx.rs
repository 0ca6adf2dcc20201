//! The throughput section's reference: the host's nginx serving our page with our configuration
//! (only paths and port changed), in a CPU cgroup beside the container's or outside Docker's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use xshell::{cmd, Shell};

use super::cgroup::{self, Cgroup};
use super::shared::Ctx;
use crate::docker::{self, Container, Docker};
use crate::nginx;

/// The host's nginx serving our page with our configuration, as uid 101 like in the image;
/// stopped when dropped (and its cgroup removed).
pub struct HostNginx {
    child: duct::Handle,
    pub url: String,
    cgroup: Option<PathBuf>,
}

impl HostNginx {
    /// Starts it in target/bench/`name`, serving what the container `from` serves, in the
    /// cgroup `cgroup` (created here) when given.
    pub fn start(
        ctx: &Ctx,
        from: &Container,
        name: &str,
        cgroup: Option<PathBuf>,
    ) -> Result<HostNginx> {
        let sh = &ctx.run.sh;
        let dir = ctx.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        // The very files the container serves, build facts included.
        let html = format!("{}:/usr/share/nginx/html", from.name);
        let html_dir = dir.join("html");
        let html_dir = html_dir.to_string_lossy();
        Docker::local(sh).read(&["cp", &html, &html_dir])?;
        let port = docker::free_port()?;
        let read = |file: &str| sh.read_file(format!("{}/{file}", nginx::CONTEXT));
        let (main, site) = host_config(
            &read("nginx.conf")?,
            &read("site.conf")?,
            &dir.to_string_lossy(),
            port,
        )?;
        sh.write_file(dir.join("nginx.conf"), main)?;
        sh.write_file(dir.join("site.conf"), site)?;
        // nginx reopens /dev/stdout, so its log files must be its own, like the rest.
        let (access, errors) = (dir.join("access.log"), dir.join("error.log"));
        sh.write_file(&access, "")?;
        sh.write_file(&errors, "")?;
        cmd!(sh, "chown -R 101:101 {dir}").quiet().run()?;
        if let Some(cgroup) = &cgroup {
            std::fs::create_dir_all(cgroup)
                .with_context(|| format!("creating the cgroup {}", cgroup.display()))?;
            same_cpu_limit(sh, from, cgroup)?;
        }
        let conf = dir.join("nginx.conf");
        let mut argv: Vec<String> = Vec::new();
        if let Some(cgroup) = &cgroup {
            // The shell joins the cgroup, then becomes nginx: its workers are born in it.
            let join = r#"echo $$ > "$0/cgroup.procs" && exec "$@""#;
            argv.extend(["sh".into(), "-c".into(), join.into()]);
            argv.push(cgroup.to_string_lossy().into_owned());
        }
        argv.extend(
            [
                "setpriv",
                "--reuid",
                "101",
                "--regid",
                "101",
                "--clear-groups",
            ]
            .map(String::from),
        );
        argv.extend(["nginx", "-e", "stderr", "-p"].map(String::from));
        argv.push(dir.to_string_lossy().into_owned());
        argv.push("-c".into());
        argv.push(conf.to_string_lossy().into_owned());
        println!("$ {}", argv.join(" "));
        let child = duct::cmd(&argv[0], &argv[1..])
            .stdout_path(access)
            .stderr_path(errors)
            .unchecked()
            .start();
        let child = match child {
            Ok(child) => child,
            Err(err) => {
                if let Some(cgroup) = &cgroup {
                    let _ = std::fs::remove_dir(cgroup);
                }
                return Err(err)
                    .context("starting the host's nginx (Debian: apt-get install nginx)");
            }
        };
        let host = HostNginx {
            child,
            url: format!("http://127.0.0.1:{port}/"),
            cgroup,
        };
        docker::wait_http(&host.url, Duration::from_secs(10)).with_context(|| {
            format!(
                "the host's nginx did not serve; see {}/error.log",
                dir.display()
            )
        })?;
        Ok(host)
    }
}

impl Drop for HostNginx {
    fn drop(&mut self) {
        // TERM makes the master stop its workers; a killed master would leave them behind.
        for pid in self.child.pids() {
            let _ = duct::cmd!("kill", "-TERM", pid.to_string()).run();
        }
        let start = Instant::now();
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(cgroup) = &self.cgroup {
            // A cgroup directory is removed with rmdir once no process is left in it.
            for _ in 0..50 {
                if std::fs::remove_dir(cgroup).is_ok() || !cgroup.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A new CPU cgroup beside a container's, named `name`: a process in it competes for the CPU
/// the way the container does (Docker's cgroup shares one weight among all containers).
pub fn cgroup_beside(sh: &Shell, container: &Container, name: &str) -> Result<PathBuf> {
    let pid = container.info()?.state.pid;
    let text = sh.read_file(format!("/proc/{pid}/cgroup"))?;
    cpu_cgroup(&text)
        .and_then(|path| path.parent().map(|parent| parent.join(name)))
        .with_context(|| format!("no CPU cgroup in /proc/{pid}/cgroup:\n{text}"))
}

/// The container's CPU limit (`--cpus` of nginx::HARDENED: a CFS quota) on the cgroup beside it,
/// so that the host's nginx gets as much CPU as the container, not the whole machine.
fn same_cpu_limit(sh: &Shell, container: &Container, cgroup: &Path) -> Result<()> {
    let pid = container.info()?.state.pid;
    let own = cpu_cgroup(&sh.read_file(format!("/proc/{pid}/cgroup"))?)
        .with_context(|| format!("no CPU cgroup for {}", container.name))?;
    // v1: the period before the quota it is a share of; v2: both in cpu.max.
    for file in ["cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.max"] {
        if let Ok(value) = std::fs::read_to_string(own.join(file)) {
            std::fs::write(cgroup.join(file), value.trim())
                .with_context(|| format!("setting {file} of {}", cgroup.display()))?;
        }
    }
    Ok(())
}

/// The CPU cgroup directory in a /proc/PID/cgroup text.
fn cpu_cgroup(text: &str) -> Option<PathBuf> {
    cgroup::of(text, "cpu").map(Cgroup::into_dir)
}

/// Our nginx.conf and site.conf for the host: only the paths and the port differ.
fn host_config(main: &str, site: &str, dir: &str, port: u16) -> Result<(String, String)> {
    let swap = |text: &str, from: &str, to: &str| -> Result<String> {
        ensure!(
            text.contains(from),
            "`{from}` is no longer in nginx/'s configuration: update the bench's host copy"
        );
        Ok(text.replace(from, to))
    };
    let main = swap(main, " /tmp/", &format!(" {dir}/"))?;
    let main = swap(
        &main,
        "include /etc/nginx/site.conf;",
        &format!("include {dir}/site.conf;"),
    )?;
    let site = swap(
        site,
        "listen 8080 default_server;",
        &format!("listen 127.0.0.1:{port} default_server;"),
    )?;
    let site = swap(
        &site,
        "root /usr/share/nginx/html;",
        &format!("root {dir}/html;"),
    )?;
    Ok((main, site))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_changes_only_paths_and_port() {
        let root = docker::project_root();
        let read = |f: &str| std::fs::read_to_string(root.join("nginx").join(f)).unwrap();
        let (main, site) =
            host_config(&read("nginx.conf"), &read("site.conf"), "/x/h", 4321).unwrap();
        assert!(!main.contains("/tmp/") && !main.contains("/etc/nginx/site.conf"));
        assert!(main.contains("pid /x/h/nginx.pid;"));
        assert!(main.contains("include /x/h/site.conf;"));
        assert!(site.contains("listen 127.0.0.1:4321 default_server;"));
        assert!(site.contains("root /x/h/html;"));
        // Nothing else moved: the same number of lines, and the same directives.
        assert_eq!(main.lines().count(), read("nginx.conf").lines().count());
        assert_eq!(site.lines().count(), read("site.conf").lines().count());
        assert!(host_config("nothing", "here", "/d", 1).is_err());
    }
}
