//! Recipient → library routing on the replicated farm configuration.
//! Two nodes at the same config version route every address the same way.

use serde::{Deserialize, Serialize};

use crate::address::split_address;
use crate::config::{FarmConfig, LibrarySettings};

/// Where one message goes, decided per envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoutePlan {
    /// Libraries to file into (aliases as configured), each once, in recipient order.
    pub libraries: Vec<String>,
    /// Recipients in the farm's domains that cannot be filed, with the reason.
    pub refused: Vec<Refusal>,
    /// Recipients outside the farm's incoming domains (someone else's mail; ignored).
    pub foreign: Vec<String>,
}

/// A recipient in our domains that has no (enabled) library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub recipient: String,
    pub reason: RefusalReason,
}

/// Why a recipient in our domains cannot be filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RefusalReason {
    /// No library has this alias.
    UnknownAlias { alias: String },
    /// The library exists but incoming e-mail is turned off for it.
    LibraryDisabled { library: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            RefusalReason::UnknownAlias { alias } => {
                write!(f, "{}: no library has the alias {alias:?}", self.recipient)
            }
            RefusalReason::LibraryDisabled { library } => {
                write!(
                    f,
                    "{}: incoming e-mail is disabled for library {library:?}",
                    self.recipient
                )
            }
        }
    }
}

/// Where one recipient address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientRoute<'a> {
    /// Into this enabled library.
    Library(&'a LibrarySettings),
    /// In our domains, but not fileable.
    Refused(RefusalReason),
    /// Not in the farm's incoming domains (or not an address at all).
    Foreign,
}

/// Route one recipient address (used at SMTP `RCPT` time and for each
/// recipient of a message).
pub fn route_recipient<'a>(config: &'a FarmConfig, rcpt: &str) -> RecipientRoute<'a> {
    let Some((local, domain)) = split_address(rcpt) else {
        return RecipientRoute::Foreign;
    };
    if !config.accepts_domain(domain) {
        return RecipientRoute::Foreign;
    }
    match config.library_by_alias(local) {
        Some(lib) if lib.enabled => RecipientRoute::Library(lib),
        Some(lib) => RecipientRoute::Refused(RefusalReason::LibraryDisabled {
            library: lib.name.clone(),
        }),
        None => RecipientRoute::Refused(RefusalReason::UnknownAlias {
            alias: local.to_string(),
        }),
    }
}

/// Route the envelope recipients of one message.
pub fn route(config: &FarmConfig, recipients: &[String]) -> RoutePlan {
    let mut plan = RoutePlan::default();
    for rcpt in recipients {
        match route_recipient(config, rcpt) {
            RecipientRoute::Library(lib) => {
                if !plan.libraries.contains(&lib.alias) {
                    plan.libraries.push(lib.alias.clone());
                }
            }
            RecipientRoute::Refused(reason) => plan.refused.push(Refusal {
                recipient: rcpt.clone(),
                reason,
            }),
            RecipientRoute::Foreign => plan.foreign.push(rcpt.clone()),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn farm() -> FarmConfig {
        let mut cfg = FarmConfig::default();
        cfg.farm.incoming_domains = vec!["sp.contoso.local".into(), "sp.contoso.com".into()];
        let mut off = LibrarySettings::document_library("Old", "old");
        off.enabled = false;
        cfg.libraries = vec![LibrarySettings::document_library("Docs", "docs"), off];
        cfg
    }

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn routes_each_library_once_across_domain_aliases_and_case() {
        let plan = route(
            &farm(),
            &v(&["docs@sp.contoso.local", "DOCS@SP.contoso.com"]),
        );
        assert_eq!(plan.libraries, vec!["docs"]);
        assert!(plan.refused.is_empty() && plan.foreign.is_empty());
    }

    #[test]
    fn foreign_unknown_and_disabled() {
        let plan = route(
            &farm(),
            &v(&[
                "team@contoso.com",
                "nope@sp.contoso.local",
                "old@sp.contoso.local",
                "junk",
            ]),
        );
        assert!(plan.libraries.is_empty());
        assert_eq!(plan.foreign, v(&["team@contoso.com", "junk"]));
        assert_eq!(plan.refused.len(), 2);
        assert_eq!(
            plan.refused[0].to_string(),
            r#"nope@sp.contoso.local: no library has the alias "nope""#
        );
        assert_eq!(
            plan.refused[1].to_string(),
            r#"old@sp.contoso.local: incoming e-mail is disabled for library "Old""#
        );
    }
}
