//! What changed between two farm configurations, one line per setting, in
//! the config file's vocabulary: `farm.max_message_size: "50MB" → "20MB"`,
//! `library "docs": added`, `library "docs": save_original: false → true`.
//! The config history records these lines, and `postroom apply` shows them
//! before it applies a file.

use std::collections::BTreeMap;

use crate::config::{FarmConfig, LibrarySettings};

/// The settings that differ between `old` and `new`, farm settings first,
/// then the drop folder, then libraries by alias. Empty when they are equal.
pub fn config_diff(old: &FarmConfig, new: &FarmConfig) -> Vec<String> {
    let mut lines = Vec::new();
    table_diff("farm", &flatten(&old.farm), &flatten(&new.farm), &mut lines);
    table_diff(
        "drop_folder",
        &flatten(&old.drop_folder),
        &flatten(&new.drop_folder),
        &mut lines,
    );
    table_diff(
        "quarantine",
        &flatten(&old.quarantine),
        &flatten(&new.quarantine),
        &mut lines,
    );
    let by_alias = |libs: &[LibrarySettings]| -> BTreeMap<String, BTreeMap<String, String>> {
        libs.iter()
            .map(|l| (l.alias.to_ascii_lowercase(), flatten(l)))
            .collect()
    };
    let (old_libs, new_libs) = (by_alias(&old.libraries), by_alias(&new.libraries));
    for (alias, fields) in &old_libs {
        if !new_libs.contains_key(alias) {
            let name = fields.get("name").map_or("", String::as_str);
            lines.push(format!("library {alias:?}: removed (name {name})"));
        }
    }
    for (alias, fields) in &new_libs {
        match old_libs.get(alias) {
            None => {
                let name = fields.get("name").map_or("", String::as_str);
                lines.push(format!("library {alias:?}: added (name {name})"));
            }
            Some(before) => table_diff(&format!("library {alias:?}:"), before, fields, &mut lines),
        }
    }
    lines
}

fn table_diff(
    prefix: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    lines: &mut Vec<String>,
) {
    let separator = if prefix.ends_with(':') { " " } else { "." };
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        if before != after {
            let show = |v: Option<&String>| v.map_or("(unset)".to_string(), Clone::clone);
            lines.push(format!(
                "{prefix}{separator}{key}: {} → {}",
                show(before),
                show(after)
            ));
        }
    }
}

/// A digest of `config` (hex SHA-256 of its TOML), to tell whether two
/// nodes' config files hold the same farm configuration.
pub fn config_digest(config: &FarmConfig) -> String {
    use sha2::{Digest, Sha256};
    let text = toml::to_string(config).unwrap_or_else(|e| format!("{config:?} {e}"));
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A settings table as `key → value in TOML syntax`, a nested table's
/// entries as `key.entry` (`groups.finance`); a value that cannot be
/// rendered (none of ours) is shown as its debug form.
fn flatten<T: serde::Serialize + std::fmt::Debug>(settings: &T) -> BTreeMap<String, String> {
    match toml::Value::try_from(settings) {
        Ok(toml::Value::Table(table)) => table
            .into_iter()
            .flat_map(|(k, v)| match v {
                toml::Value::Table(inner) => inner
                    .into_iter()
                    .map(|(sub, v)| (format!("{k}.{sub}"), v.to_string()))
                    .collect::<Vec<_>>(),
                v => vec![(k, v.to_string())],
            })
            .collect(),
        _ => BTreeMap::from([(String::new(), format!("{settings:?}"))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LibrarySettings;
    use crate::units::ByteSize;

    #[test]
    fn a_group_is_its_own_line() {
        let old = FarmConfig::default();
        let mut new = old.clone();
        new.farm
            .groups
            .insert("finance".into(), vec!["alice@contoso.com".into()]);
        assert_eq!(
            config_diff(&old, &new),
            ["farm.groups.finance: (unset) → [\"alice@contoso.com\"]"]
        );
    }

    #[test]
    fn equal_configs_have_no_diff() {
        let c = FarmConfig::default();
        assert!(config_diff(&c, &c).is_empty());
    }

    #[test]
    fn changes_are_named_by_their_config_key() {
        let old = FarmConfig {
            libraries: vec![
                LibrarySettings::document_library("Docs", "docs"),
                LibrarySettings::document_library("Old", "old"),
            ],
            ..FarmConfig::default()
        };
        let mut new = old.clone();
        new.farm.max_message_size = ByteSize(20 * 1024 * 1024);
        new.farm.display_address = Some("localhost".into());
        new.libraries.retain(|l| l.alias != "old");
        new.libraries[0].save_original = true;
        new.quarantine.path = Some("/srv/quarantine".into());
        new.libraries
            .push(LibrarySettings::document_library("Invoices", "invoices"));
        assert_eq!(
            config_diff(&old, &new),
            vec![
                "farm.display_address: (unset) → \"localhost\"",
                "farm.max_message_size: \"50MB\" → \"20MB\"",
                "quarantine.path: (unset) → \"/srv/quarantine\"",
                "library \"old\": removed (name \"Old\")",
                "library \"docs\": save_original: false → true",
                "library \"invoices\": added (name \"Invoices\")",
            ]
        );
    }
}
