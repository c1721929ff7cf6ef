//! IP address ranges as administrators write them ("10.0.0.0/8",
//! "192.0.2.7", "2001:db8::/32") for the farm's safe-server and deny lists,
//! and the pure admission decision for a connecting client.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::FarmSettings;
use crate::CoreError;

/// One address or CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is inside the range. IPv4-mapped IPv6 addresses
    /// (`::ffff:a.b.c.d`) match IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

impl std::str::FromStr for IpRange {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        let bad = |why: &str| CoreError::InvalidIpRange {
            value: s.to_string(),
            reason: why.to_string(),
        };
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad(&format!("the prefix length must be 0 to {max}")))?,
        };
        let range = IpRange { network, prefix };
        if !range.contains(network) {
            return Err(bad("internal error: a range must contain its own address"));
        }
        Ok(range)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

impl Serialize for IpRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether a client may connect, by the farm's lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Refused at connect (`554 5.7.1`), with the reason for the log.
    Refused {
        reason: String,
    },
}

impl FarmSettings {
    /// SharePoint's "safe e-mail servers" and connection control: a client
    /// on the deny list is refused; with a safe-server list, only clients on
    /// it are allowed; without one, every server is.
    pub fn admit(&self, ip: IpAddr) -> Admission {
        if let Some(range) = self.deny_servers.iter().find(|r| r.contains(ip)) {
            return Admission::Refused {
                reason: format!("{ip} is in farm.deny_servers ({range})"),
            };
        }
        if self.accept_authenticated_only && !self.vouches(ip) {
            return Admission::Refused {
                reason: format!(
                    "farm.accept_authenticated_only is on and {ip} is not a server that vouches \
                     for its senders (farm.vouching_servers)"
                ),
            };
        }
        match &self.safe_servers {
            Some(safe) if !safe.iter().any(|r| r.contains(ip)) => Admission::Refused {
                reason: format!("{ip} is not in farm.safe_servers"),
            },
            _ => Admission::Allowed,
        }
    }

    /// Whether `ip` is on the farm's list of servers trusted to vouch for
    /// the senders of the mail they relay.
    pub fn vouches(&self, ip: IpAddr) -> bool {
        self.vouching_servers.iter().any(|r| r.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> IpRange {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_match_by_prefix() {
        assert!(r("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!r("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(r("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!r("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(r("192.0.2.0/25").contains(ip("192.0.2.127")));
        assert!(!r("192.0.2.0/25").contains(ip("192.0.2.128")));
        assert!(r("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(r("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!r("2001:db8::/32").contains(ip("2001:db9::5")));
        assert!(r("127.0.0.0/8").contains(ip("::ffff:127.0.0.9")));
        assert!(!r("10.0.0.0/8").contains(ip("::1")));
    }

    #[test]
    fn bad_ranges_name_the_value() {
        for bad in [
            "10.0.0/8",
            "10.0.0.0/33",
            "fe80::/129",
            "host.example",
            "10.0.0.0/x",
        ] {
            let e = bad.parse::<IpRange>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(r("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(r("192.0.2.7").to_string(), "192.0.2.7");
    }

    #[test]
    fn deny_wins_and_safe_list_restricts() {
        let mut farm = FarmSettings::default();
        assert_eq!(farm.admit(ip("203.0.113.5")), Admission::Allowed);
        farm.safe_servers = Some(vec![r("10.0.0.0/8"), r("127.0.0.1")]);
        farm.deny_servers = vec![r("10.6.6.6")];
        assert_eq!(farm.admit(ip("10.1.1.1")), Admission::Allowed);
        assert_eq!(farm.admit(ip("127.0.0.1")), Admission::Allowed);
        let Admission::Refused { reason } = farm.admit(ip("10.6.6.6")) else {
            panic!()
        };
        assert!(reason.contains("deny_servers"), "{reason}");
        let Admission::Refused { reason } = farm.admit(ip("203.0.113.5")) else {
            panic!()
        };
        assert!(reason.contains("safe_servers"), "{reason}");
    }

    #[test]
    fn authenticated_only_admits_the_safe_servers_that_vouch() {
        let mut farm = FarmSettings {
            accept_authenticated_only: true,
            ..FarmSettings::default()
        };
        // No list: no server vouches, so none is admitted.
        let Admission::Refused { reason } = farm.admit(ip("192.0.2.7")) else {
            panic!()
        };
        assert!(
            reason.starts_with("farm.accept_authenticated_only is on and 192.0.2.7"),
            "{reason}"
        );
        // A safe server may relay anyone's mail: it does not vouch.
        farm.safe_servers = Some(vec![r("192.0.2.0/24")]);
        assert!(!farm.vouches(ip("192.0.2.7")));
        farm.vouching_servers = vec![r("192.0.2.0/24")];
        assert!(farm.vouches(ip("192.0.2.7")));
        assert_eq!(farm.admit(ip("192.0.2.7")), Admission::Allowed);
        assert!(!farm.vouches(ip("198.51.100.1")));
    }
}
