//! Reading the farm configuration through the admin service: the
//! replicated [`FarmConfig`] rendered in the config file's layout, read
//! linearizably (through the leader's read index) or from this node's
//! applied state, with its version and who made it.

use postroom_cluster::Farm;
use postroom_core::config::{
    DropFolderSettings, FarmConfig, FarmSettings, LibrarySettings, QuarantineSettings,
};
use postroom_core::FarmState;
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::error::{status_from, ApiError};
use crate::proto::ConfigReply;

/// The replicated part of a config file, as an operator writes it.
#[derive(Serialize)]
struct FarmConfigFile<'a> {
    farm: &'a FarmSettings,
    drop_folder: &'a DropFolderSettings,
    quarantine: &'a QuarantineSettings,
    #[serde(rename = "library")]
    libraries: &'a [LibrarySettings],
}

/// The same, read from a document (strict: unknown keys are errors).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FarmConfigDocument {
    #[serde(default)]
    farm: FarmSettings,
    #[serde(default)]
    drop_folder: DropFolderSettings,
    #[serde(default)]
    quarantine: QuarantineSettings,
    #[serde(default, rename = "library")]
    libraries: Vec<LibrarySettings>,
}

/// The top-level keys of a config file that belong to one node, not to the
/// farm: `apply` ignores them (and says so).
const NODE_KEYS: [&str; 7] = ["data_dir", "cluster", "http", "log", "smtp", "admin", "tls"];

/// `config` as TOML in the config file's layout.
pub fn config_toml(config: &FarmConfig) -> Result<String, toml::ser::Error> {
    toml::to_string_pretty(&FarmConfigFile {
        farm: &config.farm,
        drop_folder: &config.drop_folder,
        quarantine: &config.quarantine,
        libraries: &config.libraries,
    })
}

/// The farm configuration in a TOML document in the config file's layout,
/// and the node settings it held (ignored). Keys not in a config file are
/// errors naming them; settings not given take their defaults.
pub fn parse_farm_config(text: &str) -> Result<(FarmConfig, Vec<String>), ApiError> {
    let invalid = |detail: String| ApiError::InvalidArgument {
        field: "config_toml".to_string(),
        detail,
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| invalid(e.to_string().trim().to_string()))?;
    let ignored: Vec<String> = NODE_KEYS
        .iter()
        .filter(|k| table.remove(**k).is_some())
        .map(|k| k.to_string())
        .collect();
    let doc: FarmConfigDocument = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| invalid(e.to_string().trim().to_string()))?;
    let config = FarmConfig {
        farm: doc.farm,
        drop_folder: doc.drop_folder,
        quarantine: doc.quarantine,
        libraries: doc.libraries,
    };
    Ok((config, ignored))
}

/// Pure: the reply for the state `state`.
pub(crate) fn config_reply(state: &FarmState, linearizable: bool) -> Result<ConfigReply, Status> {
    let config_toml = match state.config() {
        Some(config) => config_toml(config)
            .map_err(|e| Status::internal(format!("cannot render the farm config: {e}")))?,
        None => String::new(),
    };
    let last = state.config_history().last();
    Ok(ConfigReply {
        version: state.config_version(),
        config_toml,
        linearizable,
        changed_by: last.map(|c| c.by.clone()).unwrap_or_default(),
        changed_at_ms: last.map_or(0, |c| c.at.0),
    })
}

/// Read the configuration: linearizably unless `local`.
pub(crate) async fn get_config(farm: &Farm, local: bool) -> Result<ConfigReply, Status> {
    if local {
        farm.read(|state| config_reply(state, false))
    } else {
        farm.read_linearizable(|state| config_reply(state, true))
            .await
            .map_err(|e| status_from(&e))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use postroom_core::config::ConfigFile;

    use super::*;

    #[test]
    fn the_rendered_config_reads_back_as_a_config_file() {
        let original = ConfigFile::embedded_defaults();
        let text = config_toml(&original.farm_config()).unwrap();
        assert!(text.contains("[[library]]"), "{text}");
        let back: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(back.farm_config(), original.farm_config());
    }

    #[test]
    fn a_farm_without_config_answers_version_zero() {
        let reply = config_reply(&FarmState::default(), true).unwrap();
        assert_eq!((reply.version, reply.config_toml.as_str()), (0, ""));
        assert!(reply.linearizable);
    }
}
