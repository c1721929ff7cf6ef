//! What mail clients wrap attachments in that MIME parsing leaves wrapped:
//! Outlook's TNEF `winmail.dat` (`application/ms-tnef`) becomes the files
//! inside it. A wrapper that cannot be decoded is kept as it is and named as
//! a problem (the caller quarantines the message rather than file part of
//! it).

use postroom_core::names::safe_file_name;

use crate::attachment::Attachment;
use crate::tnef::tnef_files;

/// Whether an attachment is a TNEF stream.
fn is_tnef(a: &Attachment) -> bool {
    a.content_type == "application/ms-tnef"
        || a.content_type == "application/vnd.ms-tnef"
        || a.file_name.eq_ignore_ascii_case("winmail.dat")
}

/// The attachments with wrappers replaced by what they hold, in order, and
/// one sentence per wrapper that could not be decoded.
pub(crate) fn unpack(attachments: Vec<Attachment>) -> (Vec<Attachment>, Vec<String>) {
    let mut out = Vec::with_capacity(attachments.len());
    let mut problems = Vec::new();
    for a in attachments {
        if !is_tnef(&a) {
            out.push(a);
            continue;
        }
        match tnef_files(&a.content) {
            // Only a formatted body inside: keep the stream, nothing is lost.
            Ok(files) if files.is_empty() => out.push(a),
            Ok(files) => {
                for (n, f) in files.into_iter().enumerate() {
                    let derived = format!("attachment-{}.bin", out.len() + n + 1);
                    out.push(Attachment {
                        file_name: safe_file_name(&f.name, &derived),
                        content_type: "application/octet-stream".to_string(),
                        content: f.data,
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
