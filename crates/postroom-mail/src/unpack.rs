//! What mail clients wrap attachments in that MIME parsing leaves wrapped:
//! Outlook's TNEF `winmail.dat` (`application/ms-tnef`) becomes the files
//! inside it, a BinHex part (`application/mac-binhex40`, `.hqx`) its data
//! fork under its own name, uuencoded blocks in text bodies become files,
//! and S/MIME opaque signed data (`smime.p7m`) gives the files of the MIME
//! entity signed (unpacked in turn, one level) and is kept itself as the
//! signature. A wrapper that cannot be decoded is kept as it is and named
//! as a problem (the caller quarantines the message rather than file part
//! of it). A wrapper is decoded whole in memory (even one whose body was
//! left in the raw message); what comes out of it is owned.

use std::collections::HashMap;

use mail_parser::MessageParser;
use postroom_core::names::safe_file_name;

use crate::attachment::{Attachment, Found};
use crate::binhex::decode_binhex;
use crate::content::Content;
use crate::message::{contents, Bodies, Contents};
use crate::smime::{opaque_signed_content, says_signed_data, SignedContent};
use crate::tnef::tnef_files;
use crate::uuencode::find_uuencoded;

/// How much larger than its text a BinHex file may decode (its run-length
/// coding can expand a lot; beyond this it is refused as a bomb).
const BINHEX_EXPANSION: usize = 64;

fn is_binhex(a: &Attachment) -> bool {
    a.content_type == "application/mac-binhex40"
        || a.content_type == "application/mac-binhex"
        || a.file_name.to_ascii_lowercase().ends_with(".hqx")
}

/// Whether an attachment is a TNEF stream.
fn is_tnef(a: &Attachment) -> bool {
    a.content_type == "application/ms-tnef"
        || a.content_type == "application/vnd.ms-tnef"
        || a.file_name.eq_ignore_ascii_case("winmail.dat")
}

/// Whether an attachment is S/MIME (PKCS#7 / CMS) data that may be opaque
/// signed: its type says so, or its name ends in `.p7m`.
fn is_pkcs7_mime(a: &Attachment) -> bool {
    a.content_type == "application/pkcs7-mime"
        || a.content_type == "application/x-pkcs7-mime"
        || a.file_name.to_ascii_lowercase().ends_with(".p7m")
}

/// Attachments with their wrappers opened.
#[derive(Debug, Default)]
pub(crate) struct Unpacked<'m> {
    /// In order, each wrapper replaced by what it holds (a `.p7m` followed
    /// by the files of the entity it signs).
    pub(crate) attachments: Vec<Attachment<'m>>,
    /// One sentence per wrapper that could not be decoded.
    pub(crate) problems: Vec<String>,
    /// The bodies of the first opaque-signed entity opened.
    pub(crate) signed_bodies: Option<Bodies>,
}

/// The attachments with wrappers replaced by what they hold, in order, and
/// one sentence per wrapper that could not be decoded. `nested` when these
/// are the attachments of a signed entity: signed data in it is kept as it
/// is (one level is opened).
pub(crate) fn unpack(found: Vec<Found<'_>>, nested: bool) -> Unpacked<'_> {
    let mut out = Unpacked {
        attachments: Vec::with_capacity(found.len()),
        ..Unpacked::default()
    };
    for Found {
        attachment: a,
        smime_type,
    } in found
    {
        if is_binhex(&a) {
            unpack_binhex(a, &mut out);
        } else if is_tnef(&a) {
            unpack_tnef(a, &mut out);
        } else if !nested && is_pkcs7_mime(&a) {
            unpack_signed(a, smime_type.as_deref(), &mut out);
        } else {
            out.attachments.push(a);
        }
    }
    out
}

fn unpack_binhex<'m>(a: Attachment<'m>, out: &mut Unpacked<'m>) {
    let max_len = a
        .content
        .len()
        .saturating_mul(BINHEX_EXPANSION)
        .max(1 << 20);
    let decoded = decode_binhex(&a.content.to_bytes(), max_len);
    match decoded {
        Ok(file) => {
            let derived = format!("attachment-{}.bin", out.attachments.len() + 1);
            out.attachments.push(Attachment {
                file_name: safe_file_name(&file.name, &derived),
                content_type: "application/octet-stream".to_string(),
                content: Content::Bytes(file.data),
                content_id: None,
            });
        }
        Err(e) => {
            out.problems
                .push(format!("attachment {:?}: {e}", a.file_name));
            out.attachments.push(a);
        }
    }
}

