//! `docker inspect` as typed values: the fields of `{{json .}}` the project reads (serde leaves
//! the rest out), instead of one `--format` template per question.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A container, as `docker container inspect` describes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInfo {
    /// The id of the image it runs.
    pub image: String,
    #[serde(default)]
    pub restart_count: i64,
    pub state: State,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    pub running: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub exit_code: i64,
    /// Its main process's pid on the host (0 when it does not run).
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub health: Option<Health>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    #[serde(default)]
    pub networks: BTreeMap<String, Endpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
}

impl ContainerInfo {
    /// Its addresses on its networks, in the networks' order, the empty ones left out.
    pub fn addresses(&self) -> Vec<&str> {
        self.network_settings
            .networks
            .values()
            .map(|net| net.ip_address.as_str())
            .filter(|ip| !ip.is_empty())
            .collect()
    }
}

/// An image, as `docker image inspect` describes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    pub id: String,
    /// Uncompressed, in bytes.
    pub size: u64,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(default)]
    pub layers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from Docker 20.10's own `docker inspect` output.
    #[test]
    fn inspect_json_reads_into_the_types() {
        let container = r#"{"Id":"abc","Name":"/web","Image":"sha256:1",
            "RestartCount":0,"State":{"Status":"running","Running":true,"OOMKilled":false,"ExitCode":0,"Pid":42,
                     "Health":{"Status":"healthy","FailingStreak":0}},
            "Config":{"User":"nginx","Labels":{"a":"b"},"Env":[]},
            "HostConfig":{"Memory":67108864,"PidsLimit":64,"ReadonlyRootfs":true,
                          "CapDrop":["ALL"],"CapAdd":null,"RestartPolicy":{"Name":"unless-stopped"}},
            "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"},"x":{"IPAddress":""}}}}"#;
        let info: ContainerInfo = serde_json::from_str(container).unwrap();
        assert!(info.state.running && !info.state.oom_killed);
        assert_eq!(info.state.health.as_ref().unwrap().status, "healthy");
        assert_eq!(info.addresses(), ["172.17.0.2"]);
        let image = r#"{"Id":"sha256:1","Size":12345,"RootFS":{"Type":"layers",
            "Layers":["sha256:a","sha256:b"]},"Config":{"User":"","Labels":null}}"#;
        let info: ImageInfo = serde_json::from_str(image).unwrap();
        assert_eq!((info.size, info.root_fs.layers.len()), (12345, 2));
    }
}
