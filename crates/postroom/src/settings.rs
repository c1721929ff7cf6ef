//! Loading the node's configuration: the TOML file (strict) or the embedded
//! defaults, then environment overrides, then validation, then the secret
//! and TLS files it names (`security`). Errors name the file and the key.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use postroom_core::config::{ConfigFile, Secret};

use crate::security::NodeSecurity;

/// Environment variables that override the file, for containers and Kubernetes.
const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("POSTROOM_DATA_DIR", "data_dir"),
    ("POSTROOM_NODE_ID", "cluster.node_id"),
    ("POSTROOM_CLUSTER_LISTEN", "cluster.listen"),
    ("POSTROOM_CLUSTER_ADVERTISE", "cluster.advertise"),
    ("POSTROOM_CLUSTER_PEERS", "cluster.peers"),
    ("POSTROOM_CLUSTER_JOIN", "cluster.join"),
    ("POSTROOM_CLUSTER_SECRET", "cluster.secret"),
    ("POSTROOM_CLUSTER_SECRET_FILE", "cluster.secret_file"),
    ("POSTROOM_ADMIN_TOKEN", "admin.token"),
    ("POSTROOM_ADMIN_TOKEN_FILE", "admin.token_file"),
    ("POSTROOM_HTTP_LISTEN", "http.listen"),
    ("POSTROOM_DROP_FOLDER", "drop_folder.path"),
    ("POSTROOM_SMTP_LISTEN", "smtp.listen"),
    ("POSTROOM_LOG_LEVEL", "log.level"),
    ("POSTROOM_LOG_FORMAT", "log.format"),
];

/// Where the configuration came from, for logs and the config audit trail.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ConfigFile,
    pub source: String,
    /// The token, secret and TLS files, read.
    pub security: NodeSecurity,
}

/// Load `file` (or the embedded defaults), apply env overrides and `--data-dir`, validate.
pub fn load(file: Option<&Path>, data_dir: Option<PathBuf>) -> anyhow::Result<Loaded> {
    let (mut config, source) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let config: ConfigFile =
                toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
            (config, format!("file:{}", path.display()))
        }
        None => (
            ConfigFile::embedded_defaults(),
            "embedded defaults".to_string(),
        ),
    };
    apply_env(&mut config, |name| std::env::var(name).ok())?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config
        .validate()
        .with_context(|| format!("configuration from {source}"))?;
    let security =
        NodeSecurity::load(&config).with_context(|| format!("configuration from {source}"))?;
    Ok(Loaded {
        config,
        source,
        security,
    })
}

/// Apply `POSTROOM_*` overrides read through `get`.
fn apply_env(config: &mut ConfigFile, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    for (var, key) in ENV_OVERRIDES {
        let Some(value) = get(var) else { continue };
        let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("{var}={value:?} (for {key}): {e}");
        match *key {
            "data_dir" => config.data_dir = PathBuf::from(&value),
            "cluster.node_id" => config.cluster.node_id = value.parse().map_err(|e| bad(&e))?,
            "cluster.listen" => config.cluster.listen = value.clone(),
            "cluster.advertise" => config.cluster.advertise = Some(value.clone()),
            "cluster.peers" => {
                config.cluster.peers = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?
            }
            "cluster.join" => config.cluster.join = value.parse().map_err(|e| bad(&e))?,
            // An inline value and a file replace each other.
            "cluster.secret" => {
                config.cluster.secret = Some(Secret::new(&value));
                config.cluster.secret_file = None;
            }
            "cluster.secret_file" => {
                config.cluster.secret_file = Some(PathBuf::from(&value));
                config.cluster.secret = None;
            }
            "admin.token" => {
                config.admin.token = Some(Secret::new(&value));
                config.admin.token_file = None;
            }
            "admin.token_file" => {
                config.admin.token_file = Some(PathBuf::from(&value));
                config.admin.token = None;
            }
            "http.listen" => config.http.listen = value.clone(),
            "drop_folder.path" => config.drop_folder.path = Some(PathBuf::from(&value)),
            "smtp.listen" => config.smtp.listen = value.clone(),
            "log.level" => config.log.level = value.clone(),
            "log.format" => {
                config.log.format = serde_json::from_value(serde_json::Value::String(value.clone()))
                    .map_err(|_| bad(&"expected text or json"))?
            }
            other => bail!("unhandled override {other}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use postroom_core::config::LogFormat;

    #[test]
    fn env_overrides_apply_and_name_bad_values() {
        let mut cfg = ConfigFile::embedded_defaults();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        apply_env(
            &mut cfg,
            env(&[("POSTROOM_DATA_DIR", "/d"), ("POSTROOM_LOG_FORMAT", "json")]),
        )
        .unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/d"));
        assert_eq!(cfg.log.format, LogFormat::Json);
        apply_env(
            &mut cfg,
            env(&[
                ("POSTROOM_CLUSTER_PEERS", "1@a:7700, 2@b:7700,3@c:7700"),
                ("POSTROOM_CLUSTER_JOIN", "false"),
            ]),
        )
        .unwrap();
        let ids: Vec<u64> = cfg.cluster.peers.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let err = apply_env(
            &mut cfg,
            env(&[("POSTROOM_CLUSTER_PEERS", "1@a:7700,b:7700")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("\"b:7700\" is not id@host:port"),
            "{err}"
        );
        cfg.admin.token_file = Some(PathBuf::from("/etc/token"));
        apply_env(
            &mut cfg,
            env(&[
                ("POSTROOM_ADMIN_TOKEN", "admin-token-0123456789"),
                ("POSTROOM_CLUSTER_SECRET_FILE", "/run/secrets/farm"),
            ]),
        )
        .unwrap();
        assert_eq!(
            cfg.admin.token.as_ref().map(Secret::expose),
            Some("admin-token-0123456789")
        );
        assert_eq!(cfg.admin.token_file, None, "the variable replaces the file");
        assert_eq!(
            cfg.cluster.secret_file,
            Some(PathBuf::from("/run/secrets/farm"))
        );
        let err = apply_env(&mut cfg, env(&[("POSTROOM_NODE_ID", "two")])).unwrap_err();
        assert!(
            err.to_string().contains("POSTROOM_NODE_ID=\"two\""),
            "{err}"
        );
    }

    #[test]
    fn shipped_example_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/single-node.toml");
        let loaded = load(Some(&path), None).unwrap();
        let aliases: Vec<_> = loaded
            .config
            .libraries
            .iter()
            .map(|l| l.alias.as_str())
            .collect();
        assert_eq!(aliases, ["shared-documents", "announcements", "build-logs"]);
    }
}
