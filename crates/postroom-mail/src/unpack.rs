//! What mail clients wrap attachments in that MIME parsing leaves wrapped:
//! Outlook's TNEF `winmail.dat` (`application/ms-tnef`) becomes the files
//! inside it, a BinHex part (`application/mac-binhex40`, `.hqx`) its data
//! fork under its own name, and uuencoded blocks in text bodies become
//! files. A wrapper that cannot be decoded is kept as it is and named as a
//! problem (the caller quarantines the message rather than file part of
//! it).

use postroom_core::names::safe_file_name;

use crate::attachment::Attachment;
use crate::binhex::decode_binhex;
use crate::content::Content;
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

/// The attachments with wrappers replaced by what they hold, in order, and
/// one sentence per wrapper that could not be decoded. A wrapper is decoded
/// whole in memory (even one whose body was left in the raw message).
pub(crate) fn unpack(attachments: Vec<Attachment<'_>>) -> (Vec<Attachment<'_>>, Vec<String>) {
    let mut out = Vec::with_capacity(attachments.len());
    let mut problems = Vec::new();
    for a in attachments {
        if is_binhex(&a) {
            let max_len = a
                .content
                .len()
                .saturating_mul(BINHEX_EXPANSION)
                .max(1 << 20);
            let decoded = decode_binhex(&a.content.to_bytes(), max_len);
            match decoded {
                Ok(file) => {
                    let derived = format!("attachment-{}.bin", out.len() + 1);
                    out.push(Attachment {
                        file_name: safe_file_name(&file.name, &derived),
                        content_type: "application/octet-stream".to_string(),
                        content: Content::Bytes(file.data),
                        content_id: None,
                    });
                }
                Err(e) => {
                    problems.push(format!("attachment {:?}: {e}", a.file_name));
                    out.push(a);
                }
            }
            continue;
        }
        if !is_tnef(&a) {
            out.push(a);
            continue;
        }
        let files = tnef_files(&a.content.to_bytes());
        match files {
            // Only a formatted body inside: keep the stream, nothing is lost.
            Ok(files) if files.is_empty() => out.push(a),
            Ok(files) => {
                for (n, f) in files.into_iter().enumerate() {
                    let derived = format!("attachment-{}.bin", out.len() + n + 1);
                    out.push(Attachment {
                        file_name: safe_file_name(&f.name, &derived),
                        content_type: "application/octet-stream".to_string(),
                        content: Content::Bytes(f.data),
                        content_id: None,
                    });
                }
            }
            Err(e) => {
                problems.push(format!("attachment {:?}: {e}", a.file_name));
                out.push(a);
            }
        }
    }
    (out, problems)
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
