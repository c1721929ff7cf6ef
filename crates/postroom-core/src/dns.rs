//! The node's `[dns]` settings: the name servers asked for the DKIM keys,
//! SPF and DMARC records the farm checks a sender against, and how long one
//! lookup may take. Node-local (each node's resolver), not farm settings.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// Name servers as `ip:port`; empty: the system's (`/etc/resolv.conf`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<SocketAddr>,
    /// How long one lookup may take before it counts as a temporary failure.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How long a message whose sender cannot be checked for now (lookups
    /// failing) keeps being tried again before it is quarantined.
    #[serde(default = "default_give_up_after")]
    pub give_up_after: HumanDuration,
}

fn default_give_up_after() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_millis(5_000)
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            servers: Vec::new(),
            timeout: default_timeout(),
            give_up_after: default_give_up_after(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_ip_and_port_and_unknown_keys_are_refused() {
        let s: DnsSettings =
            toml::from_str("servers = [\"127.0.0.1:5354\"]\ntimeout = \"2s\"").unwrap();
        assert_eq!(s.servers, ["127.0.0.1:5354".parse().unwrap()]);
        assert_eq!(s.timeout, HumanDuration::from_millis(2_000));
        assert!(toml::from_str::<DnsSettings>("servers = [\"dns.example\"]").is_err());
        let e = toml::from_str::<DnsSettings>("server = []").unwrap_err();
        assert!(e.to_string().contains("unknown field `server`"), "{e}");
    }
}
