//! Small file-system helpers several commands share: scratch directories and random secrets.

use std::fs;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// A private (0700) directory, removed with everything in it when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, empty directory at `path` (a leftover of an earlier run is removed first).
    pub fn at(path: PathBuf) -> Result<Scratch> {
        let _ = fs::remove_dir_all(&path);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch(path))
    }

    /// A new directory under the system's temporary directory, named after `label`.
    pub fn temp(label: &str) -> Result<Scratch> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let name = format!("dockerlab-{label}-{}-{nanos}", std::process::id());
        Scratch::at(std::env::temp_dir().join(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `bytes` random bytes from the kernel, as lowercase hex (passwords, keys).
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = Scratch::temp("unit").unwrap();
        let path = scratch.path().to_path_buf();
        fs::write(scratch.join("a"), "x").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn random_hex_is_random_hex() {
        let (a, b) = (random_hex(16).unwrap(), random_hex(16).unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
