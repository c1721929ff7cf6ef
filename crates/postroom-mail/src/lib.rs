//! postroom-mail: turns the bytes of a drop-folder file into an SMTP envelope,
//! message metadata and attachments, and makes attachment names safe to store.
//!
//! This crate owns parsing only. It never touches the file system or the
//! network: callers read the file and pass its bytes in.
//!
//! - [`parse_drop_file`] splits a drop-folder file (IIS SMTP, System.Net.Mail
//!   pickup, Exchange drop directory, or a plain RFC 5322 message) into its
//!   [`Envelope`] and the message bytes.
//! - [`parse_message`] extracts metadata, bodies, threading headers, the
//!   calendar part and attachments with `mail-parser`; a large base64
//!   attachment stays in the message's bytes as a [`Content`] that is
//!   decoded piece by piece when written.
//! - [`read_invitation`] reads the events of a `text/calendar` part.
//! - [`opaque_signed_content`] takes the signed MIME entity out of S/MIME
//!   opaque signed data (`smime.p7m`); [`parse_message`] files its
//!   attachments and keeps the `.p7m` as the signature.
//! - [`sanitize_html`] makes an HTML body safe to show, `cid:` images
//!   pointing at their saved files.
//! - [`split_own_trace`] separates postroom's own `Received:` field (not part
//!   of the message key) from the message as sent.
//! - [`safe_file_name`] makes one file-name component safe for a document
//!   library (SharePoint rules) and for any local path.

mod address;
mod attachment;
mod base64_body;
mod binhex;
mod content;
mod dsn;
mod envelope;
mod error;
mod html;
mod ics;
mod lean;
mod lines;
mod message;
mod mime_scan;
mod rfc2231;
mod smime;
#[cfg(test)]
#[path = "../tests/common/base64.rs"]
mod test_base64;
#[cfg(test)]
mod test_rng;
mod tnef;
mod trace;
mod unpack;
mod uuencode;

pub use address::is_valid_address;
pub use attachment::Attachment;
pub use binhex::{decode_binhex, BinHexError, BinHexFile};
pub use content::{Base64Body, Content};
pub use dsn::{header_of, refusal_notice, Refused};
pub use envelope::{parse_drop_file, DropFile, Envelope, EnvelopeSource};
pub use error::MailError;
pub use html::sanitize_html;
pub use ics::read_invitation;
pub use lines::header_values;
pub use message::{parse_message, ParsedMessage};
pub use postroom_core::names::safe_file_name;
pub use smime::{opaque_signed_content, NotOpaqueSigned, SignedContent};
pub use tnef::{tnef_files, TnefError, TnefFile};
pub use trace::{
    drop_file_head, own_trace_field, own_trace_helo, own_trace_origin, split_own_trace, TraceInfo,
    ADMIN_HELO, TRACE_MARK,
};
pub use uuencode::{find_uuencoded, UuBlock, UuError, UuProblem};
