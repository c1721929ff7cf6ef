//! The headers postroom keeps of every message: what the parser extracts and
//! what a library item records, one type for both.

use serde::{Deserialize, Serialize};

/// Identity and addressing headers of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHeaders {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The first From mailbox as displayed: `Alice Example <alice@contoso.com>` or a bare address.
    pub from: Option<String>,
    /// Bare address of the first From mailbox.
    pub from_address: Option<String>,
    /// To addresses (bare), in header order.
    pub to: Vec<String>,
    /// Cc addresses (bare), in header order.
    pub cc: Vec<String>,
    /// Subject, decoded (RFC 2047).
    pub subject: Option<String>,
    /// Date header as RFC 3339, e.g. `2026-03-03T10:15:00+01:00`; `None` when absent or invalid.
    pub date: Option<String>,
}