fn unpack_tnef<'m>(a: Attachment<'m>, out: &mut Unpacked<'m>) {
    let files = tnef_files(&a.content.to_bytes());
    match files {
        // Only a formatted body inside: keep the stream, nothing is lost.
        Ok(files) if files.is_empty() => out.attachments.push(a),
        Ok(files) => {
            for (n, f) in files.into_iter().enumerate() {
                let derived = format!("attachment-{}.bin", out.attachments.len() + n + 1);
                out.attachments.push(Attachment {
                    file_name: safe_file_name(&f.name, &derived),
                    content_type: "application/octet-stream".to_string(),
                    content: Content::Bytes(f.data),
                    content_id: None,
                });
            }
        }
        Err(e) => {
            out.problems
                .push(format!("attachment {:?}: {e}", a.file_name));
            out.attachments.push(a);
        }
    }
}

/// A `.p7m` is kept as it is (the signature); when it is opaque signed
/// data, the attachments of the entity it signs follow it. Data that cannot
/// be read is a problem when it is meant to be signed data (its
/// `smime-type`, or its own content type, says so); other `.p7m` files
/// (encrypted, or not S/MIME at all) are kept without one.
fn unpack_signed<'m>(a: Attachment<'m>, smime_type: Option<&str>, out: &mut Unpacked<'m>) {
    // The .p7m's bytes (decoded now if they were left in the raw message)
    // are let go before the signed entity is parsed.
    let data = a.content.to_bytes();
    let signed = opaque_signed_content(&data);
    let problem = match &signed {
        Err(e) if smime_type == Some("signed-data") || says_signed_data(&data) => {
            Some(format!("attachment {:?}: {e}", a.file_name))
        }
        _ => None,
    };
    drop(data);
    match signed {
        Ok(SignedContent::Content(entity)) => {
            if let Some(inner) = signed_entity(&entity) {
                let name = a.file_name.clone();
                out.attachments.push(a);
                out.attachments.extend(inner.attachments);
                for p in inner.problems {
                    out.problems
                        .push(format!("signed attachment {name:?}: {p}"));
                }
                if out.signed_bodies.is_none() {
                    out.signed_bodies = Some(inner.bodies);
                }
                return;
            }
            out.attachments.push(a);
        }
        Ok(SignedContent::NotOpaqueSigned(_)) => out.attachments.push(a),
        Err(_) => {
            out.problems.extend(problem);
            out.attachments.push(a);
        }
    }
}

/// The bodies and attachments of the MIME entity inside signed data;
/// `None` when it is not a MIME entity (a `.pdf.p7m` signs a PDF, say).
/// mail-parser takes an entity's headers as a message's, so its
/// Content-Type applies as it is; an entity without headers starts with
/// its blank line and is a plain text body. The entity is parsed whole
/// (its bytes are this function's), so its attachments are owned.
fn signed_entity(entity: &[u8]) -> Option<Contents<'static>> {
    if !starts_like_mime(entity) {
        return None;
    }
    let message = MessageParser::default().parse(entity)?;
    Some(contents(message, HashMap::new(), true))
}

/// Whether bytes start with a header field (`Name:`, the name printable
/// ASCII without spaces) or with the blank line of an entity without
/// headers.
fn starts_like_mime(entity: &[u8]) -> bool {
    if entity.starts_with(b"\r\n") || entity.starts_with(b"\n") {
        return true;
    }
    let line_end = entity
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(entity.len());
    let line = entity.get(..line_end).unwrap_or_default();
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line
            .get(..colon)
            .unwrap_or_default()
            .iter()
            .all(|&b| b.is_ascii_graphic()),
        _ => false,
    }
}

/// The uuencoded blocks in a message's text bodies, as attachments (after
/// `number_from` others), and one sentence per block that cannot be decoded.
pub(crate) fn uuencoded(
    bodies: &[Vec<u8>],
    number_from: usize,
) -> (Vec<Attachment<'static>>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for body in bodies {
        for block in find_uuencoded(body) {
            match block {
                Ok(b) => {
                    let derived = format!("attachment-{}.bin", number_from + files.len() + 1);
                    files.push(Attachment {
                        file_name: safe_file_name(&b.name, &derived),
                        content_type: "application/octet-stream".to_string(),
                        content: Content::Bytes(b.data),
                        content_id: None,
                    });
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    (files, problems)
}
