//! The message key: a SHA-256 digest of the envelope and the raw message bytes
//! as received, the identity postroom uses for claims, the ledger and
//! idempotent filing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::CoreError;

/// Identity of one received message (envelope + bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageKey([u8; 32]);

impl MessageKey {
    /// Digest of the envelope sender, the sorted, lower-cased, de-duplicated
    /// envelope recipients and the raw bytes. The same message dropped twice,
    /// or re-sent after a lost reply, gets the same key.
    pub fn compute(sender: &str, recipients: &[String], raw: &[u8]) -> Self {
        let mut builder = MessageKeyBuilder::new(sender, recipients);
        builder.update(raw);
        builder.finish()
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Build from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MessageKey(bytes)
    }

    /// The first 16 hex digits, for file names and log lines.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }
}

/// Computes a [`MessageKey`] while the message bytes stream in (the SMTP
/// listener hashes as it writes).
#[derive(Clone)]
pub struct MessageKeyBuilder {
    hash: Sha256,
    raw_len: u64,
}

impl MessageKeyBuilder {
    /// Start with the envelope.
    pub fn new(sender: &str, recipients: &[String]) -> Self {
        let mut rcpts: Vec<String> = recipients.iter().map(|r| r.to_ascii_lowercase()).collect();
        rcpts.sort();
        rcpts.dedup();
        // Every envelope field is length-prefixed so no boundary can shift
        // between fields; the raw bytes come last and their length closes the digest.
        let mut hash = Sha256::new();
        hash.update(b"postroom-message-key-v2");
        let field = |h: &mut Sha256, bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(&mut hash, sender.to_ascii_lowercase().as_bytes());
        hash.update((rcpts.len() as u64).to_le_bytes());
        for r in &rcpts {
            field(&mut hash, r.as_bytes());
        }
        MessageKeyBuilder { hash, raw_len: 0 }
    }

    /// More of the raw message.
    pub fn update(&mut self, raw: &[u8]) {
        self.hash.update(raw);
        self.raw_len += raw.len() as u64;
    }

    /// The key of the envelope and all bytes given.
    pub fn finish(mut self) -> MessageKey {
        self.hash.update(self.raw_len.to_le_bytes());
        MessageKey(self.hash.finalize().into())
    }
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageKey({})", self.short())
    }
}

impl std::str::FromStr for MessageKey {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| CoreError::InvalidMessageKey {
            value: s.to_string(),
        })?;
        Ok(MessageKey(out))
    }
}

impl Serialize for MessageKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MessageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn same_envelope_and_bytes_same_key() {
        let a = MessageKey::compute("a@x", &v(&["l1@d", "l2@d"]), b"body");
        let b = MessageKey::compute("A@X", &v(&["L2@d", "l1@d", "l1@D"]), b"body");
        assert_eq!(a, b);
    }

    #[test]
    fn any_difference_changes_the_key() {
        let base = MessageKey::compute("a@x", &v(&["l1@d"]), b"body");
        assert_ne!(base, MessageKey::compute("b@x", &v(&["l1@d"]), b"body"));
        assert_ne!(base, MessageKey::compute("a@x", &v(&["l2@d"]), b"body"));
        assert_ne!(base, MessageKey::compute("a@x", &v(&["l1@d"]), b"body!"));
        // field boundaries cannot be shifted to forge a collision
        assert_ne!(
            MessageKey::compute("a", &v(&["b"]), b"c"),
            MessageKey::compute("a\0b", &v(&[]), b"c")
        );
    }

    #[test]
    fn streaming_gives_the_same_key_however_the_bytes_are_split() {
        let whole = MessageKey::compute("a@x", &v(&["l@d"]), b"hello world");
        let mut b = MessageKeyBuilder::new("a@x", &v(&["l@d"]));
        b.update(b"hel");
        b.update(b"");
        b.update(b"lo world");
        assert_eq!(b.finish(), whole);
    }

    #[test]
    fn hex_round_trip_and_json() {
        let k = MessageKey::compute("a@x", &v(&["l@d"]), b"m");
        let text = k.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<MessageKey>().unwrap(), k);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(serde_json::from_str::<MessageKey>(&json).unwrap(), k);
        assert!("xyz"
            .parse::<MessageKey>()
            .unwrap_err()
            .to_string()
            .contains("\"xyz\""));
    }
}
