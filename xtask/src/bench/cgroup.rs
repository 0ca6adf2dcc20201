//! Where a process's cgroup is, read from its /proc/PID/cgroup: cgroup v1 has a hierarchy per
//! controller, v2 one unified hierarchy. The bench measures containers' memory and gives the
//! host's nginx the container's CPU limit through them.

use std::path::{Path, PathBuf};

/// A process's cgroup directory for one controller.
#[derive(Debug, PartialEq)]
pub enum Cgroup {
    /// `/sys/fs/cgroup/CONTROLLER/PATH`
    V1(PathBuf),
    /// `/sys/fs/cgroup/PATH`
    V2(PathBuf),
}

impl Cgroup {
    pub fn into_dir(self) -> PathBuf {
        match self {
            Cgroup::V1(dir) | Cgroup::V2(dir) => dir,
        }
    }
}

/// `controller`'s cgroup in a /proc/PID/cgroup text: its v1 hierarchy's, else the v2 unified one.
pub fn of(text: &str, controller: &str) -> Option<Cgroup> {
    let root = Path::new("/sys/fs/cgroup");
    let mut unified = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == controller) {
            return Some(Cgroup::V1(root.join(controller).join(path)));
        }
        if controllers.is_empty() {
            unified = Some(Cgroup::V2(root.join(path)));
        }
    }
    unified
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_controllers_cgroup() {
        let v1 = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n9:memory:/docker/abc\n0::/\n";
        assert_eq!(
            of(v1, "cpu"),
            Some(Cgroup::V1("/sys/fs/cgroup/cpu/docker/abc".into()))
        );
        assert_eq!(
            of(v1, "memory"),
            Some(Cgroup::V1("/sys/fs/cgroup/memory/docker/abc".into()))
        );
        let v2 = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            of(v2, "cpu"),
            Some(Cgroup::V2(
                "/sys/fs/cgroup/system.slice/docker-abc.scope".into()
            ))
        );
        assert_eq!(of("4:cpuset:/docker/abc\n", "cpu"), None);
    }
}
