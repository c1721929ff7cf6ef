//! Drop-folder intake: turn one ready file into a message with its envelope
//! and message key, or into a quarantine decision (unreadable, empty, no
//! envelope). Blocking IO; callers run it in `spawn_blocking`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use postroom_core::MessageKey;
use postroom_mail::{parse_drop_file, split_own_trace, Envelope};

/// A drop file read and keyed, ready to be claimed.
#[derive(Debug)]
pub struct Received {
    pub path: PathBuf,
    /// The whole file as read (envelope lines included), kept for quarantine copies.
    pub bytes: Vec<u8>,
    /// Where the message itself starts in `bytes` (after the envelope lines).
    pub message_start: usize,
    pub envelope: Envelope,
    pub key: MessageKey,
}

impl Received {
    /// The message without the drop-folder envelope lines.
    pub fn message(&self) -> &[u8] {
        self.bytes.get(self.message_start..).unwrap_or_default()
    }
}

/// What reading one drop file gave.
#[derive(Debug)]
pub enum Intake {
    Ready(Received),
    /// The file is gone (another node took it, or an administrator removed it).
    Vanished,
    /// The file cannot become a message: quarantine it with this code and reason.
    Quarantine {
        code: &'static str,
        reason: String,
    },
    /// A read error that may pass (too many open files, a network share hiccup): try again later.
    Retry {
        reason: String,
    },
}

/// Read and key one drop file.
pub fn read(path: &Path) -> Intake {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Intake::Vanished,
        Err(e) => {
            let reason = format!("cannot read drop file {}: {e}", path.display());
            return match e.kind() {
                ErrorKind::PermissionDenied | ErrorKind::InvalidData | ErrorKind::IsADirectory => {
                    Intake::Quarantine {
                        code: "unreadable",
                        reason,
                    }
                }
                _ => Intake::Retry { reason },
            };
        }
    };
    if bytes.is_empty() {
        return Intake::Quarantine {
            code: "empty_file",
            reason: "the drop file is empty".into(),
        };
    }
    let parsed = std::panic::catch_unwind(|| {
        parse_drop_file(&bytes).map(|drop| (drop.envelope, drop.message.len()))
    });
    let (envelope, message_len) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(e)) => {
            return Intake::Quarantine {
                code: "no_envelope",
                reason: e.to_string(),
            }
        }
        Err(_) => {
            let reason = "the envelope parser failed on this file (a bug: please report it)".into();
            return Intake::Quarantine {
                code: "parser_panic",
                reason,
            };
        }
    };
    let message_start = bytes.len().saturating_sub(message_len);
    // Our own Received: field (SMTP intake) is not part of the identity.
    let (_trace, as_sent) = split_own_trace(bytes.get(message_start..).unwrap_or_default());
    let key = MessageKey::compute(&envelope.sender, &envelope.recipients, as_sent);
    Intake::Ready(Received {
        path: path.to_path_buf(),
        bytes,
        message_start,
        envelope,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_message_in_two_files_has_one_key_and_envelope_lines_are_not_part_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let body = "From: a@x\r\nTo: docs@localhost\r\nSubject: s\r\n\r\nhi\r\n";
        let a = dir.path().join("a.eml");
        let b = dir.path().join("b.eml");
        std::fs::write(
            &a,
            format!("x-sender: a@x\r\nx-receiver: docs@localhost\r\n{body}"),
        )
        .unwrap();
        std::fs::write(
            &b,
            format!("X-Sender: <a@x>\r\nX-Receiver: <docs@localhost>\r\n{body}"),
        )
        .unwrap();
        let (Intake::Ready(ra), Intake::Ready(rb)) = (read(&a), read(&b)) else {
            panic!()
        };
        assert_eq!(ra.key, rb.key);
        assert_eq!(ra.message(), body.as_bytes());
    }

    #[test]
    fn empty_missing_and_envelope_less_files() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.eml");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            read(&empty),
            Intake::Quarantine {
                code: "empty_file",
                ..
            }
        ));
        assert!(matches!(
            read(&dir.path().join("gone.eml")),
            Intake::Vanished
        ));
        let junk = dir.path().join("junk.eml");
        std::fs::write(&junk, b"\x00\x01binary junk without headers").unwrap();
        assert!(matches!(
            read(&junk),
            Intake::Quarantine {
                code: "no_envelope",
                ..
            }
        ));
    }
}
