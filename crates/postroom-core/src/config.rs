//! The typed configuration model: the node's config file ([`ConfigFile`]) and
//! the replicated part of it ([`FarmConfig`]: farm settings, drop folder,
//! libraries), with defaults that suit one node on a laptop and validation
//! whose messages name the field and the offending value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::address::{alias_problem, domain_problem, split_address};
pub use crate::cluster::{ClusterSettings, HttpSettings, Peer};
pub use crate::dns::DnsSettings;
pub use crate::folders::{DropFolderSettings, QuarantineSettings};
use crate::groups::Groups;
pub use crate::library::{AttachmentFolders, LibraryKind, LibrarySettings};
use crate::net::IpRange;
pub use crate::security::{AdminSettings, ClientCerts, Secret, TlsSettings};
pub use crate::smtp::SmtpSettings;
use crate::units::{ByteSize, HumanDuration};
use crate::CoreError;

/// Everything a node's TOML file may hold. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the node keeps its Raft log, state, libraries (by default) and quarantine.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub cluster: ClusterSettings,
    #[serde(default)]
    pub http: HttpSettings,
    /// Who may use the admin API.
    #[serde(default)]
    pub admin: AdminSettings,
    /// TLS on the gRPC port.
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub farm: FarmSettings,
    #[serde(default)]
    pub drop_folder: DropFolderSettings,
    #[serde(default)]
    pub quarantine: QuarantineSettings,
    #[serde(default)]
    pub smtp: SmtpSettings,
    #[serde(default)]
    pub dns: DnsSettings,
    #[serde(default, rename = "library")]
    pub libraries: Vec<LibrarySettings>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("postroom-data")
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            data_dir: default_data_dir(),
            cluster: ClusterSettings::default(),
            http: HttpSettings::default(),
            admin: AdminSettings::default(),
            tls: TlsSettings::default(),
            log: LogSettings::default(),
            farm: FarmSettings::default(),
            drop_folder: DropFolderSettings::default(),
            quarantine: QuarantineSettings::default(),
            smtp: SmtpSettings::default(),
            dns: DnsSettings::default(),
            libraries: Vec::new(),
        }
    }
}

impl ConfigFile {
    /// The configuration a node runs on when no file is given: data in
    /// `./postroom-data`, drop folder `./postroom-data/drop`, incoming domain
    /// `localhost`, one document library with alias `documents`.
    pub fn embedded_defaults() -> Self {
        ConfigFile {
            libraries: vec![LibrarySettings::document_library("Documents", "documents")],
            ..ConfigFile::default()
        }
    }

    /// The part of this file that is replicated to the whole farm.
    pub fn farm_config(&self) -> FarmConfig {
        FarmConfig {
            farm: self.farm.clone(),
            drop_folder: self.drop_folder.clone(),
            quarantine: self.quarantine.clone(),
            libraries: self.libraries.clone(),
        }
    }

    /// Check every rule; the error lists each problem with its field and value.
    pub fn validate(&self) -> Result<(), CoreError> {
        let mut problems = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir: must not be empty".to_string());
        }
        problems.extend(self.cluster.problems());
        problems.extend(self.http.problems());
        problems.extend(crate::security::security_problems(
            &self.cluster,
            &self.admin,
            &self.tls,
        ));
        if self.cluster.is_multi_node() {
            problems.extend(self.farm_config().node_local_paths());
        }
        problems.extend(self.smtp.problems(&self.farm));
        problems.extend(self.farm_config().problems());
        finish(problems)
    }
}

/// Logging of this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `postroom=debug,info`.
    pub level: String,
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The replicated configuration: identical on every node at the same applied index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FarmConfig {
    pub farm: FarmSettings,
    pub drop_folder: DropFolderSettings,
    #[serde(default)]
    pub quarantine: QuarantineSettings,
    pub libraries: Vec<LibrarySettings>,
}

impl FarmConfig {
    /// Folders that would be under each node's own data_dir: in a farm of
    /// several nodes every node must see the same drop folder (so any node
    /// files what another accepted) and file into the same library folders
    /// (or a library, and its idempotence, would be split per node). Empty
    /// when every path is absolute.
    pub fn node_local_paths(&self) -> Vec<String> {
        let local = |path: &Option<PathBuf>| !path.as_ref().is_some_and(|p| p.is_absolute());
        let mut problems = Vec::new();
        if local(&self.drop_folder.path) {
            problems.push("drop_folder.path: must be an absolute path on storage every node shares when the farm has several nodes".to_string());
        }
        if local(&self.quarantine.path) {
            problems.push("quarantine.path: must be an absolute path on storage every node shares when the farm has several nodes".to_string());
        }
        for lib in self.libraries.iter().filter(|lib| local(&lib.path)) {
            problems.push(format!(
                "library {:?}: path must be an absolute path on storage every node shares when the farm has several nodes",
                lib.name
            ));
        }
        problems
    }

