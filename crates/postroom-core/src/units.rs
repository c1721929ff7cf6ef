//! Human units in configuration: durations (`500ms`, `2s`, `5m`, `1h`, `7d`)
//! and sizes (`4096`, `512KB`, `50MB`, `1GB`), with serde support so config
//! files and the replicated state carry the same strings an administrator wrote.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;

/// A duration written with a unit, e.g. `500ms`, `2s`, `5m`, `1h`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Build from whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        HumanDuration(Duration::from_millis(ms))
    }

    /// Build from whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }

    /// The duration in whole milliseconds (saturating).
    pub fn as_millis(self) -> u64 {
        millis(self.0)
    }
}

/// `d` in whole milliseconds, saturating at `u64::MAX`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl std::str::FromStr for HumanDuration {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        let bad = |why| CoreError::InvalidDuration {
            value: s.to_string(),
            why,
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| bad("missing unit"))?;
        let (digits, unit) = t.split_at(split);
        if digits.is_empty() {
            return Err(bad("missing number"));
        }
        let n: u64 = digits.parse().map_err(|_| bad("number too large"))?;
        let ms_per: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad("unknown unit")),
        };
        let ms = n
            .checked_mul(ms_per)
            .ok_or_else(|| bad("number too large"))?;
        Ok(HumanDuration::from_millis(ms))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_millis();
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (per, unit) in units {
            if ms != 0 && ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", ms / per);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A size in bytes, written as plain bytes or with a unit (`KB`, `MB`, `GB`: powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        let bad = |why| CoreError::InvalidSize {
            value: s.to_string(),
            why,
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        if digits.is_empty() {
            return Err(bad("missing number"));
        }
        let n: u64 = digits.parse().map_err(|_| bad("number too large"))?;
        let per: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "K" | "KIB" => 1 << 10,
            "MB" | "M" | "MIB" => 1 << 20,
            "GB" | "G" | "GIB" => 1 << 30,
            _ => return Err(bad("unknown unit")),
        };
        n.checked_mul(per)
            .map(ByteSize)
            .ok_or_else(|| bad("number too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (per, unit) in [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")] {
            if self.0 != 0 && self.0.is_multiple_of(per) {
                return write!(f, "{}{unit}", self.0 / per);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (text, ms, shown) in [
            ("500ms", 500, "500ms"),
            ("2s", 2_000, "2s"),
            ("90s", 90_000, "90s"),
            ("5m", 300_000, "5m"),
            ("1h", 3_600_000, "1h"),
            ("7d", 604_800_000, "7d"),
            (" 3s ", 3_000, "3s"),
        ] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.as_millis(), ms, "{text}");
            assert_eq!(d.to_string(), shown);
        }
    }

    #[test]
    fn bad_durations_name_the_value() {
        for text in ["", "5", "ms", "5 weeks", "-1s", "99999999999999999999s"] {
            let err = text.parse::<HumanDuration>().unwrap_err().to_string();
            assert!(err.contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn sizes_parse_and_print() {
        for (text, n, shown) in [
            ("4096", 4096, "4KB"),
            ("50MB", 50 << 20, "50MB"),
            ("1gb", 1 << 30, "1GB"),
            ("100", 100, "100"),
        ] {
            let s: ByteSize = text.parse().unwrap();
            assert_eq!(s.0, n);
            assert_eq!(s.to_string(), shown);
        }
        assert!("12 parsecs".parse::<ByteSize>().is_err());
    }
}
