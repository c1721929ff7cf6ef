//! Attachments: which MIME parts become [`Attachment`]s, how they are named
//! when the message gives no name, and how their bytes are decoded.

use std::collections::HashMap;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use postroom_core::names::{safe_component, safe_file_name};

use crate::content::Content;
use crate::rfc2231::continued_param;

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment<'m> {
    /// Already passed through [`safe_file_name`]; never empty.
    pub file_name: String,
    /// Lowercase MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Decoded bytes (transfer encoding removed, charset untouched); a
    /// large base64 body is decoded from the raw message when read.
    pub content: Content<'m>,
    /// The part's `Content-ID` without angle brackets (what a `cid:` URL in
    /// the HTML body names); `None` for files unpacked from a wrapper.
    pub content_id: Option<String>,
}

impl Attachment<'_> {
    /// The same attachment, its bytes no longer tied to the raw message
    /// (decoded now if they were not).
    pub fn into_owned(self) -> Attachment<'static> {
        Attachment {
            file_name: self.file_name,
            content_type: self.content_type,
            content: self.content.into_owned(),
            content_id: self.content_id,
        }
    }
}

/// An attachment with what unpacking needs to know of its MIME part.
#[derive(Debug)]
pub(crate) struct Found<'m> {
    pub(crate) attachment: Attachment<'m>,
    /// The `smime-type` parameter of its Content-Type, lowercase
    /// (`signed-data`, `enveloped-data` ...).
    pub(crate) smime_type: Option<String>,
}

/// Every part `mail-parser` reports as an attachment, in order. The
/// message is consumed so decoded bodies move out of it instead of being
/// copied (a 20 MB attachment is in memory once, not twice); a part in
/// `cut` (by part id) has its bytes there instead (see `lean.rs`).
pub(crate) fn collect_attachments<'m>(
    mut message: Message<'_>,
    mut cut: HashMap<usize, Content<'m>>,
) -> Vec<Found<'m>> {
    let ids: Vec<usize> = message.attachments.iter().map(|&id| id as usize).collect();
    let mut attachments = Vec::with_capacity(ids.len());
    for (index, id) in ids.into_iter().enumerate() {
        let Some(part) = message.parts.get(id) else {
            break;
        };
        let content_type = content_type(part);
        let derived = derived_name(part, &content_type, index + 1);
        let given = continued_name(&message, part);
        let name = given.as_deref().or(part.attachment_name()).unwrap_or("");
        let file_name = safe_file_name(name, &derived);
        let content_id = part.content_id().and_then(bare_id);
        let smime_type = part
            .content_type()
            .and_then(|ct| ct.attribute("smime-type"))
            .map(|t| t.trim().to_ascii_lowercase());
        let content = match cut.remove(&id) {
            Some(content) => content,
            None => match text_as_sent(&message, part) {
                Some(original) => Content::Bytes(original),
                None => Content::Bytes(take_contents(&mut message, id)),
            },
        };
        attachments.push(Found {
            attachment: Attachment {
                file_name,
                content_type,
                content,
                content_id,
            },
            smime_type,
        });
    }
    attachments
}

/// A message or content id without its angle brackets and surrounding
/// whitespace; `None` when nothing is left.
pub(crate) fn bare_id(id: &str) -> Option<String> {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// A name given with RFC 2231 continuations (`filename*0*=...`), which
/// mail-parser decodes wrongly past the first segment (see `rfc2231`).
fn continued_name(message: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    let raw = |header: &str| {
        let h = part
            .headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(header))?;
        let start = usize::try_from(h.offset_start()).ok()?;
        let end = usize::try_from(h.offset_end()).ok()?;
        let bytes = message.raw_message().get(start..end)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    };
    raw("Content-Disposition")
        .and_then(|v| continued_param(&v, "filename"))
        .or_else(|| raw("Content-Type").and_then(|v| continued_param(&v, "name")))
}

/// The decoded bytes of part `id`, moved out of the message when they are
/// owned (binary parts), copied otherwise.
fn take_contents(message: &mut Message<'_>, id: usize) -> Vec<u8> {
    let Some(part) = message.parts.get_mut(id) else {
        return Vec::new();
    };
    match std::mem::take(&mut part.body) {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
        other => {
            part.body = other;
            part.contents().to_vec()
        }
    }
}