    /// In a farm of `members` nodes (more than one), why this config cannot
    /// apply: its folders must be shared. `None` when it can.
    pub fn unshared_folders(&self, members: usize) -> Option<String> {
        let local = self.node_local_paths();
        (members > 1 && !local.is_empty()).then(|| {
            format!(
                "the farm has {members} members, so its folders must be shared: {}",
                local.join("; ")
            )
        })
    }

    /// Check every rule of the replicated configuration.
    pub fn validate(&self) -> Result<(), CoreError> {
        finish(self.problems())
    }

    /// The enabled-or-not library that owns `alias` (case-insensitive).
    pub fn library_by_alias(&self, alias: &str) -> Option<&LibrarySettings> {
        self.libraries
            .iter()
            .find(|l| l.alias.eq_ignore_ascii_case(alias))
    }

    /// True if `domain` is one of the farm's incoming domains (case-insensitive).
    pub fn accepts_domain(&self, domain: &str) -> bool {
        let farm = &self.farm;
        farm.incoming_domains
            .iter()
            .chain(&farm.domain_aliases)
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let farm = &self.farm;
        if farm.incoming_domains.is_empty() {
            problems.push("farm.incoming_domains: at least one domain is required".to_string());
        }
        let mut seen_domains = HashMap::new();
        for d in &farm.incoming_domains {
            if let Some(why) = domain_problem(d) {
                problems.push(format!("farm.incoming_domains: {d:?} {why}"));
            }
            if seen_domains.insert(d.to_ascii_lowercase(), ()).is_some() {
                problems.push(format!("farm.incoming_domains: {d:?} is listed twice"));
            }
        }
        for d in &farm.domain_aliases {
            if let Some(why) = domain_problem(d) {
                problems.push(format!("farm.domain_aliases: {d:?} {why}"));
            }
            if seen_domains.insert(d.to_ascii_lowercase(), ()).is_some() {
                problems.push(format!(
                    "farm.domain_aliases: {d:?} is listed twice (or is also an incoming domain)"
                ));
            }
        }
        if let Some(display) = &farm.display_address {
            let incoming = farm
                .incoming_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(display));
            if !incoming {
                problems.push(format!(
                    "farm.display_address: {display:?} is not one of farm.incoming_domains"
                ));
            }
        }
        if farm.notify_refused_senders && farm.smarthost.is_none() {
            problems.push(
                "farm.notify_refused_senders: needs farm.smarthost (host:port of a relay)"
                    .to_string(),
            );
        }
        if let Some(host) = farm.smarthost.as_deref() {
            if !host
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                problems.push(format!("farm.smarthost: {host:?} is not host:port"));
            }
        }
        if let Some(p) = farm
            .postmaster
            .as_deref()
            .filter(|p| split_address(p).is_none())
        {
            problems.push(format!("farm.postmaster: {p:?} is not an address"));
        }
        if farm.ledger_retention.as_millis() < 60_000 {
            let r = farm.ledger_retention;
            problems.push(format!("farm.ledger_retention: \"{r}\" is shorter than 1m"));
        }
        if farm.max_message_size.0 < 1024 {
            let m = farm.max_message_size;
            problems.push(format!(
                "farm.max_message_size: \"{m}\" is smaller than 1KB"
            ));
        }
        if farm.max_recipients == 0 {
            problems.push("farm.max_recipients: 0 is not allowed".to_string());
        }
        if farm.safe_servers.as_ref().is_some_and(Vec::is_empty) {
            problems.push(
                "farm.safe_servers: an empty list would refuse every server; \
                 remove the key to accept mail from all servers"
                    .to_string(),
            );
        }
        let drop = &self.drop_folder;
        if drop.poll_interval.as_millis() < 50 {
            let p = drop.poll_interval;
            problems.push(format!(
                "drop_folder.poll_interval: \"{p}\" is shorter than 50ms"
            ));
        }
        if drop.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            problems.push("drop_folder.path: must not be empty".to_string());
        }
        if let Some(r) = self.quarantine.retention {
            if r.as_millis() < 1_000 {
                problems.push(format!("quarantine.retention: \"{r}\" is shorter than 1s"));
            }
        }
        if let Some(q) = &self.quarantine.path {
            if q.as_os_str().is_empty() {
                problems.push("quarantine.path: must not be empty".to_string());
            } else if drop.path.as_ref() == Some(q) {
                problems.push(format!(
                    "quarantine.path: {q:?} is the drop folder; quarantined mail would be filed again"
                ));
            }
        }
        problems.extend(library_problems(&self.libraries));
        problems.extend(crate::groups::problems(&farm.groups, &self.libraries));
        problems
    }
}

