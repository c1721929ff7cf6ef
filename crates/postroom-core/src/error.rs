//! The one error type of postroom-core.

/// Errors of the pure core: parsing units and validating configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// A duration string such as `500ms` or `5m` could not be parsed.
    #[error("invalid duration {value:?}: {why} (use a number with a unit: 500ms, 2s, 5m, 1h, 7d)")]
    InvalidDuration { value: String, why: &'static str },
    /// A size string such as `50MB` could not be parsed.
    #[error("invalid size {value:?}: {why} (use bytes or a unit: 512KB, 50MB, 1GB)")]
    InvalidSize { value: String, why: &'static str },
    /// A message key was not 64 hex digits.
    #[error("invalid message key {value:?}: expected 64 hex digits")]
    InvalidMessageKey { value: String },
    /// The farm configuration broke one or more rules; each problem names the field and value.
    #[error("invalid configuration: {}", problems.join("; "))]
    InvalidConfig { problems: Vec<String> },
    /// An IP address or CIDR range that cannot be parsed.
    #[error("invalid ip range {value:?}: {reason}")]
    InvalidIpRange { value: String, reason: String },
}