/// `type/subtype`, lowercase. A part without Content-Type is `text/plain`
/// (RFC 2045), or `message/rfc822` when mail-parser parsed it as a message; a
/// type without subtype (`Content-Type: text`) becomes `text/plain` for
/// `text` and `application/octet-stream` otherwise.
pub(crate) fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype().map(str::trim).filter(|s| !s.is_empty()) {
            Some(subtype) => format!("{}/{}", ct.ctype().trim(), subtype).to_ascii_lowercase(),
            None if ct.ctype().trim().eq_ignore_ascii_case("text") => "text/plain".to_string(),
            None => "application/octet-stream".to_string(),
        },
        None if part.is_message() => "message/rfc822".to_string(),
        None if part.is_text() => "text/plain".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// Name for a part without one: `<subject or "message">.eml` for a nested
/// message, else `attachment-N` plus an extension guessed from the type.
fn derived_name(part: &MessagePart<'_>, content_type: &str, number: usize) -> String {
    if let Some(nested) = part.message() {
        let subject = nested
            .subject()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("message");
        return safe_component(&format!("{subject}.eml"), "message.eml");
    }
    format!("attachment-{number}.{}", extension_for(content_type))
}

/// For a text part, its bytes as sent: mail-parser converts text parts to
/// UTF-8 (lossily for unknown charsets), so the original bytes are decoded
/// again from the raw message and a text attachment is stored exactly as
/// sent. `None` for other parts.
fn text_as_sent(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return None;
    }
    let start = usize::try_from(part.raw_body_offset()).ok()?;
    let end = usize::try_from(part.raw_end_offset()).ok()?;
    let raw = message.raw_message().get(start..end)?;
    match part.encoding {
        Encoding::None => Some(raw.to_vec()),
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
    }
}

/// A file extension (without dot) for a MIME type; `bin` when unknown.
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/csv" => "csv",
        "text/calendar" => "ics",
        "text/xml" | "application/xml" => "xml",
        "text/rtf" | "application/rtf" => "rtf",
        "text/markdown" => "md",
        "text/vcard" | "text/x-vcard" => "vcf",
        "application/json" => "json",
        "application/zip" | "application/x-zip-compressed" => "zip",
        "application/gzip" | "application/x-gzip" => "gz",
        "application/x-7z-compressed" => "7z",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.ms-powerpoint" => "ppt",
        "application/vnd.ms-outlook" => "msg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/vnd.oasis.opendocument.presentation" => "odp",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "image/tiff" => "tif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "image/heic" => "heic",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        "video/mp4" => "mp4",
        "message/rfc822" => "eml",
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => "p7m",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn parse(raw: &[u8]) -> Vec<Attachment<'static>> {
        let message = MessageParser::default().parse(raw).unwrap();
        collect_attachments(message, HashMap::new())
            .into_iter()
            .map(|found| found.attachment)
            .collect()
    }

    #[test]
    fn text_attachment_keeps_original_charset_bytes() {
        let raw = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"l.txt\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nM=FCller\r\n--x\r\n\
Content-Type: text/csv\r\nContent-Disposition: attachment\r\n\r\na;b\xfc\r\nc;d\r\n--x--\r\n";
        let attachments = parse(raw);
        assert_eq!(attachments.len(), 2);
        assert_eq!(attachments[0].file_name, "l.txt");
        assert_eq!(attachments[0].content_type, "text/plain");
        assert_eq!(attachments[0].content.to_bytes().as_ref(), b"M\xfcller");
        assert_eq!(attachments[1].file_name, "attachment-2.csv");
        assert_eq!(
            attachments[1].content.to_bytes().as_ref(),
            b"a;b\xfc\r\nc;d"
        );
    }

    #[test]
    fn unnamed_parts_get_derived_names() {
        let raw = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--x\r\nContent-Type: application/x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n\
--x\r\nContent-Type: image/PNG\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n\
--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: Inner / news\r\nFrom: c@d.example\r\n\r\ninner body\r\n\
--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\n\r\nno subject\r\n\
--x--\r\n";
        let attachments = parse(raw);
        let names: Vec<&str> = attachments.iter().map(|a| a.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "attachment-1.bin",
                "attachment-2.png",
                "Inner _ news.eml",
                "message.eml"
            ]
        );
        assert_eq!(attachments[0].content.to_bytes().as_ref(), [0, 1, 2]);
        assert_eq!(attachments[1].content_type, "image/png");
        assert_eq!(attachments[2].content_type, "message/rfc822");
        assert!(attachments[2]
            .content
            .to_bytes()
            .starts_with(b"Subject: Inner / news"));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_for("application/pdf"), "pdf");
        assert_eq!(extension_for("application/octet-stream"), "bin");
        assert_eq!(extension_for("application/x-pkcs7-mime"), "p7m");
        assert_eq!(extension_for("whatever/else"), "bin");
    }
}