fn library_problems(libraries: &[LibrarySettings]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut aliases: HashMap<String, &str> = HashMap::new();
    let mut names: HashMap<&str, ()> = HashMap::new();
    let mut paths: HashMap<&Path, &str> = HashMap::new();
    for lib in libraries {
        let name = &lib.name;
        if name.trim().is_empty() {
            problems.push(format!(
                "library with alias {:?}: name must not be empty",
                lib.alias
            ));
        } else if names.insert(name.as_str(), ()).is_some() {
            problems.push(format!(
                "library {name:?}: the name is used by another library"
            ));
        }
        if let Some(why) = alias_problem(&lib.alias) {
            problems.push(format!("library {name:?}: alias {:?} {why}", lib.alias));
        }
        if let Some(other) = aliases.insert(lib.alias.to_ascii_lowercase(), name) {
            problems.push(format!(
                "library {name:?}: alias {:?} is already used by library {other:?}",
                lib.alias
            ));
        }
        if lib.accept_from == crate::policy::AcceptFrom::Members && lib.members.is_empty() {
            problems.push(format!(
                "library {name:?}: accept_from = \"members\" needs at least one entry in members"
            ));
        }
        if let Some(path) = &lib.path {
            if path.as_os_str().is_empty() {
                problems.push(format!("library {name:?}: path must not be empty"));
            } else if let Some(other) = paths.insert(path.as_path(), name) {
                problems.push(format!(
                    "library {name:?}: path {path:?} is already used by library {other:?}"
                ));
            }
        }
    }
    problems
}

fn finish(problems: Vec<String>) -> Result<(), CoreError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CoreError::InvalidConfig { problems })
    }
}

/// Farm-wide incoming e-mail settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FarmSettings {
    /// Incoming e-mail on or off. Off: SMTP answers recipients `450 4.3.2`
    /// (senders retry later) and drop files wait in the drop folder.
    pub incoming_enabled: bool,
    /// The SMTP domains the farm accepts (the first is the default display address).
    pub incoming_domains: Vec<String>,
    /// Further domains accepted as aliases of the incoming domains (e.g. an
    /// old company name); never shown in library addresses.
    pub domain_aliases: Vec<String>,
    /// Accept mail from authenticated senders only: mail must come through a
    /// server that vouches for its senders (`vouching_servers`), through the
    /// admin API, or with a trusted passing `Authentication-Results`; other
    /// SMTP clients are refused at connect, other drop files quarantined.
    pub accept_authenticated_only: bool,
    /// SMTP clients trusted to relay only their own authenticated senders'
    /// mail (e.g. an internal submission server), so that a message from
    /// them counts as authenticated. Not the same as `safe_servers` (which
    /// may relay anyone's mail from the internet).
    pub vouching_servers: Vec<IpRange>,
    /// Tell a sender refused by a library's policy why (a DSN through
    /// `smarthost`) instead of quarantining in silence.
    pub notify_refused_senders: bool,
    /// `host:port` of the relay that delivers the farm's own mail (notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// The notices' From; `postmaster@<display domain>` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postmaster: Option<String>,
    /// `Authentication-Results` fields from these servers (their authserv-id)
    /// are trusted to say a sender is authenticated (DMARC pass, or aligned
    /// DKIM pass). List only servers that remove such fields from incoming
    /// mail (RFC 8601), e.g. your border MTA.
    pub trusted_authserv_ids: Vec<String>,
    /// The domain shown in library addresses (`alias@display_address`); one of incoming_domains.
    pub display_address: Option<String>,
    /// How long the ledger remembers a finished message key.
    pub ledger_retention: HumanDuration,
    /// Largest message accepted (SMTP `SIZE`; larger → `552 5.3.4`).
    pub max_message_size: ByteSize,
    /// Most recipients accepted per SMTP transaction.
    pub max_recipients: usize,
    /// SharePoint's "safe e-mail servers": when set, only these addresses or
    /// CIDR ranges may connect; when unset, mail is accepted from all servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_servers: Option<Vec<IpRange>>,
    /// Connection control: addresses or ranges refused at connect (`554 5.7.1`).
    pub deny_servers: Vec<IpRange>,
    /// Named groups of senders a library's `members` can name as
    /// `group:<name>` (see `groups`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub groups: Groups,
}

impl Default for FarmSettings {
    fn default() -> Self {
        FarmSettings {
            incoming_enabled: true,
            incoming_domains: vec!["localhost".to_string()],
            domain_aliases: Vec::new(),
            accept_authenticated_only: false,
            trusted_authserv_ids: Vec::new(),
            vouching_servers: Vec::new(),
            notify_refused_senders: false,
            smarthost: None,
            postmaster: None,
            display_address: None,
            ledger_retention: HumanDuration::from_secs(7 * 86_400),
            max_message_size: ByteSize(50 * 1024 * 1024),
            max_recipients: 100,
            safe_servers: None,
            deny_servers: Vec::new(),
            groups: Groups::new(),
        }
    }
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
