//! Conversions at the edge between the admin protocol's messages and the
//! farm's config model: farm settings and libraries both ways, and applying
//! the partial updates of `UpdateFarm` / `UpdateLibrary`. Every refusal
//! names the request field and the value.

use std::path::PathBuf;

use postroom_core::config::{FarmConfig, LibraryKind, LibrarySettings};
use postroom_core::net::IpRange;
use postroom_core::units::{ByteSize, HumanDuration};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;

use crate::error::ApiError;
use crate::proto::{FarmSettings, FarmSettingsUpdate, Library, LibraryUpdate, StringList};

const KINDS: &str = LibraryKind::NAMES;
const ATTACHMENT_FOLDERS: &str = "root, subject, sender";
const ACCEPT_FROM: &str = "anyone, members";

/// The name of a config enum value as the config file spells it.
pub(crate) fn enum_name<T: Serialize>(value: &T) -> String {
    match toml::Value::try_from(value) {
        Ok(toml::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// A config enum value from its name; the error lists the allowed names.
fn parse_enum<T: DeserializeOwned>(field: &str, name: &str, allowed: &str) -> Result<T, ApiError> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        name.trim().into_deserializer();
    T::deserialize(de)
        .map_err(|_| ApiError::invalid(field, format!("{name:?} is not one of {allowed}")))
}

fn path_text(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// 0: no limit.
fn limit(bytes: u64) -> Option<ByteSize> {
    (bytes > 0).then_some(ByteSize(bytes))
}

/// Empty text: unset (back to the default).
fn optional_path(text: &str) -> Option<PathBuf> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
}

fn ranges(field: &str, values: &[String]) -> Result<Vec<IpRange>, ApiError> {
    values
        .iter()
        .map(|v| {
            v.parse().map_err(|e| {
                ApiError::invalid(field, format!("{v:?} is not an address or CIDR range: {e}"))
            })
        })
        .collect()
}

/// The farm settings of `config` as the protocol shows them.
pub(crate) fn farm_settings(config: &FarmConfig) -> FarmSettings {
    let farm = &config.farm;
    FarmSettings {
        incoming_enabled: farm.incoming_enabled,
        incoming_domains: farm.incoming_domains.clone(),
        display_address: farm.display_address.clone().unwrap_or_default(),
        drop_folder: path_text(&config.drop_folder.path),
        quarantine_folder: path_text(&config.quarantine.path),
        safe_servers_mode: if farm.safe_servers.is_some() {
            "listed"
        } else {
            "all"
        }
        .to_string(),
        safe_servers: farm
            .safe_servers
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect(),
        deny_servers: farm.deny_servers.iter().map(ToString::to_string).collect(),
        max_message_size_bytes: farm.max_message_size.0,
        max_recipients: u32::try_from(farm.max_recipients).unwrap_or(u32::MAX),
        ledger_retention_seconds: farm.ledger_retention.as_millis() / 1000,
        domain_aliases: farm.domain_aliases.clone(),
        accept_authenticated_only: farm.accept_authenticated_only,
        trusted_authserv_ids: farm.trusted_authserv_ids.clone(),
        vouching_servers: farm
            .vouching_servers
            .iter()
            .map(ToString::to_string)
            .collect(),
        notify_refused_senders: farm.notify_refused_senders,
        smarthost: farm.smarthost.clone().unwrap_or_default(),
        postmaster: farm.postmaster.clone().unwrap_or_default(),
        quarantine_retention_seconds: config
            .quarantine
            .retention
            .map_or(0, |r| r.as_millis() / 1000),
        groups: farm
            .groups
            .iter()
            .map(|(name, entries)| {
                let values = entries.clone();
                (name.clone(), StringList { values })
            })
            .collect(),
    }
}

/// Apply the fields set in `update` to `config` (validation of the result
/// is the caller's: it sees the whole config).
pub(crate) fn update_farm(config: &mut FarmConfig, u: &FarmSettingsUpdate) -> Result<(), ApiError> {
    let farm = &mut config.farm;
    if let Some(on) = u.incoming_enabled {
        farm.incoming_enabled = on;
    }
    if let Some(domains) = &u.incoming_domains {
        farm.incoming_domains = domains
            .values
            .iter()
            .map(|d| d.trim().to_string())
            .collect();
    }
    if let Some(aliases) = &u.domain_aliases {
        farm.domain_aliases = aliases
            .values
            .iter()
            .map(|d| d.trim().to_string())
            .collect();
    }
    if let Some(on) = u.accept_authenticated_only {
        farm.accept_authenticated_only = on;
    }
    if let Some(list) = &u.vouching_servers {
        farm.vouching_servers = ranges("vouching_servers", &list.values)?;
    }
    if let Some(on) = u.notify_refused_senders {
        farm.notify_refused_senders = on;
    }
    if let Some(host) = &u.smarthost {
        farm.smarthost = Some(host.trim().to_string()).filter(|h| !h.is_empty());
    }
    if let Some(address) = &u.postmaster {
        farm.postmaster = Some(address.trim().to_string()).filter(|a| !a.is_empty());
    }
    for (name, entries) in &u.groups {
        let name = name.trim().to_string();
        let values: Vec<String> = entries
            .values
            .iter()
            .map(|e| e.trim().to_string())
            .collect();
        if values.is_empty() {
            farm.groups.remove(&name);
        } else {
            farm.groups.insert(name, values);
        }
    }
    if let Some(ids) = &u.trusted_authserv_ids {
        farm.trusted_authserv_ids = ids.values.iter().map(|d| d.trim().to_string()).collect();
    }
    if let Some(display) = &u.display_address {
        farm.display_address = Some(display.trim().to_string()).filter(|d| !d.is_empty());
    }
    if let Some(path) = &u.drop_folder {
        config.drop_folder.path = optional_path(path);
    }
    if let Some(path) = &u.quarantine_folder {
        config.quarantine.path = optional_path(path);
    }
    if let Some(seconds) = u.quarantine_retention_seconds {
        config.quarantine.retention = (seconds > 0).then(|| HumanDuration::from_secs(seconds));
    }
    let listed = match u.safe_servers_mode.as_deref().map(str::trim) {
        None => None,
        Some("all") => Some(false),
        Some("listed") => Some(true),
        Some(other) => {
            return Err(ApiError::invalid(
                "safe_servers_mode",
                format!("{other:?} is not one of all, listed"),
            ))
        }
    };
    let list = match &u.safe_servers {
        Some(list) => Some(ranges("safe_servers", &list.values)?),
        None => None,
    };
    let farm = &mut config.farm;
    match (listed, list) {
        (Some(false), Some(list)) if !list.is_empty() => {
            return Err(ApiError::invalid(
                "safe_servers",
                "a list of safe servers is only used with safe_servers_mode \"listed\"".into(),
            ))
        }
        (Some(false), _) => farm.safe_servers = None,
        (Some(true), Some(list)) => farm.safe_servers = Some(list),
        (Some(true), None) => {
            farm.safe_servers = Some(farm.safe_servers.take().unwrap_or_default());
        }
        (None, Some(list)) => farm.safe_servers = Some(list),
        (None, None) => {}
    }
    if let Some(list) = &u.deny_servers {
        farm.deny_servers = ranges("deny_servers", &list.values)?;
    }
    if let Some(bytes) = u.max_message_size_bytes {
        farm.max_message_size = ByteSize(bytes);
    }
    if let Some(n) = u.max_recipients {
        farm.max_recipients = n as usize;
    }
    if let Some(seconds) = u.ledger_retention_seconds {
        farm.ledger_retention = HumanDuration::from_secs(seconds);
    }
    Ok(())
}

/// A library as the protocol shows it, with its address in `config`.
pub(crate) fn library(config: &FarmConfig, lib: &LibrarySettings) -> Library {
    let domain = config
        .farm
        .display_address
        .as_deref()
        .or(config.farm.incoming_domains.first().map(String::as_str))
        .unwrap_or("");
    Library {
        name: lib.name.clone(),
        alias: lib.alias.clone(),
        kind: enum_name(&lib.kind),
        enabled: lib.enabled,
        attachment_folders: enum_name(&lib.attachment_folders),
        overwrite_existing: lib.overwrite_existing,
        save_original: lib.save_original,
        path: path_text(&lib.path),
        address: format!("{}@{domain}", lib.alias),
        max_message_size_bytes: lib.max_message_size.map_or(0, |b| b.0),
        max_attachment_size_bytes: lib.max_attachment_size.map_or(0, |b| b.0),
        save_meeting_invitations: lib.save_meeting_invitations,
        expand_attached_messages: lib.expand_attached_messages,
        accept_from: enum_name(&lib.accept_from),
        members: lib.members.clone(),
    }
}

/// The settings of a library to create; empty enum fields take defaults.
pub(crate) fn new_library(l: &Library, disabled: bool) -> Result<LibrarySettings, ApiError> {
    let mut lib = LibrarySettings::document_library(l.name.trim(), l.alias.trim());
    if !l.kind.trim().is_empty() {
        lib.kind = parse_enum("library.kind", &l.kind, KINDS)?;
    }
    if !l.attachment_folders.trim().is_empty() {
        lib.attachment_folders = parse_enum(
            "library.attachment_folders",
            &l.attachment_folders,
            ATTACHMENT_FOLDERS,
        )?;
    }
    lib.enabled = !disabled;
    lib.overwrite_existing = l.overwrite_existing;
    lib.save_original = l.save_original;
    lib.path = optional_path(&l.path);
    lib.max_message_size = limit(l.max_message_size_bytes);
    lib.max_attachment_size = limit(l.max_attachment_size_bytes);
    if !l.accept_from.trim().is_empty() {
        lib.accept_from = parse_enum("library.accept_from", &l.accept_from, ACCEPT_FROM)?;
    }
    lib.members = l.members.iter().map(|m| m.trim().to_string()).collect();
    lib.expand_attached_messages = l.expand_attached_messages;
    Ok(lib)
}

/// Apply the fields set in `update` to `lib`.
pub(crate) fn update_library(lib: &mut LibrarySettings, u: &LibraryUpdate) -> Result<(), ApiError> {
    if let Some(name) = &u.name {
        lib.name = name.trim().to_string();
    }
    if let Some(alias) = &u.alias {
        lib.alias = alias.trim().to_string();
    }
    if let Some(kind) = &u.kind {
        lib.kind = parse_enum("update.kind", kind, KINDS)?;
    }
    if let Some(on) = u.enabled {
        lib.enabled = on;
    }
    if let Some(folders) = &u.attachment_folders {
        lib.attachment_folders =
            parse_enum("update.attachment_folders", folders, ATTACHMENT_FOLDERS)?;
    }
    if let Some(on) = u.overwrite_existing {
        lib.overwrite_existing = on;
    }
    if let Some(on) = u.save_original {
        lib.save_original = on;
    }
    if let Some(path) = &u.path {
        lib.path = optional_path(path);
    }
    if let Some(bytes) = u.max_message_size_bytes {
        lib.max_message_size = limit(bytes);
    }
    if let Some(bytes) = u.max_attachment_size_bytes {
        lib.max_attachment_size = limit(bytes);
    }
    if let Some(on) = u.save_meeting_invitations {
        lib.save_meeting_invitations = on;
    }
    if let Some(on) = u.expand_attached_messages {
        lib.expand_attached_messages = on;
    }
    if let Some(who) = &u.accept_from {
        lib.accept_from = parse_enum("update.accept_from", who, ACCEPT_FROM)?;
    }
    if let Some(members) = &u.members {
        lib.members = members
            .values
            .iter()
            .map(|m| m.trim().to_string())
            .collect();
    }
    Ok(())
}

#[cfg(test)]
#[path = "convert_test.rs"]
mod tests;
